package stream

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDueQueue: rows of two sides pushed mostly in order of due, some
// not, with pops between, leave in order of due, every one once.
func TestDueQueue(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var q dueQueue
	queued := map[*group]bool{}
	last, clock := int64(math.MinInt64), int64(0)
	popUntil := func(wm int64) {
		for q.before(wm) {
			g := q.pop()
			if !queued[g] {
				t.Fatalf("row due %d left twice, or was never queued", g.due)
			}
			if g.due < last {
				t.Fatalf("row due %d left after one due %d", g.due, last)
			}
			last = g.due
			delete(queued, g)
		}
	}
	for range 20000 {
		clock += rng.Int64N(3)
		due := clock
		if rng.IntN(5) == 0 {
			due += rng.Int64N(500) // leaves later than rows pushed after it
		}
		if due <= last {
			continue // behind the watermark: a join does not buffer it
		}
		g := &group{due: due, jr: &joinRow{side: rng.IntN(2)}}
		queued[g] = true
		q.push(g)
		if rng.IntN(10) == 0 {
			popUntil(clock - rng.Int64N(50))
		}
	}
	popUntil(math.MaxInt64)
	if len(queued) != 0 {
		t.Fatalf("%d rows never left", len(queued))
	}
}
