package connect

import (
	"context"
	"fmt"
	"time"

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

// Batch tracks a sink's batch being filled: it should go out when it holds
// Max records, or Linger after its first one.
type Batch struct {
	Max    int
	Linger time.Duration
	N      int // records in it
	first  time.Time
}

// Add counts n more records.
func (b *Batch) Add(n int) {
	if n > 0 && b.N == 0 {
		b.first = time.Now()
	}
	b.N += n
}

// Ready reports whether the batch should go out now.
func (b *Batch) Ready() bool {
	return b.N > 0 && (b.N >= b.Max || time.Since(b.first) >= b.Linger)
}

// Room is how many more records it takes.
func (b *Batch) Room() int { return b.Max - b.N }

// Reset empties it.
func (b *Batch) Reset() { b.N, b.first = 0, time.Time{} }

// Wait waits until the stream may have more records or the batch's linger
// is over (an empty batch: Linger), or ctx ends (then it returns ctx.Err()).
func (b *Batch) Wait(ctx context.Context, env SinkEnv) error {
	wait := b.Linger
	if b.N > 0 {
		wait = b.Linger - time.Since(b.first)
	}
	notify := env.Log.Notify(env.Stream)
	t := time.NewTimer(max(wait, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-notify:
	case <-t.C:
	}
	return nil
}
