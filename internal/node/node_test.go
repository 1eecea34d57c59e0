package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/config"
)

const testSchema = `{"type":"object","required":["ts","seq","user_id"],"additionalProperties":false,
 "properties":{"ts":{"type":["string","integer"],"format":"date-time"},"seq":{"type":"integer"},"user_id":{"type":"string"}}}`

// writePipeline writes weir.yaml, the events schema and views/*.sql (file
// name → SQL) into dir/pipeline and returns that directory.
func writePipeline(t testing.TB, dir, yaml string, views map[string]string) string {
	t.Helper()
	pipe := filepath.Join(dir, "pipeline")
	files := map[string]string{"weir.yaml": yaml, "schemas/events.json": testSchema}
	for name, body := range views {
		files["views/"+name] = body
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(pipe, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pipe, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return pipe
}

// testConfig loads the pipeline of writePipeline into a node config
// without sources, data in dir/data.
func testConfig(t testing.TB, dir, yaml string, views map[string]string) Config {
	t.Helper()
	p, err := config.Load(writePipeline(t, dir, yaml, views))
	if err != nil {
		t.Fatal(err)
	}
	return Config{Pipeline: p, DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", NoSources: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// startNode starts a node on a pipeline of writePipeline.
func startNode(t *testing.T, yaml string, views map[string]string) *Node {
	t.Helper()
	return startWith(t, testConfig(t, t.TempDir(), yaml, views))
}

// startWith starts a node and stops it when the test ends.
func startWith(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}

// eventsYAML declares the stream "events" of the test schema.
func eventsYAML(partitions int) string {
	return fmt.Sprintf(`streams:
  events:
    schema: schemas/events.json
    key: [user_id]
    event_time: {column: ts, max_disorder: 1s}
    partitions: %d
`, partitions)
}

func post(t *testing.T, n *Node, body []byte) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post("http://"+n.Addr()+"/v1/streams/events/events", "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func events(from, n int) []byte {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, `{"ts":%d,"seq":%d,"user_id":"u%d"}`+"\n", 1795000000000+int64(i), i, i%50)
	}
	return b.Bytes()
}

// TestBackpressure: a lake sink that commits only every second is a slow
// consumer; with max_backlog 3000 the gate answers 429 with Retry-After
// once 3000 records wait, stores nothing of the refused request, and
// accepts again when the sink has caught up. Every accepted record ends up
// in the table exactly once.
func TestBackpressure(t *testing.T) {
	n := startNode(t, `streams:
  events:
    schema: schemas/events.json
    key: [user_id]
    event_time: {column: ts, max_disorder: 1s}
    partitions: 2
    max_backlog: 3000
sinks:
  lake:
    type: lake
    stream: events
    roll: {max_rows: 1000000, interval: 1s}
`, nil)
	const batches, per = 8, 1000
	refused := 0
	for i := 0; i < batches; {
		code, hdr, body := post(t, n, events(i*per, per))
		switch code {
		case 200:
			i++
		case 429:
			refused++
			if hdr.Get("Retry-After") == "" || !bytes.Contains(body, []byte(`"backlogged"`)) {
				t.Fatalf("429 without Retry-After or the backlogged code: %v %s", hdr, body)
			}
			time.Sleep(20 * time.Millisecond)
		default:
			t.Fatalf("batch %d: %d %s", i, code, body)
		}

		if refused > 2000 {
			t.Fatal("the backlog never drained")
		}
	}
	if refused == 0 {
		t.Fatalf("%d records against a slow sink with max_backlog 3000 were never refused", batches*per)
	}
	res, err := n.Query(context.Background(), "SELECT count(*), count(DISTINCT seq) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Rows[0]); got != fmt.Sprint([]any{int64(batches * per), int64(batches * per)}) {
		t.Fatalf("count, distinct seq = %s, want %d each", got, batches*per)
	}
	t.Logf("%d requests refused with 429 before the sink caught up", refused)
}

// TestViewDDL: views created, listed, explained and dropped through the
// query path, with errors that say what to do.
func TestViewDDL(t *testing.T) {
	n := startNode(t, `streams:
  events:
    schema: schemas/events.json
    key: [user_id]
    event_time: {column: ts, max_disorder: 1s}
    partitions: 2
`, map[string]string{"file.sql": `CREATE MATERIALIZED VIEW from_file AS SELECT user_id, count(*) AS n FROM events GROUP BY user_id;`})
	ctx := context.Background()
	q := func(sql string) ([][]any, error) {
		res, err := n.Query(ctx, sql)
		if err != nil {
			return nil, err
		}
		return res.Rows, nil
	}
	mustQ := func(sql string) [][]any {
		t.Helper()
		rows, err := q(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return rows
	}
	fails := func(sql, want string) {
		t.Helper()
		_, err := q(sql)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Fatalf("%s: error %v, want it to contain %q", sql, err, want)
		}
	}
	mustQ(`CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(seq) AS s FROM events`)
	fails(`CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n FROM events`, "exists already; use CREATE OR REPLACE")
	fails(`CREATE MATERIALIZED VIEW from_file AS SELECT count(*) AS n FROM events`, "is defined in views/file.sql")
	fails(`DROP MATERIALIZED VIEW from_file`, "remove it from that file")
	fails(`DROP MATERIALIZED VIEW nope`, "does not exist")
	fails(`CREATE MATERIALIZED VIEW bad AS SELECT nope FROM events`, `line 1, column 40: unknown column "nope"`)
	fails(`CREATE MATERIALIZED VIEW bad AS SELECT FROM`, "line 1")
	fails(`CREATE MATERIALIZED VIEW events AS SELECT count(*) AS n FROM events`, "is a stream already")
	if got := fmt.Sprint(mustQ(`CREATE MATERIALIZED VIEW IF NOT EXISTS total AS SELECT 1 AS x FROM events`)); got != "[[view total exists already; nothing changed]]" {
		t.Fatalf("CREATE ... IF NOT EXISTS of an existing view: %s", got)
	}
	if code, _, body := post(t, n, events(0, 500)); code != 200 {
		t.Fatalf("ingest: %d %s", code, body)
	}
	want := fmt.Sprint([][]any{{int64(500), int64(499 * 500 / 2)}})
	deadline := time.Now().Add(10 * time.Second)
	for fmt.Sprint(mustQ(`SELECT n, s FROM total`)) != want {
		if time.Now().After(deadline) {
			t.Fatalf("view total = %v, want %s", mustQ(`SELECT n, s FROM total`), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for fmt.Sprint(mustQ(`SELECT sum(n) FROM from_file`)) != "[[500]]" {
		if time.Now().After(deadline) {
			t.Fatalf("view from_file sum(n) = %v, want 500", mustQ(`SELECT sum(n) FROM from_file`))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A view joins with its stream like any table.
	if got := fmt.Sprint(mustQ(`SELECT count(*) FROM events e JOIN from_file f USING (user_id)`)); got != "[[500]]" {
		t.Fatalf("join of a view and its stream: %s", got)
	}
	names := fmt.Sprint(mustQ(`SHOW VIEWS`))
	if !bytes.Contains([]byte(names), []byte("from_file")) || !bytes.Contains([]byte(names), []byte("total")) {
		t.Fatalf("SHOW VIEWS: %s", names)
	}
	plan := fmt.Sprint(mustQ(`EXPLAIN CREATE MATERIALIZED VIEW x AS SELECT user_id, window_start, window_end, count(*) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY ALL`))
	if !bytes.Contains([]byte(plan), []byte("window: TUMBLE size 1m0s on ts")) || !bytes.Contains([]byte(plan), []byte("aggregate: group by user_id, window_start, window_end")) {
		t.Fatalf("EXPLAIN: %s", plan)
	}
	mustQ(`CREATE OR REPLACE MATERIALIZED VIEW total AS SELECT count(*) AS n, max(seq) AS s FROM events`)
	for fmt.Sprint(mustQ(`SELECT n, s FROM total`)) != "[[500 499]]" {
		if time.Now().After(deadline) {
			t.Fatalf("replaced view total = %v, want [[500 499]]", mustQ(`SELECT n, s FROM total`))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The same through HTTP: DDL answers 200 with a status row; a bad
	// statement 400 with the position.
	for _, c := range []struct {
		sql  string
		code int
		want string
	}{
		{`CREATE MATERIALIZED VIEW by_http AS SELECT count(*) AS n FROM events`, 200, `"created materialized view by_http"`},
		{`CREATE MATERIALIZED VIEW by_http2 AS SELECT nope FROM events`, 400, `line 1, column 45: unknown column`},
		{`DROP MATERIALIZED VIEW by_http`, 200, `"dropped materialized view by_http"`},
		{`CREATE MATERIALIZED VIEW x AS SELECT FROM`, 400, `"bad_query"`},
	} {
		b, _ := json.Marshal(map[string]string{"sql": c.sql})
		resp, err := http.Post("http://"+n.Addr()+"/v1/query", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !bytes.Contains(body, []byte(c.want)) {
			t.Fatalf("POST /v1/query %s: %d %s, want %d and %s", c.sql, resp.StatusCode, body, c.code, c.want)
		}
	}
	mustQ(`DROP MATERIALIZED VIEW total`)
	fails(`SELECT * FROM total`, "total")
	mustQ(`DROP MATERIALIZED VIEW IF EXISTS total`)
	b, _ := json.Marshal(mustQ(`SHOW VIEWS`))
	if bytes.Contains(b, []byte(`"total"`)) {
		t.Fatalf("dropped view still listed: %s", b)
	}
}

// TestViewLakeSink: an append-only view written to the lake is an Iceberg
// table of its rows, and the view's SQL table reads those files plus the
// rows after them — the same answer before and after a restart.
func TestViewLakeSink(t *testing.T) {
	const yaml = `streams:
  events:
    schema: schemas/events.json
    key: [user_id]
    event_time: {column: ts, max_disorder: 1s}
    partitions: 2
sinks:
  windows:
    type: lake
    view: per_10s
    roll: {max_rows: 1000000, interval: 200ms}
`
	views := map[string]string{"v.sql": `CREATE MATERIALIZED VIEW per_10s AS
SELECT window_start, window_end, count(*) AS n, sum(seq) AS s
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end;`}
	n := startNode(t, yaml, views)
	// 2000 events, 50 ms apart: 100 s of event time, 10 windows; the
	// watermark (newest - 1 s) closes 9 of them.
	var body bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&body, `{"ts":%d,"seq":%d,"user_id":"u%d"}`+"\n", 1795000000000+int64(i)*50, i, i%7)
	}
	if code, _, b := post(t, n, body.Bytes()); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	want := "[[1800 1619100 9]]" // seq 0..1799 in the 9 closed windows
	q := func() string {
		res, err := n.Query(context.Background(), "SELECT sum(n), sum(s), count(*) FROM per_10s")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.Rows)
	}
	deadline := time.Now().Add(15 * time.Second)
	for q() != want {
		if time.Now().After(deadline) {
			t.Fatalf("per_10s: %s, want %s", q(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The rows reach the lake files.
	lake := filepath.Join(n.cfg.DataDir, "lake", "weir", "per_10s", "data")
	for {
		res, err := n.Query(context.Background(), "SELECT count(*) FROM read_parquet('"+lake+"/*/*.parquet')")
		if err == nil && fmt.Sprint(res.Rows) == "[[9]]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lake files of per_10s: %v %v, want 9 rows", res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The rows in the lake leave the view's output stream.
	lw := n.writers[len(n.writers)-1].w
	for lw.State().Offsets[0] < 9 {
		if time.Now().After(deadline) {
			t.Fatalf("the lake sink of per_10s committed up to %v, want 9", lw.State().Offsets)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.retainViewOutputs()
	// Only the last batch stays (the log reads its end offset from it).
	if batches, err := n.log.Read("view/per_10s", 0, 0, 1<<20); err != nil || len(batches) != 1 || batches[0].End() != 9 {
		t.Fatalf("after retention the view's output stream holds %d batches, want only the last one (ending at 9): %v", len(batches), err)
	}
	cfg := n.cfg
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n2, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Shutdown(context.Background())
	res, err := n2.Query(context.Background(), "SELECT sum(n), sum(s), count(*) FROM per_10s")
	if err != nil || fmt.Sprint(res.Rows) != want {
		t.Fatalf("after restart: %v %v, want %s", res, err, want)
	}
}

// TestViewLakeSinkRefusesUpserts: a changelog view cannot be a lake table.
func TestViewLakeSinkRefusesUpserts(t *testing.T) {
	const stream = "streams:\n  events:\n    schema: schemas/events.json\n    key: [user_id]\n    event_time: {column: ts}\n"
	dir := t.TempDir()
	views := map[string]string{"v.sql": "CREATE MATERIALIZED VIEW totals AS SELECT user_id, count(*) AS n FROM events GROUP BY user_id;"}
	_, err := Start(testConfig(t, dir, stream+"sinks:\n  l:\n    type: lake\n    view: totals\n", views))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`view "totals" is a changelog of upserts`)) {
		t.Fatalf("error %v", err)
	}
	pipe := writePipeline(t, dir, stream+"sinks:\n  l:\n    type: lake\n    view: nope\n", views)
	if _, err := config.Load(pipe); err == nil || !bytes.Contains([]byte(err.Error()), []byte(`weir.yaml:7: sinks.l.view: no view "nope" in views/*.sql (views there: totals)`)) {
		t.Fatalf("config error %v", err)
	}
}

// TestMemoryBudget: over the heap budget, ingest answers 429 and stores
// nothing; back under it, ingest resumes.
func TestMemoryBudget(t *testing.T) {
	n := startNode(t, `streams:
  events:
    schema: schemas/events.json
    key: [user_id]
    event_time: {column: ts}
`, nil)
	n.SetMemoryBudget(1 << 20) // far below any live heap
	deadline := time.Now().Add(5 * time.Second)
	for !n.overBudget.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the heap was never seen over a 1-byte budget")
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, hdr, body := post(t, n, events(0, 10))
	if code != 429 || hdr.Get("Retry-After") == "" || !bytes.Contains(body, []byte("memory budget")) {
		t.Fatalf("over budget: %d %v %s", code, hdr, body)
	}
	n.SetMemoryBudget(1 << 40)
	for n.overBudget.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the budget was raised but ingest stayed refused")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _, body := post(t, n, events(0, 10)); code != 200 {
		t.Fatalf("under budget: %d %s", code, body)
	}
	res, err := n.Query(context.Background(), "SELECT count(*) FROM events")
	if err != nil || fmt.Sprint(res.Rows) != "[[10]]" {
		t.Fatalf("count %v %v: the refused request must have stored nothing", res, err)
	}
}

// TestViewLakeSinkRebuilt: when a view's SQL changes, the view is rebuilt
// from the log and its lake table is rewritten: no rows of the old
// definition remain.
func TestViewLakeSinkRebuilt(t *testing.T) {
	const yaml = `streams:
  events:
    schema: schemas/events.json
    key: [user_id]
    event_time: {column: ts, max_disorder: 1s}
    partitions: 2
sinks:
  windows:
    type: lake
    view: w
    roll: {max_rows: 1000000, interval: 200ms}
`
	view := func(size int) map[string]string {
		return map[string]string{"v.sql": fmt.Sprintf(`CREATE MATERIALIZED VIEW w AS
SELECT window_start, window_end, count(*) AS n FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '%d' SECOND)) GROUP BY window_start, window_end;`, size)}
	}
	n := startNode(t, yaml, view(10))
	var body bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&body, `{"ts":%d,"seq":%d,"user_id":"u%d"}`+"\n", 1795000000000+int64(i)*50, i, i%7)
	}
	if code, _, b := post(t, n, body.Bytes()); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	wait := func(n *Node, want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			res, err := n.Query(context.Background(), "SELECT count(*), sum(n) FROM w")
			if err == nil && fmt.Sprint(res.Rows) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("view w: %v %v, want %s", res, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait(n, "[[9 1800]]")              // 10 s windows, 9 closed
	time.Sleep(400 * time.Millisecond) // let the lake commit them
	cfg := n.cfg
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The same data directory, the view now over 20 s windows.
	pipe := cfg.Pipeline.Dir
	if err := os.WriteFile(filepath.Join(pipe, "views", "v.sql"), []byte(view(20)["v.sql"]), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Load(pipe)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pipeline = p
	n2, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Shutdown(context.Background())
	wait(n2, "[[4 1600]]") // 20 s windows: 4 closed (the watermark is at 99 s)
	lake := filepath.Join(cfg.DataDir, "lake", "weir", "w", "data")
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := n2.Query(context.Background(), "SELECT count(*), sum(n) FROM read_parquet('"+lake+"/*/*.parquet')")
		if err == nil && fmt.Sprint(res.Rows) == "[[4 1600]]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lake table of the rebuilt view: %v %v, want only the 4 new rows", res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestContinuousViewChangelog: a continuous aggregate rewrites its rows
// once its changelog is long, and the superseded rows are retained away;
// the view's answer is the same before and after, and after a restart.
func TestContinuousViewChangelog(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), "streams:\n  events:\n    schema: schemas/events.json\n    key: [user_id]\n    event_time: {column: ts}\n",
		map[string]string{"v.sql": "CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n, sum(seq) AS s FROM events GROUP BY user_id;"})
	cfg.ViewChangelogLimit = 30
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 50 users, one commit per batch or so: post until the changelog has
	// passed its limit and been rewritten (a slow machine needs more).
	sent := 0
	for ; sent < 200 && n.views.OutputFloors()["view/per_user"] == 0; sent++ {
		if code, _, b := post(t, n, events(sent*70, 70)); code != 200 {
			t.Fatalf("ingest: %d %s", code, b)
		}
		time.Sleep(120 * time.Millisecond)
	}
	if n.views.OutputFloors()["view/per_user"] == 0 {
		t.Fatalf("the changelog was never rewritten after %d batches", sent)
	}
	total := sent * 70
	want := fmt.Sprint([][]any{{int64(50), int64(total), int64(total * (total - 1) / 2)}})
	q := func(n *Node) string {
		res, err := n.Query(context.Background(), "SELECT count(*), sum(n), sum(s) FROM per_user")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.Rows)
	}
	deadline := time.Now().Add(10 * time.Second)
	for q(n) != want {
		if time.Now().After(deadline) {
			t.Fatalf("per_user: %s, want %s", q(n), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.retainViewOutputs()
	batches, err := n.log.Read("view/per_user", 0, 0, 1<<20)
	if err != nil || len(batches) == 0 || batches[0].BaseOffset == 0 {
		t.Fatalf("superseded changelog rows were not retained away: first batch %v (%v)", batches, err)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n2, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Shutdown(context.Background())
	if got := q(n2); got != want {
		t.Fatalf("after retention and a restart: %s, want %s", got, want)
	}
}

// TestViewOutputsFollowInputRetention: the output of a view that is not a
// continuous aggregate, and its late records, keep what the input stream
// keeps, and the view's SQL table shows what is kept.
func TestViewOutputsFollowInputRetention(t *testing.T) {
	n := startNode(t, "streams:\n  events:\n    schema: schemas/events.json\n    key: [user_id]\n    event_time: {column: ts}\n    retention: {max_age: 1ms}\n",
		map[string]string{"v.sql": "CREATE MATERIALIZED VIEW evens AS SELECT seq, user_id FROM events WHERE seq % 2 = 0;"})
	q := func(sql string) string {
		t.Helper()
		res, err := n.Query(context.Background(), sql)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.Rows)
	}
	for b := range 5 {
		if code, _, body := post(t, n, events(b*100, 100)); code != 200 {
			t.Fatalf("ingest: %d %s", code, body)
		}
		// One commit of the view per batch: its output has five batches.
		deadline := time.Now().Add(10 * time.Second)
		for want := fmt.Sprint([][]any{{int64((b + 1) * 50)}}); q("SELECT count(*) FROM evens") != want; {
			if time.Now().After(deadline) {
				t.Fatalf("evens: %s after batch %d", q("SELECT count(*) FROM evens"), b)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got := n.views.Retained(); got["view/evens"] != "events" || got["view/evens__late"] != "events" {
		t.Fatalf("Retained() = %v", got)
	}
	time.Sleep(5 * time.Millisecond) // every batch is older than max_age
	n.retainViewOutputs()
	batches, err := n.log.Read("view/evens", 0, 0, 1<<20)
	if err != nil || len(batches) == 0 {
		t.Fatalf("view output: %v %v", batches, err)
	}
	first := batches[0].BaseOffset
	if first == 0 {
		t.Fatal("the view's output kept every row past the input's retention")
	}
	// The last batch stays (the log reads its end offset from it); the
	// table shows exactly what the log keeps.
	if got, want := q("SELECT count(*) FROM evens"), fmt.Sprint([][]any{{250 - first}}); got != want {
		t.Fatalf("after retention: %s, want %s", got, want)
	}
}

// TestDataDirErrors: a data directory another node uses, and one whose log
// cannot be opened, fail with a message that says which and what to do.
func TestDataDirErrors(t *testing.T) {
	dir := t.TempDir()
	yaml := "streams:\n  events:\n    schema: schemas/events.json\n    key: [user_id]\n    event_time: {column: ts}\n"
	cfg := testConfig(t, dir, yaml, nil)
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	if _, err := Start(cfg); err == nil || !strings.Contains(err.Error(), "another weir process is using data directory") {
		t.Fatalf("second node on the same data directory: %v", err)
	}
	broken := testConfig(t, t.TempDir(), yaml, nil)
	if err := os.MkdirAll(broken.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logDir(broken.DataDir), []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Start(broken)
	if err == nil || strings.Contains(err.Error(), "another weir process") || !strings.Contains(err.Error(), "is readable and writable and its disk is healthy") {
		t.Fatalf("a log that cannot be opened: %v", err)
	}
}

// TestOffline: a node opened Offline, as weir query --data-dir opens a
// stopped node's directory, answers queries over the log's tail but writes
// no lake file and sends nothing through a connector sink; the next normal
// start does both, for every record.
func TestOffline(t *testing.T) {
	var hooked atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hooked.Add(int64(bytes.Count(body, []byte(`"seq"`))))
	}))
	defer hook.Close()
	dir := t.TempDir()
	cfg := testConfig(t, dir, eventsYAML(2)+`sinks:
  lake:
    type: lake
    stream: events
    roll: {interval: 100ms}
  hook:
    type: webhook
    stream: events
    url: `+hook.URL+`
`, nil)
	lakeFiles := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(cfg.DataDir, "lake"), func(path string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".parquet") {
				n++
			}
			return nil
		})
		return n
	}
	count := func(n *Node) string {
		res, err := n.Query(context.Background(), "SELECT count(*), sum(seq) FROM events")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.Rows[0])
	}
	const total = 500
	want := fmt.Sprint([]any{int64(total), float64(total * (total - 1) / 2)})

	off := cfg
	off.Offline = true
	n, err := Start(off)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, body := post(t, n, events(0, total)); code != 200 {
		t.Fatalf("post: %d %s", code, body)
	}
	time.Sleep(500 * time.Millisecond) // five roll intervals: a running lake writer would have committed
	if got := count(n); got != want {
		t.Errorf("offline count, sum = %s, want %s", got, want)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f, h := lakeFiles(), hooked.Load(); f != 0 || h != 0 {
		t.Fatalf("offline node wrote %d lake files and sent %d records to the webhook, want none", f, h)
	}

	n = startWith(t, cfg)
	deadline := time.Now().Add(10 * time.Second)
	for (lakeFiles() == 0 || hooked.Load() < total) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if f, h := lakeFiles(), hooked.Load(); f == 0 || h != total {
		t.Fatalf("after a normal start: %d lake files, %d records sent to the webhook; want files and %d", f, h, total)
	}
	if got := count(n); got != want {
		t.Errorf("count, sum = %s, want %s", got, want)
	}
}

// TestViewConnectorSinkRebuilt: a connector sink of a view whose SQL
// changed sends every row of the rebuilt view. The rebuilt view's output
// used to start again at offset 0, below the position the sink had stored
// for the old rows, and those rows were never sent.
func TestViewConnectorSinkRebuilt(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{} // seq -> times received
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		for _, m := range regexp.MustCompile(`"seq":(\d+)`).FindAllSubmatch(body, -1) {
			got[string(m[1])]++
		}
	}))
	defer hook.Close()
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	yaml := eventsYAML(2) + `sinks:
  hook:
    type: webhook
    view: picked
    url: ` + hook.URL + `
`
	view := func(rem int) map[string]string {
		return map[string]string{"picked.sql": fmt.Sprintf("CREATE MATERIALIZED VIEW picked AS SELECT seq, user_id FROM events WHERE seq %% 2 = %d", rem)}
	}
	dir := t.TempDir()
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for received() < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	const total = 200
	n := startWith(t, testConfig(t, dir, yaml, view(0)))
	if code, _, body := post(t, n, events(0, total)); code != 200 {
		t.Fatalf("post: %d %s", code, body)
	}
	waitFor(total / 2)
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := received(); r != total/2 {
		t.Fatalf("first definition: %d rows sent, want %d", r, total/2)
	}

	// The same data directory, the view now picking the odd rows.
	startWith(t, testConfig(t, dir, yaml, view(1)))
	waitFor(total)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != total {
		t.Fatalf("after the rebuild %d distinct rows sent, want %d (the rebuilt view's rows skipped?)", len(got), total)
	}
	for seq, times := range got {
		if times != 1 {
			t.Errorf("seq %s sent %d times", seq, times)
		}
	}
}

// TestViewLakeSinkReadded: a view and its lake sink removed from the
// pipeline and put back find the old table: the view is computed anew, so
// the node refuses to append it there (it would repeat every row) and says
// what to remove.
func TestViewLakeSinkReadded(t *testing.T) {
	withView := eventsYAML(2) + `sinks:
  picked_lake:
    type: lake
    view: picked
    roll: {interval: 100ms}
`
	view := map[string]string{"picked.sql": "CREATE MATERIALIZED VIEW picked AS SELECT ts, seq FROM events WHERE seq % 2 = 0"}
	dir := t.TempDir()
	n := startWith(t, testConfig(t, dir, withView, view))
	if code, _, body := post(t, n, events(0, 100)); code != 200 {
		t.Fatalf("post: %d %s", code, body)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, "pipeline"))
	n = startWith(t, testConfig(t, dir, eventsYAML(2), nil))
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, "pipeline"))
	n, err := Start(testConfig(t, dir, withView, view))
	if err == nil {
		n.Shutdown(context.Background())
		t.Fatal("the re-added view's sink appended to the old table")
	}
	if !strings.Contains(err.Error(), `lake table "picked" holds the rows of an earlier view "picked", dropped since; remove `) {
		t.Fatalf("error %v, want the refusal naming the table to remove", err)
	}
}

// TestContentTypes: the media types the gate reads, with parameters and in
// any case, and a 415 that says what to send for the others.
func TestContentTypes(t *testing.T) {
	n := startNode(t, eventsYAML(1), nil)
	postCT := func(ct string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+n.Addr()+"/v1/streams/events/events", bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		ct   string
		body string
		code int
		want string
	}{
		{"application/x-ndjson", string(events(0, 2)), 200, `"accepted":2`},
		{"application/x-ndjson; charset=utf-8", string(events(2, 2)), 200, `"accepted":2`},
		{"Application/JSONL", string(events(4, 1)), 200, `"accepted":1`},
		{"application/json", `[{"ts":1795000000000,"seq":5,"user_id":"u"},{"ts":1795000000000,"seq":6,"user_id":"u"}]`, 200, `"accepted":2`},
		{" APPLICATION/JSON ;charset=UTF-8", `{"ts":1795000000000,"seq":7,"user_id":"u"}`, 200, `"accepted":1`},
		{"text/plain", string(events(8, 1)), 415, `"Content-Type text/plain is not supported"`},
		{"", string(events(8, 1)), 415, `Content-Type none is not supported`},
		{"application/x-ndjson-ish", string(events(8, 1)), 415, `send one event per line with Content-Type: application/x-ndjson`},
	} {
		code, body := postCT(c.ct, []byte(c.body))
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("Content-Type %q: %d %s, want %d with %s", c.ct, code, body, c.code, c.want)
		}
	}
	res, err := n.Query(context.Background(), "SELECT count(*) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Rows[0][0]); got != "8" {
		t.Errorf("count = %s, want the 8 accepted events", got)
	}
}

// TestSaveLoads: the clickstream example saved into a data directory
// loads from there (weir query --data-dir does), reference-table files
// included, and saves onto itself.
func TestSaveLoads(t *testing.T) {
	p, err := config.Load(filepath.Join("..", "..", "examples", "clickstream"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tables) == 0 || p.Tables[0].File == "" {
		t.Fatal("the example has no file table to check")
	}
	dir := filepath.Join(t.TempDir(), "pipeline")
	if err := p.Save(dir); err != nil {
		t.Fatal(err)
	}
	saved, err := config.Load(dir)
	if err != nil {
		t.Fatalf("the saved pipeline does not load: %v", err)
	}
	if err := saved.Save(dir); err != nil {
		t.Fatalf("saving onto itself: %v", err)
	}
	orig, _ := os.ReadFile(filepath.Join(p.Dir, p.Tables[0].File))
	copied, _ := os.ReadFile(filepath.Join(dir, p.Tables[0].File))
	if len(orig) == 0 || string(orig) != string(copied) {
		t.Fatalf("table file: %d bytes saved, %d in the pipeline", len(copied), len(orig))
	}
	if len(saved.Views) != len(p.Views) || len(saved.Streams) != len(p.Streams) {
		t.Fatalf("saved: %d views, %d streams; want %d, %d", len(saved.Views), len(saved.Streams), len(p.Views), len(p.Streams))
	}
}

// TestSaveLeavesOutsideFiles: a reference table outside the pipeline
// directory (../shared.csv) is not copied beside the data directory.
func TestSaveLeavesOutsideFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "shared.csv"), []byte("user_id,name\nu1,Ann\n"), 0o644)
	pipe := writePipeline(t, dir, eventsYAML(1)+`tables:
  users:
    file: ../shared.csv
    schema: schemas/users.json
`, nil)
	os.WriteFile(filepath.Join(pipe, "schemas", "users.json"), []byte(`{"type":"object","required":["user_id"],"properties":{"user_id":{"type":"string"},"name":{"type":"string"}}}`), 0o644)
	p, err := config.Load(pipe)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "data", "pipeline")
	if err := p.Save(out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(out), "shared.csv")); err == nil {
		t.Fatal("Save wrote the table file outside the saved pipeline directory")
	}
}
