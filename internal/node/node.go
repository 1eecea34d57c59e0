// Package node assembles an embedded Weir node from a pipeline: the log and
// metadata store (Pebble), the schema catalog, the gate, a lake writer per
// lake sink, the query engine, sources and the HTTP API; and runs their
// lifecycle: start in dependency order, stop in reverse (stop accepting,
// flush, commit, close). Opened Offline (weir query --data-dir), a node
// runs its views and answers queries; it sends nothing out, commits nothing
// to the lake and deletes no log record.
package node

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirhq/weir/internal/api"
	"github.com/weirhq/weir/internal/config"
	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/lake"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/observe"
	"github.com/weirhq/weir/internal/pgwire"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/serve"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/sql/plan"
	"github.com/weirhq/weir/internal/stream"
	"github.com/weirhq/weir/internal/table"
	"github.com/weirhq/weir/internal/ui"
	"github.com/weirhq/weir/internal/view"
)

// Config says what to run and where.
type Config struct {
	Pipeline *config.Pipeline
	DataDir  string
	Listen   string // host:port; port 0 picks a free one
	Logger   *slog.Logger
	// PGListen is the Postgres wire protocol's host:port ("" = off; port 0
	// picks a free one). PGPassword, when set, is required of its clients;
	// TLS, when set, is offered to them.
	PGListen   string
	PGPassword string
	TLS        *tls.Config
	// NoSources skips the pipeline's sources (tests ingest by HTTP only).
	NoSources bool
	// Offline opens a stopped node's data directory for a command (weir
	// query, weir quarantine): besides the sources, it runs no connector
	// sinks (a query must not send data to other systems), no lake
	// writers, compaction, reference-table refreshes or log retention, so
	// it commits no lake file and drops no log record. Views run, so their
	// tables answer as of the log's end; opening still recovers as a start
	// does (orphan lake files of a crash are removed).
	Offline bool
	// ViewChangelogLimit is passed to every view (tests make it small);
	// 0: the runtime's default.
	ViewChangelogLimit int
	// MaintainInterval is how often log retention and idempotency expiry
	// run (default 30 s; tests make it short).
	MaintainInterval time.Duration
	// CompactInterval is how often each lake table's closed hours are
	// compacted (default 1 min; negative: never).
	CompactInterval time.Duration
	// Compact says which files compaction merges (zero: the defaults of
	// lake.CompactOptions).
	Compact lake.CompactOptions
	// QueryCacheBytes bounds the query result cache (0: 64 MiB; negative: off).
	QueryCacheBytes int64
	// MemoryBudget bounds the Go heap: past it ingest answers 429 until
	// the heap is back under 90% of it, and the garbage collector works
	// harder near it (debug.SetMemoryLimit). 0: 2 GiB. The query engine's
	// memory (DuckDB) is bounded separately.
	MemoryBudget int64
}

// Node is a running embedded node.
type Node struct {
	cfg     Config
	log     *pebblelog.Log
	gate    *gate.Gate
	engine  *serve.Engine
	tables  []*table.Table
	views   *view.Manager
	writers []sinkWriter
	sinks   []connSink // connector sinks (kafka, ...)
	metrics *observe.Metrics
	srv     *http.Server
	ln      net.Listener
	pg      *pgwire.Server
	pgLn    net.Listener
	ready   atomic.Bool
	// backlogged[stream] is set while the stream's consumers are further
	// behind than its max_backlog (see watchBacklog).
	backlogged map[string]*atomic.Bool
	// snapshots maps a snapshot feed's stream to its source.
	snapshots  map[string]string
	overBudget atomic.Bool  // the heap is over the memory budget
	memBudget  atomic.Int64 // bytes; see Config.MemoryBudget

	cancelWork context.CancelFunc // lake writers, maintenance
	cancelSrc  context.CancelFunc // sources
	work       sync.WaitGroup
	sources    sync.WaitGroup
	errc       chan error
	started    time.Time
}

// PipelineDir is where a data directory keeps a copy of the pipeline it was
// last run with (for offline queries: weir query --data-dir).
func PipelineDir(data string) string { return filepath.Join(data, "pipeline") }

// Query runs a statement: a read-only SQL query over the tables, or view
// DDL (CREATE / DROP MATERIALIZED VIEW, SHOW VIEWS, EXPLAIN CREATE ...).
func (n *Node) Query(ctx context.Context, q string) (*serve.Result, error) {
	return n.Run(ctx, serve.Statement{SQL: q})
}

// Run is Query with parameters ($1, $2, ...; view statements take none)
// and, with st.Native, DuckDB's own Go values in the result.
func (n *Node) Run(ctx context.Context, st serve.Statement) (*serve.Result, error) {
	vst, isView, err := viewStatement(st.SQL)
	if err != nil {
		return nil, err
	}
	if !isView {
		return n.engine.Run(ctx, st)
	}
	if len(st.Args) > 0 {
		return nil, fmt.Errorf("%w: view statements take no parameters; write the values into the SQL", serve.ErrBadQuery)
	}
	if _, ok := vst.(*parse.ShowTables); ok {
		return n.showTables(), nil
	}
	res, err := n.views.Exec(ctx, vst)
	if errors.Is(err, view.ErrBadStatement) {
		err = fmt.Errorf("%w: %s", serve.ErrBadQuery, strings.TrimPrefix(err.Error(), view.ErrBadStatement.Error()+": "))
	}
	return res, err
}

// Describe says what a statement returns, without running it.
func (n *Node) Describe(ctx context.Context, q string) (*serve.Description, error) {
	vst, isView, err := viewStatement(q)
	if err != nil {
		return nil, err
	}
	if _, ok := vst.(*parse.ShowTables); ok {
		return &serve.Description{Columns: tableColumns, Types: tableTypes}, nil
	}
	if isView {
		return view.Describe(vst), nil
	}
	return n.engine.Describe(ctx, q)
}

var (
	tableColumns = []string{"name", "kind", "rows", "version", "loaded_at", "last_error"}
	tableTypes   = []string{"VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "TIMESTAMP", "VARCHAR"}
)

// showTables answers SHOW TABLES: the streams and views a query can read,
// and the reference tables views join, with their versions.
func (n *Node) showTables() *serve.Result {
	res := &serve.Result{Columns: tableColumns, Types: tableTypes, Rows: [][]any{}}
	for _, s := range n.cfg.Pipeline.Streams {
		res.Rows = append(res.Rows, []any{s.Name, "stream", nil, nil, nil, nil})
	}
	for _, v := range n.views.Status() {
		res.Rows = append(res.Rows, []any{v.Name, "view", nil, nil, nil, nil})
	}
	for _, t := range n.Tables() {
		var errText, loaded any
		if t.LastError != "" {
			errText = t.LastError
		}
		if !t.LoadedAt.IsZero() {
			loaded = t.LoadedAt.UTC().Format(time.RFC3339Nano)
		}
		res.Rows = append(res.Rows, []any{t.Name, "reference table (" + string(t.Kind) + ", for joins)", int64(t.Rows), int64(t.Version),
			loaded, errText})
	}
	return res
}

// viewStatement parses q when it is a statement the view catalog runs.
func viewStatement(q string) (parse.Statement, bool, error) {
	st, err := parse.Parse(q)
	if _, tables := st.(*parse.ShowTables); err == nil && (view.Handles(st) || tables) {
		return st, true, nil
	}
	if err != nil && isViewDDL(q) {
		return nil, false, fmt.Errorf("%w: %v", serve.ErrBadQuery, err)
	}
	return nil, false, nil
}

// isViewDDL reports whether q starts like a statement only Weir runs, so a
// syntax error in it is ours to report rather than DuckDB's.
func isViewDDL(q string) bool {
	f := strings.Fields(strings.ToUpper(q))
	if len(f) > 0 && f[0] == "EXPLAIN" {
		f = f[1:]
	}
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "CREATE", "DROP":
		return true
	case "SHOW":
		return len(f) > 1 && (f[1] == "VIEWS" || f[1] == "MATERIALIZED") || len(f) == 2 && f[1] == "TABLES"
	}
	return false
}

// tableQuery runs a reference table's query over the node's tables (a
// lake table), every row (no result limit), values as JSON has them.
func (n *Node) tableQuery(ctx context.Context, q string) (cols, types []string, rows [][]any, err error) {
	res, err := n.engine.Run(ctx, serve.Statement{SQL: q, Sink: func(r []any) error {
		rows = append(rows, slices.Clone(r))
		return nil
	}})
	if err != nil {
		return nil, nil, nil, err
	}
	return res.Columns, res.Types, rows, nil
}

// Tables are the node's reference tables' states.
func (n *Node) Tables() []table.Status {
	out := []table.Status{}
	for _, t := range n.tables {
		out = append(out, t.Status())
	}
	return out
}

// Gate is the node's gate.
func (n *Node) Gate() *gate.Gate { return n.gate }

// sinkWriter is a lake writer and the stream it reads.
type sinkWriter struct {
	stream   string
	name     string // the sink's name in weir.yaml
	view     bool   // the stream is a view's output (nothing else reads it)
	viewName string
	w        *lake.Writer
}

// Paths of the data directory.
func logDir(data string) string  { return filepath.Join(data, "log") }
func lakeDir(data string) string { return filepath.Join(data, "lake") }

// TuneGC sets the garbage collector as a node runs it: a soft limit of
// budget bytes on the Go heap, and collections less often than Go's
// default (GOGC=100). Each cycle's mark phase slows every request it
// overlaps, and at 100 a node with a 100 MB live heap spent ~2% of its
// time marking — the p99 of view point reads over HTTP went from 13–16 ms
// to 2.7 ms at 400 (bench/pointread). GOGC in the environment still wins.
// The Nexmark harness runs with it too, to measure what a node does.
func TuneGC(budget int64) {
	debug.SetMemoryLimit(budget)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// Start opens the data directory, recovers, and starts serving.
func Start(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = 2 << 30
	}
	TuneGC(cfg.MemoryBudget)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create data directory %q: %w", cfg.DataDir, err)
	}
	if err := cfg.Pipeline.Save(PipelineDir(cfg.DataDir)); err != nil {
		return nil, fmt.Errorf("cannot save the pipeline into data directory %q: %w", cfg.DataDir, err)
	}
	n := &Node{cfg: cfg, metrics: observe.NewMetrics(), errc: make(chan error, 8), started: time.Now()}
	n.memBudget.Store(cfg.MemoryBudget)
	ok := false
	defer func() {
		if !ok {
			n.closeStores()
		}
	}()
	var err error
	n.log, err = pebblelog.Open(logDir(cfg.DataDir), pebblelog.Options{Metrics: n.metrics.Log})
	if errors.Is(err, pebblelog.ErrLocked) {
		return nil, fmt.Errorf("%w: another weir process is using data directory %q; stop it or pass another --data-dir "+
			"(to query a running node use: weir query --server URL)", err, cfg.DataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: check that data directory %q is readable and writable and its disk is healthy (space, I/O errors), then start again", err, cfg.DataDir)
	}
	n.snapshots, err = snapshotFeeds(cfg.Pipeline)
	if err != nil {
		return nil, err
	}
	cat := &Catalog{Meta: n.log}
	var streams []gate.Stream
	sources := map[string]plan.Source{}
	tables := map[string]serve.Table{}
	versions := map[string]uint32{} // current schema version per stream
	for _, s := range cfg.Pipeline.Streams {
		ver, err := cat.Register(s.Name, s.Schema)
		if err != nil {
			return nil, err
		}
		versions[s.Name] = ver
		streams = append(streams, gate.Stream{Name: s.Name, Schema: s.Schema, Version: ver, KeyCols: s.KeyCols, Partitions: s.Partitions})
		tables[s.Name] = serve.Table{Name: s.Name, Stream: s.Name, Partitions: s.Partitions, Schema: s.Schema, SchemaVer: ver, SchemaFor: cat.SchemaFor(s.Name)}
		if src, ok := n.snapshots[s.Name]; ok {
			t := tables[s.Name]
			t.Range = func() (start, end []int64) { return n.snapshotRange(src) }
			tables[s.Name] = t
		}
		sources[s.Name] = plan.Source{EventTime: s.EventTime, Input: stream.Input{
			Stream: s.Name, Partitions: s.Partitions, Columns: s.Schema.Columns, Version: ver,
			SchemaFor: cat.SchemaFor(s.Name), EventCol: s.EventCol, Disorder: s.MaxDisorder.Microseconds()}}
	}
	n.backlogged = map[string]*atomic.Bool{}
	for _, s := range cfg.Pipeline.Streams {
		n.backlogged[s.Name] = new(atomic.Bool)
	}
	n.gate, err = gate.New(n.log, n.log, streams, gate.Options{Metrics: n.metrics.Gate,
		Admit: n.admit})
	if err != nil {
		return nil, err
	}
	for _, sk := range cfg.Pipeline.Sinks {
		if sk.Type != "lake" {
			continue // a connector sink, opened below
		}
		if sk.View != "" {
			continue // opened once the views run, below
		}
		s := cfg.Pipeline.Stream(sk.Stream)
		w, err := lake.Open(context.Background(), lake.Options{
			Warehouse: lakeDir(cfg.DataDir), Table: sk.Table, Stream: s.Name, Partitions: s.Partitions,
			Schema: s.Schema, SchemaVer: versions[s.Name], SchemaFor: cat.SchemaFor(s.Name), EventCol: s.EventCol,
			MaxRows: sk.Roll.MaxRows, MaxBytes: sk.Roll.MaxBytes, Interval: sk.Roll.Interval,
			Log: n.log, Metrics: n.metrics.Lake, Logger: cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
		n.writers = append(n.writers, sinkWriter{name: sk.Name, stream: s.Name, w: w})
		// The stream's SQL table reads the lake; a differently named lake
		// table is also queryable under its own name. A snapshot feed's
		// table shows its current snapshot from the log; the lake table
		// keeps the history.
		t := tables[s.Name]
		t.State = w.State
		if _, snap := n.snapshots[s.Name]; snap {
			t.Range = nil
		} else {
			tables[s.Name] = t
		}
		if sk.Table != s.Name {
			t.Name = sk.Table
			tables[sk.Table] = t
		}
	}
	var list []serve.Table
	for _, t := range tables {
		list = append(list, t)
	}
	n.engine, err = serve.New(n.log, list, serve.Options{LakeDir: lakeDir(cfg.DataDir), Metrics: n.metrics.Serve, Logger: cfg.Logger,
		CacheBytes: cfg.QueryCacheBytes})
	if err != nil {
		return nil, err
	}

	// Reference tables load before the views that join them.
	for _, tc := range cfg.Pipeline.Tables {
		sp := table.Spec{Name: tc.Name, Kind: table.Kind(tc.Kind), Schema: tc.Schema, DSN: tc.DSN, Query: tc.Query, Refresh: tc.Refresh}
		if tc.File != "" {
			sp.File = filepath.Join(cfg.Pipeline.Dir, tc.File)
		}
		tb, err := table.Open(context.Background(), sp, table.Options{Query: n.tableQuery, Logger: cfg.Logger, Metrics: n.metrics.Tables})
		if err != nil {
			return nil, fmt.Errorf("%s: tables.%s: %w", tc.Pos, tc.Name, err)
		}
		n.tables = append(n.tables, tb)
		sources[tc.Name] = plan.Source{Table: tb, Input: stream.Input{Stream: tc.Name, Columns: tb.Columns(), EventCol: -1}}
	}

	workCtx, cancelWork := context.WithCancel(context.Background())
	n.cancelWork = cancelWork
	n.views = view.New(view.Options{
		Log: n.log, Meta: n.log, Tables: n.engine,
		Streams: func(name string) (plan.Source, bool) { s, ok := sources[name]; return s, ok },
		IsStream: func(name string) bool {
			_, ok := tables[name]
			return ok || sources[name].Table != nil // a stream's SQL table, or a reference table
		},
		Metrics: n.metrics.Stream, Logger: cfg.Logger, ChangelogLimit: cfg.ViewChangelogLimit,
	})
	var fileViews []view.FileView
	for _, v := range cfg.Pipeline.Views {
		fileViews = append(fileViews, view.FileView{Stmt: v.Stmt, File: v.File})
	}
	if err := n.views.Start(workCtx, fileViews); err != nil {
		n.views.Stop()
		return nil, err
	}
	if err := n.openViewSinks(); err != nil {
		n.views.Stop()
		return nil, err
	}

	for _, sk := range cfg.Pipeline.Sinks {
		if sk.Type == "lake" || cfg.Offline {
			continue
		}
		var env connect.SinkEnv
		if sk.View != "" {
			var err error
			if env, err = n.viewSinkEnv(sk); err != nil {
				n.views.Stop()
				return nil, err
			}
		} else {
			st := cfg.Pipeline.Stream(sk.Stream)
			env = connect.SinkEnv{Stream: st.Name, Partitions: st.Partitions, SchemaFor: cat.SchemaFor(st.Name), Schema: st.Schema, Key: st.KeyCols}
		}
		env.Name, env.Log, env.Meta, env.Logger, env.Metrics = sk.Name, n.log, n.log, cfg.Logger, n.metrics.Sources
		snk, err := connect.OpenSink(sk.Type, sk.Settings, env)
		if err != nil {
			n.views.Stop()
			return nil, fmt.Errorf("%s: sinks.%s: %w", sk.Pos, sk.Name, err)
		}
		n.sinks = append(n.sinks, connSink{name: sk.Name, stream: env.Stream, view: sk.View, partitions: env.Partitions, sink: snk})
	}

	connectors := map[string]connect.Source{}
	for _, s := range cfg.Pipeline.Sources {
		src, err := connect.Open(s.Type, s.Settings, connect.Env{Name: s.Name, Stream: s.Stream, Gate: n.gate, Meta: n.log, Logger: cfg.Logger,
			Dir: cfg.Pipeline.Dir, Schema: cfg.Pipeline.Stream(s.Stream).Schema, Key: cfg.Pipeline.Stream(s.Stream).KeyCols,
			Ends: n.ends(s.Stream), Metrics: n.metrics.Sources})
		if err != nil {
			n.views.Stop()
			return nil, err
		}
		connectors[s.Name] = src
	}

	n.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w (use --listen to pick another address)", cfg.Listen, err)
	}
	n.srv = &http.Server{
		Handler: api.Handler(api.Options{Gate: n.gate, Query: n.Query, Registry: n.metrics.Registry,
			Logger: cfg.Logger, Ready: &n.ready, Requests: n.metrics.Requests, Status: n.Status, UI: ui.Handler()}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	httpLn := n.ln
	if cfg.TLS != nil {
		httpLn = tls.NewListener(n.ln, cfg.TLS)
	}
	go func() {
		if err := n.srv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.errc <- fmt.Errorf("http server: %w", err)
		}
	}()

	if cfg.PGListen != "" {
		if err := n.startPG(); err != nil {
			n.srv.Close()
			n.views.Stop()
			return nil, err
		}
	}

	if !cfg.Offline {
		n.runBackground(workCtx)
	}

	srcCtx, cancelSrc := context.WithCancel(context.Background())
	n.cancelSrc = cancelSrc
	if !cfg.NoSources && !cfg.Offline {
		for _, s := range cfg.Pipeline.Sources {
			src := connectors[s.Name]
			n.sources.Add(1)
			go func() {
				defer n.sources.Done()
				if err := src.Run(srcCtx); err != nil {
					cfg.Logger.Error("source stopped", "source", s.Name, "err", err)
					n.errc <- err
				}
			}()
		}
	}
	n.ready.Store(true)
	ok = true
	cfg.Logger.Info("weir node ready", "listen", n.Addr(), "pg_listen", n.PGAddr(), "tls", cfg.TLS != nil, "data_dir", cfg.DataDir, "streams", len(streams), "lake_tables", len(n.writers))
	return n, nil
}

// runBackground starts the node's work besides its views and sources:
// lake writers, connector sinks, reference-table refreshes, log retention,
// compaction and the backlog watch.
func (n *Node) runBackground(workCtx context.Context) {
	cfg := n.cfg
	for _, sw := range n.writers {
		n.work.Add(1)
		go func() {
			defer n.work.Done()
			if err := sw.w.Run(workCtx); err != nil {
				cfg.Logger.Error("lake writer stopped", "table", sw.w.State().Table, "err", err)
				n.errc <- err
			}
		}()
	}
	for _, cs := range n.sinks {
		n.work.Add(1)
		go func() {
			defer n.work.Done()
			if err := cs.sink.Run(workCtx); err != nil {
				cfg.Logger.Error("sink stopped", "sink", cs.name, "err", err)
				n.errc <- err
			}
		}()
	}
	for _, tb := range n.tables {
		n.work.Add(1)
		go func() { defer n.work.Done(); tb.Run(workCtx) }()
	}
	n.work.Add(1)
	go func() { defer n.work.Done(); n.maintain(workCtx) }()
	n.work.Add(1)
	go func() { defer n.work.Done(); n.compactLoop(workCtx) }()
	n.work.Add(1)
	go func() { defer n.work.Done(); n.watchBacklog(workCtx) }()
}

// openViewSinks opens a lake writer for each sink of a view: the view's
// output stream becomes an Iceberg table, and the view's SQL table reads
// its committed files plus the tail after them.
func (n *Node) openViewSinks() error {
	for _, sk := range n.cfg.Pipeline.Sinks {
		if sk.View == "" || sk.Type != "lake" {
			continue // a stream's, or a connector sink (opened below)
		}
		p, err := n.appendOnlyView(sk)
		if err != nil {
			return err
		}
		cols := p.OutputColumns()
		evCol := -1
		for i, c := range cols {
			if c.Type == schema.Timestamp && (evCol < 0 || c.Name == "window_start") {
				evCol = i
				if c.Name == "window_start" {
					break
				}
			}
		}
		if evCol < 0 {
			return fmt.Errorf("%s: sinks.%s: view %q has no TIMESTAMP column to partition its lake table by; select window_start or the event time", sk.Pos, sk.Name, sk.View)
		}
		outStream := view.OutputStream(sk.View)
		dir := filepath.Join(lakeDir(n.cfg.DataDir), lake.Namespace, sk.Table)
		switch _, err := os.Stat(dir); {
		case n.views.Rebuilt(sk.View):
			// The table holds rows of the old definition: rewrite it.
			n.cfg.Logger.Warn("view rebuilt; its lake table is rewritten from the new view", "view", sk.View, "table", sk.Table)
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("cannot remove the lake table %s of rebuilt view %q: %w", dir, sk.View, err)
			}
		case n.views.Created(sk.View) && err == nil:
			// A view dropped earlier and defined again: its output is
			// computed anew, and appending it to the old table would
			// repeat its rows.
			return fmt.Errorf("%s: sinks.%s: lake table %q holds the rows of an earlier view %q, dropped since; remove %s to write it from the view as it is now, or give the sink another table",
				sk.Pos, sk.Name, sk.Table, sk.View, dir)
		}
		w, err := lake.Open(context.Background(), lake.Options{
			Warehouse: lakeDir(n.cfg.DataDir), Table: sk.Table, Stream: outStream, Partitions: 1,
			Schema: schema.FromColumns(cols), SchemaVer: 1, EventCol: evCol,
			MaxRows: sk.Roll.MaxRows, MaxBytes: sk.Roll.MaxBytes, Interval: sk.Roll.Interval,
			Log: n.log, Metrics: n.metrics.Lake, Logger: n.cfg.Logger,
		})
		if err != nil {
			return err
		}
		n.writers = append(n.writers, sinkWriter{name: sk.Name, stream: outStream, viewName: sk.View, view: true, w: w})
		if err := n.engine.SetState(sk.View, w.State); err != nil {
			return err
		}
	}
	return nil
}

// viewSinkEnv is what a connector sink of a view reads: the view's output
// stream (one partition), its rows in the view's columns. Only
// append-only views can be sent: a changelog's updates and retractions
// have no form in an appending sink yet.
func (n *Node) viewSinkEnv(sk *config.Sink) (connect.SinkEnv, error) {
	p, err := n.appendOnlyView(sk)
	if err != nil {
		return connect.SinkEnv{}, err
	}
	if n.views.Rebuilt(sk.View) {
		// The rebuilt view's output goes on at the offsets after the old
		// one's (see log.Log.DropStream), so the sink sends every row of
		// the new definition.
		n.cfg.Logger.Warn("view rebuilt: its sink sends the new definition's rows, computed again from the retained log; the rows it sent for the old definition stay where they went", "view", sk.View, "sink", sk.Name)
	}
	sc := schema.FromColumns(p.OutputColumns())
	return connect.SinkEnv{Stream: view.OutputStream(sk.View), View: sk.View, Partitions: 1, Schema: sc,
		SchemaFor: func(uint32) (*schema.Schema, error) { return sc, nil }}, nil
}

// appendOnlyView is the plan of the view a sink sends out (to the lake or
// a connector), which must be running and append-only: a changelog's
// updates and retractions have no form in an appending sink.
func (n *Node) appendOnlyView(sk *config.Sink) (*stream.Plan, error) {
	p := n.views.Plan(sk.View)
	if p == nil {
		return nil, fmt.Errorf("%s: sinks.%s: view %q is not running (see the log for why)", sk.Pos, sk.Name, sk.View)
	}
	if p.Upsert() {
		return nil, fmt.Errorf("%s: sinks.%s: view %q is a changelog of upserts (a continuous aggregate, EMIT EVERY or LATE DATA UPDATE); "+
			"a %s sink takes append-only views: windowed aggregates that emit on close, or views without aggregates", sk.Pos, sk.Name, sk.View, sk.Type)
	}
	return p, nil
}

// Addr is the address the API listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// PGAddr is the Postgres wire protocol's address ("" when it is off).
func (n *Node) PGAddr() string {
	if n.pgLn == nil {
		return ""
	}
	return n.pgLn.Addr().String()
}

func (n *Node) startPG() error {
	pg, err := pgwire.New(pgwire.Options{Backend: n, Password: n.cfg.PGPassword, TLS: n.cfg.TLS, Logger: n.cfg.Logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", n.cfg.PGListen)
	if err != nil {
		return fmt.Errorf("cannot listen for Postgres clients on %s: %w (use --pg-listen to pick another address, or --pg-listen= to turn it off)", n.cfg.PGListen, err)
	}
	n.pg, n.pgLn = pg, ln
	go func() {
		if err := pg.Serve(ln); err != nil {
			n.errc <- fmt.Errorf("postgres server: %w", err)
		}
	}()
	return nil
}

// Errors reports failures that stop part of the node (a lake writer that
// cannot continue, the HTTP server).
func (n *Node) Errors() <-chan error { return n.errc }

// maintain runs log retention and idempotency-key expiry.
func (n *Node) maintain(ctx context.Context) {
	every := n.cfg.MaintainInterval
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range n.cfg.Pipeline.Streams {
			if _, ok := n.snapshots[s.Name]; ok {
				n.retainSnapshot(s)
				continue
			}
			if s.Retention.MaxAge == 0 && s.Retention.MaxBytes == 0 {
				continue
			}
			for p := range s.Partitions {
				floor, err := n.log.End(s.Name, p)
				if err != nil {
					continue
				}
				for _, offs := range n.sinkPositions(s.Name) {
					floor = min(floor, offs[p])
				}
				if vf, ok := n.views.Floor(s.Name, p); ok {
					floor = min(floor, vf)
				}
				if _, err := n.log.Retain(s.Name, p, floor, wlog.Retention{MaxAgeMillis: s.Retention.MaxAge.Milliseconds(), MaxBytes: s.Retention.MaxBytes}); err != nil {
					n.cfg.Logger.Warn("log retention failed", "stream", s.Name, "partition", p, "err", err)
				}
			}
		}
		n.retainViewOutputs()
		if _, err := n.gate.PruneIdempotency(); err != nil {
			n.cfg.Logger.Warn("cannot expire idempotency keys", "err", err)
		}
	}
}

// Compact compacts every lake table now (as the background loop does every
// CompactInterval) and returns what it did, summed.
func (n *Node) Compact(ctx context.Context) (lake.CompactResult, error) {
	var total lake.CompactResult
	for _, sw := range n.writers {
		res, err := sw.w.Compact(ctx, n.cfg.Compact)
		if err != nil {
			return total, err
		}
		total.Hours += res.Hours
		total.FilesIn += res.FilesIn
		total.FilesOut += res.FilesOut
		total.Rows += res.Rows
	}
	return total, nil
}

// compactLoop merges the small files of every lake table's closed hours
// now and then (lake.Writer.Compact).
func (n *Node) compactLoop(ctx context.Context) {
	every := n.cfg.CompactInterval
	if every < 0 {
		return
	}
	if every == 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, sw := range n.writers {
			if _, err := sw.w.Compact(ctx, n.cfg.Compact); err != nil && ctx.Err() == nil {
				n.cfg.Logger.Warn("lake compaction failed; it is tried again later", "table", sw.w.State().Table, "err", err)
			}
		}
	}
}

// retainViewOutputs deletes the rows of views written to the lake that the
// lake has committed: nothing reads a view's output stream below its lake
// table's offsets (queries read those rows from the Parquet files). Other
// view outputs follow their input stream's retention.
func (n *Node) retainViewOutputs() {
	for _, sw := range n.writers {
		if !sw.view {
			continue
		}
		floor := int64(math.MaxInt64)
		if vf, ok := n.views.Floor(sw.stream, 0); ok {
			floor = min(floor, vf) // views reading this view's rows
		}
		for _, offs := range n.sinkPositions(sw.stream) { // this writer's, and connector sinks'
			floor = min(floor, offs[0])
		}
		if _, err := n.log.Retain(sw.stream, 0, floor, wlog.Retention{MaxAgeMillis: 1}); err != nil {
			n.cfg.Logger.Warn("view output retention failed", "stream", sw.stream, "err", err)
		}
	}
	// Continuous aggregates rewrite their rows now and then: older rows
	// are superseded.
	for stream, floor := range n.views.OutputFloors() {
		if vf, ok := n.views.Floor(stream, 0); ok {
			// Views reading the changelog need every row past their
			// checkpoint: a deletion below the floor is not rewritten.
			floor = min(floor, vf)
		}
		if _, err := n.log.Retain(stream, 0, floor, wlog.Retention{MaxAgeMillis: 1}); err != nil {
			n.cfg.Logger.Warn("view changelog retention failed", "stream", stream, "err", err)
		}
	}
	// Other outputs and every late stream keep what the input stream
	// keeps: a view over a week of clicks holds a week of rows.
	inLake := map[string]bool{}
	for _, sw := range n.writers {
		inLake[sw.stream] = true
	}
	for out, in := range n.views.Retained() {
		s := n.cfg.Pipeline.Stream(in)
		if inLake[out] || s == nil || s.Retention.MaxAge == 0 && s.Retention.MaxBytes == 0 {
			continue
		}
		end, err := n.log.End(out, 0)
		if err != nil {
			continue // not written yet
		}
		if vf, ok := n.views.Floor(out, 0); ok {
			end = min(end, vf) // views reading this view's rows
		}
		for _, offs := range n.sinkPositions(out) { // connector sinks sending them out
			end = min(end, offs[0])
		}
		if _, err := n.log.Retain(out, 0, end, wlog.Retention{MaxAgeMillis: s.Retention.MaxAge.Milliseconds(), MaxBytes: s.Retention.MaxBytes}); err != nil {
			n.cfg.Logger.Warn("view output retention failed", "stream", out, "err", err)
		}
	}
}

// watchBacklog measures each stream's backlog every 50 ms, for the metric
// and to lift backpressure when no request asks: the records in the log
// that some view or lake sink has not committed yet, summed over
// partitions. Past the stream's max_backlog the gate refuses new records
// (429) until the backlog is back under 90% of the limit.
func (n *Node) watchBacklog(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range n.cfg.Pipeline.Streams {
			n.isBacklogged(s.Name)
		}
		n.checkMemory()
	}
}

// SetMemoryBudget changes the heap budget past which a running node
// refuses ingest (the garbage collector's limit stays as started).
func (n *Node) SetMemoryBudget(bytes int64) { n.memBudget.Store(bytes) }

// admit is the gate's backpressure check.
func (n *Node) admit(stream string) error {
	if n.overBudget.Load() {
		return fmt.Errorf("%w: the node's heap is over its memory budget (--memory-budget %d bytes)", gate.ErrOverloaded, n.memBudget.Load())
	}
	if n.isBacklogged(stream) {
		return fmt.Errorf("%w: stream %q", gate.ErrBacklog, stream)
	}
	return nil
}

// checkMemory sets overBudget while the live heap is over the budget.
func (n *Node) checkMemory() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	heap := int64(sample[0].Value.Uint64())
	budget := n.memBudget.Load()
	switch {
	case heap > budget && !n.overBudget.Load():
		n.overBudget.Store(true)
		n.cfg.Logger.Warn("heap over the memory budget: ingest answers 429 until it is back under 90%", "heap_bytes", heap, "budget_bytes", budget)
	case heap < budget*9/10 && n.overBudget.Load():
		n.overBudget.Store(false)
		n.cfg.Logger.Info("heap back under the memory budget", "heap_bytes", heap)
	}
}

// isBacklogged measures the stream's backlog and reports whether ingest
// must wait: over max_backlog, and until it is back under 90% of it.
func (n *Node) isBacklogged(stream string) bool {
	s := n.cfg.Pipeline.Stream(stream)
	b := n.backlogged[stream]
	if s == nil || b == nil {
		return false
	}
	backlog := n.backlog(s.Name, s.Partitions)
	n.metrics.Backlog.WithLabelValues(s.Name).Set(float64(backlog))
	switch {
	case backlog > int64(s.MaxBacklog) && !b.Load():
		b.Store(true)
		n.cfg.Logger.Warn("stream backlog over its limit: ingest answers 429 until its views and sinks catch up",
			"stream", s.Name, "backlog", backlog, "max_backlog", s.MaxBacklog)
	case backlog < int64(s.MaxBacklog)*9/10 && b.Load():
		b.Store(false)
		n.cfg.Logger.Info("stream backlog back under its limit", "stream", s.Name, "backlog", backlog)
	}
	return b.Load()
}

// connSink is a running connector sink.
type connSink struct {
	name, stream string
	view         string // the view whose output stream it sends, or ""
	partitions   int
	sink         connect.Sink
}

// sinkPositions returns, per sink of the stream (lake and connector), the
// offsets it has committed per partition. A sink that has not recovered
// its position yet holds the log where it starts.
func (n *Node) sinkPositions(stream string) [][]int64 {
	var out [][]int64
	for _, sw := range n.writers {
		if sw.stream == stream {
			out = append(out, sw.w.State().Offsets)
		}
	}
	for _, cs := range n.sinks {
		if cs.stream != stream {
			continue
		}
		offs := cs.sink.Committed()
		if offs == nil {
			offs = make([]int64, cs.partitions)
			for p := range offs {
				offs[p], _ = n.log.Start(stream, p)
			}
		}
		out = append(out, offs)
	}
	return out
}

// backlog is how many records of the stream its slowest consumer, per
// partition, has still to commit.
func (n *Node) backlog(stream string, partitions int) int64 {
	consumers := n.sinkPositions(stream)
	consumers = append(consumers, n.views.Positions(stream)...)
	total := int64(0)
	for p := range partitions {
		end, err := n.log.End(stream, p)
		if err != nil {
			continue
		}
		behind := int64(0)
		for _, offs := range consumers {
			off := int64(0)
			if p < len(offs) {
				off = offs[p]
			}
			behind = max(behind, end-off)
		}
		total += behind
	}
	return total
}

// Shutdown stops accepting requests, lets in-flight ones finish, stops the
// sources, commits what the lake writers buffered, and closes the stores.
func (n *Node) Shutdown(ctx context.Context) error {
	n.ready.Store(false)
	err := n.srv.Shutdown(ctx)
	if n.pg != nil {
		n.pg.Close()
	}
	n.cancelSrc()
	n.sources.Wait()
	n.cancelWork()
	n.work.Wait()
	n.views.Stop()
	// A lake writer or sink that failed its last commit says so here (its
	// records are still in the log): the exit status must not hide it.
	for done := false; !done; {
		select {
		case werr := <-n.errc:
			if err == nil {
				err = werr
			}
		default:
			done = true
		}
	}
	if cerr := n.closeStores(); err == nil {
		err = cerr
	}
	n.cfg.Logger.Info("weir node stopped")
	return err
}

func (n *Node) closeStores() error {
	var err error
	if n.engine != nil {
		n.engine.Close()
	}
	if n.log != nil {
		err = n.log.Close()
	}
	return err
}

// Catalog stores schema versions per stream in the metadata store.
type Catalog struct {
	Meta  wlog.Meta
	mu    sync.Mutex
	cache map[string]*schema.Schema
}

func schemaKey(stream string, ver uint32) []byte {
	return []byte("schema/" + stream + "/" + strconv.FormatUint(uint64(ver), 10))
}

// Current returns the stream's current schema version (0: none).
func (c *Catalog) Current(stream string) (uint32, error) {
	v, ok, err := c.Meta.Get([]byte("schema/" + stream + "/current"))
	if err != nil || !ok {
		return 0, err
	}
	return binary.BigEndian.Uint32(v), nil
}

// Register records s as the stream's schema and returns its version: the
// current one when unchanged, a new one when the file changed.
func (c *Catalog) Register(stream string, s *schema.Schema) (uint32, error) {
	cur, err := c.Current(stream)
	if err != nil {
		return 0, err
	}
	if cur > 0 {
		old, err := c.SchemaFor(stream)(cur)
		if err != nil {
			return 0, err
		}
		if old.Equal(s) {
			return cur, nil
		}
	}
	next := cur + 1
	if err := c.Meta.Set(schemaKey(stream, next), s.Source); err != nil {
		return 0, err
	}
	if err := c.Meta.Set([]byte("schema/"+stream+"/current"), binary.BigEndian.AppendUint32(nil, next)); err != nil {
		return 0, err
	}
	return next, nil
}

// SchemaFor returns a lookup of the stream's stored schema versions.
func (c *Catalog) SchemaFor(stream string) func(uint32) (*schema.Schema, error) {
	return func(ver uint32) (*schema.Schema, error) {
		key := string(schemaKey(stream, ver))
		c.mu.Lock()
		defer c.mu.Unlock()
		if s, ok := c.cache[key]; ok {
			return s, nil
		}
		src, ok, err := c.Meta.Get([]byte(key))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: stream %q has records of schema version %d, which the catalog does not hold", wlog.ErrCorrupt, stream, ver)
		}
		s, err := schema.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("stored schema %d of stream %q: %w", ver, stream, err)
		}
		if c.cache == nil {
			c.cache = map[string]*schema.Schema{}
		}
		c.cache[key] = s
		return s, nil
	}
}
