package table

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/stream"
)

// Kind is where a table's rows come from.
type Kind string

const (
	File     Kind = "file"     // Spec.File, with Spec.Schema
	Postgres Kind = "postgres" // Spec.DSN and Spec.Query
	Lake     Kind = "lake"     // Spec.Query over the node's tables
)

// Spec declares a reference table (weir.yaml tables:).
type Spec struct {
	Name string
	Kind Kind
	// File is the path of a CSV (a header row naming the columns) or
	// NDJSON file; Schema its columns and rules.
	File   string
	Schema *schema.Schema
	// DSN is the PostgreSQL connection string.
	DSN string
	// Query is the SELECT that gives the rows (Postgres, Lake).
	Query string
	// Refresh is how often the source is looked at again; default 10 s.
	Refresh time.Duration
}

// DefaultRefresh is how often a table is reloaded when its spec says not.
const DefaultRefresh = 10 * time.Second

// Options are what loading needs besides the spec.
type Options struct {
	// Query runs SQL over the node's tables (Lake tables).
	Query   func(ctx context.Context, sql string) (cols, types []string, rows [][]any, err error)
	Logger  *slog.Logger
	Metrics *Metrics
}

// Table is a loaded reference table. It is safe for concurrent use.
type Table struct {
	spec   Spec
	opts   Options
	cols   []schema.Column
	source source
	cur    atomic.Pointer[stream.TableSnapshot]
	hash   uint64 // of the current rows: a reload that finds the same skips the swap

	mu      sync.Mutex
	status  Status
	version uint64
}

// Status is a table's state for the status API and SHOW TABLES.
type Status struct {
	Name      string    `json:"name"`
	Kind      Kind      `json:"kind"`
	Rows      int       `json:"rows"`
	Version   uint64    `json:"version"` // 1 at the first load, +1 per change
	LoadedAt  time.Time `json:"loaded_at"`
	CheckedAt time.Time `json:"checked_at"`
	LastError string    `json:"last_error,omitempty"` // the last refresh failed: the table keeps its last good rows
}

// source reads a table's rows.
type source interface {
	// columns are the table's columns, learnt at the first load.
	columns(ctx context.Context) ([]schema.Column, error)
	// changed reports whether the source may have changed since the last
	// load (a file's size and time); true when it cannot tell.
	changed() bool
	load(ctx context.Context) ([][]schema.Value, error)
}

// Open loads a table for the first time; an error says what is wrong
// with its source and how to fix it.
func Open(ctx context.Context, sp Spec, opts Options) (*Table, error) {
	if sp.Refresh <= 0 {
		sp.Refresh = DefaultRefresh
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	t := &Table{spec: sp, opts: opts}
	switch sp.Kind {
	case File:
		t.source = &fileSource{path: sp.File, schema: sp.Schema}
	case Postgres:
		t.source = &pgSource{dsn: sp.DSN, query: sp.Query}
	case Lake:
		if opts.Query == nil {
			panic(fmt.Sprintf("BUG: table %q: no query engine for a lake table", sp.Name))
		}
		t.source = &lakeSource{query: sp.Query, run: opts.Query}
	default:
		panic(fmt.Sprintf("BUG: table %q: unknown kind %q (config checks the kinds)", sp.Name, sp.Kind))
	}
	cols, err := t.source.columns(ctx)
	if err != nil {
		return nil, fmt.Errorf("table %q: %w", sp.Name, err)
	}
	t.cols = cols
	if err := t.reload(ctx); err != nil {
		return nil, fmt.Errorf("table %q: %w", sp.Name, err)
	}
	return t, nil
}

// Name is the table's name.
func (t *Table) Name() string { return t.spec.Name }

// Columns implements stream.LookupTable.
func (t *Table) Columns() []schema.Column { return t.cols }

// Current implements stream.LookupTable.
func (t *Table) Current() *stream.TableSnapshot { return t.cur.Load() }

// Status is the table's state.
func (t *Table) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// Run refreshes the table every Refresh until ctx ends. It returns nil:
// a failed refresh keeps the last good rows and is reported, not fatal.
func (t *Table) Run(ctx context.Context) error {
	tick := time.NewTicker(t.spec.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		t.Refresh(ctx)
	}
}

// Refresh looks at the source once and loads it if it changed.
func (t *Table) Refresh(ctx context.Context) {
	if !t.source.changed() {
		t.mu.Lock()
		t.status.CheckedAt = time.Now()
		t.mu.Unlock()
		return
	}
	if err := t.reload(ctx); err != nil {
		t.mu.Lock()
		first := t.status.LastError != err.Error()
		t.status.LastError = err.Error()
		t.status.CheckedAt = time.Now()
		t.mu.Unlock()
		if first {
			t.opts.Logger.Error("reference table refresh failed; keeping its last good rows", "table", t.spec.Name, "err", err)
		}
		if m := t.opts.Metrics; m != nil {
			m.RefreshErrors.WithLabelValues(t.spec.Name).Inc()
		}
	}
}

var seed = maphash.MakeSeed()

// reload reads the rows and swaps them in if they differ.
func (t *Table) reload(ctx context.Context) error {
	rows, err := t.source.load(ctx)
	if err != nil {
		return err
	}
	var h maphash.Hash
	h.SetSeed(seed)
	var buf []byte
	for _, r := range rows {
		buf = schema.EncodeRow(t.cols, buf[:0], r)
		h.Write(buf)
	}
	sum := h.Sum64()
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status.Name, t.status.Kind = t.spec.Name, t.spec.Kind
	t.status.CheckedAt, t.status.LastError = now, ""
	if t.cur.Load() != nil && sum == t.hash {
		return nil
	}
	t.version++
	t.hash = sum
	t.cur.Store(&stream.TableSnapshot{Version: t.version, Rows: rows})
	t.status.Rows, t.status.Version, t.status.LoadedAt = len(rows), t.version, now
	if m := t.opts.Metrics; m != nil {
		m.Rows.WithLabelValues(t.spec.Name).Set(float64(len(rows)))
		m.Loads.WithLabelValues(t.spec.Name).Inc()
	}
	return nil
}
