package serve

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/lake"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

func TestTimeBounds(t *testing.T) {
	now := time.Date(2026, 11, 7, 12, 0, 0, 0, time.UTC)
	us := func(s string) int64 { v, _ := parseTimestamp(s); return v }
	const open = "open"
	f := func(q string, lo, hi string) {
		t.Helper()
		gotLo, gotHi, ok := timeBounds(parseSelect(q), "clicks", "ts", now)
		if lo == "" {
			if ok {
				t.Fatalf("%s: bounds [%d, %d], want none", q, gotLo, gotHi)
			}
			return
		}
		wantLo, wantHi := int64(math.MinInt64), int64(math.MaxInt64)
		if lo != open {
			wantLo = us(lo)
		}
		if hi != open {
			wantHi = us(hi)
		}
		if !ok || gotLo != wantLo || gotHi != wantHi {
			t.Fatalf("%s: bounds [%d, %d] ok=%v, want [%d, %d]", q, gotLo, gotHi, ok, wantLo, wantHi)
		}
	}
	f("SELECT count(*) FROM clicks WHERE ts >= TIMESTAMPTZ '2026-11-07 11:00:00+00'", "2026-11-07 11:00:00", open)
	f("SELECT count(*) FROM clicks WHERE ts >= '2026-11-07' AND ts < '2026-11-08' AND status = 200", "2026-11-07", "2026-11-08")
	f("SELECT count(*) FROM clicks WHERE TIMESTAMP '2026-11-07 10:30:00' <= ts", "2026-11-07 10:30:00", open)
	f("SELECT count(*) AS clicks FROM clicks c WHERE c.ts BETWEEN '2026-11-01T00:00:00Z' AND '2026-11-02T00:00:00Z'", "2026-11-01", "2026-11-02")
	f("SELECT count(*) FROM clicks WHERE ts >= now() - INTERVAL 1 HOUR", "2026-11-07 11:00:00", open)
	f("SELECT count(*) FROM clicks WHERE ts > current_timestamp - INTERVAL '90' MINUTE AND ts < now()", "2026-11-07 10:30:00", open) // the clock is no upper bound
	f("SELECT count(*) FROM clicks WHERE ts = '2026-11-07 01:02:03.5'", "2026-11-07 01:02:03.5", "2026-11-07 01:02:03.5")
	// No safe bounds: left alone.
	f("SELECT count(*) FROM clicks", "", "")
	f("SELECT count(*) FROM clicks WHERE ts >= '2026-11-07' OR status = 500", "", "")
	f("SELECT count(*) FROM clicks WHERE NOT (ts >= '2026-11-07')", "", "")
	f("SELECT count(*) FROM clicks WHERE ts NOT BETWEEN '2026-11-07' AND '2026-11-08'", "", "")
	f("SELECT count(*) FROM clicks WHERE ts + INTERVAL 1 HOUR >= '2026-11-07'", "", "")
	f("SELECT count(*) FROM clicks WHERE ts >= 'yesterday'", "", "")
	f("SELECT count(*) FROM other WHERE ts >= '2026-11-07'", "", "")
	f("SELECT * FROM clicks a JOIN clicks b ON a.user_id = b.user_id WHERE a.ts >= '2026-11-07'", "", "")
	f("SELECT * FROM (SELECT * FROM clicks) WHERE ts >= '2026-11-07'", "", "")
	f("SELECT * FROM clicks WHERE ts >= '2026-11-07' UNION ALL SELECT * FROM clicks", "", "")
	f("WITH c AS (SELECT * FROM clicks) SELECT * FROM c WHERE ts >= '2026-11-07'", "", "")
	f("SELECT * FROM clicks WHERE ts >= '2026-11-07' AND user_id IN (SELECT user_id FROM clicks)", "", "")
	f("SELECT * FROM clicks WHERE ts >= (SELECT max(ts) FROM clicks) - INTERVAL 1 HOUR", "", "")
}

// TestPruningMatchesFullScan: for random time ranges in every form the
// pruning understands, a query over a lake of many hourly files counts
// exactly the rows an oracle counts.
func TestPruningMatchesFullScan(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.EnsureStream("clicks", 1); err != nil {
		t.Fatal(err)
	}
	sc, err := schema.Compile([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	dec := schema.NewDecoder(sc, nil)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var times []time.Time
	lakeDir := filepath.Join(dir, "lake")
	lw, err := lake.Open(context.Background(), lake.Options{Warehouse: lakeDir, Table: "clicks", Stream: "clicks", Partitions: 1,
		Schema: sc, SchemaVer: 1, EventCol: 0, MaxRows: 1 << 20, MaxBytes: 1 << 30, Interval: time.Hour, Log: l})
	if err != nil {
		t.Fatal(err)
	}
	for batch := range 12 { // 12 commits over 30 hours, plus a tail
		var payload []byte
		for range 200 {
			ts := base.Add(time.Duration(r.Int64N(int64(30 * time.Hour))))
			times = append(times, ts)
			d, err := dec.Decode(nil, fmt.Appendf(nil, `{"ts":%d,"user_id":"u","status":1}`, ts.UnixMilli()))
			if err != nil {
				t.Fatal(err)
			}
			payload = wlog.AppendRecord(payload, d.Row)
		}
		if _, err := l.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{{Stream: "clicks", Count: 200, Meta: 1, Payload: payload}}}); err != nil {
			t.Fatal(err)
		}
		if batch < 11 {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := lw.Run(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(lw.State().Files); n < 100 {
		t.Fatalf("%d files, want one per hour per commit", n)
	}
	e, err := New(l, []Table{{Name: "clicks", Stream: "clicks", Partitions: 1, Schema: sc, SchemaVer: 1, State: lw.State}},
		Options{LakeDir: lakeDir, CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lit := func(t time.Time) string {
		switch r.IntN(4) {
		case 0:
			return "'" + t.Format("2006-01-02 15:04:05.000000") + "'"
		case 1:
			return "TIMESTAMPTZ '" + t.Format("2006-01-02 15:04:05.000000") + "+00'"
		case 2:
			return "TIMESTAMP '" + t.Format("2006-01-02T15:04:05.000000") + "'"
		}
		return "'" + t.Format(time.RFC3339Nano) + "'"
	}
	for range 60 {
		a := base.Add(time.Duration(r.Int64N(int64(32*time.Hour))) - time.Hour).Truncate(time.Millisecond)
		b := a.Add(time.Duration(r.Int64N(int64(10 * time.Hour))))
		var q string
		want := 0
		switch r.IntN(4) {
		case 0:
			q = "SELECT count(*) FROM clicks WHERE ts >= " + lit(a)
			for _, x := range times {
				if !x.Before(a) {
					want++
				}
			}
		case 1:
			q = "SELECT count(*) FROM clicks WHERE ts >= " + lit(a) + " AND ts < " + lit(b)
			for _, x := range times {
				if !x.Before(a) && x.Before(b) {
					want++
				}
			}
		case 2:
			q = "SELECT count(*) FROM clicks WHERE status = 1 AND ts BETWEEN " + lit(a) + " AND " + lit(b)
			for _, x := range times {
				if !x.Before(a) && !x.After(b) {
					want++
				}
			}
		case 3:
			q = "SELECT count(*) FROM clicks WHERE " + lit(b) + " > ts"
			for _, x := range times {
				if x.Before(b) {
					want++
				}
			}
		}
		res, err := e.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(res.Rows[0][0]); got != fmt.Sprint(want) {
			t.Fatalf("%s = %s, want %d (seed %d)", q, got, want, seed)
		}
	}
}
