package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/postgres/pgtest"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

const accountsSchema = `{"type":"object","required":["account","ts"],"additionalProperties":false,
 "properties":{"account":{"type":"string"},"ts":{"type":"string","format":"date-time"},"balance":{"type":["number","null"]},
 "visits":{"type":"integer"},"vip":{"type":"boolean"},"note":{"type":["string","null"]}}}`

type rig struct {
	t    testing.TB
	log  *pebblelog.Log
	gate *gate.Gate
	sc   *schema.Schema
	pg   *pgtest.Server
	n    int
}

func newRig(t *testing.T) *rig { return newRigTB(t) }

func newRigTB(t testing.TB) *rig {
	l, err := pebblelog.Open(filepath.Join(t.TempDir(), "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sc, err := schema.Compile([]byte(accountsSchema))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(l, l, []gate.Stream{{Name: "accounts", Schema: sc, Version: 1, KeyCols: []int{sc.ColumnIndex("account")}, Partitions: 3}}, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, log: l, gate: g, sc: sc, pg: pgtest.Start(t)}
}

// event i updates account a<i%50>: visits = i, balance i/2 (null every
// 10th), a note with quotes and a newline.
func event(i int) []byte {
	bal := fmt.Sprint(float64(i) / 2)
	if i%10 == 0 {
		bal = "null"
	}
	return fmt.Appendf(nil, `{"account":"a%d","ts":"2026-12-01T10:00:%02d.%06dZ","balance":%s,"visits":%d,"vip":%t,"note":"it's \"n%d\"\n"}`,
		i%50, i%60, i, bal, i, i%3 == 0, i)
}

func (r *rig) ingest(k int) {
	var recs [][]byte
	for range k {
		recs = append(recs, event(r.n))
		r.n++
	}
	if _, err := r.gate.Ingest(context.Background(), gate.Request{Stream: "accounts", Format: gate.Records, Records: recs}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) sink(over map[string]any) connect.Sink { return r.sinkTB(r.t, over) }

func (r *rig) sinkTB(t testing.TB, over map[string]any) connect.Sink {
	v := spec.Values{"dsn": r.pg.DSN, "table": "", "mode": "upsert", "create_table": true, "max_batch": int64(200), "linger": 10 * time.Millisecond}
	for k, x := range over {
		v[k] = x
	}
	s, err := NewSink(v, connect.SinkEnv{Name: "accounts_table", Stream: "accounts", Partitions: 3, Log: r.log, Schema: r.sc,
		Key: []int{r.sc.ColumnIndex("account")}, SchemaFor: func(uint32) (*schema.Schema, error) { return r.sc, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// drain runs a sink until it has committed everything in the log.
func (r *rig) drain(s connect.Sink) { r.drainTB(r.t, s) }

func (r *rig) drainTB(t testing.TB, s connect.Sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, total := s.Committed(), int64(0)
		for p := range 3 {
			e, _ := r.log.End("accounts", p)
			if c != nil {
				total += e - c[p]
			} else {
				total += e + 1
			}
		}
		if total == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("sink committed %v of the log", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		r.t.Fatal(err)
	}
}

// TestUpsertExactlyOnce: sinks stopped at random moments, the database
// SIGKILLed and restarted, events arriving all along; the table ends with
// the latest event of each account, every column as sent, and the append
// table with every event exactly once.
func TestUpsertExactlyOnce(t *testing.T) {
	r := newRig(t)
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 3))
	t.Logf("seed %d", seed)
	run := func(d time.Duration) {
		up, app := r.sink(nil), r.sink(map[string]any{"mode": "append", "table": "public.accounts_log"})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 2)
		go func() { errc <- up.Run(ctx) }()
		go func() { errc <- app.(*Sink).runAs(ctx, "accounts_log") }()
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			r.ingest(1 + rng.IntN(150))
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		}
		cancel()
		for range 2 {
			if err := <-errc; err != nil {
				t.Fatalf("Run: %v", err)
			}
		}
	}
	for range 4 {
		run(time.Duration(50+rng.IntN(300)) * time.Millisecond)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		r.pg.Stop()
		time.Sleep(500 * time.Millisecond)
		r.pg.Restart()
	}()
	run(2 * time.Second)
	r.drain(r.sink(nil))
	app := r.sink(map[string]any{"mode": "append", "table": "public.accounts_log"})
	app.(*Sink).env.Name = "accounts_log"
	r.drain(app)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, r.pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The latest event per account, from an oracle of what was sent.
	latest := map[string]int{}
	for i := range r.n {
		latest[fmt.Sprintf("a%d", i%50)] = i
	}
	rows, err := conn.Query(ctx, "SELECT account, ts, balance, visits, vip, note FROM accounts")
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		var acct, note string
		var ts time.Time
		var bal *float64
		var visits int64
		var vip bool
		if err := rows.Scan(&acct, &ts, &bal, &visits, &vip, &note); err != nil {
			t.Fatal(err)
		}
		i := latest[acct]
		want := event(i)
		gotRow := fmt.Appendf(nil, `{"account":"%s","ts":"%s","balance":%s,"visits":%d,"vip":%t,"note":%q}`, acct, ts.UTC().Format("2006-01-02T15:04:05.000000Z"),
			orNull(bal), visits, vip, note)
		wantRow := fmt.Appendf(nil, `{"account":"a%d","ts":"2026-12-01T10:00:%02d.%06dZ","balance":%s,"visits":%d,"vip":%t,"note":%q}`,
			i%50, i%60, i, map[bool]string{true: "null", false: fmt.Sprint(float64(i) / 2)}[i%10 == 0], i, i%3 == 0, fmt.Sprintf("it's \"n%d\"\n", i))
		if string(gotRow) != string(wantRow) {
			t.Fatalf("row %s, want %s (event %s)", gotRow, wantRow, want)
		}
		got++
	}
	if rows.Err() != nil || got != len(latest) {
		t.Fatalf("%d rows (%v), want %d", got, rows.Err(), len(latest))
	}
	var n, distinct int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT visits) FROM accounts_log").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != r.n || distinct != r.n {
		t.Fatalf("append table: %d rows, %d distinct events; want %d once each", n, distinct, r.n)
	}
}

func orNull(f *float64) string {
	if f == nil {
		return "null"
	}
	return fmt.Sprint(*f)
}

// runAs runs the sink under another sink name (its own position row).
func (s *Sink) runAs(ctx context.Context, name string) error {
	s.env.Name = name
	return s.Run(ctx)
}

// A table without the key's unique index cannot take upserts: the sink
// stops with a message that says what to add, instead of retrying forever.
func TestUpsertNeedsKeyIndex(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, r.pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE accounts (account text, ts timestamptz, balance float8, visits bigint, vip bool, note text)"); err != nil {
		t.Fatal(err)
	}
	r.ingest(10)
	err = r.sink(map[string]any{"create_table": false}).Run(ctx)
	if err == nil || !containsAll(err.Error(), "fatal", "unique index on the stream's key columns") {
		t.Fatalf("Run: %v", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// BenchmarkPostgresSink: 100k events from Weir's log into a table of a
// real PostgreSQL on this machine, in transactions of 5000 rows.
//
//	go test -run='^$' -bench=BenchmarkPostgresSink -benchtime=3x ./internal/connect/postgres/
func BenchmarkPostgresSink(b *testing.B) {
	const total = 100_000
	r := newRigTB(b)
	for r.n < total {
		r.ingest(5000)
	}
	for _, mode := range []string{"upsert", "append"} {
		b.Run(mode, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				s := r.sinkTB(b, map[string]any{"mode": mode, "table": fmt.Sprintf("bench_%s_%d", mode, i), "max_batch": int64(5000)})
				s.(*Sink).env.Name = fmt.Sprintf("bench_%s_%d", mode, i)
				r.drainTB(b, s)
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestSinkConformance: the shared sink suite against a real PostgreSQL, a
// new append table per case (so repeats would show), the server SIGKILLed
// and restarted in the disruption case.
func TestSinkConformance(t *testing.T) {
	pg := pgtest.Start(t)
	n := 0
	conformance.RunSink(t, func(t *testing.T) conformance.SinkPeer {
		n++
		table := fmt.Sprintf("conformance_%d", n)
		return conformance.SinkPeer{
			Type: "postgres",
			Settings: func(t testing.TB, batch int) spec.Values {
				return spec.Values{"dsn": pg.DSN, "table": table, "mode": "append", "create_table": true, "max_batch": int64(batch), "linger": 10 * time.Millisecond}
			},
			Received: func(t testing.TB) map[int64]int {
				conn, err := pgx.Connect(context.Background(), pg.DSN)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(context.Background())
				rows, err := conn.Query(context.Background(), "SELECT id, count(*) FROM "+table+" GROUP BY id")
				if err != nil {
					t.Fatal(err)
				}
				out := map[int64]int{}
				for rows.Next() {
					var id, c int64
					if err := rows.Scan(&id, &c); err != nil {
						t.Fatal(err)
					}
					out[id] = int(c)
				}
				return out
			},
			Disrupt: func(testing.TB) {
				pg.Stop()
				time.Sleep(300 * time.Millisecond)
				pg.Restart()
			},
		}
	})
}

// Sinks that start together on a fresh database all create the position
// table at once; none may fail on the race inside CREATE TABLE IF NOT
// EXISTS (it did in CI: "type weir_sink_positions already exists").
func TestConcurrentPrepare(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, r.pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	const n = 6
	for round := range 5 {
		if _, err := admin.Exec(ctx, "DROP TABLE IF EXISTS weir_sink_positions, accounts"); err != nil {
			t.Fatal(err)
		}
		conns := make([]*pgx.Conn, n)
		for i := range conns {
			if conns[i], err = pgx.Connect(ctx, r.pg.DSN); err != nil {
				t.Fatal(err)
			}
		}
		start := make(chan struct{})
		errc := make(chan error, n)
		for i := range n {
			s := r.sink(map[string]any{"table": "accounts"}).(*Sink)
			go func() {
				<-start
				errc <- s.prepare(ctx, conns[i])
			}()
		}
		close(start)
		for range n {
			if err := <-errc; err != nil {
				t.Fatalf("round %d: prepare: %v", round, err)
			}
		}
		for _, c := range conns {
			c.Close(ctx)
		}
	}
}

// A sink of a view: its table is named after the view, and upsert mode,
// which needs key columns a view's rows do not have, is refused with what
// to use instead.
func TestViewSinkSettings(t *testing.T) {
	env := connect.SinkEnv{Name: "out", Stream: "view/per_minute", View: "per_minute", Partitions: 1}
	v := spec.Values{"dsn": "postgres://weir@127.0.0.1:1/weir", "table": "", "mode": "upsert", "create_table": true, "max_batch": int64(10), "linger": time.Millisecond}
	if _, err := NewSink(v, env); err == nil || !strings.Contains(err.Error(), `the rows of view "per_minute" have none: use mode: append`) {
		t.Fatalf("upsert of a view: %v", err)
	}
	v["mode"] = "append"
	s, err := NewSink(v, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.(*Sink).table.Sanitize(); got != `"per_minute"` {
		t.Fatalf("table %s, want per_minute", got)
	}
}
