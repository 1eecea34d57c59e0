package connect

import (
	"fmt"

	"github.com/weirhq/weir/internal/schema"
)

// ReadRows decodes up to limit records of a sink's stream after next, a
// fair share from each partition, and calls fn with each (its partition,
// offset, schema and values, which fn must not keep), advancing next past
// it. It returns how many it read.
func ReadRows(env SinkEnv, next []int64, limit int, fn func(p int, off int64, sc *schema.Schema, vals []schema.Value)) (int, error) {
	share := max(1, (limit+env.Partitions-1)/env.Partitions)
	read := 0
	var vals []schema.Value
	for p := range env.Partitions {
		taken := 0
		for taken < share && read < limit {
			batches, err := env.Log.Read(env.Stream, p, next[p], 1<<20)
			if err != nil {
				return read, err
			}
			if len(batches) == 0 {
				break
			}
			before := taken
			for i := range batches {
				b := &batches[i]
				sc, err := env.SchemaFor(b.Meta)
				if err != nil {
					return read, err
				}
				var decodeErr error
				err = b.Records(func(off int64, rec []byte) bool {
					if off < next[p] {
						return true
					}
					if taken >= share || read >= limit {
						return false
					}
					if vals, decodeErr = schema.DecodeRow(sc.Columns, rec, vals[:0]); decodeErr != nil {
						return false
					}
					fn(p, off, sc, vals)
					next[p] = off + 1
					taken++
					read++
					return true
				})
				if err == nil {
					err = decodeErr
				}
				if err != nil {
					return read, fmt.Errorf("stream %q partition %d: %w", env.Stream, p, err)
				}
			}
			if taken == before { // nothing new in what the log returned
				break
			}
		}
	}
	return read, nil
}
