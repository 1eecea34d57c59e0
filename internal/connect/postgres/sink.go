// Package postgres connects Weir to PostgreSQL: a sink that keeps a table
// up to date from a stream (upserts by key, or appends), exactly once, with
// the sink's position committed in the same transaction as the rows.
// pgtest starts a real server for tests.
//
// It uses the connector API and pgx; it must not import the node, the lake
// or the query engine.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/schema"
)

// SinkSpec declares the sink's settings.
var SinkSpec = &spec.Spec{
	Type:    "postgres",
	Summary: "Keeps a PostgreSQL table up to date from a stream, exactly once: upserts by key, or appends.",
	Doc: `Each accepted event becomes a row of ` + "`table`" + `, one column per stream column
(string → text, integer → bigint, number → double precision, boolean →
boolean, timestamp → timestamptz). With ` + "`mode: upsert`" + ` (the default) a row
replaces the row of the same key (the stream's key columns; ` + "`INSERT … ON\nCONFLICT DO UPDATE`" + `), so the table holds the latest event per key; with
` + "`mode: append`" + ` every event is a new row. A change stream (one with an ` + "`_op`" + ` column,
as the Postgres CDC source fills it) keeps a mirror: an event with ` + "`_op: d`" + `
deletes its key's row.

Exactly once: each batch of rows and the sink's position in Weir's log
(table ` + "`weir_sink_positions`" + `, one row per sink) are written in one
transaction, so a crash, a restart or a database restart resumes exactly
after the last committed batch; no row is written twice, even in append
mode. A database that goes away is retried with backoff; the log keeps the
stream's records until the sink has committed them.

With ` + "`create_table: true`" + ` (the default) the sink creates the table (with the key
as primary key, for upserts) and adds columns the stream's schema gained; with
` + "`false`" + ` the table must exist, with those columns and, for upserts, a unique index
on the key. Errors that retrying cannot fix (a missing column or index, a
permission) stop the node with a message that says what to change.
` + "`${NAME}`" + ` in ` + "`dsn`" + ` is replaced from the environment: keep passwords there. The DSN
is never logged.`,
	Fields: []spec.Field{
		{Name: "dsn", Kind: spec.String, Required: true, Doc: "a connection URL or keyword string, e.g. `postgres://weir:${PGPASSWORD}@db:5432/shop`"},
		{Name: "table", Kind: spec.String, Doc: "the table, optionally schema-qualified (`analytics.orders`); default: the stream's name"},
		{Name: "mode", Kind: spec.Enum, Enum: []string{"upsert", "append"}, Default: "upsert", Doc: "latest row per key, or every event"},
		{Name: "create_table", Kind: spec.Bool, Default: "true", Doc: "create the table and add new columns"},
		{Name: "max_batch", Kind: spec.Int, Default: "5000", Min: 1, Max: 1_000_000, Doc: "rows per transaction at most"},
		{Name: "linger", Kind: spec.Duration, Default: "100ms", Doc: "how long to wait for more rows before a smaller transaction"},
	},
	Example: `sinks:
  orders_table:
    type: postgres
    stream: orders
    dsn: postgres://weir:${PGPASSWORD}@db:5432/shop
    table: public.orders_latest
    mode: upsert`,
}

func init() { connect.RegisterSink(SinkSpec, NewSink) }

// Sink writes one stream into one table.
type Sink struct {
	env       connect.SinkEnv
	dsn       string
	table     pgx.Identifier
	upsert    bool
	create    bool
	maxBatch  int
	linger    time.Duration
	mu        sync.Mutex
	committed []int64
}

// NewSink checks the settings and builds the sink.
func NewSink(v spec.Values, env connect.SinkEnv) (connect.Sink, error) {
	s := &Sink{env: env, dsn: os.ExpandEnv(v.String("dsn")), upsert: v.String("mode") == "upsert", create: v.Bool("create_table"),
		maxBatch: int(v.Int("max_batch")), linger: v.Duration("linger")}
	if s.env.Logger == nil {
		s.env.Logger = slog.Default()
	}
	table := v.String("table")
	if table == "" {
		table = cmp.Or(env.View, env.Stream) // a view's table is named after the view
	}
	s.table = pgx.Identifier(strings.Split(table, "."))
	if len(s.table) > 2 || slices.Contains(s.table, "") {
		return nil, fmt.Errorf("sink %s: table %q must be NAME or SCHEMA.NAME", env.Name, table)
	}
	if _, err := pgconn.ParseConfig(s.dsn); err != nil {
		return nil, fmt.Errorf("sink %s: dsn does not parse (postgres://user:password@host:5432/database): %v", env.Name, redact(err))
	}
	switch {
	case s.upsert && len(env.Key) == 0 && env.View != "":
		return nil, fmt.Errorf("sink %s: mode: upsert needs key columns, and the rows of view %q have none: use mode: append (an append-only view writes each row once)", env.Name, env.View)
	case s.upsert && len(env.Key) == 0:
		return nil, fmt.Errorf("sink %s: mode: upsert needs the stream %q to have key columns (key: in weir.yaml), or use mode: append", env.Name, env.Stream)
	}
	if s.linger <= 0 {
		s.linger = 100 * time.Millisecond
	}
	s.env.Logger = s.env.Logger.With("sink", env.Name, "table", s.table.Sanitize())
	return s, nil
}

// redact keeps a DSN's password out of an error message: pgconn's parse
// errors quote the string.
func redact(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "cannot parse `"); i >= 0 {
		if j := strings.Index(msg[i+14:], "`"); j >= 0 {
			msg = msg[:i+14] + "…" + msg[i+14+j:]
		}
	}
	return msg
}

// Committed returns the offsets below which every record is in the table.
func (s *Sink) Committed() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.committed)
}

// Run writes until ctx ends; a failed session (the database away, a
// transaction that did not commit) starts a new one from the committed
// position.
func (s *Sink) Run(ctx context.Context) error {
	return connect.RunSessions(ctx, "sink "+s.env.Name, s.env.Logger, s.env.Metrics, s.session)
}

// classify marks what retrying cannot fix.
func classify(err error, what string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "42P10":
			return fmt.Errorf("%w: %s: %s (mode: upsert needs a primary key or unique index on the stream's key columns)", connect.ErrFatal, what, pe.Message)
		case strings.HasPrefix(pe.Code, "42"), strings.HasPrefix(pe.Code, "28"):
			return fmt.Errorf("%w: %s: %s (SQLSTATE %s)", connect.ErrFatal, what, pe.Message, pe.Code)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func pgType(t schema.Type) string {
	switch t {
	case schema.Int64:
		return "bigint"
	case schema.Float64:
		return "double precision"
	case schema.Bool:
		return "boolean"
	case schema.Timestamp:
		return "timestamptz"
	}
	return "text"
}

func (s *Sink) session(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, s.dsn)
	cancel()
	if err != nil {
		return classify(err, "cannot connect")
	}
	defer conn.Close(context.Background())
	if err := s.prepare(ctx, conn); err != nil {
		return err
	}
	pos, err := s.recover(ctx, conn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.committed = slices.Clone(pos)
	s.mu.Unlock()
	s.env.Logger.Info("postgres sink writing", "from", pos, "upsert", s.upsert)
	next := slices.Clone(pos)
	var rows rowBuf
	b := connect.Batch{Max: s.maxBatch, Linger: s.linger}
	for {
		n, err := connect.ReadRows(s.env, next, b.Room(), rows.add)
		if err != nil {
			return fmt.Errorf("%w: cannot read %s: %v", connect.ErrFatal, s.env.What(), err)
		}
		b.Add(n)
		if !b.Ready() {
			if err := b.Wait(ctx, s.env); err != nil {
				return err
			}
			continue
		}
		if err := s.write(ctx, conn, &rows, next); err != nil {
			return err
		}
		s.mu.Lock()
		s.committed = slices.Clone(next)
		s.mu.Unlock()
		if s.env.Metrics != nil && s.env.Metrics.SinkRecords != nil {
			s.env.Metrics.SinkRecords.WithLabelValues(s.env.Name).Add(float64(rows.n))
		}
		rows = rowBuf{}
		b.Reset()
	}
}

// prepare makes the position table and, with create_table, the table and
// its columns.
//
// CREATE TABLE IF NOT EXISTS is not safe against itself: two sinks creating
// the same table at once can both pass the check, and the loser fails on the
// catalog's unique index ("type ... already exists"). So the DDL runs in one
// transaction under a transaction-scoped advisory lock, which serialises
// every Weir sink preparing tables in this database.
func (s *Sink) prepare(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return classify(err, "cannot begin")
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLock); err != nil {
		return classify(err, "cannot take the DDL lock")
	}
	if err := s.createTables(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(err, "cannot commit the table definitions")
	}
	return nil
}

// ddlLock is the advisory lock key that serialises sink DDL ("weirddl").
const ddlLock int64 = 0x77656972646c

func (s *Sink) createTables(ctx context.Context, conn pgx.Tx) error {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS weir_sink_positions (
		sink text PRIMARY KEY, stream text NOT NULL, offsets bigint[] NOT NULL, updated_at timestamptz NOT NULL)`); err != nil {
		return classify(err, "cannot create weir_sink_positions")
	}
	cols := s.env.Schema.Columns
	if s.create {
		var defs []string
		for _, c := range cols {
			defs = append(defs, pgx.Identifier{c.Name}.Sanitize()+" "+pgType(c.Type))
		}
		if s.upsert {
			defs = append(defs, "PRIMARY KEY ("+s.keyList()+")")
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+s.table.Sanitize()+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return classify(err, "cannot create table "+s.table.Sanitize())
		}
		for _, c := range cols {
			if _, err := conn.Exec(ctx, "ALTER TABLE "+s.table.Sanitize()+" ADD COLUMN IF NOT EXISTS "+pgx.Identifier{c.Name}.Sanitize()+" "+pgType(c.Type)); err != nil {
				return classify(err, "cannot add column "+c.Name)
			}
		}
	}
	return nil
}

func (s *Sink) keyList() string {
	var ks []string
	for _, k := range s.env.Key {
		ks = append(ks, pgx.Identifier{s.env.Schema.Columns[k].Name}.Sanitize())
	}
	return strings.Join(ks, ", ")
}

// recover reads the sink's committed position.
func (s *Sink) recover(ctx context.Context, conn *pgx.Conn) ([]int64, error) {
	pos, err := s.env.Starts()
	if err != nil {
		return nil, err
	}
	var stream string
	var offsets []int64
	err = conn.QueryRow(ctx, "SELECT stream, offsets FROM weir_sink_positions WHERE sink = $1", s.env.Name).Scan(&stream, &offsets)
	if errors.Is(err, pgx.ErrNoRows) {
		return pos, nil
	}
	if err != nil {
		return nil, classify(err, "cannot read the position")
	}
	if stream != s.env.Stream || len(offsets) != s.env.Partitions {
		return nil, fmt.Errorf("%w: weir_sink_positions says sink %q wrote stream %q (%d partitions); it now writes %q (%d): rename the sink, or delete its row there",
			connect.ErrFatal, s.env.Name, stream, len(offsets), s.env.Stream, s.env.Partitions)
	}
	for p := range pos {
		pos[p] = max(pos[p], offsets[p])
	}
	return pos, nil
}

// rowBuf holds a batch column by column, as the arrays unnest reads.
type rowBuf struct {
	n    int
	cols []any // per column: []*string, []*int64, []*float64, []*bool, []*time.Time
	sc   *schema.Schema
}

func (b *rowBuf) add(_ int, _ int64, sc *schema.Schema, vals []schema.Value) {
	if b.cols == nil {
		b.sc = sc
		b.cols = make([]any, len(sc.Columns))
		for i, c := range sc.Columns {
			switch c.Type {
			case schema.Int64:
				b.cols[i] = []*int64(nil)
			case schema.Float64:
				b.cols[i] = []*float64(nil)
			case schema.Bool:
				b.cols[i] = []*bool(nil)
			case schema.Timestamp:
				b.cols[i] = []*time.Time(nil)
			default:
				b.cols[i] = []*string(nil)
			}
		}
	}
	for i, c := range b.sc.Columns {
		v := vals[i]
		switch c.Type {
		case schema.Int64:
			var x *int64
			if !v.Null {
				x = &v.Int
			}
			b.cols[i] = append(b.cols[i].([]*int64), x)
		case schema.Float64:
			var x *float64
			if !v.Null {
				x = &v.Float
			}
			b.cols[i] = append(b.cols[i].([]*float64), x)
		case schema.Bool:
			var x *bool
			if !v.Null {
				t := v.Int != 0
				x = &t
			}
			b.cols[i] = append(b.cols[i].([]*bool), x)
		case schema.Timestamp:
			var x *time.Time
			if !v.Null {
				t := time.UnixMicro(v.Int).UTC()
				x = &t
			}
			b.cols[i] = append(b.cols[i].([]*time.Time), x)
		default:
			var x *string
			if !v.Null {
				t := string(v.Bytes)
				x = &t
			}
			b.cols[i] = append(b.cols[i].([]*string), x)
		}
	}
	b.n++
}

// write commits one batch and the position after it in one transaction.
func (s *Sink) write(ctx context.Context, conn *pgx.Conn, rows *rowBuf, next []int64) error {
	cols := rows.sc.Columns
	if len(cols) != len(s.env.Schema.Columns) {
		return fmt.Errorf("%w: records of another schema version in one batch: restart the node", connect.ErrFatal)
	}
	args := rows.cols
	var deletes []any // upserts of a change stream: the keys whose last change is a delete
	if s.upsert {
		args = dedupe(rows, s.env.Key)
		if op := rows.sc.ColumnIndex("_op"); op >= 0 && rows.sc.Columns[op].Type == schema.String {
			args, deletes = splitDeletes(args, op, s.env.Key)
		}
	}
	var names, casts, updates []string
	for i, c := range cols {
		id := pgx.Identifier{c.Name}.Sanitize()
		names = append(names, id)
		casts = append(casts, fmt.Sprintf("$%d::%s[]", i+1, pgType(c.Type)))
		if !slices.Contains(s.env.Key, i) {
			updates = append(updates, id+" = EXCLUDED."+id)
		}
	}
	q := "INSERT INTO " + s.table.Sanitize() + " (" + strings.Join(names, ", ") + ") SELECT * FROM unnest(" + strings.Join(casts, ", ") + ")"
	if s.upsert {
		q += " ON CONFLICT (" + s.keyList() + ") DO "
		if len(updates) == 0 {
			q += "NOTHING"
		} else {
			q += "UPDATE SET " + strings.Join(updates, ", ")
		}
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return classify(err, "begin")
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return classify(err, "write rows")
	}
	if deletes != nil {
		var keys, casts, match []string
		for i, k := range s.env.Key {
			id := pgx.Identifier{cols[k].Name}.Sanitize()
			keys = append(keys, id)
			casts = append(casts, fmt.Sprintf("$%d::%s[]", i+1, pgType(cols[k].Type)))
			match = append(match, "t."+id+" = d."+id)
		}
		q := "DELETE FROM " + s.table.Sanitize() + " AS t USING unnest(" + strings.Join(casts, ", ") + ") AS d(" + strings.Join(keys, ", ") + ") WHERE " + strings.Join(match, " AND ")
		if _, err := tx.Exec(ctx, q, deletes...); err != nil {
			return classify(err, "delete rows")
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO weir_sink_positions (sink, stream, offsets, updated_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (sink) DO UPDATE SET stream = EXCLUDED.stream, offsets = EXCLUDED.offsets, updated_at = EXCLUDED.updated_at`,
		s.env.Name, s.env.Stream, next); err != nil {
		return classify(err, "write the position")
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(err, "commit") // maybe committed: the next session reads what is
	}
	return nil
}

// dedupe keeps the last row of each key: one INSERT … ON CONFLICT may not
// touch a row twice. Records of one key share a partition, so the last one
// read is the latest.
func dedupe(rows *rowBuf, key []int) []any {
	keyOf := func(i int) string {
		var b strings.Builder
		for _, k := range key {
			switch col := rows.cols[k].(type) {
			case []*string:
				if col[i] != nil {
					b.WriteString(*col[i])
				}
			case []*int64:
				if col[i] != nil {
					fmt.Fprint(&b, *col[i])
				}
			case []*float64:
				if col[i] != nil {
					fmt.Fprint(&b, *col[i])
				}
			case []*bool:
				if col[i] != nil {
					fmt.Fprint(&b, *col[i])
				}
			case []*time.Time:
				if col[i] != nil {
					fmt.Fprint(&b, col[i].UnixMicro())
				}
			}
			b.WriteByte(0)
		}
		return b.String()
	}
	last := map[string]int{}
	for i := range rows.n {
		last[keyOf(i)] = i
	}
	if len(last) == rows.n {
		return rows.cols
	}
	keep := make([]int, 0, len(last))
	for i := range rows.n {
		if last[keyOf(i)] == i {
			keep = append(keep, i)
		}
	}
	out := make([]any, len(rows.cols))
	for c, col := range rows.cols {
		out[c] = pickAny(col, keep)
	}
	return out
}

// splitDeletes separates, in a deduplicated batch of a change stream, the
// rows whose change is a delete (_op "d"): their keys, one array per key
// column, are deleted; the others are upserted.
func splitDeletes(cols []any, op int, key []int) (upserts, deletes []any) {
	ops := cols[op].([]*string)
	var keep, del []int
	for i, o := range ops {
		if o != nil && *o == "d" {
			del = append(del, i)
		} else {
			keep = append(keep, i)
		}
	}
	if len(del) == 0 {
		return cols, nil
	}
	upserts = make([]any, len(cols))
	for c, col := range cols {
		upserts[c] = pickAny(col, keep)
	}
	for _, k := range key {
		deletes = append(deletes, pickAny(cols[k], del))
	}
	return upserts, deletes
}

func pickAny(col any, keep []int) any {
	switch col := col.(type) {
	case []*string:
		return pick(col, keep)
	case []*int64:
		return pick(col, keep)
	case []*float64:
		return pick(col, keep)
	case []*bool:
		return pick(col, keep)
	case []*time.Time:
		return pick(col, keep)
	}
	panic(fmt.Sprintf("BUG: column of %T", col))
}

func pick[T any](col []T, keep []int) []T {
	out := make([]T, len(keep))
	for i, k := range keep {
		out[i] = col[k]
	}
	return out
}
