package gate

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/memlog"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

// benchSchema and the events of BenchmarkIngest are bench/ingest's
// clickstream (bench/ingest/main.go's clicksSchema and events, which a
// main package cannot share): ~140-byte events with a pattern, bounds and
// lengths to check.
const benchSchema = `{"type":"object","required":["ts","user_id","url","status","country"],"additionalProperties":false,
"properties":{"ts":{"type":["string","integer"],"format":"date-time"},"user_id":{"type":"string","minLength":1,"maxLength":128},
"url":{"type":"string","maxLength":4096},"status":{"type":"integer","minimum":100,"maximum":599},
"amount":{"type":["number","null"],"minimum":0},"country":{"type":"string","pattern":"^[A-Z]{2}$"}}}`

// BenchmarkIngest measures the gate in process: split, decode, validate,
// route and append 1000-event NDJSON requests, with 4 requests in flight
// per core as an HTTP server with many clients has them.
//   - log=discard: the gate's own work (BENCHMARKS.md's "gate"), the log
//     an in-memory one that keeps nothing;
//   - log=pebble: with the appends made durable (synced group commits), as
//     the node acknowledges them.
//
// events/cpu-s is events per second of CPU time the process used
// (getrusage), the per-core figure whatever -cpu is.
func BenchmarkIngest(b *testing.B) {
	sc, err := schema.Compile([]byte(benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	for j := range 1000 {
		fmt.Fprintf(&body, `{"ts":"2026-11-22T16:%02d:%02d.%03dZ","user_id":"user-%06d","url":"/product/%d?ref=campaign-%d","status":%d,"amount":%d.%02d,"country":"%s"}`+"\n",
			j%60, j%60, j%1000, j*7919%100000, j*31%5000, j%50, []int{200, 200, 301, 404}[j%4], j%300, j%100, []string{"US", "DE", "FR", "JP"}[j%4])
	}
	logs := []struct {
		name string
		open func(b *testing.B) (wlog.Log, wlog.Meta)
	}{
		{"discard", func(*testing.B) (wlog.Log, wlog.Meta) { l := discardLog{memlog.New()}; return l, l }},
		{"pebble", func(b *testing.B) (wlog.Log, wlog.Meta) {
			l, err := pebblelog.Open(filepath.Join(b.TempDir(), "log"), pebblelog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l.Close() })
			return l, l
		}},
	}
	for _, lg := range logs {
		b.Run("log="+lg.name, func(b *testing.B) {
			l, meta := lg.open(b)
			g, err := New(l, meta, []Stream{{Name: "clicks", Schema: sc, Version: 1, KeyCols: []int{1}, Partitions: 4}}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(body.Len()))
			b.ReportAllocs()
			b.SetParallelism(4)
			cpu0 := cpuTime(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: NDJSON, Body: body.Bytes()}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			events := float64(b.N) * 1000
			b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(events/(cpuTime(b)-cpu0).Seconds(), "events/cpu-s")
		})
	}
}

// discardLog is an in-memory log that keeps no records: appends cost the
// gate nothing but the call.
type discardLog struct{ *memlog.Log }

func (discardLog) Append(_ context.Context, w *wlog.Write) ([]int64, error) {
	return make([]int64, len(w.Chunks)), nil
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
