// Package config loads a pipeline directory: weir.yaml (streams, sources,
// sinks, reference tables), the JSON Schema files under schemas/, and the materialised views
// in views/*.sql (checked for syntax here; planned against the streams by
// the node). Every error names the file, the line and the fix.
//
// This package may import internal/schema; it must not import the runtime
// packages (gate, log, lake, serve, node).
package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
)

// FileName is the pipeline file inside a pipeline directory.
const FileName = "weir.yaml"

// Pipeline is a loaded, validated pipeline directory.
type Pipeline struct {
	Dir     string
	Raw     []byte // weir.yaml as read
	Streams []*Stream
	Sources []*Source
	Sinks   []*Sink
	Tables  []*Table
	Views   []*View
}

// Table declares a reference table that views join by key: from a file
// of the pipeline directory (CSV or NDJSON, with a JSON Schema), a
// PostgreSQL query, or a stream's table of this node (lake files and
// fresh tail). See package table.
type Table struct {
	Name       string
	Kind       string // "file", "postgres" or "lake"
	File       string // relative to the pipeline directory
	SchemaFile string
	Schema     *schema.Schema
	DSN        string // postgres
	Query      string // postgres: the SELECT; lake: SELECT * FROM the stream
	Lake       string // lake: the stream
	Refresh    time.Duration
	Pos        Pos
}

// View is a CREATE MATERIALIZED VIEW statement from views/*.sql.
type View struct {
	File string // relative to the pipeline directory
	Stmt *parse.CreateView
	Src  []byte // the whole file, for Save
}

// Stream returns the named stream, or nil.
func (p *Pipeline) Stream(name string) *Stream {
	for _, s := range p.Streams {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Pos is a place in a file, for error messages.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Stream declares an ingested stream.
type Stream struct {
	Name        string
	SchemaFile  string // relative to the pipeline directory
	Schema      *schema.Schema
	Key         []string // key columns: records with equal keys share a partition
	KeyCols     []int
	EventTime   string // event-time column
	EventCol    int
	MaxDisorder time.Duration
	Partitions  int
	Retention   Retention
	// MaxBacklog bounds the records appended but not yet committed by every
	// view and sink of the stream; past it the gate answers 429.
	MaxBacklog int
	Pos        Pos
}

// DefaultMaxBacklog is a stream's backlog limit when weir.yaml sets none.
const DefaultMaxBacklog = 10_000_000

// Retention bounds the log of a stream. Records are deleted only once every
// sink has committed them.
type Retention struct {
	MaxAge   time.Duration
	MaxBytes int64
}

// Source feeds a stream: a connector (generator, kafka, inbox, ...) with
// its settings checked against its registered spec.Spec.
type Source struct {
	Name     string
	Type     string
	Stream   string
	Settings spec.Values
	Pos      Pos
}

// Sink consumes a stream or an append-only view. Type "lake" writes an
// Iceberg table.
type Sink struct {
	Name   string
	Type   string
	Stream string // exactly one of Stream and View is set
	View   string // a view of views/*.sql
	Table  string
	Roll   Roll
	// Settings of a connector sink (kafka, ...), checked against its
	// registered spec.Spec.
	Settings spec.Values
	Pos      Pos
}

// Roll says when the lake sink closes its Parquet files and commits.
type Roll struct {
	MaxRows  int
	MaxBytes int64
	Interval time.Duration
}

// Error is a configuration error at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Pos.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
}

// Errors is every error found in a pipeline directory.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Save writes the pipeline (weir.yaml, its schema files, views and
// reference-table files) to dir, so the data directory records what it was
// written with.
func (p *Pipeline) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), p.Raw, 0o644); err != nil {
		return err
	}
	for _, s := range p.Streams {
		path := filepath.Join(dir, s.SchemaFile)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, s.Schema.Source, 0o644); err != nil {
			return err
		}
	}
	for _, t := range p.Tables {
		if t.File != "" && filepath.IsLocal(t.File) {
			// The file as it is now, so that the saved pipeline loads
			// (weir query --data-dir) wherever the original has gone. A
			// path out of the pipeline directory (../shared/x.csv) is left
			// where it is: copied, it would land outside the data directory.
			if err := copyInto(filepath.Join(p.Dir, t.File), filepath.Join(dir, t.File)); err != nil {
				return err
			}
		}
		if t.Schema == nil {
			continue
		}
		path := filepath.Join(dir, t.SchemaFile)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, t.Schema.Source, 0o644); err != nil {
			return err
		}
	}
	old, _ := filepath.Glob(filepath.Join(dir, "views", "*.sql"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	written := map[string]bool{} // a file may hold several views
	for _, v := range p.Views {
		if written[v.File] {
			continue
		}
		written[v.File] = true
		path := filepath.Join(dir, v.File)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, v.Src, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// copyInto copies the file src to dst, making dst's directory, through a
// temporary file renamed into place (a crash leaves the old copy or the
// new one, never a part); a file copied onto itself (a pipeline saved where
// it was loaded from) is left.
func copyInto(src, dst string) error {
	si, err := os.Stat(src)
	if err != nil {
		return err
	}
	if di, err := os.Stat(dst); err == nil && os.SameFile(si, di) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is there
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// loadViews parses views/*.sql of dir, in file-name order.
func loadViews(dir string) ([]*View, error) {
	files, err := filepath.Glob(filepath.Join(dir, "views", "*.sql"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var views []*View
	var errs Errors
	for _, f := range files {
		rel := filepath.Join("views", filepath.Base(f))
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", f, err)
		}
		stmts, err := parse.ParseScript(string(src))
		if err != nil {
			var pe *parse.Error
			if errors.As(err, &pe) {
				errs = append(errs, &Error{Pos: Pos{File: rel, Line: pe.Pos.Line}, Msg: fmt.Sprintf("column %d: %s", pe.Pos.Col, pe.Msg)})
				continue
			}
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		for _, st := range stmts {
			cv, ok := st.(*parse.CreateView)
			if !ok {
				errs = append(errs, &Error{Pos: Pos{File: rel, Line: st.StmtPos().Line},
					Msg: "views/*.sql holds CREATE MATERIALIZED VIEW statements only; run other statements with weir query"})
				continue
			}
			views = append(views, &View{File: rel, Stmt: cv, Src: src})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return views, nil
}

// Load reads and validates the pipeline directory dir.
func Load(dir string) (*Pipeline, error) {
	path := filepath.Join(dir, FileName)
	src, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s not found: a pipeline directory holds weir.yaml, schemas/ and views/ (see examples/clickstream)", path)
		}
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	p, err := Parse(dir, FileName, src)
	if err != nil {
		return nil, err
	}
	if p.Views, err = loadViews(dir); err != nil {
		return nil, err
	}
	var errs Errors
	for _, s := range p.Sinks {
		if s.View == "" {
			continue
		}
		found := false
		var have []string
		for _, v := range p.Views {
			found = found || v.Stmt.Name == s.View
			have = append(have, v.Stmt.Name)
		}
		if !found {
			errs = append(errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("sinks.%s.view: no view %q in views/*.sql (views there: %s)", s.Name, s.View, strings.Join(have, ", "))})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// Parse validates a weir.yaml document; dir is where schema files are read from.
func Parse(dir, file string, src []byte) (*Pipeline, error) {
	l := &loader{dir: dir, file: file, p: &Pipeline{Dir: dir, Raw: src}}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, Errors{{Pos: Pos{File: file, Line: yamlErrLine(err)}, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{Pos: Pos{File: file, Line: 1}, Msg: "the file is empty; declare at least one stream under streams:"}}
	}
	root := doc.Content[0]
	l.fields(root, "", map[string]func(*yaml.Node){
		"streams": func(n *yaml.Node) { l.each(n, "streams", l.stream) },
		"sources": func(n *yaml.Node) { l.each(n, "sources", l.source) },
		"sinks":   func(n *yaml.Node) { l.each(n, "sinks", l.sink) },
		"tables":  func(n *yaml.Node) { l.each(n, "tables", l.table) },
	})
	if len(l.p.Streams) == 0 && len(l.errs) == 0 {
		l.errf(root, "no streams declared; add a streams: section (see examples/clickstream/weir.yaml)")
	}
	l.crossCheck()
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Pos.Line < l.errs[j].Pos.Line })
		return nil, l.errs
	}
	return l.p, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

type loader struct {
	dir, file string
	p         *Pipeline
	errs      Errors
}

func (l *loader) pos(n *yaml.Node) Pos { return Pos{File: l.file, Line: n.Line} }

func (l *loader) errf(n *yaml.Node, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: l.pos(n), Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping node, calling the handler of each known key and
// reporting unknown keys with the list of known ones.
func (l *loader) fields(n *yaml.Node, path string, handlers map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		l.errf(n, "%s must be a mapping of keys to values", orRoot(path))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			l.errf(k, "%s: unknown key %q; known keys: %s", orRoot(path), k.Value, keyList(handlers))
			continue
		}
		if seen[k.Value] {
			l.errf(k, "%s: key %q appears twice", orRoot(path), k.Value)
			continue
		}
		seen[k.Value] = true
		h(v)
	}
}

func orRoot(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func keyList(m map[string]func(*yaml.Node)) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// each walks a mapping of names to specs.
func (l *loader) each(n *yaml.Node, section string, fn func(name string, key, spec *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		l.errf(n, "%s must map names to their settings, e.g.\n  %s:\n    my_name:\n      ...", section, section)
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !nameRE.MatchString(k.Value) {
			l.errf(k, "%s: name %q must start with a lower-case letter and use only a-z, 0-9 and _ (at most 63 characters)", section, k.Value)
			continue
		}
		fn(k.Value, k, v)
	}
}

func (l *loader) str(n *yaml.Node, path string, dst *string) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errf(n, "%s must be a string", path)
		return
	}
	*dst = n.Value
}

func (l *loader) integer(n *yaml.Node, path string, lo, hi int64, dst *int) {
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if n.Kind != yaml.ScalarNode || err != nil || v < lo || v > hi {
		l.errf(n, "%s must be an integer from %d to %d, got %q", path, lo, hi, n.Value)
		return
	}
	*dst = int(v)
}

func (l *loader) duration(n *yaml.Node, path string, dst *time.Duration) {
	d, err := ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d < 0 {
		l.errf(n, "%s must be a duration like 500ms, 5s, 10m, 24h or 7d, got %q", path, n.Value)
		return
	}
	*dst = d
}

func (l *loader) size(n *yaml.Node, path string, dst *int64) {
	v, err := ParseSize(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		l.errf(n, "%s must be a size like 64MiB, 10GiB or 1000000 (bytes), got %q", path, n.Value)
		return
	}
	*dst = v
}

func (l *loader) stream(name string, key, spec *yaml.Node) {
	s := &Stream{Name: name, Partitions: 4, MaxDisorder: 5 * time.Second, EventCol: -1, MaxBacklog: DefaultMaxBacklog, Pos: l.pos(key)}
	path := "streams." + name
	var keyNode, timeNode, schemaNode *yaml.Node
	l.fields(spec, path, map[string]func(*yaml.Node){
		"schema": func(n *yaml.Node) { schemaNode = n; l.str(n, path+".schema", &s.SchemaFile) },
		"key": func(n *yaml.Node) {
			keyNode = n
			switch n.Kind {
			case yaml.ScalarNode:
				s.Key = []string{n.Value}
			case yaml.SequenceNode:
				for _, c := range n.Content {
					s.Key = append(s.Key, c.Value)
				}
			default:
				l.errf(n, "%s.key must be a column name or a list of column names", path)
			}
		},
		"event_time": func(n *yaml.Node) {
			timeNode = n
			l.fields(n, path+".event_time", map[string]func(*yaml.Node){
				"column":       func(n *yaml.Node) { l.str(n, path+".event_time.column", &s.EventTime) },
				"max_disorder": func(n *yaml.Node) { l.duration(n, path+".event_time.max_disorder", &s.MaxDisorder) },
			})
		},
		"partitions":  func(n *yaml.Node) { l.integer(n, path+".partitions", 1, 256, &s.Partitions) },
		"max_backlog": func(n *yaml.Node) { l.integer(n, path+".max_backlog", 1, 1<<40, &s.MaxBacklog) },
		"retention": func(n *yaml.Node) {
			l.fields(n, path+".retention", map[string]func(*yaml.Node){
				"max_age":   func(n *yaml.Node) { l.duration(n, path+".retention.max_age", &s.Retention.MaxAge) },
				"max_bytes": func(n *yaml.Node) { l.size(n, path+".retention.max_bytes", &s.Retention.MaxBytes) },
			})
		},
	})
	if s.SchemaFile == "" {
		if schemaNode == nil {
			l.errf(spec, "%s: schema is required; set schema: schemas/%s.json (a JSON Schema file)", path, name)
		}
		return
	}
	sc := l.schemaFile(schemaNode, path, s.SchemaFile)
	if sc == nil {
		return
	}
	s.Schema = sc
	for _, k := range s.Key {
		i := sc.ColumnIndex(k)
		if i < 0 {
			l.errf(keyNode, "%s.key: column %q is not in %s; key columns must be declared properties", path, k, s.SchemaFile)
			continue
		}
		s.KeyCols = append(s.KeyCols, i)
	}
	if s.EventTime == "" {
		if timeNode == nil {
			l.errf(spec, "%s: event_time is required; set event_time: {column: <a date-time property>, max_disorder: 5s}", path)
		} else {
			l.errf(timeNode, "%s.event_time.column is required", path)
		}
	} else if i := sc.ColumnIndex(s.EventTime); i < 0 {
		l.errf(timeNode, "%s.event_time.column: %q is not in %s", path, s.EventTime, s.SchemaFile)
	} else if c := sc.Columns[i]; c.Type != schema.Timestamp {
		l.errf(timeNode, "%s.event_time.column: %q has type %s; it must be a timestamp (\"format\": \"date-time\") in %s", path, s.EventTime, c.Type, s.SchemaFile)
	} else if !c.Required || c.Nullable {
		l.errf(timeNode, "%s.event_time.column: %q must be required and not nullable in %s: every event needs its time", path, s.EventTime, s.SchemaFile)
	} else {
		s.EventCol = i
	}
	if l.p.Stream(name) != nil {
		l.errf(key, "stream %q is declared twice", name)
		return
	}
	l.p.Streams = append(l.p.Streams, s)
}

func (l *loader) table(name string, key, spec *yaml.Node) {
	t := &Table{Name: name, Pos: l.pos(key)}
	path := "tables." + name
	var schemaNode, fileNode *yaml.Node
	var kinds []string
	l.fields(spec, path, map[string]func(*yaml.Node){
		"file":     func(n *yaml.Node) { fileNode = n; kinds = append(kinds, "file"); l.str(n, path+".file", &t.File) },
		"schema":   func(n *yaml.Node) { schemaNode = n; l.str(n, path+".schema", &t.SchemaFile) },
		"postgres": func(n *yaml.Node) { kinds = append(kinds, "postgres"); l.str(n, path+".postgres", &t.DSN) },
		"query":    func(n *yaml.Node) { l.str(n, path+".query", &t.Query) },
		"lake":     func(n *yaml.Node) { kinds = append(kinds, "lake"); l.str(n, path+".lake", &t.Lake) },
		"refresh":  func(n *yaml.Node) { l.duration(n, path+".refresh", &t.Refresh) },
	})
	switch len(kinds) {
	case 0:
		l.errf(spec, "%s: say where the rows come from: file: tables/%s.csv (with schema:), postgres: <dsn> (with query:), or lake: <stream>", path, name)
		return
	case 1:
		t.Kind = kinds[0]
	default:
		l.errf(spec, "%s: %s are set; a table comes from one of file, postgres and lake", path, strings.Join(kinds, " and "))
		return
	}
	if t.Refresh != 0 && t.Refresh < 100*time.Millisecond {
		l.errf(spec, "%s.refresh must be at least 100ms, got %s", path, t.Refresh)
	}
	switch t.Kind {
	case "file":
		if t.Query != "" {
			l.errf(spec, "%s.query applies to postgres tables; a file table has the file's rows", path)
		}
		if t.SchemaFile == "" {
			l.errf(spec, "%s: a file table needs schema: schemas/%s.json (a JSON Schema of its columns)", path, name)
			return
		}
		if _, err := os.Stat(filepath.Join(l.dir, t.File)); err != nil {
			l.errf(fileNode, "%s.file: cannot read %s: %v", path, t.File, unwrapPathErr(err))
		}
		if t.Schema = l.schemaFile(schemaNode, path, t.SchemaFile); t.Schema == nil {
			return
		}
	case "postgres":
		if t.Query == "" {
			l.errf(spec, "%s: a postgres table needs query: the SELECT that gives its rows, e.g. query: SELECT id, name FROM customers", path)
		}
		if schemaNode != nil {
			l.errf(schemaNode, "%s.schema applies to file tables; a postgres table takes its columns from the query", path)
		}
	case "lake":
		if t.Query != "" || schemaNode != nil {
			l.errf(spec, "%s: a lake table is the stream's rows as they are; query and schema do not apply", path)
		}
		t.Query = "SELECT * FROM " + strconv.Quote(t.Lake)
	}
	for _, o := range l.p.Tables {
		if o.Name == name {
			l.errf(key, "table %q is declared twice", name)
			return
		}
	}
	l.p.Tables = append(l.p.Tables, t)
}

// schemaFile reads and compiles the JSON Schema file of path's schema:
// key (at node), or reports why it cannot and returns nil.
func (l *loader) schemaFile(node *yaml.Node, path, file string) *schema.Schema {
	src, err := os.ReadFile(filepath.Join(l.dir, file))
	if err != nil {
		l.errf(node, "%s.schema: cannot read %s: %v", path, file, unwrapPathErr(err))
		return nil
	}
	sc, err := schema.Compile(src)
	if err != nil {
		l.errs = append(l.errs, &Error{Pos: Pos{File: file}, Msg: err.Error()})
		return nil
	}
	return sc
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (l *loader) source(name string, key, node *yaml.Node) {
	typ := typeOf(node)
	if sp, ok := spec.Lookup("source", typ); ok {
		l.connectorSource(name, key, node, sp)
		return
	}
	path := "sources." + name
	if typ == "" {
		l.errf(node, "%s: type is required; e.g. type: generator, the built-in synthetic clickstream (HTTP ingest needs no source: POST /v1/streams/<stream>/events); supported: %s", path, strings.Join(spec.Types("source"), ", "))
		return
	}
	l.errf(node, "%s: unknown source type %q; supported: %s", path, typ, strings.Join(spec.Types("source"), ", "))
}

// typeOf returns the value of a mapping's type key ("" if none).
func typeOf(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" {
			return n.Content[i+1].Value
		}
	}
	return ""
}

// connectorSource reads a source whose type a connector registered: its
// fields are the spec's, plus type and stream.
func (l *loader) connectorSource(name string, key, node *yaml.Node, sp *spec.Spec) {
	s := &Source{Name: name, Type: sp.Type, Settings: spec.Values{}, Pos: l.pos(key)}
	l.connector(node, "sources."+name, sp, &s.Stream, nil, s.Settings)
	l.p.Sources = append(l.p.Sources, s)
}

// connector reads a connector's fields: type, stream (or, for a sink
// that may write out a view, view non-nil: view), and the spec's settings
// (defaults applied, required ones checked).
func (l *loader) connector(node *yaml.Node, path string, sp *spec.Spec, stream, view *string, into spec.Values) {
	handlers := map[string]func(*yaml.Node){
		"type":   func(*yaml.Node) {},
		"stream": func(n *yaml.Node) { l.str(n, path+".stream", stream) },
	}
	for _, f := range sp.Fields {
		handlers[f.Name] = func(n *yaml.Node) { l.setting(n, path+"."+f.Name, f, into) }
	}
	if view != nil {
		handlers["view"] = func(n *yaml.Node) { l.str(n, path+".view", view) }
	}
	l.fields(node, path, handlers)
	switch {
	case view != nil && *view != "":
		if *stream != "" {
			l.errf(node, "%s: set either stream: (a stream of this file) or view: (a view of views/*.sql), not both", path)
		}
	case *stream == "" && view != nil:
		l.errf(node, "%s: stream or view is required: the stream (or the view of views/*.sql) the %s %s writes out", path, sp.Type, sp.Kind)
	case *stream == "":
		verb := map[string]string{"source": "feeds", "sink": "writes out"}[sp.Kind]
		l.errf(node, "%s: stream is required: the stream the %s %s %s", path, sp.Type, sp.Kind, verb)
	}
	for _, f := range sp.Fields {
		if _, set := into[f.Name]; set {
			continue
		}
		if f.Required {
			l.errf(node, "%s: %s is required: %s", path, f.Name, f.Doc)
			continue
		}
		if f.Default != "" {
			l.setting(&yaml.Node{Kind: yaml.ScalarNode, Value: f.Default, Line: node.Line}, path+"."+f.Name, f, into)
		}
	}
}

// setting reads one connector setting by its field's kind.
func (l *loader) setting(n *yaml.Node, path string, f spec.Field, into spec.Values) {
	switch f.Kind {
	case spec.String:
		var v string
		l.str(n, path, &v)
		into[f.Name] = v
	case spec.Int:
		lo, hi := f.Min, f.Max
		if lo == 0 && hi == 0 {
			lo, hi = math.MinInt64, math.MaxInt64
		}
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || err != nil || v < lo || v > hi {
			l.errf(n, "%s must be an integer from %d to %d, got %q", path, lo, hi, n.Value)
			return
		}
		into[f.Name] = v
	case spec.Duration:
		var d time.Duration
		l.duration(n, path, &d)
		into[f.Name] = d
	case spec.Float:
		lo, hi := f.FloatMin, f.FloatMax
		if lo == 0 && hi == 0 {
			lo, hi = -math.MaxFloat64, math.MaxFloat64
		}
		v, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || err != nil || v < lo || v > hi || math.IsNaN(v) {
			l.errf(n, "%s must be a number from %g to %g, got %q", path, lo, hi, n.Value)
			return
		}
		into[f.Name] = v
	case spec.Bool:
		v, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			l.errf(n, "%s must be true or false, got %q", path, n.Value)
			return
		}
		into[f.Name] = v
	case spec.Enum:
		if n.Kind != yaml.ScalarNode || !slices.Contains(f.Enum, n.Value) {
			l.errf(n, "%s must be one of %s, got %q", path, strings.Join(f.Enum, ", "), n.Value)
			return
		}
		into[f.Name] = n.Value
	case spec.Strings:
		var list []string
		switch n.Kind {
		case yaml.ScalarNode:
			list = []string{n.Value}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if c.Kind != yaml.ScalarNode {
					l.errf(c, "%s must be a list of strings", path)
					return
				}
				list = append(list, c.Value)
			}
		default:
			l.errf(n, "%s must be a string or a list of strings", path)
			return
		}
		if n.Kind == yaml.ScalarNode {
			list = strings.Split(n.Value, ",")
		}
		for i := range list {
			list[i] = strings.TrimSpace(list[i])
		}
		into[f.Name] = list
	default:
		panic(fmt.Sprintf("BUG: field %s has kind %d", f.Name, f.Kind))
	}
}

func (l *loader) sink(name string, key, node *yaml.Node) {
	if sp, ok := spec.Lookup("sink", typeOf(node)); ok {
		l.connectorSink(name, key, node, sp)
		return
	}
	spec := node
	s := &Sink{Name: name, Pos: l.pos(key), Roll: Roll{MaxRows: 1_000_000, MaxBytes: 128 << 20, Interval: 10 * time.Second}}
	path := "sinks." + name
	l.fields(spec, path, map[string]func(*yaml.Node){
		"type":   func(n *yaml.Node) { l.str(n, path+".type", &s.Type) },
		"stream": func(n *yaml.Node) { l.str(n, path+".stream", &s.Stream) },
		"view":   func(n *yaml.Node) { l.str(n, path+".view", &s.View) },
		"table":  func(n *yaml.Node) { l.str(n, path+".table", &s.Table) },
		"roll": func(n *yaml.Node) {
			l.fields(n, path+".roll", map[string]func(*yaml.Node){
				"max_rows":  func(n *yaml.Node) { l.integer(n, path+".roll.max_rows", 1, 1<<31-1, &s.Roll.MaxRows) },
				"max_bytes": func(n *yaml.Node) { l.size(n, path+".roll.max_bytes", &s.Roll.MaxBytes) },
				"interval":  func(n *yaml.Node) { l.duration(n, path+".roll.interval", &s.Roll.Interval) },
			})
		},
	})
	switch s.Type {
	case "lake":
		if (s.Stream == "") == (s.View == "") {
			l.errf(spec, "%s: set either stream: (a stream of this file) or view: (a view of views/*.sql)", path)
			return
		}
		if s.Table == "" {
			s.Table = s.Stream + s.View
		}
		if s.Table != "" && !nameRE.MatchString(s.Table) {
			l.errf(spec, "%s.table: %q must start with a lower-case letter and use only a-z, 0-9 and _", path, s.Table)
			return
		}
		if s.Roll.Interval < 100*time.Millisecond {
			l.errf(spec, "%s.roll.interval must be at least 100ms, got %s", path, s.Roll.Interval)
			return
		}
	case "":
		l.errf(spec, "%s: type is required; supported: %s", path, sinkTypes())
		return
	default:
		l.errf(spec, "%s: unknown sink type %q; supported: %s", path, s.Type, sinkTypes())
		return
	}
	l.p.Sinks = append(l.p.Sinks, s)
}

func sinkTypes() string { return strings.Join(append([]string{"lake"}, spec.Types("sink")...), ", ") }

// connectorSink reads a sink whose type a connector registered: its
// fields are the spec's, plus type and stream.
func (l *loader) connectorSink(name string, key, node *yaml.Node, sp *spec.Spec) {
	s := &Sink{Name: name, Type: sp.Type, Settings: spec.Values{}, Pos: l.pos(key)}
	path := "sinks." + name
	l.connector(node, path, sp, &s.Stream, &s.View, s.Settings)
	l.p.Sinks = append(l.p.Sinks, s)
}

// crossCheck validates references between sections.
func (l *loader) crossCheck() {
	names := func() string {
		var ns []string
		for _, s := range l.p.Streams {
			ns = append(ns, s.Name)
		}
		return strings.Join(ns, ", ")
	}
	for _, s := range l.p.Sources {
		if l.p.Stream(s.Stream) == nil {
			l.errs = append(l.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("sources.%s.stream: %q is not a declared stream (declared: %s)", s.Name, s.Stream, names())})
		}
	}
	tables := map[string]bool{}
	for _, s := range l.p.Sinks {
		if s.View != "" {
			if l.p.Stream(s.View) != nil {
				l.errs = append(l.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("sinks.%s.view: %q is a stream; write stream: %s", s.Name, s.View, s.View)})
			}
		} else if l.p.Stream(s.Stream) == nil {
			l.errs = append(l.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("sinks.%s.stream: %q is not a declared stream (declared: %s)", s.Name, s.Stream, names())})
		}
		if s.Type != "lake" {
			continue
		}
		if tables[s.Table] {
			l.errs = append(l.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("sinks.%s.table: table %q is written by another sink; give each lake sink its own table", s.Name, s.Table)})
		}
		tables[s.Table] = true
	}
	for _, t := range l.p.Tables {
		if l.p.Stream(t.Name) != nil || tables[t.Name] {
			l.errs = append(l.errs, &Error{Pos: t.Pos, Msg: fmt.Sprintf("tables.%s: %q is also a stream or a lake table; give the reference table another name", t.Name, t.Name)})
		}
		if t.Kind == "lake" && l.p.Stream(t.Lake) == nil {
			l.errs = append(l.errs, &Error{Pos: t.Pos, Msg: fmt.Sprintf("tables.%s.lake: %q is not a declared stream (declared: %s)", t.Name, t.Lake, names())})
		}
	}
}

// ParseDuration is time.ParseDuration plus a "d" (24h) unit.
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return 0, err
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

// ParseSize parses a byte size: an integer with an optional unit
// (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB).
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil {
				return 0, err
			}
			return int64(v * float64(u.mult)), nil
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
