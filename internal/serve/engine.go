// Package serve answers SQL over the lake and the fresh tail of the log.
//
// Each stream is a SQL table: the Parquet files of its lake table's latest
// snapshot, plus the records appended to the log after the offsets that
// snapshot covers (the "fresh tail"). The tail lives in an in-memory DuckDB
// table, filled from the log just before each query (so a query sees every
// record acknowledged before it started) and trimmed as lake commits cover
// it. A query pins the snapshot it read: tail rows it needs are not trimmed
// until it ends, so each record is counted exactly once.
//
// Queries are read-only: statements other than SELECT and EXPLAIN are
// refused, and DuckDB may read files only under the lake directory.
//
// This package reads the log and the lake's published state; it must not
// import the gate or the HTTP API.
package serve

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/internal/lake"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
)

// Table is a stream exposed as a SQL table.
type Table struct {
	Name       string // SQL name
	Stream     string // log stream
	Partitions int
	Schema     *schema.Schema
	SchemaVer  uint32
	SchemaFor  func(version uint32) (*schema.Schema, error)
	// State returns the lake table's latest committed state; nil when the
	// stream has no lake sink (then every record is read from the log).
	State func() *lake.State
	// Upsert marks a view's changelog: the last two columns of Schema are
	// the row key and the retraction flag, and the table shows the latest
	// row of each key that is not retracted.
	Upsert bool
	// Range, when set, limits the table to the log records in
	// [start, end) of each partition: the current snapshot of a file feed
	// that replaces the table whole. It reads no lake files. A nil start
	// means no snapshot yet: the table is empty.
	Range func() (start, end []int64)
}

// Options configure an Engine.
type Options struct {
	LakeDir     string // DuckDB may read files only here
	MemoryLimit string // DuckDB memory_limit, e.g. "1GB"
	Threads     int
	MaxRows     int           // result rows returned; more are cut and flagged
	Timeout     time.Duration // per query
	// MaxConcurrent queries run at once (default 2; each uses up to
	// Threads DuckDB threads), so queries cannot take every core from
	// ingestion and the views. Up to MaxQueued more wait (default 64, each
	// up to its timeout); past that a query fails at once with ErrBusy.
	MaxConcurrent int
	MaxQueued     int
	// CacheBytes bounds the result cache (default 64 MiB; negative: off).
	// An answer is reused only for the same statement over the same data:
	// the same lake snapshot and log tail of every table it reads.
	CacheBytes int64
	Metrics    *Metrics
	Logger     *slog.Logger
}

// Metrics are the serving layer's Prometheus metrics.
type Metrics struct {
	QuerySeconds prometheus.Histogram
	QueryErrors  prometheus.Counter
	TailRows     *prometheus.GaugeVec
	CacheHits    prometheus.Counter // may be nil
	CacheMisses  prometheus.Counter // may be nil
	Busy         prometheus.Counter // queries refused with ErrBusy; may be nil
	PointReads   prometheus.Counter // queries answered from a view's key index; may be nil
}

// Engine runs queries. It is safe for concurrent use.
type Engine struct {
	opts   Options
	db     *sql.DB
	log    wlog.Log
	tables []*tableState

	mu       sync.Mutex // tail sync and trim, pin registration
	tailConn *sql.Conn
	pins     map[int64][]cut // running queries -> the cuts they read
	nextPin  int64

	cache   *resultCache // nil: off
	slots   chan struct{}
	waiting atomic.Int64
	points  atomic.Int64 // queries answered from a point index
}

// cut is one table as a query sees it: the files of one lake snapshot, and
// the tail from the offsets that snapshot covers.
type cut struct {
	table   *tableState
	offsets []int64
	end     []int64 // Range tables: the end of the range
	files   []string
	tail    []int64 // the tail's end, per partition, when the query was pinned
}

type tableState struct {
	Table
	tailPos  []int64 // next offset to copy into the tail, per partition
	trimmed  []int64 // tail rows below are deleted
	tailRows int64
	// Upsert tables: rows left by the last compaction, and the latest row
	// of each key for point reads.
	compacted int64
	point     *pointIndex
}

// ErrBadQuery marks errors caused by the query text (the caller answers 400).
var ErrBadQuery = errors.New("bad query")

// New opens an in-memory DuckDB and prepares a tail table per stream.
func New(l wlog.Log, tables []Table, opts Options) (*Engine, error) {
	if opts.MaxRows == 0 {
		opts.MaxRows = 100_000
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	if opts.Threads == 0 {
		opts.Threads = 2
	}
	if opts.MemoryLimit == "" {
		opts.MemoryLimit = "1GB"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 2
	}
	if opts.MaxQueued == 0 {
		opts.MaxQueued = 64
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 64 << 20
	}
	init := []string{
		"SET GLOBAL TimeZone = 'UTC'",
		fmt.Sprintf("SET threads = %d", opts.Threads),
		fmt.Sprintf("SET memory_limit = %s", quoteLit(opts.MemoryLimit)),
		// Lake files never change once written (compaction writes new
		// ones), so their footers can be kept between queries.
		"SET parquet_metadata_cache = true",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("cannot start the query engine: %w", err)
	}
	db := sql.OpenDB(connector)
	e := &Engine{opts: opts, db: db, log: l, pins: map[int64][]cut{}, slots: make(chan struct{}, opts.MaxConcurrent)}
	if opts.CacheBytes > 0 {
		e.cache = newResultCache(opts.CacheBytes)
	}
	ctx := context.Background()
	for _, q := range init {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("cannot configure the query engine (%s): %w", q, err)
		}
	}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA weir_tail"); err != nil {
		db.Close()
		return nil, err
	}
	for _, t := range tables {
		ts, err := createTail(ctx, db, t)
		if err != nil {
			db.Close()
			return nil, err
		}
		e.tables = append(e.tables, ts)
	}
	// From here on DuckDB may read only the lake, and settings are locked.
	lock := []string{
		fmt.Sprintf("SET allowed_directories = [%s]", quoteLit(opts.LakeDir)),
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	}
	for _, q := range lock {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("cannot restrict the query engine (%s): %w", q, err)
		}
	}
	e.tailConn, err = db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func createTail(ctx context.Context, db execer, t Table) (*tableState, error) {
	ts := &tableState{Table: t, tailPos: make([]int64, t.Partitions), trimmed: make([]int64, t.Partitions)}
	if t.Upsert {
		ts.point = newPointIndex()
	}
	var cols []string
	for _, c := range t.Schema.Columns {
		cols = append(cols, quoteIdent(c.Name)+" "+duckType(c.Type))
	}
	cols = append(cols, "_partition INTEGER", "_offset BIGINT")
	q := fmt.Sprintf("CREATE TABLE weir_tail.%s (%s)", quoteIdent(t.Name), strings.Join(cols, ", "))
	if _, err := db.ExecContext(ctx, q); err != nil {
		return nil, fmt.Errorf("cannot create the tail table of %q: %w", t.Name, err)
	}
	return ts, nil
}

// AddTable makes a table queryable (a view, created while the node runs).
func (e *Engine) AddTable(t Table) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.tables {
		if x.Name == t.Name {
			return fmt.Errorf("a table named %q exists already (a stream, a lake table or another view): give the view another name", t.Name)
		}
	}
	ts, err := createTail(context.Background(), e.tailConn, t)
	if err != nil {
		return err
	}
	e.tables = append(e.tables, ts)
	e.clearCache()
	return nil
}

func (e *Engine) clearCache() {
	if e.cache != nil {
		e.cache.clear()
	}
}

// SetState makes a table read the lake: rows in the files of state's
// snapshot come from Parquet, the tail only after its offsets (a view
// written to the lake).
func (e *Engine) SetState(name string, state func() *lake.State) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.tables {
		if t.Name == name {
			t.State = state
			e.clearCache()
			return nil
		}
	}
	return fmt.Errorf("no table %q", name)
}

// RemoveTable drops a table that AddTable or New made. Queries running
// on it finish first.
func (e *Engine) RemoveTable(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, x := range e.tables {
		if x.Name == name {
			e.tables = append(e.tables[:i:i], e.tables[i+1:]...)
			e.clearCache()
			_, err := e.tailConn.ExecContext(context.Background(), "DROP TABLE weir_tail."+quoteIdent(name))
			return err
		}
	}
	return nil
}

func duckType(t schema.Type) string {
	switch t {
	case schema.String:
		return "VARCHAR"
	case schema.Int64:
		return "BIGINT"
	case schema.Float64:
		return "DOUBLE"
	case schema.Bool:
		return "BOOLEAN"
	case schema.Timestamp:
		return "TIMESTAMPTZ"
	}
	panic(fmt.Sprintf("BUG: type %v", t))
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLit(s string) string   { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// Close releases the engine.
func (e *Engine) Close() error {
	e.tailConn.Close()
	return e.db.Close()
}

// Result is a query's answer.
type Result struct {
	Columns   []string `json:"columns"`
	Types     []string `json:"types"`
	Rows      [][]any  `json:"rows"`
	Truncated bool     `json:"truncated,omitempty"` // more rows than MaxRows
}

// Statement is one read-only SQL statement (DuckDB dialect) and the values
// of its parameters ($1, $2, ... in the text).
type Statement struct {
	SQL  string
	Args []any
	// Native keeps DuckDB's Go values in the result (time.Time,
	// duckdb.Decimal, *big.Int, duckdb.Interval, ...) for callers that
	// encode them by type, such as the Postgres wire protocol. Without it
	// values are converted to what encodes well as JSON.
	Native bool
	// Sink, when set, receives every row as it is read, with no MaxRows
	// limit (Result.Rows stays empty): for clients that stream large
	// results. The row slice is reused once Sink returns; an error from
	// Sink stops the query and is returned as it is.
	Sink func(row []any) error
}

// Query runs one read-only SQL statement (DuckDB dialect).
func (e *Engine) Query(ctx context.Context, q string) (*Result, error) {
	return e.Run(ctx, Statement{SQL: q})
}

// Run runs one read-only SQL statement with its parameters.
func (e *Engine) Run(ctx context.Context, st Statement) (*Result, error) {
	start := time.Now()
	res, err := e.run(ctx, st)
	if m := e.opts.Metrics; m != nil {
		m.QuerySeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			m.QueryErrors.Inc()
		}
	}
	return res, err
}

// Description is what a statement will return, known without running it.
type Description struct {
	Columns []string
	Types   []string // DuckDB type names, as in Result.Types
	Params  []string // the type DuckDB infers for each parameter; "ANY" when it cannot tell
}

// Describe plans a read-only statement without running it: its result
// columns and the types of its parameters.
func (e *Engine) Describe(ctx context.Context, q string) (*Description, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	release, err := e.admit(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	conn, err := e.open(ctx, q)
	if err != nil {
		return nil, err
	}
	defer conn.close()
	d := &Description{}
	err = conn.Raw(func(dc any) error {
		st, err := prepareReadOnly(ctx, dc, q)
		if err != nil {
			return err
		}
		defer st.Close()
		n, err := st.ColumnCount()
		if err != nil {
			return err
		}
		for i := range n {
			name, err := st.ColumnName(i)
			if err != nil {
				return err
			}
			info, err := st.ColumnTypeInfo(i)
			if err != nil {
				return err
			}
			d.Columns = append(d.Columns, name)
			d.Types = append(d.Types, typeInfoName(info))
		}
		for i := 1; i <= st.NumInput(); i++ {
			t, err := st.ParamType(i)
			if err != nil {
				return err
			}
			d.Params = append(d.Params, typeName(t))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// pinnedConn is a connection on which the tables a query names are defined
// as of one pinned cut.
type pinnedConn struct {
	*sql.Conn
	e   *Engine
	pin int64
}

func (c *pinnedConn) close() {
	c.e.unpin(c.pin)
	c.Conn.Close()
}

// open syncs and pins the tables q may read and defines them on a new
// connection.
func (e *Engine) open(ctx context.Context, q string) (*pinnedConn, error) {
	p, err := e.pinFor(ctx, q)
	if err != nil {
		return nil, err
	}
	return e.attach(ctx, p)
}

// pinned is what a query reads: a cut of each table it may name.
type pinned struct {
	pin   int64
	cuts  []cut
	names map[string]bool // the identifiers of the query
	sel   *parse.Select   // the query as our parser read it; nil if it could not
}

// pinFor syncs and pins the tables q may read.
func (e *Engine) pinFor(ctx context.Context, q string) (pinned, error) {
	if strings.TrimSpace(q) == "" {
		return pinned{}, fmt.Errorf("%w: the query is empty", ErrBadQuery)
	}
	names := referenced(q)
	sel := parseSelect(q)
	pin, cuts, err := e.syncAndPin(ctx, sel, names)
	if err != nil {
		return pinned{}, err
	}
	return pinned{pin: pin, cuts: cuts, names: names, sel: sel}, nil
}

// attach defines the pinned tables on a new connection. On error the pin
// is released.
func (e *Engine) attach(ctx context.Context, p pinned) (*pinnedConn, error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		e.unpin(p.pin)
		return nil, err
	}
	pc := &pinnedConn{Conn: conn, e: e, pin: p.pin}
	for _, c := range p.cuts {
		if _, err := conn.ExecContext(ctx, viewSQL(c)); err != nil {
			pc.close()
			return nil, fmt.Errorf("cannot define table %q: %w", c.table.Name, err)
		}
	}
	return pc, nil
}

func (e *Engine) run(ctx context.Context, st Statement) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	release, err := e.admit(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	p, err := e.pinFor(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	if len(st.Args) == 0 {
		if pp, t, ok := planPoint(p.sel, e.table); ok {
			res := e.pointRead(t, pp, st.Native)
			e.unpin(p.pin)
			e.points.Add(1)
			e.count(e.opts.Metrics.pointReads())
			if st.Sink != nil {
				for _, row := range res.Rows {
					if err := st.Sink(row); err != nil {
						return nil, err
					}
				}
				res.Rows = nil
			}
			return res, nil
		}
	}
	key := ""
	if e.cache != nil && st.Sink == nil && cacheable(p.names) {
		key = cacheKey(st, p.cuts)
		if res, ok := e.cache.get(key); ok {
			e.unpin(p.pin)
			e.count(e.opts.Metrics.cacheHits())
			return res, nil
		}
		e.count(e.opts.Metrics.cacheMisses())
	}
	conn, err := e.attach(ctx, p)
	if err != nil {
		return nil, err
	}
	defer conn.close()
	if err := checkReadOnly(ctx, conn.Conn, st.SQL); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, queryStopped(ctx, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	defer rows.Close()
	res, err := e.collect(rows, st)
	var se errSink
	switch {
	case errors.As(err, &se):
		return nil, se.err
	case err != nil && ctx.Err() != nil:
		return nil, queryStopped(ctx, err)
	}
	if err == nil && key != "" {
		e.cache.put(key, res)
	}
	return res, err
}

// ErrBusy: more queries are running and waiting than the engine admits;
// the caller should retry shortly (HTTP 503 with Retry-After).
var ErrBusy = errors.New("the query engine is busy")

// admit takes one of the MaxConcurrent query slots, waiting in a queue of
// at most MaxQueued.
func (e *Engine) admit(ctx context.Context) (release func(), err error) {
	release = func() { <-e.slots }
	select {
	case e.slots <- struct{}{}:
		return release, nil
	default:
	}
	if e.waiting.Add(1) > int64(e.opts.MaxQueued) {
		e.waiting.Add(-1)
		e.count(e.opts.Metrics.busy())
		return nil, fmt.Errorf("%w: %d queries running and %d waiting; retry in a moment, or run fewer at once",
			ErrBusy, e.opts.MaxConcurrent, e.opts.MaxQueued)
	}
	defer e.waiting.Add(-1)
	select {
	case e.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, queryStopped(ctx, fmt.Errorf("waiting for a query slot: %w", ctx.Err()))
	}
}

func (e *Engine) count(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}

func (m *Metrics) cacheHits() prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.CacheHits
}

func (m *Metrics) cacheMisses() prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.CacheMisses
}

func (m *Metrics) pointReads() prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.PointReads
}

// table returns the table named name (any case), or nil.
func (e *Engine) table(name string) *tableState {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.tables {
		if strings.EqualFold(t.Name, name) {
			return t
		}
	}
	return nil
}

func (m *Metrics) busy() prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.Busy
}

// ErrTimeout marks a query stopped by the engine's per-query timeout;
// ErrCanceled one stopped by its caller.
var (
	ErrTimeout  = errors.New("the query ran past the time limit")
	ErrCanceled = errors.New("the query was canceled")
)

func queryStopped(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %v", ErrCanceled, err)
}

// prepare prepares q on a raw DuckDB connection.
func prepare(ctx context.Context, dc any, q string) (*duckdb.Stmt, error) {
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, errors.New("BUG: the DuckDB driver cannot prepare statements")
	}
	st, err := pc.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	ds, ok := st.(*duckdb.Stmt)
	if !ok {
		st.Close()
		return nil, errors.New("BUG: unexpected statement type from the DuckDB driver")
	}
	return ds, nil
}

func checkReadOnly(ctx context.Context, conn *sql.Conn, q string) error {
	return conn.Raw(func(dc any) error {
		st, err := prepareReadOnly(ctx, dc, q)
		if err == nil {
			st.Close()
		}
		return err
	})
}

// prepareReadOnly prepares q and refuses it unless it only reads. A write
// DuckDB cannot even plan (UPDATE of a view) is refused as a write too.
func prepareReadOnly(ctx context.Context, dc any, q string) (*duckdb.Stmt, error) {
	st, err := prepare(ctx, dc, q)
	if err != nil {
		if writes(q) {
			return nil, errReadOnly
		}
		return nil, err
	}
	typ, err := st.StatementType()
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	switch typ {
	case duckdb.STATEMENT_TYPE_SELECT, duckdb.STATEMENT_TYPE_EXPLAIN:
		return st, nil
	}
	st.Close()
	return nil, errReadOnly
}

var errReadOnly = fmt.Errorf("%w: only read-only queries (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW) are allowed here; "+
	"streams are written through the ingest API, and views are created in views/*.sql", ErrBadQuery)

// writes reports whether q starts with a verb that writes.
func writes(q string) bool {
	f := strings.Fields(strings.TrimLeft(q, "( \t\r\n"))
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(f[0]) {
	case "INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH",
		"TRUNCATE", "INSTALL", "LOAD", "EXPORT", "IMPORT", "VACUUM", "CHECKPOINT", "USE":
		return true
	}
	return false
}

// referenced returns the lower-cased identifiers of a query: the tables it
// may read are among them (a superset is harmless: it only costs a sync).
func referenced(q string) map[string]bool {
	names := map[string]bool{}
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(q) && q[j] != '"' {
				j++
			}
			names[strings.ToLower(q[i+1:min(j, len(q))])] = true
			i = j + 1
		case c == '\'':
			j := i + 1
			for j < len(q) && q[j] != '\'' {
				j++
			}
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= '0' && q[j] <= '9' || q[j] == '$') {
				j++
			}
			names[strings.ToLower(q[i:j])] = true
			i = j
		default:
			i++
		}
	}
	return names
}

// catalogNames are the schemas and functions through which a query lists
// tables and columns (SHOW TABLES, Grafana's table picker): such a query
// sees every table.
var catalogNames = []string{"information_schema", "pg_catalog", "pg_class", "pg_tables", "pg_views",
	"pg_attribute", "duckdb_tables", "duckdb_views", "duckdb_columns", "tables"}

func readsCatalog(names map[string]bool) bool {
	for _, n := range catalogNames {
		if names[n] {
			return true
		}
	}
	return false
}

// syncAndPin copies the log's new records into the tail tables the query
// may read (names), trims what the lake has covered, and pins the current
// lake state of those tables for the query.
func (e *Engine) syncAndPin(ctx context.Context, sel *parse.Select, names map[string]bool) (int64, []cut, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cuts := make([]cut, 0, len(e.tables))
	all := readsCatalog(names)
	for _, t := range e.tables {
		if !all && !names[strings.ToLower(t.Name)] {
			continue
		}
		var committed, end []int64
		var files []string
		if t.Range != nil {
			committed, end = t.rangeNow()
		} else if t.State != nil {
			st := t.State()
			committed, files = st.Offsets, st.Files
			if st.TimeColumn != "" && len(st.Hours) == len(st.Files) && len(st.Files) > 0 {
				if lo, hi, ok := timeBounds(sel, t.Name, st.TimeColumn, time.Now()); ok {
					files = pruneFiles(st, lo, hi)
				}
			}
		} else {
			// No lake: the table is what the log retains.
			var err error
			if committed, err = e.retainedStart(t); err != nil {
				return 0, nil, err
			}
		}
		if err := e.syncTail(ctx, t, committed); err != nil {
			return 0, nil, err
		}
		cuts = append(cuts, cut{table: t, offsets: committed, end: end, files: files, tail: slices.Clone(t.tailPos)})
	}
	// Pin before trimming: the lake may have committed since the state was
	// read above, and trim must keep the tail rows this query reads.
	e.nextPin++
	id := e.nextPin
	e.pins[id] = cuts
	if err := e.trim(ctx); err != nil {
		delete(e.pins, id)
		return 0, nil, err
	}
	return id, cuts, nil
}

func (e *Engine) unpin(id int64) {
	e.mu.Lock()
	delete(e.pins, id)
	e.mu.Unlock()
}

// syncTail appends log records from max(tailPos, committed) to the end.
func (e *Engine) syncTail(ctx context.Context, t *tableState, committed []int64) error {
	return e.tailConn.Raw(func(dc any) error {
		var app *duckdb.Appender
		defer func() {
			if app != nil {
				app.Close()
			}
		}()
		var vals []schema.Value
		args := make([]driver.Value, len(t.Schema.Columns)+2)
		added := int64(0)
		for p := range t.Partitions {
			from := max(t.tailPos[p], committed[p])
			end, err := e.log.End(t.Stream, p)
			if err != nil {
				return err
			}
			for from < end {
				batches, err := e.log.Read(t.Stream, p, from, 4<<20)
				if err != nil {
					return err
				}
				if len(batches) == 0 {
					break
				}
				for bi := range batches {
					b := &batches[bi]
					cols := t.Schema.Columns
					if t.SchemaFor != nil && b.Meta != t.SchemaVer {
						s, err := t.SchemaFor(b.Meta)
						if err != nil {
							return err
						}
						cols = s.Columns
					}
					var rerr error
					err := b.Records(func(off int64, rec []byte) bool {
						if off < from || off >= end {
							return true
						}
						vals, rerr = schema.DecodeRow(cols, rec, vals)
						if rerr != nil {
							return false
						}
						if app == nil {
							if app, rerr = duckdb.NewAppenderFromConn(dc.(driver.Conn), "weir_tail", t.Name); rerr != nil {
								return false
							}
						}
						fillArgs(args, t.Schema.Columns, cols, vals)
						args[len(args)-2] = int32(p)
						args[len(args)-1] = off
						if rerr = app.AppendRow(args...); rerr != nil {
							return false
						}
						if t.point != nil {
							t.point.apply(args[:len(t.Schema.Columns)])
						}
						added++
						return true
					})
					if err == nil {
						err = rerr
					}
					if err != nil {
						return fmt.Errorf("cannot copy %s/%d@%d into the tail: %w", t.Stream, p, b.BaseOffset, err)
					}
				}
				from = min(batches[len(batches)-1].End(), end)
			}
			t.tailPos[p] = max(from, t.tailPos[p])
		}
		if app != nil {
			if err := app.Flush(); err != nil {
				// The tail table may now hold part of the rows: rebuild it.
				t.tailPos = make([]int64, t.Partitions)
				if t.point != nil {
					t.point = newPointIndex()
				}
				return fmt.Errorf("cannot append to the tail of %q: %w", t.Name, err)
			}
		}
		t.tailRows += added
		return nil
	})
}

// fillArgs converts a row of cols (the version it was written under) to the
// table's columns, matching by name.
func fillArgs(args []driver.Value, table, cols []schema.Column, vals []schema.Value) {
	for i := range table {
		j := i
		if len(cols) != len(table) || cols[i].Name != table[i].Name {
			j = -1
			for k := range cols {
				if cols[k].Name == table[i].Name {
					j = k
				}
			}
		}
		if j < 0 || vals[j].Null {
			args[i] = nil
			continue
		}
		v := vals[j]
		switch table[i].Type {
		case schema.String:
			args[i] = string(v.Bytes)
		case schema.Int64:
			args[i] = v.Int
		case schema.Float64:
			args[i] = v.Float
		case schema.Bool:
			args[i] = v.Int != 0
		case schema.Timestamp:
			args[i] = time.UnixMicro(v.Int).UTC()
		}
	}
}

// trim deletes tail rows that every pinned query and the latest lake state
// have in files, and, for tables without a lake, rows log retention
// deleted.
func (e *Engine) trim(ctx context.Context) error {
	for _, t := range e.tables {
		if t.Upsert && t.tailRows > 2*t.compacted+10_000 {
			if err := e.compact(ctx, t); err != nil {
				return err
			}
		}
		var floor []int64
		if t.Range != nil {
			floor, _ = t.rangeNow()
		} else if t.State != nil {
			floor = append([]int64(nil), t.State().Offsets...)
		} else {
			// Without a lake, the table is what the log retains.
			var err error
			if floor, err = e.retainedStart(t); err != nil {
				return err
			}
		}
		for _, cs := range e.pins {
			for _, c := range cs {
				if c.table == t {
					for p := range floor {
						floor[p] = min(floor[p], c.offsets[p])
					}
				}
			}
		}
		advance := false
		for p := range floor {
			if floor[p] > t.trimmed[p] {
				advance = true
			}
		}
		if !advance {
			continue
		}
		q := fmt.Sprintf("DELETE FROM weir_tail.%s WHERE _offset < %s[_partition + 1]", quoteIdent(t.Name), intList(floor))
		res, err := e.tailConn.ExecContext(ctx, q)
		if err != nil {
			return fmt.Errorf("cannot trim the tail of %q: %w", t.Name, err)
		}
		n, _ := res.RowsAffected()
		t.tailRows -= n
		copy(t.trimmed, floor)
		if m := e.opts.Metrics; m != nil {
			m.TailRows.WithLabelValues(t.Name).Set(float64(t.tailRows))
		}
	}
	return nil
}

// rangeNow reads a Range table's range; with no snapshot yet it is empty.
func (t *tableState) rangeNow() (start, end []int64) {
	start, end = t.Range()
	if len(start) != t.Partitions || len(end) != t.Partitions {
		start, end = make([]int64, t.Partitions), make([]int64, t.Partitions)
	}
	return append([]int64(nil), start...), append([]int64(nil), end...)
}

// retainedStart returns the first offset the log keeps of each partition
// of t's stream: retention deleted the records below.
func (e *Engine) retainedStart(t *tableState) ([]int64, error) {
	floor := make([]int64, t.Partitions)
	for p := range floor {
		start, err := e.log.Start(t.Stream, p)
		if errors.Is(err, wlog.ErrUnknownStream) {
			return floor, nil // a view whose output is not written yet
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read where %s/%d starts: %w", t.Stream, p, err)
		}
		floor[p] = start
	}
	return floor, nil
}

// compact deletes the rows of an upsert table that a later row of the same
// key supersedes: what the table shows does not change.
func (e *Engine) compact(ctx context.Context, t *tableState) error {
	key := quoteIdent(t.Schema.Columns[len(t.Schema.Columns)-2].Name)
	name := quoteIdent(t.Name)
	q := fmt.Sprintf("DELETE FROM weir_tail.%s WHERE (%s, _offset) NOT IN (SELECT %s, max(_offset) FROM weir_tail.%s GROUP BY 1)", name, key, key, name)
	res, err := e.tailConn.ExecContext(ctx, q)
	if err != nil {
		return fmt.Errorf("cannot compact the changelog of %q: %w", t.Name, err)
	}
	n, _ := res.RowsAffected()
	t.tailRows -= n
	t.compacted = t.tailRows
	return nil
}

func intList(xs []int64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatInt(x, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func viewSQL(c cut) string {
	t := c.table
	var cols []string
	visible := t.Schema.Columns
	if t.Upsert {
		visible = visible[:len(visible)-2]
	}
	for _, col := range visible {
		cols = append(cols, quoteIdent(col.Name))
	}
	list := strings.Join(cols, ", ")
	if t.Upsert {
		// The latest row of each key, unless it is a retraction.
		key, del := quoteIdent(t.Schema.Columns[len(visible)].Name), quoteIdent(t.Schema.Columns[len(visible)+1].Name)
		return fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS SELECT %s FROM (SELECT *, row_number() OVER (PARTITION BY %s ORDER BY _offset DESC) AS _weir_rn FROM weir_tail.%s) WHERE _weir_rn = 1 AND NOT %s",
			quoteIdent(t.Name), list, key, quoteIdent(t.Name), del)
	}
	tail := fmt.Sprintf("SELECT %s FROM weir_tail.%s WHERE _offset >= %s[_partition + 1]", list, quoteIdent(t.Name), intList(c.offsets))
	if c.end != nil {
		tail += fmt.Sprintf(" AND _offset < %s[_partition + 1]", intList(c.end))
	}
	if len(c.files) == 0 {
		return fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS %s", quoteIdent(t.Name), tail)
	}
	quoted := make([]string, len(c.files))
	for i, f := range c.files {
		quoted[i] = quoteLit(f)
	}
	lakePart := fmt.Sprintf("SELECT %s FROM read_parquet([%s])", list, strings.Join(quoted, ", "))
	return fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS %s UNION ALL %s", quoteIdent(t.Name), lakePart, tail)
}

func (e *Engine) collect(rows *sql.Rows, st Statement) (*Result, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	types, _ := rows.ColumnTypes()
	res := &Result{Columns: cols, Rows: [][]any{}}
	for _, t := range types {
		res.Types = append(res.Types, t.DatabaseTypeName())
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for rows.Next() {
		if st.Sink == nil {
			if len(res.Rows) >= e.opts.MaxRows {
				res.Truncated = true
				break
			}
			vals = make([]any, len(cols))
		}
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		if !st.Native {
			for i, v := range vals {
				vals[i] = jsonValue(v)
			}
		}
		if st.Sink != nil {
			if err := st.Sink(vals); err != nil {
				return nil, errSink{err}
			}
			continue
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	return res, nil
}

// errSink carries a Sink's error out of collect unchanged.
type errSink struct{ err error }

func (e errSink) Error() string { return e.err.Error() }
func (e errSink) Unwrap() error { return e.err }

// jsonFloat keeps finite numbers; JSON has no infinities or NaN, so those
// become the strings DuckDB prints for them.
func jsonFloat(f float64) any {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return f
}

// jsonValue converts DuckDB values to what encodes well as JSON.
func jsonValue(v any) any {
	switch x := v.(type) {
	case float64:
		return jsonFloat(x)
	case float32:
		return jsonFloat(float64(x))
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		return x.String()
	case duckdb.Decimal:
		f, _ := new(big.Float).SetInt(x.Value).Float64()
		for range x.Scale {
			f /= 10
		}
		return f
	case duckdb.Interval:
		return fmt.Sprintf("%d months %d days %d µs", x.Months, x.Days, x.Micros)
	case duckdb.UUID:
		return x.String()
	case []byte:
		return string(x)
	case []any:
		for i := range x {
			x[i] = jsonValue(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = jsonValue(x[k])
		}
		return x
	case duckdb.Map:
		m := map[string]any{}
		for k, val := range x {
			m[fmt.Sprint(k)] = jsonValue(val)
		}
		return m
	}
	return v
}
