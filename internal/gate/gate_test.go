package gate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

const clicksSchema = `{"type":"object","required":["ts","user_id","status"],"additionalProperties":false,
 "properties":{"ts":{"type":["string","integer"],"format":"date-time"},"user_id":{"type":"string","minLength":1},
 "status":{"type":"integer","minimum":100,"maximum":599},"amount":{"type":["number","null"]}}}`

func newGate(t testing.TB) (*Gate, *pebblelog.Log) {
	t.Helper()
	l, err := pebblelog.Open(filepath.Join(t.TempDir(), "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sc, err := schema.Compile([]byte(clicksSchema))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(l, l, []Stream{{Name: "clicks", Schema: sc, Version: 1, KeyCols: []int{1}, Partitions: 4}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g, l
}

func logEnd(t testing.TB, l *pebblelog.Log) int64 {
	t.Helper()
	var n int64
	for p := range 4 {
		e, err := l.End("clicks", p)
		if err != nil {
			t.Fatal(err)
		}
		n += e
	}
	return n
}

func TestIngestCountsEveryRecord(t *testing.T) {
	g, l := newGate(t)
	ctx := context.Background()
	f := func(format Format, body string, wantAcc, wantQuar int) {
		t.Helper()
		before := logEnd(t, l)
		res, err := g.Ingest(ctx, Request{Stream: "clicks", Format: format, Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != wantAcc || res.Quarantined != wantQuar {
			t.Fatalf("body %q: accepted %d quarantined %d, want %d and %d (errors %v)", body, res.Accepted, res.Quarantined, wantAcc, wantQuar, res.Errors)
		}
		if got := logEnd(t, l) - before; got != int64(wantAcc) {
			t.Fatalf("body %q: %d records reached the log, want %d", body, got, wantAcc)
		}
	}
	good := `{"ts":"2026-11-22T10:00:00Z","user_id":"a","status":200}`
	f(NDJSON, good+"\n"+good+"\n", 2, 0)
	f(NDJSON, "\xef\xbb\xbf"+good+"\r\n\r\n  \n"+good, 2, 0)                              // BOM, CRLF, blank lines
	f(NDJSON, good+"\n{\"ts\":1,\"user_id\":\"b\",\"status\":\"x\"}\n{\"ts\":\n", 1, 2)   // wrong type, truncated
	f(NDJSON, `{"ts":1700000000000,"user_id":"b","status":200,"amount":null}`, 1, 0)      // epoch ms, null
	f(NDJSON, `{"ts":"2026-11-22T10:00:00Z","user_id":"b","status":200,"extra":1}`, 0, 1) // additionalProperties
	f(JSON, good, 1, 0)                                                                   // one object
	f(JSON, "["+good+","+good+`,{"user_id":"c"}]`, 2, 1)                                  // array
	f(JSON, "["+good+",", 0, 1)                                                           // broken array: one record
	f(JSON, good+"\n"+good, 0, 1)                                                         // NDJSON sent as JSON
	f(NDJSON, "", 0, 0)
	big := `{"ts":1,"user_id":"` + strings.Repeat("x", 1<<20) + `","status":200}` // over the 1 MiB record limit
	f(JSON, big, 0, 1)
	f(JSON, "["+good+","+big+"]", 1, 1)
	f(NDJSON, big+"\n"+good, 1, 1)

	recs, err := g.ListQuarantine("clicks", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 9 {
		t.Fatalf("quarantine holds %d records, want 9", len(recs))
	}
	for _, r := range recs[6:] {
		if r.Rule != "size" {
			t.Fatalf("oversized record quarantined with rule %q (%s), want size", r.Rule, r.Reason)
		}
	}
	if r := recs[0]; r.Field != "status" || r.Rule != "type" || r.Stream != "clicks" || r.SchemaVersion != 1 || !bytes.Contains(r.Raw, []byte(`"x"`)) {
		t.Fatalf("first quarantined record = %+v", r)
	}
	if recs, _ := g.ListQuarantine("clicks", 2); len(recs) != 2 {
		t.Fatalf("limit 2 gave %d records", len(recs))
	}
	if _, err := g.Ingest(ctx, Request{Stream: "nope", Format: NDJSON, Body: []byte(good)}); !errors.Is(err, ErrUnknownStream) {
		t.Fatalf("unknown stream: err = %v", err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	g, l := newGate(t)
	ctx := context.Background()
	body := []byte(`{"ts":1,"user_id":"a","status":200}` + "\n" + `{"ts":1,"user_id":"a","status":1}`)
	first, err := g.Ingest(ctx, Request{Stream: "clicks", Format: NDJSON, Body: body, IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	end := logEnd(t, l)
	// Retries, also concurrent ones, return the first answer and add nothing.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			again, err := g.Ingest(ctx, Request{Stream: "clicks", Format: NDJSON, Body: body, IdempotencyKey: "k1"})
			if err != nil || fmt.Sprint(again) != fmt.Sprint(first) {
				t.Errorf("retry: %+v, %v; first %+v", again, err, first)
			}
		}()
	}
	wg.Wait()
	if logEnd(t, l) != end {
		t.Fatal("a retried request added records")
	}
	if _, err := g.Ingest(ctx, Request{Stream: "clicks", Format: NDJSON, Body: body[:10], IdempotencyKey: "k1"}); !errors.Is(err, ErrIdempotencyMismatch) {
		t.Fatalf("same key, other body: err = %v", err)
	}
}

func TestKeysRouteToOnePartition(t *testing.T) {
	g, l := newGate(t)
	var body bytes.Buffer
	for i := range 100 {
		fmt.Fprintf(&body, `{"ts":%d,"user_id":"same","status":200}`+"\n", i)
	}
	if _, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: NDJSON, Body: body.Bytes()}); err != nil {
		t.Fatal(err)
	}
	nonEmpty := 0
	for p := range 4 {
		if e, _ := l.End("clicks", p); e > 0 {
			nonEmpty++
		}
	}
	if nonEmpty != 1 {
		t.Fatalf("records of one key landed in %d partitions", nonEmpty)
	}
}

func TestConcurrentIngestGroupCommit(t *testing.T) {
	g, l := newGate(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				body := fmt.Sprintf(`{"ts":%d,"user_id":"u%d","status":200}`, i, w)
				if _, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: NDJSON, Body: []byte(body + "\n" + body)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if got := logEnd(t, l); got != 8*50*2 {
		t.Fatalf("log holds %d records, want %d", got, 8*50*2)
	}
}

// FuzzIngest feeds arbitrary bodies: the gate never fails or panics, and
// every non-blank NDJSON line is counted once.
func FuzzIngest(f *testing.F) {
	f.Add([]byte(`{"ts":"2026-11-22T10:00:00Z","user_id":"a","status":200}`), true)
	f.Add([]byte("{\"ts\":1,\"user_id\":\"\",\"status\":99}\n\n[1,2]\n{"), true)
	f.Add([]byte(`[{"ts":1,"user_id":"a","status":200},{}]`), false)
	f.Add([]byte("\xef\xbb\xbf\xff\xfe"), false)
	g, _ := newGate(f)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		format := JSON
		if ndjson {
			format = NDJSON
		}
		res, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: format, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if ndjson {
			lines := 0
			for _, line := range bytes.Split(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), []byte("\n")) {
				if !isBlank(bytes.TrimSuffix(line, []byte("\r"))) {
					lines++
				}
			}
			if res.Accepted+res.Quarantined != lines {
				t.Fatalf("%d lines, accepted %d + quarantined %d", lines, res.Accepted, res.Quarantined)
			}
		}
	})
}

// TestRecordsWithPosition: a source's records (one per element, newlines
// and all) and its position are written together.
func TestRecordsWithPosition(t *testing.T) {
	g, l := newGate(t)
	recs := [][]byte{
		[]byte(`{"ts":1795000000000,"user_id":"a","status":200}`),
		[]byte("{\"ts\": 1795000000001,\n \"user_id\": \"b\",\n \"status\": 201}"), // pretty-printed: one record
		[]byte(`{"ts":1795000000002,"user_id":"c","status":"x"}`),
	}
	res, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: Records, Records: recs,
		Puts: []wlog.Put{{Key: []byte("src/k/t/0"), Value: []byte("3")}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || res.Quarantined != 1 || logEnd(t, l) != 2 {
		t.Fatalf("accepted %d quarantined %d, log %d; want 2, 1, 2", res.Accepted, res.Quarantined, logEnd(t, l))
	}
	if v, ok, err := l.Get([]byte("src/k/t/0")); err != nil || !ok || string(v) != "3" {
		t.Fatalf("position: %q %v %v", v, ok, err)
	}

	// An idempotency key covers the records: the same ones again answer as
	// before and add nothing; others under the same key are refused.
	ctx := context.Background()
	req := Request{Stream: "clicks", Format: Records, Records: recs[:2], IdempotencyKey: "k1"}
	first, err := g.Ingest(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := g.Ingest(ctx, req)
	if err != nil || again.Accepted != first.Accepted || again.Quarantined != first.Quarantined || logEnd(t, l) != 4 {
		t.Fatalf("retry: %+v %v, log %d; want %+v, log 4", again, err, logEnd(t, l), first)
	}
	req.Records = recs[1:]
	if _, err := g.Ingest(ctx, req); !errors.Is(err, ErrIdempotencyMismatch) {
		t.Fatalf("other records under the same key: %v, want ErrIdempotencyMismatch", err)
	}
}

// A source can say where each record came from, keep its original bytes
// for the quarantine, and quarantine records it refused itself, all in the
// request's one batch.
func TestOriginsAndSourceRejects(t *testing.T) {
	g, l := newGate(t)
	recs := [][]byte{
		[]byte(`{"ts":1795000000000,"user_id":"a","status":200}`),
		[]byte(`{"ts":1795000000001,"user_id":"b","status":"x"}`),
	}
	res, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: Records, Records: recs, Source: "inbox",
		Origin:   func(i int) string { return fmt.Sprintf("a.csv line %d", i+2) },
		Original: func(i int) []byte { return []byte(fmt.Sprintf("row %d", i)) },
		Rejects:  []Reject{{Reason: "checksum mismatch", Rule: "checksum", Raw: []byte("whole file"), Origin: "b.csv"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || res.Quarantined != 2 || logEnd(t, l) != 1 {
		t.Fatalf("accepted %d quarantined %d log %d, want 1 2 1", res.Accepted, res.Quarantined, logEnd(t, l))
	}
	q, err := g.ListQuarantine("clicks", 10)
	if err != nil || len(q) != 2 {
		t.Fatalf("quarantine %v %v", q, err)
	}
	byOrigin := map[string]QuarantineRecord{}
	for _, r := range q {
		byOrigin[r.Origin] = r
	}
	if r := byOrigin["a.csv line 3"]; string(r.Raw) != "row 1" || r.Field != "status" || r.Source != "inbox" {
		t.Fatalf("bad row: %+v", r)
	}
	if r := byOrigin["b.csv"]; string(r.Raw) != "whole file" || r.Rule != "checksum" || r.Reason != "checksum mismatch" {
		t.Fatalf("rejected file: %+v", r)
	}
}
