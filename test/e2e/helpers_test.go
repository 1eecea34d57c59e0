package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// weirBin returns the binary under test: $WEIR_BIN (set by `make test`),
// or one built into the test's temp dir.
func weirBin(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("WEIR_BIN"); b != "" {
		return b
	}
	out := filepath.Join(t.TempDir(), "weir")
	cmd := exec.Command("go", "build", "-o", out, "../../cmd/weir")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cannot build weir: %v", err)
	}
	return out
}

const pipelineYAML = `streams:
  clicks:
    schema: schemas/clicks.json
    key: [user_id]
    event_time: {column: ts, max_disorder: 5s}
    partitions: 3
sinks:
  lake:
    type: lake
    stream: clicks
    roll: {max_rows: 4000, interval: 300ms}
`

const clicksSchema = `{"type":"object","required":["ts","seq","user_id","status"],"additionalProperties":false,
 "properties":{"ts":{"type":["string","integer"],"format":"date-time"},"seq":{"type":"integer"},
 "user_id":{"type":"string","minLength":1},"status":{"type":"integer","minimum":100,"maximum":599}}}`

// The views of the test pipeline: a continuous aggregate (an upsert
// changelog) and a windowed one (append-only rows of closed windows).
const viewsSQL = `CREATE MATERIALIZED VIEW per_user AS
SELECT user_id, count(*) AS n, sum(seq) AS s FROM clicks GROUP BY user_id;

CREATE MATERIALIZED VIEW per_window AS
SELECT window_start, window_end, count(*) AS n, sum(seq) AS s, sum(status) AS st
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;

-- The same two on parallel tasks (partial tasks, a repartition stream,
-- merge tasks): each task commits on its own, and the kills land between.
CREATE MATERIALIZED VIEW per_user_par AS
SELECT user_id, count(*) AS n, sum(seq) AS s FROM clicks GROUP BY user_id PARALLELISM 2;

CREATE MATERIALIZED VIEW per_window_par AS
SELECT window_start, window_end, count(*) AS n, sum(seq) AS s, sum(status) AS st
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end PARALLELISM 3;

-- A view over a view: it must hold per_window's rows exactly once too.
CREATE MATERIALIZED VIEW window_copy AS
SELECT window_end, n, s FROM per_window;

-- An interval join: each pair of one user's clicks at most 1 min apart,
-- exactly once through the kills (its buffers are restored, not replayed).
CREATE MATERIALIZED VIEW pairs AS
SELECT a.seq AS first, b.seq AS second FROM clicks a JOIN clicks b
  ON a.user_id = b.user_id AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL '1' MINUTE;
`

type proc struct {
	cmd  *exec.Cmd
	addr string
	pg   string // the Postgres protocol's host:port
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func start(t *testing.T, bin, pipeline, data, addr string, logf *os.File, env ...string) *proc {
	t.Helper()
	pg := freeAddr(t)
	cmd := exec.Command(bin, "run", "--data-dir", data, "--listen", addr, "--pg-listen", pg, pipeline)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: addr, pg: pg}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatalf("weir did not become ready on %s within 30 s; see %s", addr, logf.Name())
	return nil
}

// batch returns the NDJSON body of batch i: eventsPer events, of which the
// ones with seq%37 == 0 are invalid (status out of range).
func batch(i, eventsPer int) []byte {
	var b bytes.Buffer
	base := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC).UnixMilli()
	for j := range eventsPer {
		seq := i*eventsPer + j
		status := 200 + seq%5
		if seq%37 == 0 {
			status = 999
		}
		fmt.Fprintf(&b, `{"ts":%d,"seq":%d,"user_id":"u%d","status":%d}`+"\n", base+int64(seq)*250, seq, seq%101, status)
	}
	return b.Bytes()
}

type ingestResult struct {
	Accepted    int `json:"accepted"`
	Quarantined int `json:"quarantined"`
}

func query(t *testing.T, addr, sql string) []any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"sql": sql})
	resp, err := http.Post("http://"+addr+"/v1/query", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("query %q: %s: %s", sql, resp.Status, data)
	}
	var res struct{ Rows [][]any }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // exact integers, printed as written
	if err := dec.Decode(&res); err != nil {
		t.Fatal(err)
	}
	return res.Rows[0]
}

// runClient posts batches 0, 1, 2, … with Idempotency-Key batch-<i>,
// retrying each until it is answered (through crashes and restarts). It
// stops after maxBatches, or at the first batch boundary after stop closes,
// and returns how many batches were sent and the summed answers. It waits
// pause between batches.
func runClient(addr string, eventsPer, maxBatches int, pause time.Duration, stop <-chan struct{}) (sent, accepted, quarantined int, err error) {
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range maxBatches {
		select {
		case <-stop:
			return i, accepted, quarantined, nil
		case <-time.After(pause):
		}
		body := batch(i, eventsPer)
		for attempt := 0; ; attempt++ {
			if attempt > 2000 {
				return i, accepted, quarantined, fmt.Errorf("batch %d: no answer after %d attempts", i, attempt)
			}
			req, _ := http.NewRequest("POST", "http://"+addr+"/v1/streams/clicks/events", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-ndjson")
			req.Header.Set("Idempotency-Key", "batch-"+strconv.Itoa(i))
			resp, err := client.Do(req)
			if err != nil {
				time.Sleep(20 * time.Millisecond) // the node is down: retry the same request
				continue
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 503 || resp.StatusCode == 429 {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if resp.StatusCode != 200 {
				return i, accepted, quarantined, fmt.Errorf("batch %d: %s: %s", i, resp.Status, data)
			}
			var r ingestResult
			if err := json.Unmarshal(data, &r); err != nil {
				return i, accepted, quarantined, err
			}
			if r.Accepted+r.Quarantined != eventsPer {
				return i, accepted, quarantined, fmt.Errorf("batch %d: accepted %d + quarantined %d != %d", i, r.Accepted, r.Quarantined, eventsPer)
			}
			accepted += r.Accepted
			quarantined += r.Quarantined
			break
		}
	}
	return maxBatches, accepted, quarantined, nil
}

// clientResult is what runClient returned.
type clientResult struct {
	sent, accepted, quarantined int
	err                         error
}

// startClient runs runClient in a goroutine; its result arrives on the channel.
func startClient(addr string, eventsPer, maxBatches int, pause time.Duration, stop <-chan struct{}) <-chan clientResult {
	done := make(chan clientResult, 1)
	go func() {
		var r clientResult
		r.sent, r.accepted, r.quarantined, r.err = runClient(addr, eventsPer, maxBatches, pause, stop)
		done <- r
	}()
	return done
}

// testNode is a pipeline and data directory for one test, with the node
// running on them.
type testNode struct {
	t                   *testing.T
	bin, pipeline, data string
	addr                string
	logf                *os.File
	p                   *proc
}

// newTestNode writes the test pipeline and starts the node with env.
func newTestNode(t *testing.T, env ...string) *testNode {
	t.Helper()
	dir := t.TempDir()
	n := &testNode{t: t, bin: weirBin(t), pipeline: filepath.Join(dir, "pipeline"), data: filepath.Join(dir, "data"), addr: freeAddr(t)}
	must(t, os.MkdirAll(filepath.Join(n.pipeline, "schemas"), 0o755))
	must(t, os.WriteFile(filepath.Join(n.pipeline, "weir.yaml"), []byte(pipelineYAML), 0o644))
	must(t, os.WriteFile(filepath.Join(n.pipeline, "schemas", "clicks.json"), []byte(clicksSchema), 0o644))
	must(t, os.MkdirAll(filepath.Join(n.pipeline, "views"), 0o755))
	must(t, os.WriteFile(filepath.Join(n.pipeline, "views", "views.sql"), []byte(viewsSQL), 0o644))
	var err error
	n.logf, err = os.Create(filepath.Join(dir, "weir.log"))
	must(t, err)
	t.Cleanup(func() {
		if n.p != nil { // nil when a start failed
			n.p.cmd.Process.Kill()
			n.p.cmd.Wait()
		}
		n.logf.Close()
	})
	n.restart(env...)
	return n
}

// restart starts the node again (after it died or was stopped).
func (n *testNode) restart(env ...string) {
	n.t.Helper()
	n.p = nil
	n.p = start(n.t, n.bin, n.pipeline, n.data, n.addr, n.logf, env...)
}

// stop sends SIGTERM and requires a clean exit.
func (n *testNode) stop() {
	n.t.Helper()
	n.p.cmd.Process.Signal(syscall.SIGTERM)
	if err := n.p.cmd.Wait(); err != nil {
		n.t.Fatalf("weir did not exit 0 on SIGTERM: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// oracle is what batches 0..sent-1 must leave behind, computed from the
// batch definition, not from Weir.
type oracle struct {
	accepted, quarantined int
	sumSeq, sumStatus     int
	users                 int
	// The windowed view: the watermark once every partition is idle
	// (newest event time - max_disorder), and what the windows closed by
	// it hold.
	watermark                    time.Time
	closedN, closedSeq, closedSt int
}

func oracleFor(sent, eventsPer int) oracle {
	var o oracle
	base := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	users := map[int]bool{}
	last := -1
	for seq := range sent * eventsPer {
		if seq%37 == 0 {
			o.quarantined++
			continue
		}
		o.accepted++
		o.sumSeq += seq
		o.sumStatus += 200 + seq%5
		users[seq%101] = true
		last = seq
	}
	o.users = len(users)
	ts := func(seq int) time.Time { return base.Add(time.Duration(seq) * 250 * time.Millisecond) }
	o.watermark = ts(last).Add(-5 * time.Second)
	for seq := 0; seq <= last; seq++ {
		end := ts(seq).Truncate(10 * time.Second).Add(10 * time.Second)
		if seq%37 == 0 || end.After(o.watermark) {
			continue
		}
		o.closedN++
		o.closedSeq += seq
		o.closedSt += 200 + seq%5
	}
	return o
}

// checkViews waits until both views have read every accepted record and
// the windowed one's watermark has reached the oracle's, then compares
// their rows with the oracle.
func (n *testNode) checkViews(o oracle, what string) {
	n.t.Helper()
	wantWm := o.watermark.UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := showViews(n.t, n.addr)
		if st["per_user"].rowsIn == int64(o.accepted) && st["per_window"].rowsIn == int64(o.accepted) && st["per_window"].watermark == wantWm &&
			st["window_copy"].watermark == wantWm && fmt.Sprint(st["window_copy"].rowsIn) == fmt.Sprint(query(n.t, n.addr, "SELECT count(*) FROM per_window")[0]) &&
			st["pairs"].rowsIn == 2*int64(o.accepted) &&
			st["per_user_par"].rowsIn == int64(o.accepted) && st["per_window_par"].rowsIn == int64(o.accepted) && st["per_window_par"].watermark == wantWm {
			break
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: views did not catch up within 30 s: %+v (want rows_in %d, watermark %s)", what, st, o.accepted, wantWm)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := fmt.Sprint(query(n.t, n.addr, "SELECT count(*), sum(n), sum(s) FROM per_user"))
	if want := fmt.Sprint([]any{o.users, o.accepted, o.sumSeq}); got != want {
		n.t.Fatalf("%s: per_user count, sum(n), sum(s) = %s, oracle %s", what, got, want)
	}
	got = fmt.Sprint(query(n.t, n.addr, "SELECT sum(n), sum(s), sum(st), count(*) = count(DISTINCT window_start) FROM per_window"))
	if want := fmt.Sprint([]any{o.closedN, o.closedSeq, o.closedSt, true}); got != want {
		diff := query(n.t, n.addr, `SELECT string_agg(w || ':' || n || '/' || c, ' ') FROM (
			SELECT epoch_ms(v.window_start) AS w, v.n, (SELECT count(*) FROM clicks WHERE ts >= v.window_start AND ts < v.window_end) AS c
			FROM per_window v) WHERE n <> c`)
		n.t.Fatalf("%s: per_window sum(n), sum(s), sum(st), one row per window = %s, oracle %s; windows whose count differs from the table's (start:view/table): %v", what, got, want, diff)
	}
	got = fmt.Sprint(query(n.t, n.addr, "SELECT count(*), sum(n), sum(s) FROM per_user_par"))
	if want := fmt.Sprint([]any{o.users, o.accepted, o.sumSeq}); got != want {
		n.t.Fatalf("%s: per_user_par count, sum(n), sum(s) = %s, oracle %s", what, got, want)
	}
	got = fmt.Sprint(query(n.t, n.addr, "SELECT sum(n), sum(s), sum(st), count(*) = count(DISTINCT window_start) FROM per_window_par"))
	if want := fmt.Sprint([]any{o.closedN, o.closedSeq, o.closedSt, true}); got != want {
		n.t.Fatalf("%s: per_window_par sum(n), sum(s), sum(st), one row per window = %s, oracle %s", what, got, want)
	}
	got = fmt.Sprint(query(n.t, n.addr, "SELECT count(*), sum(n), sum(s) FROM window_copy"))
	if want := fmt.Sprint(query(n.t, n.addr, "SELECT count(*), sum(n), sum(s) FROM per_window")); got != want {
		n.t.Fatalf("%s: window_copy count, sum(n), sum(s) = %s, per_window's %s", what, got, want)
	}
	got = fmt.Sprint(query(n.t, n.addr, "SELECT count(*), sum(first), sum(second) FROM pairs"))
	want := fmt.Sprint(query(n.t, n.addr, `SELECT count(*), sum(a.seq), sum(b.seq) FROM clicks a JOIN clicks b
		ON a.user_id = b.user_id AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL 1 MINUTE`))
	if got != want || want == "[0 <nil> <nil>]" {
		n.t.Fatalf("%s: pairs count, sum(first), sum(second) = %s, the same join over the table %s", what, got, want)
	}
	if got := fmt.Sprint(query(n.t, n.addr, "SELECT count(*) FROM pairs__late")); got != "[0]" {
		n.t.Fatalf("%s: pairs__late holds %s records; the input has no late records", what, got)
	}
	for _, late := range []string{"per_window__late", "per_window_par__late"} {
		if got := fmt.Sprint(query(n.t, n.addr, "SELECT count(*) FROM "+late)); got != "[0]" {
			n.t.Fatalf("%s: %s holds %s records; the input has no late records", what, late, got)
		}
	}
}

type viewStat struct {
	rowsIn    int64
	watermark string
}

func showViews(t *testing.T, addr string) map[string]viewStat {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"sql": "SHOW VIEWS"})
	resp, err := http.Post("http://"+addr+"/v1/query", "application/json", bytes.NewReader(body))
	must(t, err)
	defer resp.Body.Close()
	var res struct {
		Columns []string
		Rows    [][]any
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	must(t, dec.Decode(&res))
	col := map[string]int{}
	for i, c := range res.Columns {
		col[c] = i
	}
	out := map[string]viewStat{}
	for _, r := range res.Rows {
		n, _ := r[col["rows_in"]].(json.Number).Int64()
		wm, _ := r[col["watermark"]].(string)
		out[r[col["name"]].(string)] = viewStat{rowsIn: n, watermark: wm}
	}
	return out
}

// checkTable compares the stream table with the oracle.
func (n *testNode) checkTable(o oracle, what string) {
	n.t.Helper()
	got := fmt.Sprint(query(n.t, n.addr, "SELECT count(*), count(DISTINCT seq), sum(seq), sum(status) FROM clicks"))
	want := fmt.Sprint([]any{o.accepted, o.accepted, o.sumSeq, o.sumStatus})
	if got != want {
		n.t.Fatalf("%s: count, distinct, sum(seq), sum(status) = %s, oracle %s", what, got, want)
	}
}

// checkLakeFiles compares every Parquet file under the table with the
// oracle: after a clean stop each accepted record is in exactly one
// committed file (files of unfinished attempts are removed on open).
func (n *testNode) checkLakeFiles(o oracle) {
	n.t.Helper()
	lake := filepath.Join(n.data, "lake", "weir", "clicks", "data")
	got := fmt.Sprint(query(n.t, n.addr, fmt.Sprintf("SELECT count(*), count(DISTINCT seq), sum(seq) FROM read_parquet('%s/*/*.parquet')", lake)))
	if want := fmt.Sprint([]any{o.accepted, o.accepted, o.sumSeq}); got != want {
		n.t.Fatalf("lake files: count, distinct, sum(seq) = %s, oracle %s", got, want)
	}
}
