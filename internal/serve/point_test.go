package serve

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

// upsertView makes an engine over a view changelog "v" of random upserts
// and retractions of keys keys, and returns a function that appends more.
func upsertView(t testing.TB, r *rand.Rand, keys int) (*Engine, func(n int)) {
	dir := t.TempDir()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.EnsureStream("view/v", 1); err != nil {
		t.Fatal(err)
	}
	cols := []schema.Column{
		{Name: "user_id", Type: schema.String, Required: true},
		{Name: "n", Type: schema.Int64, Required: true},
		{Name: "total", Type: schema.Float64, Nullable: true},
		{Name: "vip", Type: schema.Bool, Required: true},
		{Name: "last", Type: schema.Timestamp, Required: true},
		{Name: "_row_key", Type: schema.String, Required: true},
		{Name: "_deleted", Type: schema.Bool, Required: true},
	}
	sc := schema.FromColumns(cols)
	e, err := New(l, []Table{{Name: "v", Stream: "view/v", Partitions: 1, Schema: sc, SchemaVer: 1, Upsert: true}},
		Options{LakeDir: dir, CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, func(n int) {
		var payload []byte
		for range n {
			k := r.IntN(keys)
			total := schema.Value{Float: float64(r.IntN(4)) / 2}
			if r.IntN(5) == 0 {
				total = schema.Value{Null: true}
			}
			vals := []schema.Value{{Bytes: fmt.Appendf(nil, "u%d", k)}, {Int: int64(r.IntN(5))}, total, {Int: int64(r.IntN(2))},
				{Int: time.Date(2026, 11, 1, 0, 0, r.IntN(100), 0, time.UTC).UnixMicro()}, {Bytes: fmt.Appendf(nil, "%04x", k)}, {Int: int64(b2i(r.IntN(6) == 0))}}
			payload = wlog.AppendRecord(payload, schema.EncodeRow(cols, nil, vals))
		}
		if _, err := l.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{{Stream: "view/v", Count: n, Meta: 1, Payload: payload}}}); err != nil {
			t.Fatal(err)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestPointReadsMatchDuckDB: a key lookup on an upsert view, answered from
// the index, equals what DuckDB answers over the same changelog (the same
// query with an ORDER BY goes to DuckDB), through upserts and retractions.
func TestPointReadsMatchDuckDB(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	e, appendRows := upsertView(t, r, 50)
	ctx := context.Background()
	rows := func(res *Result) []string {
		var out []string
		for _, row := range res.Rows {
			out = append(out, fmt.Sprint(row))
		}
		slices.Sort(out)
		return out
	}
	for round := range 20 {
		appendRows(1 + r.IntN(200))
		for _, where := range []string{
			fmt.Sprintf("user_id = 'u%d'", r.IntN(55)),
			fmt.Sprintf("n = %d", r.IntN(5)),
			fmt.Sprintf("n = %d AND total = %.1f", r.IntN(5), float64(r.IntN(4))/2),
			fmt.Sprintf("vip = %v AND 'u%d' = user_id", r.IntN(2) == 1, r.IntN(50)),
			fmt.Sprintf("total = -0.5 OR user_id = 'u%d'", r.IntN(50)), // not a point read
		} {
			for _, sel := range []string{"*", "n, user_id AS u, last"} {
				q := "SELECT " + sel + " FROM v WHERE " + where
				before := e.pointCount()
				fast, err := e.Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				wantPoint := where[:5] != "total"
				if got := e.pointCount() > before; got != wantPoint {
					t.Fatalf("%s: answered from the index: %v, want %v", q, got, wantPoint)
				}
				slow, err := e.Query(ctx, q+" ORDER BY 1")
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(fast.Columns, slow.Columns) || !slices.Equal(fast.Types, slow.Types) || !slices.Equal(rows(fast), rows(slow)) {
					t.Fatalf("round %d, %s (seed %d):\nindex  %v %v %v\nduckdb %v %v %v", round, q, seed, fast.Columns, fast.Types, rows(fast), slow.Columns, slow.Types, rows(slow))
				}
			}
		}
	}
	res, err := e.Query(ctx, "SELECT * FROM v WHERE n = 1 LIMIT 2")
	if err != nil || len(res.Rows) > 2 {
		t.Fatalf("LIMIT 2: %v rows, %v", len(res.Rows), err)
	}
}

// BenchmarkPointRead: a key lookup on a view of 100k keys, from the index
// and (with ORDER BY) from DuckDB.
func BenchmarkPointRead(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	e, appendRows := upsertView(b, r, 100_000)
	for range 300 {
		appendRows(1000)
	}
	for _, c := range []struct{ name, q string }{
		{"index", "SELECT * FROM v WHERE user_id = 'u7'"},
		{"duckdb", "SELECT * FROM v WHERE user_id = 'u7' ORDER BY 1"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := e.Query(context.Background(), c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
