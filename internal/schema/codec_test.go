package schema

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var allTypes = []Type{String, Int64, Float64, Bool, Timestamp}

func randomColumns(r *rand.Rand, n int) []Column {
	cols := make([]Column, n)
	for i := range cols {
		cols[i] = Column{Name: fmt.Sprintf("c%d", i), Type: allTypes[r.IntN(len(allTypes))], Nullable: true}
	}
	return cols
}

// randomValue returns a value for a column of type t; strings are up to
// maxLen bytes.
func randomValue(r *rand.Rand, t Type, maxLen int) Value {
	if r.IntN(5) == 0 {
		return Value{Null: true}
	}
	switch t {
	case String:
		n := min(maxLen, []int{0, 1, 5, 127, 128, 300, 20000}[r.IntN(7)])
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return Value{Bytes: b}
	case Int64, Timestamp:
		return Value{Int: []int64{0, 1, -1, 63, -64, 64, -65, math.MaxInt64, math.MinInt64, r.Int64(), -r.Int64(), r.Int64N(1000)}[r.IntN(12)]}
	case Float64:
		return Value{Float: []float64{0, math.Copysign(0, -1), 1.5, -2.25e-300, math.MaxFloat64, math.SmallestNonzeroFloat64,
			math.Inf(1), math.Inf(-1), math.NaN(), r.NormFloat64() * 1e6}[r.IntN(10)]}
	case Bool:
		return Value{Int: int64(r.IntN(2))}
	}
	panic(t)
}

// sameValue compares what the row format stores for a column of type t.
func sameValue(t Type, a, b Value) bool {
	if a.Null || b.Null {
		return a.Null == b.Null
	}
	switch t {
	case String:
		return bytes.Equal(a.Bytes, b.Bytes)
	case Float64:
		return math.Float64bits(a.Float) == math.Float64bits(b.Float)
	case Bool:
		return (a.Int != 0) == (b.Int != 0)
	}
	return a.Int == b.Int
}

func TestRowRoundTrip(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 1))
	for iter := range 2000 {
		cols := randomColumns(r, r.IntN(20))
		// Several rows appended to one buffer, each decoded from its slice.
		var buf []byte
		var rows [][]Value
		var ends []int
		for range 1 + r.IntN(3) {
			vals := make([]Value, len(cols))
			for i, c := range cols {
				vals[i] = randomValue(r, c.Type, 1<<20)
			}
			buf = EncodeRow(cols, buf, vals)
			rows = append(rows, vals)
			ends = append(ends, len(buf))
		}
		start := 0
		for k, want := range rows {
			rec := buf[start:ends[k]]
			start = ends[k]
			got, err := DecodeRow(cols, rec, nil)
			if err != nil {
				t.Fatalf("seed %d, iteration %d: DecodeRow: %v", seed, iter, err)
			}
			if len(got) != len(cols) {
				t.Fatalf("seed %d, iteration %d: %d values for %d columns", seed, iter, len(got), len(cols))
			}
			for i, c := range cols {
				if !sameValue(c.Type, got[i], want[i]) {
					t.Fatalf("seed %d, iteration %d: column %d (%v): got %+v, want %+v", seed, iter, i, c.Type, got[i], want[i])
				}
			}
		}
	}
}

func TestEncodeRowAppends(t *testing.T) {
	cols := []Column{{Name: "s", Type: String}, {Name: "b", Type: Bool}}
	dst := []byte("prefix")
	out := EncodeRow(cols, dst, []Value{{Bytes: []byte("x")}, {Int: 7}})
	if !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatalf("EncodeRow clobbered dst: %q", out)
	}
	got, err := DecodeRow(cols, out[len("prefix"):], nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0].Bytes) != "x" || got[1].Int != 1 {
		t.Errorf("got %+v", got)
	}
}

func TestRowZeroColumns(t *testing.T) {
	row := EncodeRow(nil, nil, nil)
	if len(row) != 0 {
		t.Fatalf("row of no columns is %d bytes", len(row))
	}
	vals, err := DecodeRow(nil, row, []Value{{Int: 1}})
	if err != nil || len(vals) != 0 {
		t.Fatalf("DecodeRow = %v, %v", vals, err)
	}
	if _, err := DecodeRow(nil, []byte{0}, nil); !errors.Is(err, ErrCorruptRow) {
		t.Fatalf("trailing byte: err = %v", err)
	}
}

// Every proper prefix of a row, and the row with a byte added, is corrupt.
func TestDecodeRowTruncated(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 2))
	check := func(cols []Column, rec []byte, what string) {
		t.Helper()
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("seed %d: DecodeRow panicked on %s: %v", seed, what, p)
			}
		}()
		_, err := DecodeRow(cols, rec, nil)
		if !errors.Is(err, ErrCorruptRow) {
			t.Fatalf("seed %d: DecodeRow on %s: err = %v, want ErrCorruptRow", seed, what, err)
		}
	}
	for range 300 {
		cols := randomColumns(r, 1+r.IntN(17))
		vals := make([]Value, len(cols))
		for i, c := range cols {
			vals[i] = randomValue(r, c.Type, 300)
		}
		row := EncodeRow(cols, nil, vals)
		for n := range len(row) {
			// A copy of exactly n bytes, so reading past it faults.
			check(cols, bytes.Clone(row[:n]), fmt.Sprintf("%d of %d bytes", n, len(row)))
		}
		check(cols, append(bytes.Clone(row), 0), "a row with a trailing byte")
	}
}

func TestDecodeRowCorrupt(t *testing.T) {
	str := []Column{{Name: "s", Type: String}}
	i64 := []Column{{Name: "i", Type: Int64}}
	f := func(cols []Column, rec []byte) {
		t.Helper()
		if _, err := DecodeRow(cols, rec, nil); !errors.Is(err, ErrCorruptRow) {
			t.Errorf("DecodeRow(%x) err = %v, want ErrCorruptRow", rec, err)
		}
	}
	f(str, nil)
	f(str, []byte{0, 5, 'a'})                                                        // length past the end
	f(str, []byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})    // length 2^64-1
	f(str, []byte{0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1}) // varint overflow
	f(i64, []byte{0, 0x80})
	f(i64, []byte{0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1})
	f([]Column{{Name: "f", Type: Float64}}, []byte{0, 1, 2, 3, 4, 5, 6, 7})
	f([]Column{{Name: "b", Type: Bool}}, []byte{0})
	f([]Column{{Name: "b", Type: Bool}}, []byte{1, 1}) // null, then a stray byte
}
