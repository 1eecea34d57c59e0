package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/api"
)

func getJSON(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, data)
		}
	}
	return resp.StatusCode
}

// TestStatus: GET /v1/status counts what the gate answered, per stream and
// source, and shows every view and sink of the pipeline with its lag.
func TestStatus(t *testing.T) {
	yaml := eventsYAML(2) + `sinks:
  lake: {type: lake, stream: events, roll: {interval: 100ms}}
`
	n := startNode(t, yaml, map[string]string{"v.sql": "CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n FROM events GROUP BY user_id;"})
	body := append(events(0, 40), "{\"ts\":1,\"seq\":\"x\",\"user_id\":\"a\"}\nnot json\n"...)
	if code, _, data := post(t, n, body); code != 200 {
		t.Fatalf("ingest: %d %s", code, data)
	}
	var st api.Status
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code := getJSON(t, "http://"+n.Addr()+"/v1/status", &st); code != 200 {
			t.Fatalf("status answered %d", code)
		}
		if len(st.Sinks) == 1 && st.Sinks[0].Lag == 0 && len(st.Views) == 1 && st.Views[0].In == 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(st.Streams) != 1 {
		t.Fatalf("status streams: %+v", st.Streams)
	}
	s := st.Streams[0]
	if s.Name != "events" || s.Received != 42 || s.Accepted != 40 || s.Quarantined != 2 || s.BySource["http"] != 42 || s.Records != 40 || s.LastAppend.IsZero() {
		t.Fatalf("stream status %+v, want 42 received = 40 accepted + 2 quarantined, all over http, 40 in the log", s)
	}
	if k := st.Sinks[0]; k.Name != "lake" || k.Type != "lake" || k.Stream != "events" || k.Records != 40 || k.Lag != 0 || k.LastCommit.IsZero() {
		t.Fatalf("sink status %+v, want the lake sink with 40 rows committed", k)
	}
	if v := st.Views[0]; v.Name != "per_user" || v.Input != "events" || v.Mode != "upsert" || v.In != 40 || v.Lag != 0 {
		t.Fatalf("view status %+v", v)
	}
	if !st.Ready || st.Started.IsZero() {
		t.Fatalf("node status ready=%v started=%v", st.Ready, st.Started)
	}
}

// TestLiveFeed: GET /v1/live pushes the status and each live query's result
// every interval, so a count moves after an ingest without the client
// asking again; a statement that is not read-only is refused.
func TestLiveFeed(t *testing.T) {
	n := startNode(t, eventsYAML(1), nil)
	post(t, n, events(0, 10))
	q := url.Values{"q": {"SELECT count(*) AS n FROM events"}, "interval": {"200ms"}}
	resp, err := http.Get("http://" + n.Addr() + "/v1/live?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("live answered %d %s", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	next := func(want string) []byte {
		t.Helper()
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
			} else if d, ok := strings.CutPrefix(line, "data: "); ok && event == want {
				return []byte(d)
			}
		}
		t.Fatalf("live feed ended before a %q event: %v", want, sc.Err())
		return nil
	}
	count := func() int64 {
		var r struct {
			Result struct{ Rows [][]int64 }
			Error  string
		}
		if err := json.Unmarshal(next("result"), &r); err != nil || r.Error != "" {
			t.Fatalf("live result: %v %s", err, r.Error)
		}
		return r.Result.Rows[0][0]
	}
	var st api.Status
	if err := json.Unmarshal(next("status"), &st); err != nil || st.Streams[0].Accepted != 10 {
		t.Fatalf("first status: %v %+v", err, st.Streams)
	}
	if got := count(); got != 10 {
		t.Fatalf("first live count %d, want 10", got)
	}
	post(t, n, events(10, 5))
	deadline := time.Now().Add(10 * time.Second)
	for got := count(); got != 15; got = count() {
		if got != 10 || time.Now().After(deadline) {
			t.Fatalf("live count %d, want it to move from 10 to 15", got)
		}
	}

	f := func(query, code string) {
		t.Helper()
		resp, err := http.Get("http://" + n.Addr() + "/v1/live?" + url.Values{"q": {query}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !bytes.Contains(data, []byte(code)) {
			t.Fatalf("live q=%q: %d %s, want 400 %s", query, resp.StatusCode, data, code)
		}
	}
	f("DROP MATERIALIZED VIEW x", "not_read_only")
	f("-- comment\nCREATE MATERIALIZED VIEW x AS SELECT 1", "not_read_only")
	f("/* unterminated", "not_read_only")
}

// TestReplayOverHTTP: POST /v1/quarantine/replay answers for every offset
// and the quarantine list marks what was replayed.
func TestReplayOverHTTP(t *testing.T) {
	n := startNode(t, eventsYAML(1), nil)
	post(t, n, []byte("{\"ts\":1,\"seq\":\"x\",\"user_id\":\"a\"}\n"))
	replay := func(body string) (int, []byte) {
		resp, err := http.Post("http://"+n.Addr()+"/v1/quarantine/replay", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	f := func(body string, wantCode int, want string) {
		t.Helper()
		code, data := replay(body)
		if code != wantCode || !bytes.Contains(data, []byte(want)) {
			t.Fatalf("replay %s: %d %s, want %d with %s", body, code, data, wantCode, want)
		}
	}
	// The schema is unchanged, so the record fails again and stays.
	f(`{"stream":"events","offsets":[0,7]}`, 200, `"rejected":[{"offset":0,"reason":`)
	f(`{"stream":"events","offsets":[0,7]}`, 200, `"not_found":[7]`)
	f(`{"stream":"events","all":true}`, 200, `"accepted":0`)
	f(`{"stream":"nope","all":true}`, 404, "unknown_stream")
	f(`{"stream":"events"}`, 400, "either offsets or")
	f(`{"stream":"events","all":true,"offsets":[1]}`, 400, "either offsets or")
	f(`{"stream":"events","everything":true}`, 400, "unknown field")
	var q struct{ Records []api.QuarantineEntry }
	getJSON(t, "http://"+n.Addr()+"/v1/quarantine?stream=events", &q)
	if len(q.Records) != 1 || q.Records[0].Offset != 0 || q.Records[0].Replayed {
		t.Fatalf("quarantine %+v", q.Records)
	}
	if code := getJSON(t, "http://"+n.Addr()+"/", nil); code != 200 {
		t.Fatalf("the dashboard answered %d", code)
	}
	var idx map[string]any
	if code := getJSON(t, "http://"+n.Addr()+"/v1", &idx); code != 200 || !strings.Contains(fmt.Sprint(idx["endpoints"]), "/v1/live") {
		t.Fatalf("GET /v1: %d %v", code, idx)
	}
}
