package lake

import (
	"fmt"
	"math/rand/v2"
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
	// Values as varied as a real clickstream's, so bytes/row and the
	// compressor's work mean something: random users, products, campaigns
	// and amounts, event times 10 ms apart with up to 2 s of disorder.
	rng := rand.New(rand.NewPCG(1, 2))
	countries := []string{"US", "DE", "FR", "JP", "GB", "BR", "IN", "CA", "ES", "IT", "NL", "SE"}
	statuses := []int{200, 200, 200, 200, 200, 200, 301, 304, 404, 500}
	for i := range rows {
		d, err := dec.Decode(nil, []byte(fmt.Sprintf(`{"ts":%d,"user_id":"user-%06d","url":"/product/%d?ref=campaign-%d","status":%d,"amount":%d.%02d,"country":"%s"}`,
			1_790_000_000_000+int64(i)*10-rng.Int64N(2000), rng.IntN(1_000_000), rng.IntN(50_000), rng.IntN(200),
			statuses[rng.IntN(len(statuses))], rng.IntN(300), rng.IntN(100), countries[rng.IntN(len(countries))])))
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
