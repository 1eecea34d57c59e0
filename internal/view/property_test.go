package view

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/serve"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/sql/plan"
	"github.com/weirhq/weir/internal/stream"
)

const eventsSchema = `{"type":"object","required":["ts","seq","user_id","status"],"additionalProperties":false,
 "properties":{"ts":{"type":["string","integer"],"format":"date-time"},"seq":{"type":"integer"},
 "user_id":{"type":"string"},"status":{"type":"integer"}}}`

type node struct {
	log     *pebblelog.Log
	gate    *gate.Gate
	engine  *serve.Engine
	views   *Manager
	cancel  context.CancelFunc
	schema  *schema.Schema
	streams map[string]plan.Source
}

// testChangelogLimit is the views' ChangelogLimit in newNode (0: the
// default); a test sets it small to make continuous aggregates rewrite
// their changelogs often.
var testChangelogLimit int

func newNode(t *testing.T, dir string, partitions int, disorder time.Duration) *node {
	t.Helper()
	return newNodeWith(t, dir, partitions, disorder, nil)
}

// newNodeWith is newNode with view files.
func newNodeWith(t *testing.T, dir string, partitions int, disorder time.Duration, files []FileView) *node {
	t.Helper()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := schema.Compile([]byte(eventsSchema))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(l, l, []gate.Stream{{Name: "events", Schema: sc, Version: 1, KeyCols: []int{sc.ColumnIndex("user_id")}, Partitions: partitions}}, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := serve.New(l, []serve.Table{{Name: "events", Stream: "events", Partitions: partitions, Schema: sc, SchemaVer: 1}},
		serve.Options{LakeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	src := plan.Source{EventTime: "ts", Input: stream.Input{Stream: "events", Partitions: partitions, Columns: sc.Columns,
		Version: 1, EventCol: sc.ColumnIndex("ts"), Disorder: disorder.Microseconds()}}
	n := &node{log: l, gate: g, engine: e, schema: sc, streams: map[string]plan.Source{"events": src}}
	n.views = New(Options{Log: l, Meta: l, Tables: e,
		Streams:        func(name string) (plan.Source, bool) { s, ok := n.streams[name]; return s, ok },
		IsStream:       func(name string) bool { return name == "events" },
		CommitInterval: 5 * time.Millisecond, IdleTimeout: 40 * time.Millisecond, ChangelogLimit: testChangelogLimit,
	})
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if err := n.views.Start(ctx, files); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *node) close() {
	n.cancel()
	n.views.Stop()
	n.engine.Close()
	n.log.Close()
}

func (n *node) exec(t *testing.T, sql string) *serve.Result {
	t.Helper()
	st, err := parse.Parse(sql)
	if err == nil && Handles(st) {
		res, err := n.views.Exec(context.Background(), st)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return res
	}
	res, err := n.engine.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res
}

func rowsText(res *serve.Result) []string {
	var out []string
	for _, r := range res.Rows {
		var parts []string
		for _, v := range r {
			parts = append(parts, fmt.Sprint(v))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	slices.Sort(out)
	return out
}

// showView returns the view's SHOW VIEWS row as a map.
func (n *node) showView(t *testing.T, name string) map[string]any {
	t.Helper()
	res := n.exec(t, "SHOW VIEWS")
	for _, r := range res.Rows {
		if r[0] == name {
			m := map[string]any{}
			for i, c := range res.Columns {
				m[c] = r[i]
			}
			return m
		}
	}
	t.Fatalf("view %s not in SHOW VIEWS", name)
	return nil
}

// TestViewsMatchBatchSQL is the property test of the runtime: for random
// streams with disorder, late records and idle partitions, every closed
// window of a view equals the same aggregation run in batch by DuckDB over
// the raw table, without the records the view reports as late; and every
// reported late record belongs to a window the watermark has closed.
func TestViewsMatchBatchSQL(t *testing.T) {
	forSeeds(t, checkAgainstBatch, []uint64{1, 2, 3})
}

// forSeeds runs check for the fixed seeds and a new one, or only for
// $WEIR_SEED when it is set; each run logs its seed.
func forSeeds(t *testing.T, check func(*testing.T, uint64), fixed []uint64) {
	seeds := append(fixed, uint64(time.Now().UnixNano()))
	if s := os.Getenv("WEIR_SEED"); s != "" {
		x, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WEIR_SEED=%q is not a number", s)
		}
		seeds = []uint64{x}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d (rerun with WEIR_SEED=%d)", seed, seed)
			check(t, seed)
		})
	}
}

func checkAgainstBatch(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	partitions := 1 + rng.IntN(4)
	disorder := time.Duration(1+rng.IntN(8)) * time.Second
	size := []int{5, 10, 30}[rng.IntN(3)]
	lateness := []int{0, 0, 2}[rng.IntN(3)]
	n := newNode(t, t.TempDir(), partitions, disorder)
	defer n.close()
	n.exec(t, fmt.Sprintf(`CREATE MATERIALIZED VIEW v AS
		SELECT user_id, window_start, window_end, count(*) AS n, sum(status) AS s, min(seq) AS lo, max(seq) AS hi
		FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '%d' SECOND))
		GROUP BY user_id, window_start, window_end
		ALLOWED LATENESS INTERVAL '%d' SECOND`, size, lateness))

	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	users := 3 + rng.IntN(20)
	seq, clock := 0, int64(0)
	total := 0
	for b := range 30 + rng.IntN(30) {
		var body strings.Builder
		// Some batches hold a few users only, so some partitions idle.
		narrow := rng.IntN(4) == 0
		for range 1 + rng.IntN(120) {
			clock += int64(rng.IntN(400))
			ts := clock - int64(rng.IntN(int(disorder.Milliseconds())))
			if rng.IntN(40) == 0 {
				ts = clock - int64(rng.IntN(5*size*1000)) // often late
			}
			u := rng.IntN(users)
			if narrow {
				u %= 2
			}
			fmt.Fprintf(&body, `{"ts":%d,"seq":%d,"user_id":"u%d","status":%d}`+"\n", base+ts, seq, u, 200+rng.IntN(300))
			seq++
			total++
		}
		res, err := n.gate.Ingest(context.Background(), gate.Request{Stream: "events", Format: gate.NDJSON, Body: []byte(body.String())})
		if err != nil || res.Quarantined != 0 {
			t.Fatalf("batch %d: %v %+v", b, err, res)
		}
		if rng.IntN(6) == 0 {
			time.Sleep(time.Duration(rng.IntN(80)) * time.Millisecond) // idle spells
		}
	}
	// Wait until the view has read everything and every partition is idle:
	// the watermark is then the newest event time − disorder.
	maxTs := n.exec(t, "SELECT epoch_ms(max(ts)) FROM events").Rows[0][0].(int64)
	wantWm := time.UnixMilli(maxTs - disorder.Milliseconds()).UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(20 * time.Second)
	var st map[string]any
	for {
		st = n.showView(t, "v")
		if st["rows_in"] == int64(total) && st["watermark"] == wantWm {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("view did not catch up: %v (want rows_in %d, watermark %s)", st, total, wantWm)
		}
		time.Sleep(10 * time.Millisecond)
	}
	wmMs := maxTs - disorder.Milliseconds()
	sizeMs, latMs := int64(size*1000), int64(lateness*1000)

	got := rowsText(n.exec(t, `SELECT user_id, epoch_ms(window_start), epoch_ms(window_end), n, s, lo, hi FROM v`))
	want := rowsText(n.exec(t, fmt.Sprintf(`
		SELECT user_id, epoch_ms(ts) // %[1]d * %[1]d AS ws, epoch_ms(ts) // %[1]d * %[1]d + %[1]d AS we,
		       count(*), sum(status), min(seq), max(seq)
		FROM events WHERE seq NOT IN (SELECT seq FROM v__late)
		GROUP BY 1, 2, 3 HAVING we + %[2]d <= %[3]d`, sizeMs, latMs, wmMs)))
	if !slices.Equal(got, want) {
		t.Fatalf("view rows differ from the batch oracle (partitions %d, disorder %s, size %ds, lateness %ds):\n%s",
			partitions, disorder, size, lateness, firstDiff(want, got))
	}
	// Every late record's window was closed by the final watermark.
	bad := n.exec(t, fmt.Sprintf(`SELECT count(*) FROM v__late WHERE epoch_ms(ts) // %[1]d * %[1]d + %[1]d + %[2]d > %[3]d`, sizeMs, latMs, wmMs))
	if c := bad.Rows[0][0].(int64); c != 0 {
		t.Fatalf("%d records in v__late belong to windows that are still open", c)
	}
	// Accounting: windows emitted + still open + late = every record.
	emitted := n.exec(t, "SELECT coalesce(sum(n), 0) FROM v").Rows[0][0]
	late := n.exec(t, "SELECT count(*) FROM v__late").Rows[0][0].(int64)
	open := n.exec(t, fmt.Sprintf(`SELECT count(*) FROM events WHERE seq NOT IN (SELECT seq FROM v__late) AND epoch_ms(ts) // %[1]d * %[1]d + %[1]d + %[2]d > %[3]d`, sizeMs, latMs, wmMs)).Rows[0][0].(int64)
	if fmt.Sprint(emitted) != fmt.Sprint(int64(total)-late-open) {
		t.Fatalf("emitted %v + open %d + late %d != %d records", emitted, open, late, total)
	}
	if st["late_kept"] != late {
		t.Fatalf("SHOW VIEWS late_kept %v, v__late has %d rows", st["late_kept"], late)
	}
	t.Logf("partitions %d, disorder %s, window %ds, lateness %ds: %d events, %d windows emitted, %d late, %d in open windows",
		partitions, disorder, size, lateness, total, len(got), late, open)
}

func firstDiff(want, got []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "want %d rows, got %d\n", len(want), len(got))
	w := map[string]bool{}
	for _, x := range want {
		w[x] = true
	}
	g := map[string]bool{}
	for _, x := range got {
		g[x] = true
	}
	shown := 0
	for _, x := range want {
		if !g[x] && shown < 5 {
			fmt.Fprintf(&b, "  missing %s\n", x)
			shown++
		}
	}
	shown = 0
	for _, x := range got {
		if !w[x] && shown < 5 {
			fmt.Fprintf(&b, "  extra   %s\n", x)
			shown++
		}
	}
	return b.String()
}

// TestWindowKindsMatchBatchSQL: HOP, CUMULATE and SESSION views over a
// random stream (disorder within the bound, several partitions) equal
// DuckDB's batch answers for every window the final watermark closed.
func TestWindowKindsMatchBatchSQL(t *testing.T) {
	forSeeds(t, checkWindowKinds, []uint64{11, 12})
}

func checkWindowKinds(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 9))
	partitions := 1 + rng.IntN(4)
	disorder := time.Duration(1+rng.IntN(5)) * time.Second
	n := newNode(t, t.TempDir(), partitions, disorder)
	defer n.close()
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	users, total, clock := 2+rng.IntN(10), 0, int64(0)
	var body strings.Builder
	for seq := range 1500 + rng.IntN(1500) {
		clock += int64(rng.IntN(300))
		ts := clock - int64(rng.IntN(int(disorder.Milliseconds())))
		// Sessions need gaps: now and then a user pauses.
		if rng.IntN(50) == 0 {
			clock += int64(rng.IntN(30_000))
		}
		fmt.Fprintf(&body, `{"ts":%d,"seq":%d,"user_id":"u%d","status":%d}`+"\n", base+ts, seq, rng.IntN(users), 200+rng.IntN(300))
		total++
	}
	if res, err := n.gate.Ingest(context.Background(), gate.Request{Stream: "events", Format: gate.NDJSON, Body: []byte(body.String())}); err != nil || res.Quarantined != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	slide := []int{2, 5}[rng.IntN(2)]
	size := slide * (2 + rng.IntN(3))
	gap := 3 + rng.IntN(10)
	n.exec(t, fmt.Sprintf(`CREATE MATERIALIZED VIEW hop AS SELECT user_id, window_start, window_end, count(*) AS n, sum(status) AS s
		FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '%d' SECOND, INTERVAL '%d' SECOND)) GROUP BY ALL`, slide, size))
	n.exec(t, fmt.Sprintf(`CREATE MATERIALIZED VIEW cum AS SELECT user_id, window_start, window_end, count(*) AS n, max(seq) AS hi
		FROM TABLE(CUMULATE(TABLE events, DESCRIPTOR(ts), INTERVAL '%d' SECOND, INTERVAL '%d' SECOND)) GROUP BY ALL`, slide, size))
	n.exec(t, fmt.Sprintf(`CREATE MATERIALIZED VIEW sess AS SELECT user_id, window_start, window_end, count(*) AS n, sum(seq) AS s
		FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '%d' SECOND)) GROUP BY ALL`, gap))
	maxTs := n.exec(t, "SELECT epoch_ms(max(ts)) FROM events").Rows[0][0].(int64)
	wm := maxTs - disorder.Milliseconds()
	wantWm := time.UnixMilli(wm).UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(20 * time.Second)
	for _, v := range []string{"hop", "cum", "sess"} {
		for {
			st := n.showView(t, v)
			if st["rows_in"] == int64(total) && st["watermark"] == wantWm {
				if st["late_kept"] != int64(0) {
					t.Fatalf("%s: %v late records in a stream without late records", v, st["late_kept"])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("view %s did not catch up: %v (want rows_in %d, watermark %s)", v, st, total, wantWm)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	sl, sz, gp := int64(slide*1000), int64(size*1000), int64(gap*1000)
	compare := func(name, view, oracle string) {
		t.Helper()
		got, want := rowsText(n.exec(t, view)), rowsText(n.exec(t, oracle))
		if !slices.Equal(got, want) {
			t.Fatalf("%s differs from the batch oracle (partitions %d, disorder %s, slide %ds, size %ds, gap %ds):\n%s",
				name, partitions, disorder, slide, size, gap, firstDiff(want, got))
		}
		if len(got) == 0 {
			t.Fatalf("%s: no closed windows to compare", name)
		}
	}
	compare("HOP", `SELECT user_id, epoch_ms(window_start), epoch_ms(window_end), n, s FROM hop`, fmt.Sprintf(`
		SELECT user_id, ws, ws + %[2]d AS we, count(*), sum(status) FROM (
			SELECT user_id, status, epoch_ms(ts) AS t, epoch_ms(ts) // %[1]d * %[1]d - k * %[1]d AS ws
			FROM events, range(0, %[2]d // %[1]d) AS r(k))
		WHERE ws <= t AND t < ws + %[2]d GROUP BY 1, 2, 3 HAVING we <= %[3]d`, sl, sz, wm))
	compare("CUMULATE", `SELECT user_id, epoch_ms(window_start), epoch_ms(window_end), n, hi FROM cum`, fmt.Sprintf(`
		SELECT user_id, b, b + j * %[1]d AS we, count(*), max(seq) FROM (
			SELECT user_id, seq, j, epoch_ms(ts) AS t, epoch_ms(ts) // %[2]d * %[2]d AS b
			FROM events, range(1, %[2]d // %[1]d + 1) AS r(j))
		WHERE b + j * %[1]d > t GROUP BY 1, 2, 3 HAVING we <= %[3]d`, sl, sz, wm))
	compare("SESSION", `SELECT user_id, epoch_ms(window_start), epoch_ms(window_end), n, s FROM sess`, fmt.Sprintf(`
		WITH o AS (SELECT user_id, seq, epoch_ms(ts) AS t FROM events),
		g AS (SELECT *, CASE WHEN t - lag(t) OVER (PARTITION BY user_id ORDER BY t, seq) < %[1]d THEN 0 ELSE 1 END AS brk FROM o),
		s AS (SELECT *, sum(brk) OVER (PARTITION BY user_id ORDER BY t, seq ROWS UNBOUNDED PRECEDING) AS sid FROM g)
		SELECT user_id, min(t), max(t) + %[1]d AS we, count(*), sum(seq) FROM s GROUP BY user_id, sid HAVING we <= %[2]d`, gp, wm))
}
