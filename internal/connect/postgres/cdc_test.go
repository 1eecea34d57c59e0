package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/postgres/pgtest"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

const changesSchema = `{"type":"object","required":["id","_op","_lsn"],"additionalProperties":false,
 "properties":{"id":{"type":"integer"},"customer":{"type":["string","null"]},"amount":{"type":["number","null"]},
 "paid":{"type":["boolean","null"]},"created":{"type":["string","null"],"format":"date-time"},
 "_op":{"type":"string","enum":["r","c","u","d"]},"_lsn":{"type":"string"},"_commit_time":{"type":["string","null"],"format":"date-time"}}}`

type cdcRig struct {
	t    testing.TB
	pg   *pgtest.Server
	db   *pgx.Conn
	log  *pebblelog.Log
	gate *gate.Gate
	sc   *schema.Schema
}

func newCDCRig(t *testing.T) *cdcRig { return newCDCRigTB(t) }

func newCDCRigTB(t testing.TB) *cdcRig {
	pg := pgtest.Start(t)
	ctx := context.Background()
	db, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	if _, err := db.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY, customer text, amount numeric(10,2), paid bool, created timestamptz, secret text);
		INSERT INTO orders SELECT i, 'c' || i, i * 1.5, i % 2 = 0, '2026-12-01 10:00:00+00'::timestamptz + i * interval '1 minute', 'x' FROM generate_series(0, 29) i`); err != nil {
		t.Fatal(err)
	}
	l, err := pebblelog.Open(filepath.Join(t.TempDir(), "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sc, err := schema.Compile([]byte(changesSchema))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(l, l, []gate.Stream{{Name: "order_changes", Schema: sc, Version: 1, KeyCols: []int{0}, Partitions: 2}}, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &cdcRig{t: t, pg: pg, db: db, log: l, gate: g, sc: sc}
}

func (r *cdcRig) exec(sql string) {
	r.t.Helper()
	if _, err := r.db.Exec(context.Background(), sql); err != nil {
		r.t.Fatal(err)
	}
}

// start runs a source; stop ends it.
func (r *cdcRig) start(ing connect.Ingester) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	if c, ok := ing.(*crashAfterIngest); ok {
		c.cancel = cancel
	}
	src, err := NewSource(spec.Values{"dsn": r.pg.DSN, "table": "public.orders", "snapshot": true, "max_batch": int64(7)},
		connect.Env{Name: "orders_cdc", Stream: "order_changes", Gate: ing, Meta: r.log, Schema: r.sc, Key: []int{0}})
	if err != nil {
		r.t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx) }()
	return func() {
		cancel()
		if err := <-errc; err != nil {
			r.t.Fatalf("Run: %v", err)
		}
	}
}

type cdcEvent struct {
	op, lsn, customer string
	id                int64
	amount            float64
	hasCustomer       bool
}

// events reads the stream.
func (r *cdcRig) events() []cdcEvent {
	var out []cdcEvent
	for p := range 2 {
		end, _ := r.log.End("order_changes", p)
		for from := int64(0); from < end; {
			bs, err := r.log.Read("order_changes", p, from, 1<<20)
			if err != nil {
				r.t.Fatal(err)
			}
			for i := range bs {
				bs[i].Records(func(_ int64, rec []byte) bool {
					v, err := schema.DecodeRow(r.sc.Columns, rec, nil)
					if err != nil {
						r.t.Fatal(err)
					}
					c := func(n string) schema.Value { return v[r.sc.ColumnIndex(n)] }
					out = append(out, cdcEvent{op: string(c("_op").Bytes), lsn: string(c("_lsn").Bytes), id: c("id").Int,
						amount: c("amount").Float, customer: string(c("customer").Bytes), hasCustomer: !c("customer").Null})
					return true
				})
				from = bs[i].End()
			}
		}
	}
	return out
}

// waitQuiet waits for n events, counting only.
func (r *cdcRig) waitQuiet(n int) {
	for {
		total := int64(0)
		for p := range 2 {
			e, _ := r.log.End("order_changes", p)
			total += e
		}
		if total >= int64(n) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *cdcRig) wait(n int) []cdcEvent {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ev := r.events()
		q, _ := r.log.End(gate.QuarantineStream("order_changes"), 0)
		if q > 0 {
			recs, _ := r.gate.ListQuarantine("order_changes", 5)
			r.t.Fatalf("quarantined: %+v", recs)
		}
		if len(ev) >= n {
			if len(ev) > n {
				r.t.Fatalf("%d events, want %d", len(ev), n)
			}
			return ev
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d events after 30 s, want %d", len(ev), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count tallies events by op.
func count(ev []cdcEvent) map[string]int {
	out := map[string]int{}
	for _, e := range ev {
		out[e.op]++
	}
	return out
}

// TestCDC: the snapshot, then inserts, updates and deletes, each once,
// across a stop, a crash right after an ingest and a database restart.
func TestCDC(t *testing.T) {
	r := newCDCRig(t)
	stop := r.start(r.gate)
	ev := r.wait(30)
	if c := count(ev); c["r"] != 30 {
		t.Fatalf("snapshot ops %v", c)
	}
	for _, e := range ev {
		if e.customer != fmt.Sprintf("c%d", e.id) || e.amount != float64(e.id)*1.5 {
			t.Fatalf("snapshot event %+v", e)
		}
	}
	r.exec("INSERT INTO orders SELECT i, 'n' || i, i, true, now(), 'x' FROM generate_series(100, 109) i")
	r.exec("UPDATE orders SET amount = amount + 1 WHERE id < 10")
	r.exec("DELETE FROM orders WHERE id BETWEEN 20 AND 24")
	r.exec("BEGIN; INSERT INTO orders VALUES (200, 'tx', 2, false, NULL, 'x'); UPDATE orders SET customer = 'it''s \"quoted\"' WHERE id = 200; COMMIT")
	ev = r.wait(30 + 10 + 10 + 5 + 2)
	if c := count(ev); c["c"] != 11 || c["u"] != 11 || c["d"] != 5 {
		t.Fatalf("ops %v", c)
	}
	for _, e := range ev {
		switch {
		case e.op == "u" && e.id < 10 && e.amount != float64(e.id)*1.5+1:
			t.Fatalf("update %+v", e)
		case e.op == "d" && (e.hasCustomer || e.id < 20 || e.id > 24):
			t.Fatalf("delete %+v: want only the key", e)
		case e.op == "u" && e.id == 200 && e.customer != `it's "quoted"`:
			t.Fatalf("update %+v", e)
		}
	}

	// Stopped: changes wait in the slot.
	stop()
	r.exec("INSERT INTO orders SELECT i, 's', 1, true, now(), 'x' FROM generate_series(300, 304) i")
	stop = r.start(r.gate)
	r.wait(62)
	stop()

	// A crash right after an ingest, before the slot heard of it.
	r.exec("BEGIN; INSERT INTO orders SELECT i, 'k', 1, true, now(), 'x' FROM generate_series(400, 402) i; UPDATE orders SET paid = NOT paid WHERE id >= 400; COMMIT") // one transaction: one ingest
	crash := &crashAfterIngest{g: r.gate, n: 1}
	stop = r.start(crash)
	r.wait(62 + 3 + 3)
	stop()
	var confirmed string
	if err := r.db.QueryRow(context.Background(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'weir_orders_cdc'").Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	last := r.events()
	if got := last[len(last)-1].lsn; got == confirmed {
		t.Fatalf("the slot heard of the crashed ingest (%s): the redelivery case is not exercised", confirmed)
	}
	stop = r.start(r.gate)
	time.Sleep(500 * time.Millisecond) // long enough to see a duplicate
	r.wait(68)

	// The database restarts under a running source.
	r.pg.Stop()
	time.Sleep(300 * time.Millisecond)
	r.pg.Restart()
	db, err := pgx.Connect(context.Background(), r.pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	r.db = db
	r.exec("INSERT INTO orders VALUES (500, 'after restart', 5, true, now(), 'x')")
	ev = r.wait(69)
	stop()
	seen := map[string]bool{}
	for _, e := range ev {
		k := fmt.Sprintf("%s/%d/%s", e.op, e.id, e.lsn)
		if seen[k] && e.op != "r" {
			t.Fatalf("event %s twice", k)
		}
		seen[k] = true
		if !strings.Contains(e.lsn, "/") {
			t.Fatalf("lsn %q", e.lsn)
		}
	}
}

// crashAfterIngest passes n ingests to the gate, then ends the source's
// context and fails: a process killed right after its nth durable write,
// before it told the slot.
type crashAfterIngest struct {
	g      *gate.Gate
	n      int64
	cancel context.CancelFunc
	calls  atomic.Int64
}

func (c *crashAfterIngest) Ingest(ctx context.Context, req gate.Request) (gate.Result, error) {
	if c.calls.Load() >= c.n {
		return gate.Result{}, context.Canceled
	}
	res, err := c.g.Ingest(ctx, req)
	if c.calls.Add(1) >= c.n {
		c.cancel()
		return gate.Result{}, context.Canceled
	}
	return res, err
}

// BenchmarkCDC: 100k inserts in 100 transactions, from the WAL to durable
// in Weir's log (the source already streaming).
//
//	go test -run='^$' -bench=BenchmarkCDC -benchtime=3x ./internal/connect/postgres/
func BenchmarkCDC(b *testing.B) {
	r := newCDCRigTB(b)
	stop := r.start(r.gate)
	defer stop()
	r.wait(30)
	next := 1000
	var inserting time.Duration
	for b.Loop() {
		want := len(r.events()) + 100_000
		t0 := time.Now()
		for range 100 {
			r.exec(fmt.Sprintf("INSERT INTO orders SELECT i, 'b', i, true, now(), 'x' FROM generate_series(%d, %d) i", next, next+999))
			next += 1000
		}
		inserting += time.Since(t0)
		r.waitQuiet(want)
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(inserting.Seconds()/float64(b.N), "insert-s/op") // the database's own time to take the inserts
}

// TestMirror: the CDC source and the Postgres sink together keep a mirror
// of a table — inserts, updates and deletes in random transactions, with
// the sink restarted midway — equal to the table.
func TestMirror(t *testing.T) {
	r := newCDCRig(t)
	stopSrc := r.start(r.gate)
	defer stopSrc()
	newSink := func() connect.Sink {
		s, err := NewSink(spec.Values{"dsn": r.pg.DSN, "table": "orders_mirror", "mode": "upsert", "create_table": true, "max_batch": int64(50), "linger": 10 * time.Millisecond},
			connect.SinkEnv{Name: "mirror", Stream: "order_changes", Partitions: 2, Log: r.log, Schema: r.sc, Key: []int{0},
				SchemaFor: func(uint32) (*schema.Schema, error) { return r.sc, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	run := func(s connect.Sink) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- s.Run(ctx) }()
		return func() {
			cancel()
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
	}
	stopSink := run(newSink())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	for i := range 60 {
		id := rng.IntN(80)
		switch rng.IntN(3) {
		case 0:
			r.exec(fmt.Sprintf("INSERT INTO orders VALUES (%d, 'm%d', %d, true, now(), 'x') ON CONFLICT (id) DO UPDATE SET customer = EXCLUDED.customer", id, i, i))
		case 1:
			r.exec(fmt.Sprintf("UPDATE orders SET amount = amount + %d, paid = NOT paid WHERE id %% 7 = %d", i, id%7))
		default:
			r.exec(fmt.Sprintf("BEGIN; DELETE FROM orders WHERE id = %d; INSERT INTO orders VALUES (%d, 'again', 1, false, NULL, 'x') ON CONFLICT DO NOTHING; DELETE FROM orders WHERE id = %d; COMMIT", id, id+1, id+2))
		}
		if i == 30 {
			stopSink()
			stopSink = run(newSink())
		}
	}
	const q = "SELECT string_agg(format('%s|%s|%s|%s|%s', id, customer, amount::float8, paid, created), ';' ORDER BY id) FROM "
	deadline := time.Now().Add(30 * time.Second)
	for {
		var want, got *string
		if err := r.db.QueryRow(context.Background(), q+"orders").Scan(&want); err != nil {
			t.Fatal(err)
		}
		err := r.db.QueryRow(context.Background(), q+"orders_mirror").Scan(&got)
		if err == nil && got != nil && want != nil && *got == *want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror differs:\n%v\nwant\n%v (%v)", deref(got), deref(want), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopSink()
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
