package stream

import (
	"encoding/binary"
	"fmt"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"

	"github.com/weirhq/weir/internal/schema"
)

// Sketch settings: HyperLogLog with 2^14 registers (about 0.8% standard
// error, sparse while small); DDSketch with 1% relative accuracy.
const ddsketchAccuracy = 0.01

// hllAcc is approx_count_distinct.
type hllAcc struct {
	typ schema.Type
	hll *hyperloglog.Sketch
	buf []byte
}

func newHLL(t schema.Type) *hllAcc { return &hllAcc{typ: t, hll: hyperloglog.New14()} }

func (a *hllAcc) Add(v schema.Value, _ int64) {
	if v.Null {
		return
	}
	if a.typ == schema.String {
		a.hll.InsertHash(xxhash.Sum64(v.Bytes))
		return
	}
	a.buf = appendValue(a.buf[:0], a.typ, v)
	a.hll.InsertHash(xxhash.Sum64(a.buf))
}

func (a *hllAcc) Merge(o Acc) {
	if err := a.hll.Merge(o.(*hllAcc).hll); err != nil {
		panic(fmt.Sprintf("BUG: merging HyperLogLog sketches of one spec: %v", err))
	}
}

func (a *hllAcc) Result() schema.Value { return schema.Value{Int: int64(a.hll.Estimate())} }

func (a *hllAcc) AppendState(dst []byte) []byte {
	b, err := a.hll.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("BUG: cannot encode a HyperLogLog sketch: %v", err))
	}
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func (a *hllAcc) LoadState(src []byte) ([]byte, error) {
	l, k := binary.Uvarint(src)
	if k <= 0 || uint64(len(src)-k) < l {
		return nil, errBadState
	}
	if err := a.hll.UnmarshalBinary(src[k : k+int(l)]); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadState, err)
	}
	return src[k+int(l):], nil
}

// quantileAcc is approx_percentile(x, q).
type quantileAcc struct {
	typ schema.Type
	q   float64
	dd  *ddsketch.DDSketch
	buf []byte
}

func newQuantile(t schema.Type, q float64) *quantileAcc {
	dd, err := ddsketch.NewDefaultDDSketch(ddsketchAccuracy)
	if err != nil {
		panic(fmt.Sprintf("BUG: DDSketch: %v", err))
	}
	return &quantileAcc{typ: t, q: q, dd: dd}
}

func (a *quantileAcc) Add(v schema.Value, _ int64) {
	if v.Null {
		return
	}
	x := v.Float
	if a.typ != schema.Float64 {
		x = float64(v.Int)
	}
	_ = a.dd.Add(x) // fails only for values beyond the mapping's range (±1e308)
}

func (a *quantileAcc) Merge(o Acc) {
	if err := a.dd.MergeWith(o.(*quantileAcc).dd); err != nil {
		panic(fmt.Sprintf("BUG: merging DDSketches of one spec: %v", err))
	}
}

func (a *quantileAcc) Result() schema.Value {
	if a.dd.IsEmpty() {
		return schema.Value{Null: true}
	}
	x, err := a.dd.GetValueAtQuantile(a.q)
	if err != nil {
		return schema.Value{Null: true}
	}
	return schema.Value{Float: x}
}

func (a *quantileAcc) AppendState(dst []byte) []byte {
	a.buf = a.buf[:0]
	a.dd.Encode(&a.buf, false)
	dst = binary.AppendUvarint(dst, uint64(len(a.buf)))
	return append(dst, a.buf...)
}

func (a *quantileAcc) LoadState(src []byte) ([]byte, error) {
	l, k := binary.Uvarint(src)
	if k <= 0 || uint64(len(src)-k) < l {
		return nil, errBadState
	}
	dd, err := ddsketch.DecodeDDSketch(src[k:k+int(l)], store.DefaultProvider, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadState, err)
	}
	a.dd = dd
	return src[k+int(l):], nil
}
