package gate

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIngest measures the gate in process: split, decode, validate,
// route and append 1000-event NDJSON requests to the log (synced), with 4
// requests in flight per core as an HTTP server with many clients has
// them. events/cpu-s is events per second of CPU time the process used
// (getrusage), the per-core figure whatever -cpu is.
func BenchmarkIngest(b *testing.B) {
	g, _ := newGate(b)
	var body bytes.Buffer
	for j := range 1000 {
		fmt.Fprintf(&body, `{"ts":"2026-11-22T16:%02d:%02d.%03dZ","user_id":"user-%06d","status":%d,"amount":%d.25}`+"\n",
			j%60, j%60, j%1000, j*7919%100000, []int{200, 301, 404}[j%3], j)
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
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
