package stream_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/stream"
)

// TestParallelWakeAfterIdle: two partial tasks go idle, stage 2's
// watermark moves to the greater of theirs (all idle) and fires the
// windows before it; then the task that was behind gets records again.
// Those in fired windows are late (kept in the side output), even after
// its first commit awake, when it no longer sends everything whole: as
// one task would judge them, and without a partial aggregate of a fired
// window reaching stage 2.
func TestParallelWakeAfterIdle(t *testing.T) {
	l, err := pebblelog.Open(filepath.Join(t.TempDir(), "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sc, err := schema.Compile([]byte(clicksSchema))
	if err != nil {
		t.Fatal(err)
	}
	for s, n := range map[string]int{"clicks": 2, "out": 1, "late": 1} {
		if err := l.EnsureStream(s, n); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	put := func(p int, secs ...int) {
		t.Helper()
		var payload []byte
		for _, s := range secs {
			vals := make([]schema.Value, len(sc.Columns))
			for i := range vals {
				vals[i] = schema.Value{Null: true}
			}
			vals[sc.ColumnIndex("ts")] = schema.Value{Int: base.Add(time.Duration(s) * time.Second).UnixMicro()}
			vals[sc.ColumnIndex("user_id")] = schema.Value{Bytes: []byte("u")}
			vals[sc.ColumnIndex("url")] = schema.Value{Bytes: []byte("/")}
			vals[sc.ColumnIndex("status")] = schema.Value{Int: 200}
			vals[sc.ColumnIndex("country")] = schema.Value{Bytes: []byte("GB")}
			payload = wlog.AppendRecord(payload, schema.EncodeRow(sc.Columns, nil, vals))
		}
		if _, err := l.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{{Stream: "clicks", Partition: p, Meta: 1, Count: len(secs), Payload: payload}}}); err != nil {
			t.Fatal(err)
		}
	}
	p := planView(t, `CREATE MATERIALIZED VIEW v AS
		SELECT window_start, count(*) AS n FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
		GROUP BY window_start, window_end`, sc, 2, time.Second)
	p.Parallelism = 2
	now := base
	j, tasks := restoredJob(t, p, stream.Options{Log: l, Meta: l, OutputStream: "out", LateStream: "late", StatePrefix: "vstate/v/",
		IdleTimeout: time.Second, Now: func() time.Time { return now }})
	first, merges := j.Stages()
	ctx := context.Background()
	// Every task reads what there is, goes idle if it has been quiet, and
	// commits; the merge tasks then read what the partial tasks wrote.
	cycle := func() {
		t.Helper()
		for _, task := range tasks {
			drain(t, task)
			task.AdvanceIdle()
			if err := task.CommitOnly(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(0, 100) // partition 0 (task 0) far ahead
	put(1, 50)  // partition 1 (task 1) behind
	// The partial tasks commit first: what they wrote is the merge tasks'
	// backlog, until they read it.
	for _, task := range first {
		drain(t, task)
		if err := task.CommitOnly(ctx); err != nil {
			t.Fatal(err)
		}
	}
	written := int64(0)
	for i := range merges {
		end, err := l.End(stream.RepartStream("out"), i)
		if err != nil {
			t.Fatal(err)
		}
		written += end
	}
	if b := j.Stats().Backlog; b != written || b == 0 {
		t.Fatalf("backlog %d, want the %d repartition records written", b, written)
	}
	cycle()
	if b := j.Stats().Backlog; b != 0 {
		t.Fatalf("backlog %d after the merge tasks read everything", b)
	}
	now = now.Add(2 * time.Second) // both idle: stage 2 goes to the greater watermark, 99 s
	cycle()
	cycle()
	if wm := j.Stats().WatermarkMicros; wm != base.Add(99*time.Second).UnixMicro() {
		t.Fatalf("stage 2 watermark %v, want 99 s (both tasks idle)", time.UnixMicro(wm).UTC())
	}
	put(1, 65, 75) // late: their windows fired
	cycle()        // task 1 wakes: its records go whole
	put(1, 85, 96) // 85 s is late too, 96 s is not
	cycle()
	put(0, 120)
	put(1, 121)
	cycle()
	if err := first[0].Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first[1].Finish(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range merges {
		drain(t, m)
		if err := m.Finish(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c := j.Stats().Counts
	if c.In != 8 || c.LateKept != 3 || c.LateDropped != 0 {
		t.Fatalf("counts %+v: want 8 in, 3 late kept (65 s, 75 s, 85 s), none dropped", c)
	}
	got := renderTable(t, l, "out", p.OutputColumns(), false)
	want := "window_start | n\n" +
		"2026-12-01T00:00:50.000 | 1\n2026-12-01T00:01:30.000 | 1\n2026-12-01T00:01:40.000 | 1\n2026-12-01T00:02:00.000 | 2\n"
	if got != want {
		t.Fatalf("rows:\n%s\nwant:\n%s", got, want)
	}
}
