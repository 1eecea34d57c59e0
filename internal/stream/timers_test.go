package stream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/memlog"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/stream"
)

// virtualTask runs a view over an in-memory log inside a synctest bubble:
// time moves only when every goroutine waits, so timers and idle timeouts
// are exact and the test takes no real time.
type virtualTask struct {
	t      *testing.T
	log    *memlog.Log
	sc     *schema.Schema
	cancel context.CancelFunc
	done   chan error
}

func startVirtual(t *testing.T, sql string, partitions int, tune ...func(*stream.Options)) *virtualTask {
	t.Helper()
	sc, err := schema.Compile([]byte(clicksSchema))
	if err != nil {
		t.Fatal(err)
	}
	l := memlog.New()
	for name, n := range map[string]int{"clicks": partitions, "out": 1, "late": 1} {
		if err := l.EnsureStream(name, n); err != nil {
			t.Fatal(err)
		}
	}
	p := planView(t, sql, sc, partitions, time.Second)
	opts := stream.Options{Log: l, Meta: l, OutputStream: "out", LateStream: "late", StatePrefix: "v/",
		IdleTimeout: time.Second, CommitInterval: 10 * time.Millisecond}
	for _, f := range tune {
		f(&opts)
	}
	task := stream.NewTask(p, opts)
	ctx, cancel := context.WithCancel(context.Background())
	vt := &virtualTask{t: t, log: l, sc: sc, cancel: cancel, done: make(chan error, 1)}
	go func() { vt.done <- task.Run(ctx) }()
	return vt
}

// add appends one click with event time ts to a partition.
func (vt *virtualTask) add(partition int, ts time.Time, user string) {
	vt.t.Helper()
	vals := make([]schema.Value, len(vt.sc.Columns))
	vals[vt.sc.ColumnIndex("ts")] = schema.Value{Int: ts.UnixMicro()}
	vals[vt.sc.ColumnIndex("user_id")] = schema.Value{Bytes: []byte(user)}
	vals[vt.sc.ColumnIndex("url")] = schema.Value{Bytes: []byte("/")}
	vals[vt.sc.ColumnIndex("status")] = schema.Value{Int: 200}
	vals[vt.sc.ColumnIndex("amount")] = schema.Value{Null: true}
	vals[vt.sc.ColumnIndex("country")] = schema.Value{Bytes: []byte("GB")}
	rec := schema.EncodeRow(vt.sc.Columns, nil, vals)
	_, err := vt.log.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{{Stream: "clicks", Partition: partition, Meta: 1, Count: 1, Payload: wlog.AppendRecord(nil, rec)}}})
	if err != nil {
		vt.t.Fatal(err)
	}
}

func (vt *virtualTask) outRows() int64 {
	vt.t.Helper()
	synctest.Wait()
	n, err := vt.log.End("out", 0)
	if err != nil {
		vt.t.Fatal(err)
	}
	return n
}

func (vt *virtualTask) stop() {
	vt.t.Helper()
	vt.cancel()
	if err := <-vt.done; err != nil {
		vt.t.Fatal(err)
	}
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// TestIdleTimeout: a partition that went quiet holds the watermark back
// for exactly the idle timeout (1 s), then stops holding it.
func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vt := startVirtual(t, `CREATE MATERIALIZED VIEW v AS SELECT window_start, window_end, count(*) AS n
			FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`, 2)
		vt.add(1, t0, "quiet")
		for s := 0; s <= 30; s++ {
			vt.add(0, t0.Add(time.Duration(s)*time.Second), "busy")
		}
		if n := vt.outRows(); n != 0 {
			t.Fatalf("%d windows fired while partition 1 (max event time %v) holds the watermark", n, t0)
		}
		time.Sleep(900 * time.Millisecond)
		if n := vt.outRows(); n != 0 {
			t.Fatalf("%d windows fired before the idle timeout", n)
		}
		time.Sleep(200 * time.Millisecond)
		// Partition 1 is idle: the watermark is t0+30s-1s, so [0,10) and [10,20) close.
		if n := vt.outRows(); n != 2 {
			t.Fatalf("after the idle timeout %d windows fired, want 2", n)
		}
		// New records in partition 1 hold the watermark again from the first one.
		vt.add(1, t0.Add(21*time.Second), "quiet")
		vt.add(0, t0.Add(45*time.Second), "busy")
		if n := vt.outRows(); n != 2 {
			t.Fatalf("window [20,30) fired although partition 1 is back at %v: %d rows", t0.Add(21*time.Second), n)
		}
		time.Sleep(1100 * time.Millisecond)
		if n := vt.outRows(); n != 4 {
			t.Fatalf("after partition 1 went idle again, %d rows, want 4 ([20,30) and [30,40) closed)", n)
		}
		vt.stop()
	})
}

// TestEmitEvery: an open window's row appears every interval while it
// changes, and not when it does not.
func TestEmitEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vt := startVirtual(t, `CREATE MATERIALIZED VIEW v AS SELECT window_start, window_end, count(*) AS n
			FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end
			EMIT EVERY INTERVAL '100' MILLISECOND`, 1)
		vt.add(0, t0, "a")
		time.Sleep(150 * time.Millisecond)
		if n := vt.outRows(); n != 1 {
			t.Fatalf("after one interval: %d upserts, want 1", n)
		}
		time.Sleep(300 * time.Millisecond)
		if n := vt.outRows(); n != 1 {
			t.Fatalf("no change, yet %d upserts", n)
		}
		vt.add(0, t0.Add(time.Second), "b")
		time.Sleep(100 * time.Millisecond)
		if n := vt.outRows(); n != 2 {
			t.Fatalf("after a change: %d upserts, want 2", n)
		}
		vt.stop()
	})
}

// TestCheckpointWhileIdle: a checkpoint of many groups, written one entry
// per chunk, becomes live promptly even when no input arrives (the task
// does not wait for input between chunks).
func TestCheckpointWhileIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vt := startVirtual(t, `CREATE MATERIALIZED VIEW v AS SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id`, 1,
			func(o *stream.Options) { o.CheckpointInterval = 100 * time.Millisecond; o.CheckpointChunk = 1 })
		for i := range 300 {
			vt.add(0, t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("u%d", i))
		}
		time.Sleep(150 * time.Millisecond) // past the checkpoint interval: one starts with the next commit
		vt.add(0, t0.Add(time.Second), "u0")
		time.Sleep(200 * time.Millisecond) // 300 one-entry chunks, no waiting between them
		synctest.Wait()
		v, ok, err := vt.log.Get([]byte("v/pos"))
		if err != nil || !ok {
			t.Fatalf("no position: %v", err)
		}
		var pos struct {
			Epoch      uint64  `json:"epoch"`
			Checkpoint []int64 `json:"checkpoint"`
		}
		if err := json.Unmarshal(v, &pos); err != nil {
			t.Fatal(err)
		}
		if pos.Epoch == 0 || len(pos.Checkpoint) != 1 || pos.Checkpoint[0] < 300 {
			t.Fatalf("position %s: the checkpoint of 300 groups is not live after 200 ms of idle time", v)
		}
		vt.stop()
	})
}
