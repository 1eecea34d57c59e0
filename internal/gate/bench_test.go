package gate

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkIngest measures the gate in process: split, decode, validate,
// route and append 1000-event NDJSON requests to the log (synced).
func BenchmarkIngest(b *testing.B) {
	g, _ := newGate(b)
	var body bytes.Buffer
	for j := range 1000 {
		fmt.Fprintf(&body, `{"ts":"2026-11-22T16:%02d:%02d.%03dZ","user_id":"user-%06d","status":%d,"amount":%d.25}`+"\n",
			j%60, j%60, j%1000, j*7919%100000, []int{200, 301, 404}[j%3], j)
	}
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: NDJSON, Body: body.Bytes()}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}
