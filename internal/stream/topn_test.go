package stream

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/schema"
)

// TestOrderKeyOrder: the encoded order keys sort as their values do
// (reversed for DESC), with NULL last either way, and a key is never a
// prefix of another (so a longer ORDER BY still compares column by column).
func TestOrderKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := map[schema.Type]func() schema.Value{
		schema.Int64: func() schema.Value {
			return schema.Value{Int: rng.Int64N(7) - 3 + []int64{0, math.MinInt64 + 3, math.MaxInt64 - 3}[rng.IntN(3)]}
		},
		schema.Float64: func() schema.Value {
			return schema.Value{Float: []float64{0, math.Copysign(0, -1), -1.5, 2.25, math.Inf(1), math.Inf(-1), -1e300, 1e-300}[rng.IntN(8)]}
		},
		schema.String: func() schema.Value {
			return schema.Value{Bytes: []byte([]string{"", "a", "a\x00", "a\x00b", "ab", "b", "\x00", "\xff"}[rng.IntN(8)])}
		},
	}
	compare := map[schema.Type]func(a, b schema.Value) int{
		schema.Int64:   func(a, b schema.Value) int { return cmp.Compare(a.Int, b.Int) },
		schema.Float64: func(a, b schema.Value) int { return cmp.Compare(a.Float, b.Float) },
		schema.String:  func(a, b schema.Value) int { return bytes.Compare(a.Bytes, b.Bytes) },
	}
	for typ, g := range gen {
		for range 2000 {
			a, b := g(), g()
			if rng.IntN(8) == 0 {
				a = schema.Value{Null: true}
			}
			desc := rng.IntN(2) == 0
			want := 0
			switch {
			case a.Null && b.Null:
			case a.Null:
				want = 1
			case b.Null:
				want = -1
			default:
				want = compare[typ](a, b)
				if desc {
					want = -want
				}
			}
			ka, kb := appendOrderKey(nil, typ, a, desc), appendOrderKey(nil, typ, b, desc)
			// A second column after each: it must not decide unless the first ties.
			ka, kb = append(ka, 0xff), append(kb, 0)
			got := bytes.Compare(ka, kb)
			if want == 0 {
				if got != 1 {
					t.Fatalf("%v: %+v and %+v tie, but the next column did not decide (%d)", typ, a, b, got)
				}
				continue
			}
			if got != want {
				t.Fatalf("%v desc=%v: %+v vs %+v compared %d, want %d", typ, desc, a, b, got, want)
			}
		}
	}
}

// TestTopAccKeepsFirstN: offering rows in any order keeps the n smallest
// keys in order, and the state round-trips.
func TestTopAccKeepsFirstN(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a := &topAcc{n: 5}
	var all []int
	for i := range 200 {
		v := rng.IntN(1000)
		all = append(all, v)
		k := appendOrderKey(nil, schema.Int64, schema.Value{Int: int64(v)}, false)
		k = binary.BigEndian.AppendUint32(k, 0) // the position: partition, offset
		k = binary.BigEndian.AppendUint64(k, uint64(i))
		a.offer(append(k, "payload"...), len(k))
	}
	slices.Sort(all)
	if len(a.rows) != 5 {
		t.Fatalf("%d rows kept, want 5", len(a.rows))
	}
	b := &topAcc{n: 5}
	if rest, err := b.LoadState(a.AppendState(nil)); err != nil || len(rest) != 0 {
		t.Fatalf("state does not round-trip: %v, %d bytes left", err, len(rest))
	}
	for i, r := range b.rows {
		want := appendOrderKey(nil, schema.Int64, schema.Value{Int: int64(all[i])}, false)
		if !bytes.Equal(r.b[:r.k-posLen], want) || string(r.b[r.k:]) != "payload" {
			t.Fatalf("rank %d: %x, want %x", i+1, r.b, want)
		}
	}
}

// TestVarintLen: the sizes joinRowLen counts with are AppendUvarint's and
// AppendVarint's.
func TestVarintLen(t *testing.T) {
	for _, x := range []int64{0, 1, -1, 63, 64, -64, -65, 127, 128, 1 << 20, -(1 << 40), math.MaxInt64, math.MinInt64} {
		if got, want := varintLen(x), len(binary.AppendVarint(nil, x)); got != want {
			t.Errorf("varintLen(%d) = %d, want %d", x, got, want)
		}
		if got, want := uvarintLen(uint64(x)), len(binary.AppendUvarint(nil, uint64(x))); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", uint64(x), got, want)
		}
	}
}

// TestTopAccAllRetract: a group over a changelog keeps every row, in
// order by value then key; rows taken back leave exactly, the first n
// show (RANK: with the rows tied with the n-th), and the state
// round-trips.
func TestTopAccAllRetract(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a := &topAcc{n: 3, rank: Rank, all: true, dirty: math.MaxInt}
	entry := func(key string, v int64) []byte {
		e := appendOrderKey(nil, schema.Int64, schema.Value{Int: v}, true)
		e = append(e, key...)
		return binary.BigEndian.AppendUint32(e, uint32(len(key)))
	}
	model := map[string]int64{} // key → value
	for range 2000 {
		key := fmt.Sprintf("k%d", rng.IntN(40))
		if v, ok := model[key]; ok {
			e := entry(key, v)
			a.Retract(schema.Value{Bytes: e, Int: int64(len(e))}, 0)
			delete(model, key)
		}
		if rng.IntN(4) > 0 {
			v := int64(rng.IntN(10))
			e := entry(key, v)
			a.offer(append(e, "row"...), len(e))
			model[key] = v
		}
	}
	type kv struct {
		k string
		v int64
	}
	var want []kv
	for k, v := range model {
		want = append(want, kv{k, v})
	}
	slices.SortFunc(want, func(x, y kv) int { // value descending, then key
		if x.v != y.v {
			return int(y.v - x.v)
		}
		return strings.Compare(x.k, y.k)
	})
	if len(a.rows) != len(want) {
		t.Fatalf("%d rows kept, want %d", len(a.rows), len(want))
	}
	for i, w := range want {
		if e := entry(w.k, w.v); !bytes.Equal(a.rows[i].b[:a.rows[i].k], e) {
			t.Fatalf("rank %d: %x, want %s=%d", i+1, a.rows[i].b, w.k, w.v)
		}
	}
	shown := 3
	for shown < len(want) && want[shown].v == want[2].v {
		shown++
	}
	if got := a.kept(); got != shown {
		t.Fatalf("%d rows shown, want %d (RANK keeps the ties of the 3rd)", got, shown)
	}
	b := &topAcc{n: 3, rank: Rank, all: true}
	if rest, err := b.LoadState(a.AppendState(nil)); err != nil || len(rest) != 0 || len(b.rows) != len(a.rows) || b.emitted != shown {
		t.Fatalf("state does not round-trip: %v, %d bytes left, %d rows, %d shown", err, len(rest), len(b.rows), b.emitted)
	}
}
