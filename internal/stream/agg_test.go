package stream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/weirhq/weir/internal/schema"
)

func intArg() *Expr    { return &Expr{Type: schema.Int64} }
func floatArg() *Expr  { return &Expr{Type: schema.Float64} }
func stringArg() *Expr { return &Expr{Type: schema.String} }

// TestAccStateRoundTrip: every accumulator, fed values and restored from
// its encoded state, gives the same result and the same state bytes.
func TestAccStateRoundTrip(t *testing.T) {
	specs := []AggSpec{
		{Kind: AggCount, Type: schema.Int64},
		{Kind: AggCount, Arg: intArg(), Type: schema.Int64},
		{Kind: AggCountDistinct, Arg: stringArg(), Type: schema.Int64},
		{Kind: AggSum, Arg: intArg(), Type: schema.Int64},
		{Kind: AggSum, Arg: floatArg(), Type: schema.Float64},
		{Kind: AggMin, Arg: stringArg(), Type: schema.String},
		{Kind: AggMax, Arg: floatArg(), Type: schema.Float64},
		{Kind: AggAvg, Arg: intArg(), Type: schema.Float64},
		{Kind: AggFirst, Arg: stringArg(), Type: schema.String},
		{Kind: AggLast, Arg: intArg(), Type: schema.Int64},
		{Kind: AggApproxDistinct, Arg: stringArg(), Type: schema.Int64},
		{Kind: AggApproxQuantile, Arg: floatArg(), Type: schema.Float64, Quantile: 0.9},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range specs {
		a := s.NewAcc()
		for i := range 500 {
			v := schema.Value{Int: rng.Int64N(1000), Float: rng.Float64() * 100, Bytes: fmt.Appendf(nil, "k%d", rng.IntN(300))}
			if i%17 == 0 {
				v = schema.Value{Null: true}
			}
			a.Add(v, rng.Int64N(1e9))
		}
		state := a.AppendState(nil)
		b := s.NewAcc()
		rest, err := b.LoadState(append(state, 0xAB))
		if err != nil || len(rest) != 1 || rest[0] != 0xAB {
			t.Fatalf("kind %d: LoadState: %v, rest %x", s.Kind, err, rest)
		}
		if fmt.Sprint(a.Result()) != fmt.Sprint(b.Result()) {
			t.Fatalf("kind %d: result %v, restored %v", s.Kind, a.Result(), b.Result())
		}
		// The encoding is stable once restored (a HyperLogLog's first
		// encoding may differ: it folds its insert buffer in).
		state2 := b.AppendState(nil)
		c := s.NewAcc()
		if _, err := c.LoadState(state2); err != nil || string(c.AppendState(nil)) != string(state2) {
			t.Fatalf("kind %d: state bytes change on a second round trip (%v)", s.Kind, err)
		}
		if _, err := s.NewAcc().LoadState(state[:len(state)/2]); err == nil && len(state) > 1 {
			t.Fatalf("kind %d: a truncated state loaded without error", s.Kind)
		}
	}
}

// TestAccMerge: adding values to two accumulators and merging equals
// adding them all to one.
func TestAccMerge(t *testing.T) {
	specs := []AggSpec{
		{Kind: AggCount, Type: schema.Int64}, {Kind: AggCountDistinct, Arg: stringArg(), Type: schema.Int64},
		{Kind: AggSum, Arg: intArg(), Type: schema.Int64}, {Kind: AggSum, Arg: floatArg(), Type: schema.Float64},
		{Kind: AggMin, Arg: stringArg(), Type: schema.String}, {Kind: AggMax, Arg: intArg(), Type: schema.Int64},
		{Kind: AggAvg, Arg: intArg(), Type: schema.Float64}, {Kind: AggFirst, Arg: stringArg(), Type: schema.String},
		{Kind: AggLast, Arg: intArg(), Type: schema.Int64}, {Kind: AggApproxDistinct, Arg: stringArg(), Type: schema.Int64},
		{Kind: AggApproxQuantile, Arg: intArg(), Type: schema.Float64, Quantile: 0.5},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range specs {
		all, left, right := s.NewAcc(), s.NewAcc(), s.NewAcc()
		for i := range 300 {
			v := schema.Value{Int: rng.Int64N(100), Float: float64(rng.IntN(1000)) / 8, Bytes: fmt.Appendf(nil, "k%d", rng.IntN(50))}
			ts := int64(i) // distinct times: first/last are unambiguous
			all.Add(v, ts)
			if rng.IntN(2) == 0 {
				left.Add(v, ts)
			} else {
				right.Add(v, ts)
			}
		}
		left.Merge(right)
		if fmt.Sprint(only(s.Type, left.Result())) != fmt.Sprint(only(s.Type, all.Result())) {
			t.Fatalf("kind %d: merged %v, all at once %v", s.Kind, left.Result(), all.Result())
		}
	}
	// Equal times: merging the rows read later into those read first
	// breaks ties as adding them in order does.
	for _, s := range []AggSpec{{Kind: AggFirst, Arg: intArg(), Type: schema.Int64}, {Kind: AggLast, Arg: intArg(), Type: schema.Int64}} {
		all, left, right := s.NewAcc(), s.NewAcc(), s.NewAcc()
		for i := range 10 {
			v := schema.Value{Int: int64(i)}
			all.Add(v, 7)
			if i < 5 {
				left.Add(v, 7)
			} else {
				right.Add(v, 7)
			}
		}
		left.Merge(right)
		if got, want := left.Result().Int, all.Result().Int; got != want {
			t.Fatalf("kind %d with equal times: merged %d, all at once %d", s.Kind, got, want)
		}
	}
}

// TestSketchAccuracy holds the sketches to their stated error.
func TestSketchAccuracy(t *testing.T) {
	h := newHLL(schema.String)
	const distinct = 200_000
	for i := range distinct * 3 {
		h.Add(schema.Value{Bytes: fmt.Appendf(nil, "user-%d", i%distinct)}, 0)
	}
	if est := h.Result().Int; math.Abs(float64(est)-distinct)/distinct > 0.03 {
		t.Fatalf("approx_count_distinct of %d distinct values: %d (more than 3%% off)", distinct, est)
	}
	q := newQuantile(schema.Float64, 0.99)
	rng := rand.New(rand.NewPCG(3, 4))
	var xs []float64
	for range 100_000 {
		x := math.Exp(rng.NormFloat64()) * 100 // log-normal latencies
		xs = append(xs, x)
		q.Add(schema.Value{Float: x}, 0)
	}
	sort.Float64s(xs)
	exact := xs[int(0.99*float64(len(xs)-1))]
	if got := q.Result().Float; math.Abs(got-exact)/exact > 0.02 {
		t.Fatalf("approx_percentile 0.99: %v, exact %v (more than 2%% off)", got, exact)
	}
}

// TestDistinctIntState: count(DISTINCT) over integers keeps int64s, but
// stores exactly what the encoded-value form stored before, so state
// written by earlier builds loads.
func TestDistinctIntState(t *testing.T) {
	fast := newDistinctAcc(schema.Int64)
	generic := &distinctAcc{typ: schema.Int64, seen: map[string]struct{}{}} // the encoded form
	for _, x := range []int64{5, -3, 5, 1 << 40, 0, -3, math.MinInt64} {
		fast.Add(schema.Value{Int: x}, 0)
		generic.Add(schema.Value{Int: x}, 0)
	}
	fast.Add(schema.Value{Null: true}, 0)
	a, b := fast.AppendState(nil), generic.AppendState(nil)
	if string(a) != string(b) {
		t.Fatalf("state %x, the encoded form stores %x", a, b)
	}
	loaded := newDistinctAcc(schema.Int64)
	if rest, err := loaded.LoadState(b); err != nil || len(rest) != 0 {
		t.Fatalf("LoadState: %v, %d bytes left", err, len(rest))
	}
	if got := loaded.Result().Int; got != 5 {
		t.Fatalf("count after loading = %d, want 5", got)
	}
}
