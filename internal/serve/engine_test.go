package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/lake"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

const testSchema = `{"type":"object","required":["ts","user_id"],"properties":{
 "ts":{"type":["string","integer"],"format":"date-time"},
 "user_id":{"type":"string"},
 "status":{"type":"integer"},
 "amount":{"type":["number","null"]}}}`

func TestQueryCountsLakePlusTailExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.EnsureStream("clicks", 2); err != nil {
		t.Fatal(err)
	}
	sc, err := schema.Compile([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	dec := schema.NewDecoder(sc, []int{1})
	next := 0
	appendN := func(n int) {
		t.Helper()
		var payload [2][]byte
		var count [2]int
		for range n {
			i := next
			next++
			ev := fmt.Sprintf(`{"ts":%d,"user_id":"u%d","status":%d,"amount":%d}`, 1_790_000_000_000+int64(i)*1000, i%7, i, i)
			d, err := dec.Decode(nil, []byte(ev))
			if err != nil {
				t.Fatal(err)
			}
			payload[i%2] = wlog.AppendRecord(payload[i%2], d.Row)
			count[i%2]++
		}
		w := &wlog.Write{}
		for p := range 2 {
			if count[p] > 0 {
				w.Chunks = append(w.Chunks, wlog.Chunk{Stream: "clicks", Partition: p, Meta: 1, Count: count[p], Payload: payload[p]})
			}
		}
		if _, err := l.Append(context.Background(), w); err != nil {
			t.Fatal(err)
		}
	}
	lakeDir := filepath.Join(dir, "lake")
	lw, err := lake.Open(context.Background(), lake.Options{Warehouse: lakeDir, Table: "clicks", Stream: "clicks", Partitions: 2,
		Schema: sc, SchemaVer: 1, EventCol: 0, MaxRows: 1 << 20, MaxBytes: 1 << 30, Interval: time.Hour, Log: l})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(l, []Table{{Name: "clicks", Stream: "clicks", Partitions: 2, Schema: sc, SchemaVer: 1, State: lw.State}},
		Options{LakeDir: lakeDir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	check := func(wantCount int) {
		t.Helper()
		res, err := e.Query(ctx, "SELECT count(*), coalesce(sum(status), 0), count(DISTINCT status) FROM clicks")
		if err != nil {
			t.Fatal(err)
		}
		wantSum := wantCount * (wantCount - 1) / 2
		got := fmt.Sprint(res.Rows[0])
		want := fmt.Sprint([]any{wantCount, wantSum, wantCount})
		if got != want {
			t.Fatalf("count, sum, distinct = %s, want %s", got, want)
		}
	}
	check(0)
	appendN(100)
	check(100) // all from the tail
	// The writer reads the log and commits; the same records must not be
	// counted twice (files + tail) or lost.
	runFlush := func() {
		t.Helper()
		ctx, cancel := context.WithCancel(ctx)
		cancel() // Run reads what is there, commits, and returns
		if err := lw.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runFlush()
	if st := lw.State(); st.Rows != 100 {
		t.Fatalf("lake rows = %d, want 100", st.Rows)
	}
	check(100)
	appendN(50)
	check(150) // 100 in files, 50 in the tail
	runFlush()
	appendN(7)
	check(157)

	res, err := e.Query(ctx, "SELECT user_id, ts FROM clicks ORDER BY ts LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows[0][0] != "u0" || res.Rows[0][1] != time.UnixMilli(1_790_000_000_000).UTC().Format(time.RFC3339Nano) {
		t.Fatalf("first row = %v", res.Rows[0])
	}

	for _, bad := range []string{
		"DROP TABLE weir_tail.clicks",
		"INSERT INTO weir_tail.clicks VALUES (now(), 'x', 1, 1, 0, 0)",
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM no_such_table",
		"SELEC 1",
		"SET enable_external_access = true",
		"",
	} {
		if _, err := e.Query(ctx, bad); !errors.Is(err, ErrBadQuery) {
			t.Errorf("query %q: err = %v, want ErrBadQuery", bad, err)
		}
	}
	check(157)
}

// TestTrimKeepsWhatTheQueryReads pins down a race: a query reads lake state
// S1 and the tail from S1's offsets; if the lake commits S2 before the tail
// is trimmed, the trim must not delete the rows between S1 and S2 that this
// query reads from the tail (it did, losing one commit's rows).
// oneStream opens a log in dir with a one-partition stream "clicks" and
// returns it, the schema, and a function that appends the events first …
// first+n-1 (status = number) as one batch.
func oneStream(t testing.TB, dir string, opts pebblelog.Options) (*pebblelog.Log, *schema.Schema, func(first, n int)) {
	t.Helper()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.EnsureStream("clicks", 1); err != nil {
		t.Fatal(err)
	}
	sc, err := schema.Compile([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	dec := schema.NewDecoder(sc, nil)
	return l, sc, func(first, n int) {
		t.Helper()
		var payload []byte
		for i := first; i < first+n; i++ {
			d, err := dec.Decode(nil, []byte(fmt.Sprintf(`{"ts":%d,"user_id":"u","status":%d}`, 1_790_000_000_000+int64(i), i)))
			if err != nil {
				t.Fatal(err)
			}
			payload = wlog.AppendRecord(payload, d.Row)
		}
		if _, err := l.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{{Stream: "clicks", Count: n, Meta: 1, Payload: payload}}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTrimKeepsWhatTheQueryReads(t *testing.T) {
	dir := t.TempDir()
	l, sc, appendN := oneStream(t, dir, pebblelog.Options{})
	lakeDir := filepath.Join(dir, "lake")
	lw, err := lake.Open(context.Background(), lake.Options{Warehouse: lakeDir, Table: "clicks", Stream: "clicks", Partitions: 1,
		Schema: sc, SchemaVer: 1, EventCol: 0, MaxRows: 1 << 20, MaxBytes: 1 << 30, Interval: time.Hour, Log: l})
	if err != nil {
		t.Fatal(err)
	}
	commit := func() *lake.State {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // Run reads what is there, commits, and returns
		if err := lw.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return lw.State()
	}
	appendN(0, 100)
	s1 := commit()
	appendN(100, 50)
	s2 := commit()
	// The query's first look at the state sees S1; the lake "commits" S2
	// before the trim looks again.
	calls := 0
	state := func() *lake.State {
		calls++
		if calls%2 == 1 {
			return s1
		}
		return s2
	}
	e, err := New(l, []Table{{Name: "clicks", Stream: "clicks", Partitions: 1, Schema: sc, SchemaVer: 1, State: state}},
		Options{LakeDir: lakeDir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	res, err := e.Query(context.Background(), "SELECT count(*), count(DISTINCT status) FROM clicks")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Rows[0]); got != "[150 150]" {
		t.Fatalf("count, distinct = %s, want [150 150]", got)
	}
}

// TestNonFiniteFloats: infinities and NaN come back as DuckDB prints them,
// not as a JSON encoding failure.
func TestNonFiniteFloats(t *testing.T) {
	dir := t.TempDir()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, err := New(l, nil, Options{LakeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	res, err := e.Query(context.Background(), "SELECT 7.0/0 AS a, -7.0/0 AS b, 'nan'::DOUBLE AS c, 1.5::DOUBLE AS d")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Rows[0]); got != "[inf -inf nan 1.5]" {
		t.Fatalf("got %s", got)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatal(err)
	}
}

func TestReferenced(t *testing.T) {
	f := func(q string, want ...string) {
		t.Helper()
		got := referenced(q)
		for _, w := range want {
			if !got[w] {
				t.Fatalf("%q: %q not found in %v", q, w, got)
			}
		}
	}
	f(`SELECT count(*) FROM clicks`, "clicks", "select", "count")
	f(`select * from "Clicks" c join views_1 v using (user_id)`, "clicks", "views_1", "user_id")
	f(`SELECT 'clicks' AS s FROM t`, "t")
	if referenced(`SELECT 'clicks' FROM t`)["clicks"] {
		t.Fatal("a string literal is not a table reference")
	}
	f(`SELECT * FROM per_window__late WHERE x = 'it''s'`, "per_window__late")
}

// TestTailFollowsLogRetention: a table without a lake is what the log
// keeps; rows retention deleted leave the table (and the engine's memory)
// at the next query.
func TestTailFollowsLogRetention(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_790_000_000, 0)
	l, sc, appendBatch := oneStream(t, dir, pebblelog.Options{Now: func() time.Time { return now }})
	e, err := New(l, []Table{{Name: "clicks", Stream: "clicks", Partitions: 1, Schema: sc, SchemaVer: 1}}, Options{LakeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	count := func() string {
		t.Helper()
		res, err := e.Query(context.Background(), "SELECT count(*), min(status) FROM clicks")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.Rows[0])
	}
	appendBatch(0, 10)
	now = now.Add(time.Hour)
	appendBatch(10, 5)
	appendBatch(15, 5)
	if got := count(); got != "[20 0]" {
		t.Fatalf("before retention: %s", got)
	}
	if n, err := l.Retain("clicks", 0, 20, wlog.Retention{MaxAgeMillis: 30 * 60 * 1000}); err != nil || n != 10 {
		t.Fatalf("Retain deleted %d records (%v), want the first batch of 10", n, err)
	}
	if got := count(); got != "[10 10]" {
		t.Fatalf("after retention: %s, want the 10 records the log keeps", got)
	}
	if rows := e.tables[0].tailRows; rows != 10 {
		t.Fatalf("the tail holds %d rows, want 10", rows)
	}
}
