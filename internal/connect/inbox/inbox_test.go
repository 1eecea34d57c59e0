package inbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/s3test"
	"github.com/weirhq/weir/internal/schema"
)

const ordersSchema = `{"type":"object","required":["order_id","customer_id","amount","ordered_at"],"additionalProperties":false,
 "properties":{"order_id":{"type":"string","minLength":1},"customer_id":{"type":"string"},
 "amount":{"type":"number","minimum":0},"currency":{"type":["string","null"],"enum":["EUR","USD","GBP",null]},
 "ordered_at":{"type":["string","integer"],"format":"date-time"}}}`

// rig is a real gate over a real Pebble log, and an inbox: a directory,
// or a bucket in a real MinIO.
type rig struct {
	t       testing.TB
	dir     string // the pipeline directory; the inbox is dir/inbox
	l       *pebblelog.Log
	g       *gate.Gate
	sc      *schema.Schema
	metrics *connect.Metrics
	s3      *s3test.Server // nil: the inbox is dir/inbox
	bucket  string
}

// eachStore runs a test with the inbox in a directory, then in a bucket
// of a real S3-compatible server.
func eachStore(t *testing.T, test func(t *testing.T, mk func(testing.TB) *rig)) {
	t.Run("dir", func(t *testing.T) { test(t, newRig) })
	t.Run("s3", func(t *testing.T) {
		srv := s3test.Start(t)
		n := 0
		test(t, func(tb testing.TB) *rig {
			r := newRig(tb)
			n++
			r.s3, r.bucket = srv, fmt.Sprintf("inbox-%d", n)
			srv.Bucket(r.bucket)
			return r
		})
	})
}

// values is the spec's defaults with the rig's inbox and some settings
// changed.
func (r *rig) values(over map[string]any) spec.Values {
	v := values(r.t, over)
	if r.s3 != nil {
		v["url"] = "s3://" + r.bucket + "/in/"
		v["endpoint"] = r.s3.Endpoint
	}
	return v
}

// put writes a file into the inbox as it is (no temporary name).
func (r *rig) put(name, content string) {
	r.t.Helper()
	if r.s3 != nil {
		if _, err := r.s3.Client.PutObject(context.Background(), r.bucket, "in/"+name, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
			r.t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(filepath.Join(r.dir, "inbox", name), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func newRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sc, err := schema.Compile([]byte(ordersSchema))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(l, l, []gate.Stream{{Name: "orders", Schema: sc, Version: 1, KeyCols: []int{sc.ColumnIndex("order_id")}, Partitions: 2}}, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "inbox"), 0o755)
	return &rig{t: t, dir: dir, l: l, g: g, sc: sc, metrics: connect.NewMetrics(prometheus.NewRegistry())}
}

// values is the spec's defaults with some settings changed.
func values(t testing.TB, over map[string]any) spec.Values {
	t.Helper()
	v := spec.Values{"poll": 10 * time.Millisecond}
	for _, f := range Spec.Fields {
		if f.Default == "" {
			continue
		}
		switch f.Kind {
		case spec.Duration:
			d, err := time.ParseDuration(f.Default)
			if err != nil {
				t.Fatal(err)
			}
			v[f.Name] = d
		case spec.Bool:
			v[f.Name] = f.Default == "true"
		case spec.Int:
			n, _ := strconv.ParseInt(f.Default, 10, 64)
			v[f.Name] = n
		default:
			v[f.Name] = f.Default
		}
	}
	v["poll"] = 10 * time.Millisecond
	for k, x := range over {
		v[k] = x
	}
	return v
}

// write drops a file into the inbox the right way: a temporary name, then
// a rename.
func (r *rig) write(name, content string) {
	r.t.Helper()
	if r.s3 != nil { // an upload appears whole when it completes
		r.put(name, content)
		return
	}
	tmp := filepath.Join(r.dir, "inbox", "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(r.dir, "inbox", name)); err != nil {
		r.t.Fatal(err)
	}
}

// pending lists the files still waiting in the inbox.
func (r *rig) pending() []string {
	var out []string
	if r.s3 != nil {
		for o := range r.s3.Client.ListObjects(context.Background(), r.bucket, minio.ListObjectsOptions{Prefix: "in/"}) {
			if name := strings.TrimPrefix(o.Key, "in/"); o.Err == nil && !strings.Contains(name, "/") && !ignored(name) {
				out = append(out, name)
			}
		}
		return out
	}
	entries, _ := os.ReadDir(filepath.Join(r.dir, "inbox"))
	for _, e := range entries {
		if e.Type().IsRegular() && !ignored(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// run runs a source until the inbox is empty (or ctx is canceled by the
// ingester) and returns Run's error.
func (r *rig) run(over map[string]any, ing connect.Ingester, cancel context.CancelFunc, ctx context.Context) error {
	r.t.Helper()
	if ing == nil {
		ing = r.g
	}
	if ctx == nil {
		ctx, cancel = context.WithCancel(context.Background())
	}
	src, err := New(r.values(over), r.env(ing))
	if err != nil {
		r.t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for ctx.Err() == nil && len(r.pending()) > 0 {
		if time.Now().After(deadline) {
			r.t.Fatalf("files still in the inbox after 20 s: %v", r.pending())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	return <-errc
}

func (r *rig) env(ing connect.Ingester) connect.Env {
	return connect.Env{Name: "drop", Stream: "orders", Gate: ing, Meta: r.l, Dir: r.dir, Schema: r.sc,
		Key: []int{r.sc.ColumnIndex("order_id")}, Metrics: r.metrics,
		Ends: func() ([]int64, error) {
			out := make([]int64, 2)
			for p := range out {
				e, err := r.l.End("orders", p)
				if err != nil {
					return nil, err
				}
				out[p] = e
			}
			return out, nil
		}}
}

// orderIDs counts each order_id in the log.
func (r *rig) orderIDs() map[string]int {
	r.t.Helper()
	out := map[string]int{}
	col := r.sc.ColumnIndex("order_id")
	conformance.EachRow(r.t, r.l, "orders", 2, r.sc.Columns, func(vals []schema.Value) { out[string(vals[col].Bytes)]++ })
	return out
}

func (r *rig) quarantine() []gate.QuarantineRecord {
	r.t.Helper()
	q, err := r.g.ListQuarantine("orders", 1000)
	if err != nil {
		r.t.Fatal(err)
	}
	return q
}

func (r *rig) exists(rel string) bool {
	if r.s3 != nil {
		_, err := r.s3.Client.StatObject(context.Background(), r.bucket, "in/"+rel, minio.StatObjectOptions{})
		return err == nil
	}
	_, err := os.Stat(filepath.Join(r.dir, "inbox", rel))
	return err == nil
}

const header = "order_id,customer_id,amount,currency,ordered_at\n"

// A sound CSV file: valid CSV in all its forms is accepted; bad values and
// rows with the wrong number of fields are quarantined with file, line and
// the row as written; the file moves to done/.
func TestCSVRows(t *testing.T) { eachStore(t, testCSVRows) }

func testCSVRows(t *testing.T, newRig func(testing.TB) *rig) {
	r := newRig(t)
	body := "\xef\xbb\xbf" + strings.ReplaceAll(header, "\n", "\r\n") +
		"o1,c1,12.50,EUR,2026-12-01T10:00:00Z\r\n" +
		"o2,\"Smith, J\",3,USD,1795000000000\r\n" + // quoted comma, epoch ms
		"o3,\"line one\nline two \"\"quoted\"\"\",0,,2026-12-01 10:00:00Z\r\n" + // quoted newline and quotes, null currency, a space for T
		"o4,c4,-1,EUR,2026-12-01T10:00:00Z\r\n" + // amount below minimum: line 6
		"o5,c5,lots,EUR,2026-12-01T10:00:00Z\r\n" + // not a number: line 7
		"o6,c6,1,EUR\r\n" + // a short row mid-file: line 8
		"\r\n" + // a blank line
		"o7,c7,1,YEN,2026-12-01T10:00:00Z\r\n" + // not in the enum: line 10
		"o8,c8,2,GBP,2026-12-01T10:00:00Z" // no final newline, complete
	r.write("orders-1.csv", body)
	if err := r.run(map[string]any{"final_newline": false}, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	ids := r.orderIDs()
	for _, id := range []string{"o1", "o2", "o3", "o8"} {
		if ids[id] != 1 {
			t.Errorf("%s ingested %d times, want 1 (log: %v)", id, ids[id], ids)
		}
	}
	if len(ids) != 4 {
		t.Errorf("log holds %v, want o1 o2 o3 o8", ids)
	}
	q := r.quarantine()
	want := map[string]string{ // origin -> raw
		"orders-1.csv line 6":  "o4,c4,-1,EUR,2026-12-01T10:00:00Z",
		"orders-1.csv line 7":  "o5,c5,lots,EUR,2026-12-01T10:00:00Z",
		"orders-1.csv line 8":  "o6,c6,1,EUR",
		"orders-1.csv line 10": "o7,c7,1,YEN,2026-12-01T10:00:00Z",
	}
	if len(q) != len(want) {
		t.Fatalf("quarantine %+v, want %d records", q, len(want))
	}
	for _, rec := range q {
		if want[rec.Origin] != string(rec.Raw) {
			t.Errorf("quarantined %q as %q, want %q", rec.Origin, rec.Raw, want[rec.Origin])
		}
		if rec.Source != "inbox" || rec.Reason == "" {
			t.Errorf("quarantine record %+v: want source inbox and a reason", rec)
		}
	}
	if !r.exists("done/orders-1.csv") {
		t.Error("the file is not in done/")
	}
	if got := testutil.ToFloat64(r.metrics.Files.WithLabelValues("drop", "accepted")); got != 1 {
		t.Errorf("files accepted metric %v, want 1", got)
	}
}

// Structural problems reject the whole file: nothing of it is ingested, it
// moves to rejected/ with a note, and one quarantine record says why.
func TestRejectedFiles(t *testing.T) { eachStore(t, testRejectedFiles) }

func testRejectedFiles(t *testing.T, newRig func(testing.TB) *rig) {
	row := "o1,c1,1,EUR,2026-12-01T10:00:00Z\n"
	lenient := false // final_newline: false
	f := func(name, body string, sidecar, rule, reason string) {
		t.Helper()
		r := newRig(t)
		hook := make(chan map[string]any, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			var alert map[string]any
			json.NewDecoder(req.Body).Decode(&alert)
			hook <- alert
		}))
		defer srv.Close()
		if sidecar != "" {
			r.put(name+".sha256", sidecar)
		}
		r.write(name, body)
		if err := r.run(map[string]any{"webhook": srv.URL + "/alert", "sidecar_wait": 50 * time.Millisecond, "final_newline": !lenient,
			"checksum": map[bool]string{true: "required", false: "auto"}[rule == "checksum" && sidecar == ""]}, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		if ids := r.orderIDs(); len(ids) != 0 {
			t.Errorf("%s: rows ingested from a rejected file: %v", name, ids)
		}
		q := r.quarantine()
		if len(q) != 1 || q[0].Rule != rule || !strings.Contains(q[0].Reason, reason) || q[0].Origin != name {
			t.Fatalf("%s: quarantine %+v, want one record, rule %s, reason containing %q", name, q, rule, reason)
		}
		if len(body) > 0 && !strings.HasPrefix(body, string(q[0].Raw)) {
			t.Errorf("%s: raw %q is not the file's start", name, q[0].Raw)
		}
		if !r.exists("rejected/"+name) || !r.exists("rejected/"+name+".reason") {
			t.Errorf("%s: not moved to rejected/ with a .reason note", name)
		}
		if sidecar != "" && !r.exists("rejected/"+name+".sha256") {
			t.Errorf("%s: its sidecar did not move with it", name)
		}
		select {
		case <-hook:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: no webhook call", name)
		}
		if got := testutil.ToFloat64(r.metrics.Files.WithLabelValues("drop", "rejected")); got != 1 {
			t.Errorf("%s: files rejected metric %v, want 1", name, got)
		}
	}
	f("empty.csv", "", "", "empty", "the file is empty")
	f("header-only.csv", header, "", "empty", "a header and no rows")
	f("bom-only.csv", "\xef\xbb\xbf", "", "empty", "the file is empty")
	f("unknown.csv", "order_id,customer,amount,ordered_at\n"+row, "", "header", `wrong header: "customer" not in the stream's schema`)
	f("semicolons.csv", "order_id;customer_id;amount;ordered_at\n", "", "header", `are fields separated by ";"? set delimiter`)
	f("noheader.csv", row+row, "", "header", "not in the stream's schema")
	f("missing.csv", "order_id,customer_id,ordered_at\no1,c1,2026-12-01T10:00:00Z\n", "", "header", `required column "amount" is missing`)
	f("twice.csv", "order_id,order_id,customer_id,amount,ordered_at\n", "", "header", `"order_id" appears twice`)
	f("no-newline.csv", header+row+"o2,c2,3,EUR,2026-12-01T1", "", "truncated", "does not end with a line break, so its last row (line 3)")
	f("no-newline.ndjson", `{"order_id":"o1","customer_id":"c","amount":1,"ordered_at":1795000000000}`, "", "truncated", "does not end with a line break")
	f("open-quote.csv", header+row+`o2,"c2,3,EUR,2026`+"\n", "", "truncated", "a quoted field never closes")
	sum := sha256.Sum256([]byte(header + row))
	f("bad-sum.csv", header+row+row, hex.EncodeToString(sum[:])+"  bad-sum.csv\n", "checksum", "checksum mismatch")
	f("garbled-sum.csv", header+row, "not a checksum\n", "checksum", "not in sha256sum format")
	f("no-sum.csv", header+row, "", "checksum", "no no-sum.csv.sha256 arrived within 50ms")
	lenient = true
	f("short-last.csv", header+row+"o2,c2,3", "", "truncated", "the last row (line 3) has 3 of the 5 fields")
	f("short-last-nl.csv", header+row+"o2,c2,3\n", "", "truncated", "the last row (line 3) has 3 of the 5 fields")
	f("cut.ndjson", `{"order_id":"o1","customer_id":"c","amount":1,"ordered_at":1795000000000}`+"\n"+`{"order_id":"o2","cust`, "", "truncated", "the last line has no line end")
	f("cut.json", `[{"order_id":"o1","customer_id":"c","amount":1,"ordered_at":1795000000000},`, "", "truncated", "not one JSON value")
	f("orders.xlsx", "PK\x03\x04", "", "format", "cannot tell the format of orders.xlsx")
}

// Checksums that match, NDJSON and JSON files, and a file delivered again
// under another name, which is not ingested twice.
func TestChecksumFormatsAndRedelivery(t *testing.T) { eachStore(t, testChecksumFormatsAndRedelivery) }

func testChecksumFormatsAndRedelivery(t *testing.T, newRig func(testing.TB) *rig) {
	r := newRig(t)
	csv := header + "o1,c1,1,EUR,2026-12-01T10:00:00Z\no2,c2,2,EUR,2026-12-01T10:00:01Z\n"
	sum := sha256.Sum256([]byte(csv))
	r.put("a.csv.sha256", hex.EncodeToString(sum[:])+"  a.csv\n")
	r.write("a.csv", csv)
	r.write("b.ndjson", "\xef\xbb\xbf"+`{"order_id":"o3","customer_id":"c","amount":1,"ordered_at":1795000000000}`+"\r\n\n"+
		`{"order_id":"o4","customer_id":"c","amount":"x","ordered_at":1795000000000}`+"\n"+
		`{"order_id":"o5","customer_id":"c","amount":5,"ordered_at":1795000000000}`+"\n")
	r.write("c.json", `[{"order_id":"o6","customer_id":"c","amount":1,"ordered_at":"2026-12-01T10:00:00Z"},{"order_id":"o7","customer_id":"c","amount":1,"ordered_at":1795000000000}]`)
	r.write("d.tsv", "order_id\tcustomer_id\tamount\tordered_at\no8\tc8\t8\t2026-12-01T10:00:00Z\n")
	if err := r.run(nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	r.write("a-again.csv", csv) // the same content, another name
	if err := r.run(nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	ids := r.orderIDs()
	for _, id := range []string{"o1", "o2", "o3", "o5", "o6", "o7", "o8"} {
		if ids[id] != 1 {
			t.Errorf("%s ingested %d times, want 1 (log %v)", id, ids[id], ids)
		}
	}
	if len(ids) != 7 {
		t.Errorf("log %v, want 7 orders", ids)
	}
	if q := r.quarantine(); len(q) != 1 || q[0].Origin != "b.ndjson line 3" || q[0].Field != "amount" {
		t.Errorf("quarantine %+v, want b.ndjson line 3 (amount)", q)
	}
	for _, f := range []string{"done/a.csv", "done/a.csv.sha256", "done/b.ndjson", "done/c.json", "done/d.tsv", "done/a-again.csv"} {
		if !r.exists(f) {
			t.Errorf("%s missing", f)
		}
	}
	if got := testutil.ToFloat64(r.metrics.Files.WithLabelValues("drop", "duplicate")); got != 1 {
		t.Errorf("duplicate files metric %v, want 1", got)
	}
}

// crashAfter passes n ingests to the gate, then cancels its context and
// fails — as a process killed right after its nth durable write would.
type crashAfter struct {
	g      *gate.Gate
	n      int64
	cancel context.CancelFunc
	calls  atomic.Int64
}

func (c *crashAfter) Ingest(ctx context.Context, req gate.Request) (gate.Result, error) {
	res, err := c.g.Ingest(ctx, req)
	if c.calls.Add(1) >= c.n {
		c.cancel()
		return gate.Result{}, context.Canceled
	}
	return res, err
}

// A crash after any batch of a file — the last one included, before the
// file moved — resumes where the durable position says: every row exactly
// once.
func TestCrashResumesMidFile(t *testing.T) { eachStore(t, testCrashResumesMidFile) }

func testCrashResumesMidFile(t *testing.T, newRig func(testing.TB) *rig) {
	const rows = 1000
	var b strings.Builder
	b.WriteString(header)
	for i := range rows {
		if i%97 == 0 {
			fmt.Fprintf(&b, "o%d,\"multi\nline\",bad,EUR,2026-12-01T10:00:00Z\n", i) // quarantined
			continue
		}
		fmt.Fprintf(&b, "o%d,\"c, %d\",%d.5,EUR,2026-12-01T10:00:00Z\n", i, i, i)
	}
	for _, crashAt := range []int64{1, 2, 5, 10, 11} { // batches of 100: 11 is the last (empty) batch
		t.Run(strconv.FormatInt(crashAt, 10), func(t *testing.T) {
			r := newRig(t)
			r.write("big.csv", b.String())
			ctx, cancel := context.WithCancel(context.Background())
			crash := &crashAfter{g: r.g, n: crashAt, cancel: cancel}
			r.run(map[string]any{"max_batch": int64(100)}, crash, cancel, ctx)
			if crash.calls.Load() != crashAt {
				t.Fatalf("%d ingests before the crash, want %d", crash.calls.Load(), crashAt)
			}
			if err := r.run(map[string]any{"max_batch": int64(100)}, nil, nil, nil); err != nil {
				t.Fatal(err)
			}
			ids := r.orderIDs()
			bad := 0
			for i := range rows {
				want := 1
				if i%97 == 0 {
					want, bad = 0, bad+1
				}
				if got := ids["o"+strconv.Itoa(i)]; got != want {
					t.Fatalf("o%d ingested %d times, want %d", i, got, want)
				}
			}
			if q := r.quarantine(); len(q) != bad {
				t.Fatalf("quarantine holds %d records, want %d", len(q), bad)
			}
			if !r.exists("done/big.csv") {
				t.Fatal("the file is not in done/")
			}
		})
	}
}

// With ready: stable, a file still growing is not taken.
func TestStableSize(t *testing.T) { eachStore(t, testStableSize) }

func testStableSize(t *testing.T, newRig func(testing.TB) *rig) {
	r := newRig(t)
	body := header + "o1,c1,1,EUR,2026-12-01T10:00:00Z\n"
	r.put("grow.csv", body)
	ctx, cancel := context.WithCancel(context.Background())
	src, err := New(r.values(map[string]any{"ready": "stable", "stable_for": 1500 * time.Millisecond}),
		connect.Env{Name: "drop", Stream: "orders", Gate: r.g, Meta: r.l, Dir: r.dir, Schema: r.sc})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); src.Run(ctx) }()
	for i := 2; i <= 5; i++ { // keep writing, faster than stable_for
		time.Sleep(300 * time.Millisecond)
		body += fmt.Sprintf("o%d,c,1,EUR,2026-12-01T10:00:00Z\n", i)
		r.put("grow.csv", body)
		if len(r.orderIDs()) != 0 {
			t.Fatal("a growing file was taken")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(r.pending()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if ids := r.orderIDs(); len(ids) != 5 {
		t.Fatalf("log %v, want o1..o5", ids)
	}
}

// BenchmarkCSVFile: one 200k-row CSV file from the inbox to durable
// acknowledgement in a real gate and log (hash, check, parse, validate).
func BenchmarkCSVFile(b *testing.B) {
	const rows = 200_000
	r := newRig(b)
	var n int
	for b.Loop() {
		b.StopTimer()
		var sb strings.Builder
		sb.WriteString(header)
		for i := range rows {
			fmt.Fprintf(&sb, "b%d-o%d,customer-%d,%d.%02d,EUR,2026-12-01T10:%02d:%02dZ\n", n, i, i%5000, i%1000, i%100, i/60%60, i%60)
		}
		n++
		b.SetBytes(int64(sb.Len()))
		r.write(fmt.Sprintf("bench-%d.csv", n), sb.String())
		b.StartTimer()
		if err := r.run(map[string]any{"poll": time.Millisecond}, nil, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// A snapshot becomes current only when all of it is durable; a crash
// between its last batch and its publication publishes it on restart with
// the range of exactly its rows.
func TestSnapshotPublishedAfterCrash(t *testing.T) { eachStore(t, testSnapshotPublishedAfterCrash) }

func testSnapshotPublishedAfterCrash(t *testing.T, newRig func(testing.TB) *rig) {
	for _, crashAt := range []int64{1, 3, 4} { // 250 rows in batches of 100: 3 row batches, then the publication
		t.Run(strconv.FormatInt(crashAt, 10), func(t *testing.T) {
			r := newRig(t)
			var b strings.Builder
			b.WriteString(header)
			for i := range 250 {
				fmt.Fprintf(&b, "o%d,c,%d,EUR,2026-12-01T10:00:00Z\n", i, i)
			}
			r.write("day.csv", b.String())
			over := map[string]any{"max_batch": int64(100), "snapshot": true}
			ctx, cancel := context.WithCancel(context.Background())
			crash := &crashAfter{g: r.g, n: crashAt, cancel: cancel}
			r.run(over, crash, cancel, ctx)
			if crash.calls.Load() != crashAt {
				t.Fatalf("%d ingests before the crash, want %d", crash.calls.Load(), crashAt)
			}
			src, _ := New(r.values(over), r.env(r.g))
			if _, ok, _ := src.(*Source).current(); ok && crashAt < 4 {
				t.Fatal("a snapshot was published before all its rows were durable")
			}
			if err := r.run(over, nil, nil, nil); err != nil {
				t.Fatal(err)
			}
			snap, ok, err := src.(*Source).current()
			if err != nil || !ok {
				t.Fatalf("no snapshot: %v", err)
			}
			ends, _ := r.env(nil).Ends()
			if snap.Rows != 250 || snap.File != "day.csv" || !slices.Equal(snap.Start, []int64{0, 0}) || !slices.Equal(snap.End, ends) || ends[0]+ends[1] != 250 {
				t.Fatalf("snapshot %+v, log ends %v", snap, ends)
			}
			if !r.exists("done/day.csv.diff.json") {
				t.Fatal("no diff report")
			}
		})
	}
}

// halfMove is an S3 inbox whose moves stop after the copy, as a crash
// between the copy and the delete would.
type halfMove struct {
	*s3Store
	cancel context.CancelFunc
}

func (h halfMove) move(ctx context.Context, name, tag, folder, dst string) error {
	if strings.HasSuffix(name, ".sha256") {
		return h.s3Store.move(ctx, name, tag, folder, dst)
	}
	if _, err := h.copy(ctx, name, tag, folder, dst); err != nil {
		return err
	}
	h.cancel()
	return context.Canceled
}

// A crash in the middle of an S3 move (copied to done/, not yet deleted)
// finishes the move on restart: one copy in done/ under the file's name,
// its rows once.
func TestS3MoveCutShort(t *testing.T) {
	srv := s3test.Start(t)
	for _, ready := range []string{"rename", "stable"} {
		t.Run(ready, func(t *testing.T) {
			r := newRig(t)
			r.s3, r.bucket = srv, "cut-"+ready
			srv.Bucket(r.bucket)
			csv := header + "o1,c1,1,EUR,2026-12-01T10:00:00Z\no2,c2,2,EUR,2026-12-01T10:00:01Z\n"
			sum := sha256.Sum256([]byte(csv))
			r.put("a.csv.sha256", hex.EncodeToString(sum[:])+"  a.csv\n")
			r.put("a.csv", csv)
			over := map[string]any{"ready": ready, "stable_for": 50 * time.Millisecond}
			ctx, cancel := context.WithCancel(context.Background())
			src, err := New(r.values(over), r.env(r.g))
			if err != nil {
				t.Fatal(err)
			}
			src.(*Source).store = halfMove{src.(*Source).store.(*s3Store), cancel}
			src.Run(ctx)
			if !r.exists("done/a.csv") || !r.exists("a.csv") {
				t.Fatalf("the cut move did not leave the file in both places (pending %v)", r.pending())
			}
			if err := r.run(over, nil, nil, nil); err != nil {
				t.Fatal(err)
			}
			var done []string
			for o := range srv.Client.ListObjects(context.Background(), r.bucket, minio.ListObjectsOptions{Prefix: "in/done/"}) {
				done = append(done, strings.TrimPrefix(o.Key, "in/done/"))
			}
			if !slices.Equal(done, []string{"a.csv", "a.csv.sha256"}) {
				t.Errorf("done/ holds %v, want a.csv and its sidecar", done)
			}
			if ids := r.orderIDs(); len(ids) != 2 || ids["o1"] != 1 || ids["o2"] != 1 {
				t.Errorf("log %v, want o1 and o2 once", ids)
			}
		})
	}
}

// Object-store settings that cannot work are refused with the fix.
func TestS3SettingsRefused(t *testing.T) {
	r := newRig(t)
	f := func(over map[string]any, env map[string]string, want string) {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		_, err := New(values(t, over), r.env(r.g))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: error %v, want %q", over, err, want)
		}
	}
	f(map[string]any{"url": "s3:/bucket"}, nil, "url must look like s3://BUCKET/PREFIX/")
	f(map[string]any{"url": "gs://bucket/x"}, nil, "url must look like s3://BUCKET/PREFIX/")
	f(map[string]any{"url": "s3://b/x", "dir": "drops"}, nil, "set dir (a directory) or url (an object-store prefix), not both")
	f(map[string]any{"url": "s3://b/x", "endpoint": "minio:9000"}, nil, "endpoint must be http://HOST:PORT or https://HOST")
	f(map[string]any{"url": "s3://b/x", "endpoint": "http://minio.internal:9000"}, nil, "plain http to another host")
	f(map[string]any{"url": "s3://b/x"}, map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": ""}, "only one of $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY is set")
}

// A bucket that is not there yet is named in a log line, and retried: the
// source starts once it is made.
func TestS3MissingBucket(t *testing.T) {
	srv := s3test.Start(t)
	r := newRig(t)
	r.s3, r.bucket = srv, "later"
	var logs syncBuffer
	env := r.env(r.g)
	env.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	src, err := New(r.values(nil), env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "bucket later does not exist: create it, or fix url") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line names the missing bucket: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Bucket("later")
	r.write("a.csv", header+"o1,c1,1,EUR,2026-12-01T10:00:00Z\n")
	for len(r.pending()) > 0 {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("the file was not taken after the bucket was made")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ids := r.orderIDs(); ids["o1"] != 1 {
		t.Fatalf("log %v, want o1", ids)
	}
}

// syncBuffer is a log destination tests can read while it is written.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// replaceOnMove is an S3 inbox where a writer replaces a file (same name,
// new content) after the source read it and before it moves it.
type replaceOnMove struct {
	*s3Store
	r    *rig
	once sync.Once
}

func (m *replaceOnMove) move(ctx context.Context, name, tag, folder, dst string) error {
	if name == "a.csv" {
		m.once.Do(func() { m.r.put("a.csv", header+"o3,c3,3,EUR,2026-12-01T10:00:00Z\n") })
	}
	return m.s3Store.move(ctx, name, tag, folder, dst)
}

// A file replaced in the bucket after it was read is not moved away
// unread: the new content is taken too, each row once.
func TestS3ReplacedBeforeMove(t *testing.T) {
	srv := s3test.Start(t)
	r := newRig(t)
	r.s3, r.bucket = srv, "replaced"
	srv.Bucket(r.bucket)
	r.put("a.csv", header+"o1,c1,1,EUR,2026-12-01T10:00:00Z\no2,c2,2,EUR,2026-12-01T10:00:01Z\n")
	src, err := New(r.values(nil), r.env(r.g))
	if err != nil {
		t.Fatal(err)
	}
	src.(*Source).store = &replaceOnMove{s3Store: src.(*Source).store.(*s3Store), r: r}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(r.orderIDs()) < 3 || len(r.pending()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("log %v, inbox %v", r.orderIDs(), r.pending())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ids := r.orderIDs(); len(ids) != 3 || ids["o1"] != 1 || ids["o2"] != 1 || ids["o3"] != 1 {
		t.Fatalf("log %v, want o1, o2 and o3 once", ids)
	}
	if !r.exists("done/a.csv") {
		t.Fatal("the new a.csv is not in done/")
	}
}

// replacedOnMove is an inbox whose files are all replaced between their
// read and their move (the move reports errChanged).
type replacedOnMove struct {
	store
	cancel context.CancelFunc
}

func (r replacedOnMove) move(ctx context.Context, name, tag, folder, dst string) error {
	if strings.HasSuffix(name, ".sha256") {
		return r.store.move(ctx, name, tag, folder, dst)
	}
	r.cancel()
	return errChanged
}

// A file replaced after it was read stays in the inbox for the next scan,
// and so does its sidecar, which the replacement is checked against; it
// used to move to done/ ahead of the file's own move.
func TestReplacedFileKeepsItsSidecar(t *testing.T) {
	r := newRig(t)
	csv := header + "o1,c1,1,EUR,2026-12-01T10:00:00Z\n"
	sum := sha256.Sum256([]byte(csv))
	r.put("a.csv.sha256", hex.EncodeToString(sum[:])+"  a.csv\n")
	r.put("a.csv", csv)
	ctx, cancel := context.WithCancel(context.Background())
	src, err := New(r.values(nil), r.env(r.g))
	if err != nil {
		t.Fatal(err)
	}
	src.(*Source).store = replacedOnMove{src.(*Source).store, cancel}
	src.Run(ctx)
	if !r.exists("a.csv") || !r.exists("a.csv.sha256") || r.exists("done/a.csv.sha256") {
		t.Fatalf("after a move that found the file replaced: a.csv %v, a.csv.sha256 %v, done/a.csv.sha256 %v; want the file and its sidecar left in the inbox",
			r.exists("a.csv"), r.exists("a.csv.sha256"), r.exists("done/a.csv.sha256"))
	}
}
