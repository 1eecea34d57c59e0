package serve

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
)

// TestResultCache: an answer is reused for the same statement over the same
// data only; a new record, log retention or a new table means running it
// again, and volatile functions are never cached.
func TestResultCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_790_000_000, 0)
	l, sc, appendBatch := oneStream(t, dir, pebblelog.Options{Now: func() time.Time { return now }})
	m := &Metrics{QuerySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "q"}), QueryErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "e"}),
		TailRows:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "t"}, []string{"table"}),
		CacheHits: prometheus.NewCounter(prometheus.CounterOpts{Name: "h"}), CacheMisses: prometheus.NewCounter(prometheus.CounterOpts{Name: "m"})}
	e, err := New(l, []Table{{Name: "clicks", Stream: "clicks", Partitions: 1, Schema: sc, SchemaVer: 1}}, Options{LakeDir: dir, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := func(q, want string, hits, misses float64) {
		t.Helper()
		res, err := e.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(res.Rows[0][0]); got != want {
			t.Fatalf("%s = %s, want %s", q, got, want)
		}
		res.Rows[0][0] = "changed by the caller" // must not reach the cache
		if h, ms := testutil.ToFloat64(m.CacheHits), testutil.ToFloat64(m.CacheMisses); h != hits || ms != misses {
			t.Fatalf("after %s: %v hits, %v misses; want %v, %v", q, h, ms, hits, misses)
		}
	}
	count := "SELECT count(*) FROM clicks"
	appendBatch(0, 10)
	f(count, "10", 0, 1)
	f(count, "10", 1, 1)
	f(count, "10", 2, 1)
	appendBatch(10, 5)
	f(count, "15", 2, 2) // a new record: a new cut
	f(count, "15", 3, 2)
	f("SELECT count(*) FROM clicks WHERE ts < now()", "15", 3, 2) // volatile: neither hit nor miss
	f("SELECT count(*) FROM clicks WHERE ts < now()", "15", 3, 2)
	if err := e.AddTable(Table{Name: "other", Stream: "clicks", Partitions: 1, Schema: sc, SchemaVer: 1}); err != nil {
		t.Fatal(err)
	}
	f(count, "15", 3, 3) // tables changed: cleared
	now = now.Add(time.Hour)
	if n, err := l.Retain("clicks", 0, 10, wlog.Retention{MaxAgeMillis: 1}); err != nil || n != 10 {
		t.Fatalf("retention deleted %d (%v), want 10", n, err)
	}
	f(count, "5", 3, 4) // retention moved the table's start
}

// TestAdmission: past MaxConcurrent running queries the next ones wait, up
// to MaxQueued of them; the one after that is refused at once with ErrBusy,
// and a waiting query whose caller gives up leaves the queue.
func TestAdmission(t *testing.T) {
	dir := t.TempDir()
	l, sc, appendBatch := oneStream(t, dir, pebblelog.Options{})
	appendBatch(0, 3)
	e, err := New(l, []Table{{Name: "clicks", Stream: "clicks", Partitions: 1, Schema: sc, SchemaVer: 1}},
		Options{LakeDir: dir, MaxConcurrent: 1, MaxQueued: 1, CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	release, err := e.admit(context.Background()) // the one slot, held by "a long query"
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := e.Query(context.Background(), "SELECT count(*) FROM clicks")
		waited <- err
	}()
	for e.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := e.Query(context.Background(), "SELECT 1"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a query past the queue: %v, want ErrBusy", err)
	}
	select {
	case err := <-waited:
		t.Fatalf("the queued query finished (%v) while the slot was held", err)
	default:
	}
	release()
	if err := <-waited; err != nil {
		t.Fatalf("the queued query, once admitted: %v", err)
	}
	release, _ = e.admit(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.Query(ctx, "SELECT 1"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("a query that timed out waiting: %v, want ErrTimeout", err)
	}
	if n := e.waiting.Load(); n != 0 {
		t.Fatalf("%d queries left waiting", n)
	}
	release()
	if _, err := e.Query(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRepeatedQuery: a dashboard panel's query asked again over data
// that has not changed (every viewer of the page, every refresh), with the
// result cache and without it.
func BenchmarkRepeatedQuery(b *testing.B) {
	for _, cache := range []int64{-1, 0} {
		name := map[int64]string{-1: "cache=off", 0: "cache=on"}[cache]
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			l, sc, appendBatch := oneStream(b, dir, pebblelog.Options{})
			for i := range 20 {
				appendBatch(i*10000, 10000)
			}
			e, err := New(l, []Table{{Name: "clicks", Stream: "clicks", Partitions: 1, Schema: sc, SchemaVer: 1}}, Options{LakeDir: dir, CacheBytes: cache})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			q := "SELECT status % 10 AS s, count(*), count(DISTINCT user_id) FROM clicks GROUP BY s ORDER BY s"
			if _, err := e.Query(context.Background(), q); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := e.Query(context.Background(), q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
