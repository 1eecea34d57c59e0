package lake

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/weirhq/weir/internal/schema"
)

// benchSchema is the clickstream of bench/ingest: ~150-byte events.
const benchSchema = `{"type":"object","required":["ts","user_id","url","status","country"],"properties":{
 "ts":{"type":["string","integer"],"format":"date-time"},"user_id":{"type":"string"},"url":{"type":"string"},
 "status":{"type":"integer"},"amount":{"type":["number","null"]},"country":{"type":"string"}}}`

// BenchmarkWriteParquet measures buffering decoded rows and writing them as
// one zstd Parquet file (the lake's per-row cost; commits are per file).
func BenchmarkWriteParquet(b *testing.B) {
	sc, err := schema.Compile([]byte(benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	dec := schema.NewDecoder(sc, []int{1})
	const rows = 100_000
	recs := make([][]byte, rows)
	for i := range rows {
		d, err := dec.Decode(nil, []byte(fmt.Sprintf(`{"ts":%d,"user_id":"user-%06d","url":"/product/%d?ref=campaign-%d","status":%d,"amount":%d.%02d,"country":"%s"}`,
			1_790_000_000_000+int64(i)*10, i*7919%100000, i*31%5000, i%50, []int{200, 200, 301, 404}[i%4], i%300, i%100, []string{"US", "DE", "FR", "JP"}[i%4])))
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = d.Row
	}
	dir := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	var size int64
	buf := newBuffer(sc.Columns, 0)
	for i := 0; i < b.N; i++ {
		buf.reset() // as the writer does after each commit
		for _, r := range recs {
			if err := buf.add(sc.Columns, r); err != nil {
				b.Fatal(err)
			}
		}
		for h, c := range buf.byHour {
			st, err := writeParquet(filepath.Join(dir, fmt.Sprintf("f%d-%d.parquet", i, h)), sc.Columns, c, 256<<10)
			if err != nil {
				b.Fatal(err)
			}
			size += st.size
		}
	}
	b.ReportMetric(float64(b.N)*rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/float64(b.N*rows), "bytes/row")
	os.RemoveAll(dir)
}
