package view

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/serve"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/sql/plan"
	"github.com/weirhq/weir/internal/stream"
)

// ErrBadStatement marks errors in the statement itself (the caller
// answers 400); other errors are the node's.
var ErrBadStatement = errors.New("bad statement")

// Tables is the part of the serving engine the manager uses.
type Tables interface {
	AddTable(t serve.Table) error
	RemoveTable(name string) error
}

// Options configure a Manager.
type Options struct {
	Log     wlog.Log
	Meta    wlog.Meta
	Tables  Tables
	Streams plan.Lookup
	// IsStream reports whether a name is taken by a stream or table.
	IsStream       func(name string) bool
	Metrics        *stream.Metrics
	Logger         *slog.Logger
	CommitInterval time.Duration
	IdleTimeout    time.Duration
	ChangelogLimit int // see stream.Options.ChangelogLimit; 0: its default
}

// FileView is a view defined in the pipeline directory.
type FileView struct {
	Stmt *parse.CreateView
	File string // relative to the pipeline directory, e.g. views/clicks.sql
}

// Manager runs the views of a node. It is safe for concurrent use.
type Manager struct {
	opts Options
	ctx  context.Context

	ddl sync.Mutex // serialises CREATE and DROP

	mu    sync.Mutex
	views map[string]*running
	// rebuilt are the file views Start rebuilt because their SQL changed:
	// whatever was derived from their old output (a lake table) is stale.
	rebuilt map[string]bool
	// created are the file views Start found no stored definition for:
	// new, or dropped earlier and defined again.
	created map[string]bool
	// broken are stored DDL views that no longer plan (a stream or column
	// they read is gone): listed, droppable, not running.
	broken map[string]brokenView
}

type brokenView struct {
	def definition
	err error
}

type running struct {
	def    definition
	view   *plan.View
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex    // guards task (replaced on restart) and err
	task stream.Runner // one task, or a parallel view's job
	err  error         // the last failure, for SHOW VIEWS
}

// definition is what the metadata store keeps of a view.
type definition struct {
	Name    string    `json:"name"`
	SQL     string    `json:"sql"`
	Origin  string    `json:"origin"` // "ddl" or the file it came from
	Created time.Time `json:"created"`
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func defKey(name string) []byte      { return []byte("viewdef/" + name) }
func statePrefix(name string) string { return "vstate/" + name + "/" }

// OutputStream is the log stream holding a view's rows.
func OutputStream(name string) string { return plan.OutputStream(name) }

// LateStream is the log stream holding a view's late records.
func LateStream(name string) string { return plan.LateStream(name) }

// New returns a manager; Start runs it.
func New(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Manager{opts: opts, views: map[string]*running{}, broken: map[string]brokenView{}, rebuilt: map[string]bool{}, created: map[string]bool{}}
}

// Start reconciles the stored views with the pipeline's files and starts a
// task per view. A file view whose SQL changed is rebuilt from the
// retained log; a stored file view whose file no longer defines it is
// dropped. Errors name the file, line and column.
func (m *Manager) Start(ctx context.Context, files []FileView) error {
	m.ctx = ctx
	stored := map[string]definition{}
	var derr error
	err := m.opts.Meta.Scan([]byte("viewdef/"), func(_, v []byte) bool {
		var d definition
		if err := json.Unmarshal(v, &d); err != nil {
			derr = fmt.Errorf("%w: a stored view definition: %v", wlog.ErrCorrupt, err)
			return false
		}
		stored[d.Name] = d
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return err
	}
	// Every view to run: the files', then stored DDL views; each then
	// starts after the views it reads.
	type pending struct {
		stmt   *parse.CreateView
		file   string     // a file view's file
		def    definition // a stored DDL view's definition
		parent string     // a step of this view (plan.Expand)
	}
	var todo []pending
	inFiles := map[string]bool{}
	for _, f := range files {
		name := f.Stmt.Name
		if inFiles[name] {
			return fmt.Errorf("%s: %s: view %q is defined twice in views/", f.File, f.Stmt.Pos, name)
		}
		inFiles[name] = true
		todo = append(todo, pending{stmt: f.Stmt, file: f.File})
	}
	for _, name := range slices.Sorted(maps.Keys(stored)) {
		d := stored[name]
		if inFiles[name] || stepOf(d.Origin) != "" {
			continue // steps come again from their view's statement
		}
		if d.Origin != "ddl" {
			m.opts.Logger.Info("view no longer defined in views/; dropping it", "view", name, "file", d.Origin)
			if err := m.purge(name); err != nil {
				return err
			}
			if err := m.opts.Meta.Delete(defKey(name)); err != nil {
				return err
			}
			continue
		}
		st, err := parse.Parse(d.SQL)
		cv, ok := st.(*parse.CreateView)
		if err == nil && !ok {
			err = fmt.Errorf("the stored statement is not CREATE MATERIALIZED VIEW")
		}
		if err != nil {
			m.opts.Logger.Error("stored view no longer parses; it is not running (DROP it or CREATE OR REPLACE it)", "view", name, "err", err)
			m.broken[name] = brokenView{def: d, err: err}
			continue
		}
		todo = append(todo, pending{stmt: cv, def: d})
	}
	// A view with steps of its own (plan.Expand) runs them first, as
	// views of their own.
	var expanded []pending
	for _, pv := range todo {
		stmts, err := plan.Expand(pv.stmt)
		if err != nil {
			expanded = append(expanded, pv) // Compile says what is wrong
			continue
		}
		for _, st := range stmts[:len(stmts)-1] {
			d, ok := stored[st.Name]
			if !ok {
				d = definition{Name: st.Name, SQL: st.Text, Origin: stepOrigin(pv.stmt.Name), Created: time.Now().UTC()}
			}
			expanded = append(expanded, pending{stmt: st, file: pv.file, def: d, parent: pv.stmt.Name})
		}
		pv.stmt = stmts[len(stmts)-1]
		expanded = append(expanded, pv)
	}
	todo = expanded
	seen := map[string]string{}
	for _, pv := range todo {
		name, of := pv.stmt.Name, pv.parent
		if other, dup := seen[name]; dup {
			return fmt.Errorf("view %q is defined twice: %s and %s; rename one (a WITH query's step is named <view>__<name>)", name, other, describeOrigin(pv.file, of))
		}
		seen[name] = describeOrigin(pv.file, of)
	}
	started := map[string]bool{}
	order, err := dependencyOrder(len(todo), func(i int) string { return todo[i].stmt.Name },
		func(i int) []string { return plan.FromNames(todo[i].stmt.Query) })
	if err != nil {
		return err
	}
	for _, i := range order {
		pv := todo[i]
		name := pv.stmt.Name
		v, err := m.compile(pv.stmt)
		switch {
		case err != nil && pv.file != "":
			var pe *parse.Error
			if errors.As(err, &pe) {
				// The same form as the pipeline's syntax errors: file:line: column C: ...
				return fmt.Errorf("%s:%d: column %d: %s", pv.file, pe.Pos.Line, pe.Pos.Col, pe.Msg)
			}
			return fmt.Errorf("%s: %w", pv.file, err)
		case err != nil:
			m.opts.Logger.Error("stored view no longer plans against the pipeline's streams; it is not running (DROP it or CREATE OR REPLACE it)", "view", name, "err", err)
			m.broken[name] = brokenView{def: pv.def, err: err}
			continue
		}
		d := pv.def
		if pv.file != "" || pv.parent != "" {
			origin := pv.file
			if pv.parent != "" {
				origin = stepOrigin(pv.parent)
			}
			d = definition{Name: name, SQL: pv.stmt.Text, Origin: origin, Created: time.Now().UTC()}
			switch old, ok := stored[name]; {
			case !ok:
				m.created[name] = true
			case old.SQL == d.SQL:
				d = old
				d.Origin = origin
			default:
				m.opts.Logger.Warn("view definition changed; rebuilding it from the retained log", "view", name, "origin", origin)
				if err := m.purge(name); err != nil {
					return err
				}
				m.rebuilt[name] = true
			}
		}
		// A view reading a rebuilt one read rows that are gone: it is
		// rebuilt too.
		if !m.rebuilt[name] && slices.ContainsFunc(plan.FromNames(pv.stmt.Query), func(n string) bool { return m.rebuilt[n] }) {
			m.opts.Logger.Warn("a view it reads was rebuilt; rebuilding it too", "view", name)
			if err := m.purge(name); err != nil {
				return err
			}
			m.rebuilt[name] = true
		}
		if err := m.start(d, v); err != nil {
			return err
		}
		started[name] = true
	}
	// Steps whose view is gone, or no longer has them.
	for name, d := range stored {
		if _, broken := m.broken[name]; stepOf(d.Origin) != "" && !started[name] && !broken {
			m.opts.Logger.Info("a view's step is no longer needed; dropping it", "view", name, "of", stepOf(d.Origin))
			if err := m.purge(name); err != nil {
				return err
			}
			if err := m.opts.Meta.Delete(defKey(name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// describeOrigin names where a view comes from, for messages.
func describeOrigin(file, parent string) string {
	switch {
	case parent != "":
		return "a step of view " + strconv.Quote(parent)
	case file != "":
		return file
	}
	return "a CREATE statement"
}

// stepOrigin is the origin of a step of view parent (see plan.Expand);
// stepOf reads it back ("" for other origins).
func stepOrigin(parent string) string { return "step of " + parent }
func stepOf(origin string) string {
	if s, ok := strings.CutPrefix(origin, "step of "); ok {
		return s
	}
	return ""
}

// dependencyOrder orders n views so that each comes after the views it
// reads (names it reads that are not among them are streams). Views in a
// cycle are an error.
func dependencyOrder(n int, name func(int) string, reads func(int) []string) ([]int, error) {
	index := map[string]int{}
	for i := range n {
		index[name(i)] = i
	}
	state := make([]int, n) // 0 new, 1 visiting, 2 done
	var order []int
	var visit func(i int, path []string) error
	visit = func(i int, path []string) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("views read each other in a cycle: %s → %s; a view can read only views that do not read it", strings.Join(path, " → "), name(i))
		case 2:
			return nil
		}
		state[i] = 1
		for _, r := range reads(i) {
			if j, ok := index[r]; ok {
				if err := visit(j, append(path, name(i))); err != nil {
					return err
				}
			}
		}
		state[i] = 2
		order = append(order, i)
		return nil
	}
	for i := range n {
		if err := visit(i, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func (m *Manager) compile(cv *parse.CreateView) (*plan.View, error) {
	return m.compileWith(cv, m.lookup)
}

// compileWith is compile with another lookup.
func (m *Manager) compileWith(cv *parse.CreateView, lookup plan.Lookup) (*plan.View, error) {
	if !nameRE.MatchString(cv.Name) || strings.HasSuffix(cv.Name, "__late") {
		return nil, &parse.Error{Pos: cv.Pos, Msg: fmt.Sprintf("view name %q must be lower-case letters, digits and _ (not ending in __late), starting with a letter", cv.Name)}
	}
	if m.opts.IsStream != nil && m.opts.IsStream(cv.Name) {
		return nil, &parse.Error{Pos: cv.Pos, Msg: fmt.Sprintf("%q is a stream already; name the view differently", cv.Name)}
	}
	return plan.Compile(cv, lookup)
}

// lookup finds a FROM name: a stream, or a running view to read as one.
func (m *Manager) lookup(name string) (plan.Source, bool) {
	if src, ok := m.opts.Streams(name); ok {
		return src, true
	}
	m.mu.Lock()
	r, ok := m.views[name]
	b, isBroken := m.broken[name]
	m.mu.Unlock()
	switch {
	case isBroken:
		return plan.Source{Err: fmt.Errorf("view %q is not running (%v); mend it first", name, b.err)}, true
	case !ok:
		return plan.Source{}, false
	}
	src, err := r.view.AsSource(func() int64 {
		r.mu.Lock()
		t := r.task
		r.mu.Unlock()
		return t.Stats().WatermarkMicros
	})
	if err != nil {
		return plan.Source{Err: err}, true
	}
	return src, true
}

// readers are the running views that read the named view, by name.
func (m *Manager) readers(name string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n, r := range m.views {
		for _, in := range r.view.Plan.Inputs() {
			if in.Stream == OutputStream(name) {
				out = append(out, n)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// start persists d and runs the view's task.
func (m *Manager) start(d definition, v *plan.View) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := m.opts.Meta.Set(defKey(d.Name), raw); err != nil {
		return err
	}
	p := v.Plan
	if err := m.opts.Log.EnsureStream(OutputStream(d.Name), 1); err != nil {
		return err
	}
	if err := m.opts.Log.EnsureStream(LateStream(d.Name), 1); err != nil {
		return err
	}
	out := serve.Table{Name: d.Name, Stream: OutputStream(d.Name), Partitions: 1,
		Schema: schema.FromColumns(p.OutputColumns()), SchemaVer: 1, Upsert: p.Upsert()}
	if err := m.opts.Tables.AddTable(out); err != nil {
		return err
	}
	if p.Window.Kind != stream.NoWindow || p.Join != nil {
		late := serve.Table{Name: d.Name + "__late", Stream: LateStream(d.Name), Partitions: 1,
			Schema: schema.FromColumns(p.LateColumns()), SchemaVer: p.LateVersion()}
		if p.Join == nil && p.Lookup == nil {
			late.SchemaFor = p.Input.SchemaFor
		}
		if err := m.opts.Tables.AddTable(late); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(m.ctx)
	r := &running{def: d, view: v, cancel: cancel, done: make(chan struct{})}
	r.task = stream.NewRunner(p, r.taskOpts(m))
	m.mu.Lock()
	m.views[d.Name] = r
	m.mu.Unlock()
	go m.run(ctx, r)
	return nil
}

// run runs a view's task, restarting it from its committed state after a
// failure (with backoff), until ctx ends.
func (m *Manager) run(ctx context.Context, r *running) {
	defer close(r.done)
	backoff := 100 * time.Millisecond
	for {
		r.mu.Lock()
		task := r.task
		r.mu.Unlock()
		err := task.Run(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		r.err = fmt.Errorf("%s: %w (the task restarted from its last commit)", time.Now().UTC().Format(time.RFC3339), err)
		r.mu.Unlock()
		m.opts.Logger.Error("view task failed; restarting from its last commit", "view", r.def.Name, "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
		r.mu.Lock()
		r.task = stream.NewRunner(r.view.Plan, r.taskOpts(m))
		r.mu.Unlock()
	}
}

func (r *running) taskOpts(m *Manager) stream.Options {
	d := r.def
	return stream.Options{
		Log: m.opts.Log, Meta: m.opts.Meta,
		OutputStream: OutputStream(d.Name), LateStream: LateStream(d.Name), StatePrefix: statePrefix(d.Name),
		CommitInterval: m.opts.CommitInterval, IdleTimeout: m.opts.IdleTimeout, ChangelogLimit: m.opts.ChangelogLimit,
		Metrics: m.opts.Metrics, Logger: m.opts.Logger,
	}
}

// OutputFloors returns, per view output stream, the offset below which
// its rows are superseded (continuous aggregates that rewrote their rows).
func (m *Manager) OutputFloors() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int64{}
	for name, r := range m.views {
		r.mu.Lock()
		st := r.task.Stats()
		r.mu.Unlock()
		if st.OutFloor > 0 {
			out[OutputStream(name)] = st.OutFloor
		}
	}
	return out
}

// Retained returns, per running view, the log streams whose rows only the
// retention of its input stream bounds, with that input stream: the late
// records of every view, and the output of views that are not continuous
// aggregates (those rewrite their rows and move their output floor
// instead, see OutputFloors).
func (m *Manager) Retained() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for name, r := range m.views {
		p := r.view.Plan
		in := m.rootLocked(p.Input.Stream)
		out[LateStream(name)] = in
		if p.Window.Kind != stream.NoWindow || !p.Aggregating {
			out[OutputStream(name)] = in
		}
	}
	return out
}

// rootLocked is the stream a log stream derives from: itself, or for a
// view's output the root of that view's input. m.mu is held.
func (m *Manager) rootLocked(s string) string {
	for range 64 { // views form no cycles; the bound is only a guard
		name, ok := strings.CutPrefix(s, plan.OutputStreamPrefix)
		if !ok {
			return s
		}
		r, ok := m.views[name]
		if !ok {
			return s
		}
		s = r.view.Plan.Input.Stream
	}
	return s
}

// stop ends a view's task (which commits what it processed) and waits.
func (r *running) stop() {
	r.cancel()
	<-r.done
}

// purge deletes a view's outputs and state (not its definition).
func (m *Manager) purge(name string) error {
	for _, s := range []string{OutputStream(name), LateStream(name), stream.RepartStream(OutputStream(name))} {
		if err := m.opts.Log.DropStream(s); err != nil {
			return err
		}
	}
	if err := m.opts.Meta.DeletePrefix([]byte(statePrefix(name))); err != nil {
		return fmt.Errorf("cannot delete the state of view %q: %w", name, err)
	}
	return nil
}

// Stop ends every task; each commits what it processed.
func (m *Manager) Stop() {
	m.mu.Lock()
	views := make([]*running, 0, len(m.views))
	for _, r := range m.views {
		views = append(views, r)
	}
	m.mu.Unlock()
	for _, r := range views {
		r.cancel()
	}
	for _, r := range views {
		<-r.done
	}
}

// Floor is the lowest input offset of the stream's partition that a view
// still needs (log retention must keep it); ok is false when no view reads
// the stream.
func (m *Manager) Floor(streamName string, partition int) (int64, bool) {
	floor, ok := int64(0), false
	for _, offsets := range m.positions(streamName, true) {
		off := int64(0)
		if partition < len(offsets) {
			off = offsets[partition]
		}
		if !ok || off < floor {
			floor, ok = off, true
		}
	}
	return floor, ok
}

// Positions returns, for each live view reading the stream, its committed
// input offsets per partition. A view still backfilling the retained log
// (not yet caught up since it started) is left out: it must not hold back
// ingest (backpressure) while it catches up.
func (m *Manager) Positions(streamName string) [][]int64 { return m.positions(streamName, false) }

// positions returns the committed offsets of each view reading the
// stream, or with checkpoint the offsets its stored state reflects (what a
// restart replays from).
func (m *Manager) positions(streamName string, checkpoint bool) [][]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]int64
	for _, r := range m.views {
		inputs := r.view.Plan.Inputs()
		if !slices.ContainsFunc(inputs, func(in stream.Input) bool { return in.Stream == streamName }) {
			continue
		}
		r.mu.Lock()
		st := r.task.Stats()
		r.mu.Unlock()
		offsets := st.Offsets
		switch {
		case checkpoint:
			offsets = st.Checkpoint
		case !st.Live:
			continue
		}
		// A join's offsets are its left input's partitions, then its right's.
		at := 0
		for _, in := range inputs {
			if in.Stream == streamName && at+in.Partitions <= len(offsets) {
				out = append(out, offsets[at:at+in.Partitions])
			}
			at += in.Partitions
		}
	}
	return out
}

// Rebuilt reports whether Start rebuilt the view because its SQL changed.
func (m *Manager) Rebuilt(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rebuilt[name]
}

// Created reports whether Start found no stored definition of the file
// view: it is new, or was dropped before and is defined again.
func (m *Manager) Created(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.created[name]
}

// Plan returns a running view's plan, or nil.
func (m *Manager) Plan(name string) *stream.Plan {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.views[name]; ok {
		return r.view.Plan
	}
	return nil
}

// Handles reports whether stmt is a view statement this package executes.
func Handles(stmt parse.Statement) bool {
	switch s := stmt.(type) {
	case *parse.CreateView, *parse.DropView, *parse.ShowViews:
		return true
	case *parse.Explain:
		_, ok := s.Stmt.(*parse.CreateView)
		return ok
	}
	return false
}

func bad(err error) error { return fmt.Errorf("%w: %v", ErrBadStatement, err) }

// Exec runs a view statement: CREATE / DROP MATERIALIZED VIEW, SHOW VIEWS,
// EXPLAIN CREATE MATERIALIZED VIEW.
func (m *Manager) Exec(ctx context.Context, stmt parse.Statement) (*serve.Result, error) {
	switch s := stmt.(type) {
	case *parse.CreateView:
		return m.create(s)
	case *parse.DropView:
		return m.drop(s)
	case *parse.ShowViews:
		return m.show(), nil
	case *parse.Explain:
		cv, ok := s.Stmt.(*parse.CreateView)
		if !ok {
			break
		}
		_, _, stepViews, v, err := m.plan(cv)
		if err != nil {
			return nil, bad(err)
		}
		res := &serve.Result{Columns: []string{"plan"}, Types: []string{"VARCHAR"}, Rows: [][]any{}}
		var lines []string
		for _, sv := range stepViews {
			lines = append(lines, sv.Explain...) // the steps first, as they run
		}
		for _, l := range append(lines, v.Explain...) {
			res.Rows = append(res.Rows, []any{l})
		}
		return res, nil
	}
	return nil, bad(fmt.Errorf("not a view statement"))
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func pronoun(names []string) string {
	if len(names) == 1 {
		return "it"
	}
	return "them"
}

func ok(msg string) *serve.Result {
	return &serve.Result{Columns: statusColumns, Types: statusTypes, Rows: [][]any{{msg}}}
}

// The columns of CREATE / DROP (a status line) and of SHOW VIEWS.
var (
	statusColumns, statusTypes = []string{"status"}, []string{"VARCHAR"}

	showColumns = []string{"name", "input", "mode", "watermark", "rows_in", "rows_out", "late_kept", "late_dropped", "late_updated", "open_groups", "lag", "origin", "last_error", "sql"}
	showTypes   = []string{"VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMP", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "VARCHAR", "VARCHAR", "VARCHAR"}
)

// Describe says what Exec will return for a view statement (one Handles
// accepts), without running it.
func Describe(stmt parse.Statement) *serve.Description {
	switch stmt.(type) {
	case *parse.ShowViews:
		return &serve.Description{Columns: showColumns, Types: showTypes}
	case *parse.Explain:
		return &serve.Description{Columns: []string{"plan"}, Types: []string{"VARCHAR"}}
	}
	return &serve.Description{Columns: statusColumns, Types: statusTypes}
}

func (m *Manager) create(cv *parse.CreateView) (*serve.Result, error) {
	m.ddl.Lock()
	defer m.ddl.Unlock()
	m.mu.Lock()
	old, exists := m.views[cv.Name]
	broken, isBroken := m.broken[cv.Name]
	m.mu.Unlock()
	if (exists || isBroken) && cv.IfNotExists {
		return ok(fmt.Sprintf("view %s exists already; nothing changed", cv.Name)), nil
	}
	steps, cv, _, v, err := m.plan(cv)
	if err != nil {
		return nil, bad(err)
	}
	switch {
	case exists && old.def.Origin != "ddl":
		return nil, bad(fmt.Errorf("view %q is defined in %s; change it there", cv.Name, old.def.Origin))
	case (exists || isBroken) && !cv.OrReplace:
		return nil, bad(fmt.Errorf("view %q exists already; use CREATE OR REPLACE MATERIALIZED VIEW or DROP it first", cv.Name))
	case exists:
		if rs := m.readers(cv.Name); len(rs) > 0 {
			return nil, bad(fmt.Errorf("view %q is read by %s; drop %s first, then replace it", cv.Name, quoteList(rs), pronoun(rs)))
		}
		if err := m.remove(old); err != nil {
			return nil, err
		}
		if err := m.removeSteps(cv.Name); err != nil {
			return nil, err
		}
	case isBroken:
		if err := m.forget(broken.def.Name); err != nil {
			return nil, err
		}
		if err := m.removeSteps(cv.Name); err != nil {
			return nil, err
		}
	default:
		// Nothing may be left of an earlier view of this name, but make sure.
		if err := m.purge(cv.Name); err != nil {
			return nil, err
		}
	}
	for _, st := range steps {
		if err := m.purge(st.Name); err != nil {
			return nil, err
		}
		sv, err := m.compile(st)
		if err == nil {
			err = m.start(definition{Name: st.Name, SQL: st.Text, Origin: stepOrigin(cv.Name), Created: time.Now().UTC()}, sv)
		}
		if err != nil {
			return nil, errors.Join(err, m.removeSteps(cv.Name))
		}
	}
	if len(steps) > 0 {
		// Again, over the running steps.
		if v, err = m.compile(cv); err != nil {
			return nil, errors.Join(bad(err), m.removeSteps(cv.Name))
		}
	}
	d := definition{Name: cv.Name, SQL: cv.Text, Origin: "ddl", Created: time.Now().UTC()}
	if err := m.start(d, v); err != nil {
		return nil, errors.Join(err, m.removeSteps(cv.Name))
	}
	msg := fmt.Sprintf("created materialized view %s", cv.Name)
	if len(steps) > 0 {
		var names []string
		for _, st := range steps {
			names = append(names, st.Name)
		}
		msg += fmt.Sprintf(" (with its steps %s)", strings.Join(names, ", "))
	}
	return ok(msg), nil
}

// plan plans a view and its steps (plan.Expand) without starting any:
// each step is looked up as the view it will be. It returns the steps,
// the view's statement over them, and their plans.
func (m *Manager) plan(cv *parse.CreateView) ([]*parse.CreateView, *parse.CreateView, []*plan.View, *plan.View, error) {
	stmts, err := plan.Expand(cv)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	steps := stmts[:len(stmts)-1]
	cv = stmts[len(stmts)-1]
	planned := map[string]*plan.View{}
	lookup := func(name string) (plan.Source, bool) {
		if v, ok := planned[name]; ok {
			src, err := v.AsSource(func() int64 { return math.MinInt64 })
			src.Err = err
			return src, true
		}
		return m.lookup(name)
	}
	var views []*plan.View
	for _, st := range append(slices.Clone(steps), cv) {
		// A view reads its own steps only.
		for _, name := range plan.FromNames(st.Query) {
			if r, ok := m.running(name); ok && stepOf(r.def.Origin) != "" && stepOf(r.def.Origin) != cv.Name {
				return nil, nil, nil, nil, fmt.Errorf("view %q is a step of view %q; read %q, or write the step as a view of its own", name, stepOf(r.def.Origin), stepOf(r.def.Origin))
			}
		}
	}
	for _, st := range steps {
		m.mu.Lock()
		b, broken := m.broken[st.Name]
		m.mu.Unlock()
		if r, taken := m.running(st.Name); (taken && stepOf(r.def.Origin) != cv.Name) || (broken && stepOf(b.def.Origin) != cv.Name) {
			return nil, nil, nil, nil, fmt.Errorf("%s: view %q, a step of %q, has the name of another view; rename the WITH query", st.Pos, st.Name, cv.Name)
		}
		sv, err := m.compileWith(st, lookup)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		planned[st.Name] = sv
		views = append(views, sv)
	}
	v, err := m.compileWith(cv, lookup)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return steps, cv, views, v, nil
}

// running returns the running view of that name.
func (m *Manager) running(name string) (*running, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.views[name]
	return r, ok
}

// removeSteps removes the steps of view parent (see plan.Expand), each
// after the steps that read it.
func (m *Manager) removeSteps(parent string) error {
	m.mu.Lock()
	var brokenSteps []string
	for name, b := range m.broken {
		if stepOf(b.def.Origin) == parent {
			brokenSteps = append(brokenSteps, name)
		}
	}
	m.mu.Unlock()
	for _, name := range brokenSteps {
		if err := m.forget(name); err != nil {
			return err
		}
	}
	for {
		m.mu.Lock()
		var steps []*running
		for _, r := range m.views {
			if stepOf(r.def.Origin) == parent {
				steps = append(steps, r)
			}
		}
		m.mu.Unlock()
		if len(steps) == 0 {
			return nil
		}
		removed := false
		for _, r := range steps {
			if len(m.readers(r.def.Name)) == 0 {
				if err := m.remove(r); err != nil {
					return err
				}
				removed = true
			}
		}
		if !removed {
			return fmt.Errorf("BUG: the steps of view %q read each other in a cycle", parent)
		}
	}
}

// remove stops a view and deletes its tables, outputs, state and definition.
func (m *Manager) remove(r *running) error {
	r.stop()
	m.mu.Lock()
	delete(m.views, r.def.Name)
	m.mu.Unlock()
	if err := m.opts.Tables.RemoveTable(r.def.Name); err != nil {
		return err
	}
	if err := m.opts.Tables.RemoveTable(r.def.Name + "__late"); err != nil {
		return err
	}
	if err := m.purge(r.def.Name); err != nil {
		return err
	}
	return m.opts.Meta.Delete(defKey(r.def.Name))
}

// forget deletes a broken view's outputs, state and definition.
func (m *Manager) forget(name string) error {
	if err := m.purge(name); err != nil {
		return err
	}
	if err := m.opts.Meta.Delete(defKey(name)); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.broken, name)
	m.mu.Unlock()
	return nil
}

func (m *Manager) drop(s *parse.DropView) (*serve.Result, error) {
	m.ddl.Lock()
	defer m.ddl.Unlock()
	m.mu.Lock()
	r, exists := m.views[s.Name]
	_, isBroken := m.broken[s.Name]
	m.mu.Unlock()
	if isBroken {
		if err := m.forget(s.Name); err != nil {
			return nil, err
		}
		if err := m.removeSteps(s.Name); err != nil {
			return nil, err
		}
		return ok(fmt.Sprintf("dropped materialized view %s (it was not running)", s.Name)), nil
	}
	switch {
	case !exists && s.IfExists:
		return ok(fmt.Sprintf("view %s does not exist; nothing changed", s.Name)), nil
	case !exists:
		return nil, bad(fmt.Errorf("%s: view %q does not exist (SHOW VIEWS lists them)", s.Pos, s.Name))
	case stepOf(r.def.Origin) != "":
		return nil, bad(fmt.Errorf("view %q is a step of view %q (a WITH query or subquery of it); drop %q", s.Name, stepOf(r.def.Origin), stepOf(r.def.Origin)))
	case r.def.Origin != "ddl":
		return nil, bad(fmt.Errorf("view %q is defined in %s: remove it from that file and restart", s.Name, r.def.Origin))
	}
	if rs := m.readers(s.Name); len(rs) > 0 {
		return nil, bad(fmt.Errorf("view %q is read by %s; drop %s first", s.Name, quoteList(rs), pronoun(rs)))
	}
	if err := m.remove(r); err != nil {
		return nil, err
	}
	if err := m.removeSteps(s.Name); err != nil {
		return nil, err
	}
	return ok(fmt.Sprintf("dropped materialized view %s", s.Name)), nil
}

// Status is a view's progress, as SHOW VIEWS and the dashboard show it.
type Status struct {
	Name      string    `json:"name"`
	Input     string    `json:"input,omitempty"`  // the streams it reads, comma-separated
	Inputs    []string  `json:"inputs,omitempty"` // the streams it reads (two for a join)
	Mode      string    `json:"mode"`             // append, upsert, or not running
	Watermark time.Time `json:"watermark,omitzero"`
	stream.Counts
	Groups int64  `json:"open_groups"`
	Lag    int64  `json:"lag"` // input records not yet processed
	Origin string `json:"origin"`
	Error  string `json:"error,omitempty"`
	SQL    string `json:"sql"`
}

// Status returns every view's progress, by name.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	var rs []*running
	for _, r := range m.views {
		rs = append(rs, r)
	}
	var out []Status
	for _, b := range m.broken {
		out = append(out, Status{Name: b.def.Name, Mode: "not running", Origin: b.def.Origin, Error: "not running: " + b.err.Error(), SQL: b.def.SQL})
	}
	m.mu.Unlock()
	for _, r := range rs {
		r.mu.Lock()
		st := r.task.Stats()
		var errText string
		if r.err != nil {
			errText = r.err.Error()
		}
		r.mu.Unlock()
		p := r.view.Plan
		mode := "append"
		if p.Upsert() {
			mode = "upsert"
		}
		lag := st.Backlog // a parallel view's repartition records still to read
		var inputs []string
		at := 0
		for _, in := range p.Inputs() {
			inputs = append(inputs, in.Stream)
			for part := range in.Partitions {
				if at+part >= len(st.Offsets) {
					break
				}
				if end, err := m.opts.Log.End(in.Stream, part); err == nil {
					lag += end - st.Offsets[at+part]
				}
			}
			at += in.Partitions
		}
		input := strings.Join(inputs, ", ")
		if p.Lookup != nil {
			input += " + table " + p.Lookup.Table.Name()
		}
		out = append(out, Status{Name: r.def.Name, Input: input, Inputs: inputs, Mode: mode, Watermark: st.Watermark, Counts: st.Counts,
			Groups: int64(st.Groups), Lag: lag, Origin: r.def.Origin, Error: errText, SQL: r.def.SQL})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// show lists the views with their progress.
func (m *Manager) show() *serve.Result {
	res := &serve.Result{Columns: showColumns, Types: showTypes, Rows: [][]any{}}
	for _, s := range m.Status() {
		if s.Mode == "not running" {
			res.Rows = append(res.Rows, []any{s.Name, nil, s.Mode, nil, nil, nil, nil, nil, nil, nil, nil, s.Origin, s.Error, s.SQL})
			continue
		}
		var wm, errText any
		if !s.Watermark.IsZero() {
			wm = s.Watermark.Format(time.RFC3339Nano)
		}
		if s.Error != "" {
			errText = s.Error
		}
		res.Rows = append(res.Rows, []any{s.Name, s.Input, s.Mode, wm, s.In, s.Out,
			s.LateKept, s.LateDropped, s.LateUpdated, s.Groups, s.Lag, s.Origin, errText, s.SQL})
	}
	return res
}
