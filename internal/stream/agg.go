package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/weirhq/weir/internal/schema"
)

// AggKind names an aggregate function.
type AggKind uint8

// Aggregate functions. All of them are mergeable, so a partial aggregate
// computed before a repartition can be combined after it.
const (
	AggCount         AggKind = iota + 1 // count(x): non-null values; count(*) has no argument
	AggCountDistinct                    // count(DISTINCT x): exact
	AggSum
	AggMin
	AggMax
	AggAvg
	AggFirst          // first_value(x): the value with the smallest event time
	AggLast           // last_value(x): the value with the largest event time
	AggApproxDistinct // approx_count_distinct(x): HyperLogLog
	AggApproxQuantile // approx_percentile(x, q): DDSketch, 1% relative accuracy
	AggTopN           // the rows of a Top-N group (Plan.TopN); not mergeable across partitions
)

// AggSpec is one aggregate of a plan.
type AggSpec struct {
	Kind AggKind
	Arg  *Expr       // nil for count(*)
	Type schema.Type // the result type
	// Quantile is approx_percentile's q, in [0, 1].
	Quantile float64
	// N is how many rows AggTopN keeps, and Rank how it numbers them.
	// All keeps every row of a group (a Top-N over a changelog, whose
	// ranked rows may leave); N is then how many it shows.
	N    int
	Rank RankKind
	All  bool
}

// Acc is the running state of one aggregate for one group.
type Acc interface {
	// Add folds in one input value; ts is the row's event time (µs).
	Add(v schema.Value, ts int64)
	// Merge folds in another accumulator of the same spec (session windows
	// that meet, partial aggregates).
	Merge(o Acc)
	// Result is the aggregate's current value.
	Result() schema.Value
	// AppendState encodes the state; LoadState decodes what AppendState wrote
	// and returns the rest of src.
	AppendState(dst []byte) []byte
	LoadState(src []byte) ([]byte, error)
}

var errBadState = errors.New("corrupt aggregate state")

// NewAcc returns an empty accumulator for the spec.
func (s *AggSpec) NewAcc() Acc {
	switch s.Kind {
	case AggCount:
		return &countAcc{star: s.Arg == nil}
	case AggCountDistinct:
		return newDistinctAcc(s.Arg.Type)
	case AggSum:
		if s.Type == schema.Float64 {
			return &sumFloatAcc{}
		}
		return &sumIntAcc{}
	case AggMin, AggMax:
		return &extremeAcc{typ: s.Arg.Type, max: s.Kind == AggMax}
	case AggAvg:
		return &avgAcc{float: s.Arg.Type == schema.Float64}
	case AggFirst, AggLast:
		return &byTimeAcc{typ: s.Arg.Type, last: s.Kind == AggLast}
	case AggApproxDistinct:
		return newHLL(s.Arg.Type)
	case AggApproxQuantile:
		return newQuantile(s.Arg.Type, s.Quantile)
	case AggTopN:
		return &topAcc{n: s.N, rank: s.Rank, all: s.All}
	}
	panic(fmt.Sprintf("BUG: aggregate kind %d", s.Kind))
}

type countAcc struct {
	star bool
	n    int64
}

func (a *countAcc) Add(v schema.Value, _ int64) {
	if a.star || !v.Null {
		a.n++
	}
}
func (a *countAcc) Merge(o Acc)                   { a.n += o.(*countAcc).n }
func (a *countAcc) Result() schema.Value          { return schema.Value{Int: a.n} }
func (a *countAcc) AppendState(dst []byte) []byte { return binary.AppendVarint(dst, a.n) }
func (a *countAcc) LoadState(src []byte) ([]byte, error) {
	return loadVarint(src, &a.n)
}

type sumIntAcc struct {
	n   int64 // non-null inputs: sum of no values is NULL
	sum int64
}

func (a *sumIntAcc) Add(v schema.Value, _ int64) {
	if !v.Null {
		a.n++
		a.sum += v.Int
	}
}
func (a *sumIntAcc) Merge(o Acc) {
	b := o.(*sumIntAcc)
	a.n += b.n
	a.sum += b.sum
}
func (a *sumIntAcc) Result() schema.Value {
	if a.n == 0 {
		return schema.Value{Null: true}
	}
	return schema.Value{Int: a.sum}
}
func (a *sumIntAcc) AppendState(dst []byte) []byte {
	return binary.AppendVarint(binary.AppendVarint(dst, a.n), a.sum)
}
func (a *sumIntAcc) LoadState(src []byte) ([]byte, error) {
	src, err := loadVarint(src, &a.n)
	if err != nil {
		return nil, err
	}
	return loadVarint(src, &a.sum)
}

type sumFloatAcc struct {
	n   int64
	sum float64
}

func (a *sumFloatAcc) Add(v schema.Value, _ int64) {
	if !v.Null {
		a.n++
		a.sum += v.Float
	}
}
func (a *sumFloatAcc) Merge(o Acc) {
	b := o.(*sumFloatAcc)
	a.n += b.n
	a.sum += b.sum
}
func (a *sumFloatAcc) Result() schema.Value {
	if a.n == 0 {
		return schema.Value{Null: true}
	}
	return schema.Value{Float: a.sum}
}
func (a *sumFloatAcc) AppendState(dst []byte) []byte {
	return appendFloat(binary.AppendVarint(dst, a.n), a.sum)
}
func (a *sumFloatAcc) LoadState(src []byte) ([]byte, error) {
	src, err := loadVarint(src, &a.n)
	if err != nil {
		return nil, err
	}
	return loadFloat(src, &a.sum)
}

// avgAcc keeps sum and count; integer inputs are summed exactly.
type avgAcc struct {
	float bool
	n     int64
	isum  int64
	fsum  float64
}

func (a *avgAcc) Add(v schema.Value, _ int64) {
	if v.Null {
		return
	}
	a.n++
	if a.float {
		a.fsum += v.Float
	} else {
		a.isum += v.Int
	}
}
func (a *avgAcc) Merge(o Acc) {
	b := o.(*avgAcc)
	a.n += b.n
	a.isum += b.isum
	a.fsum += b.fsum
}
func (a *avgAcc) Result() schema.Value {
	if a.n == 0 {
		return schema.Value{Null: true}
	}
	if a.float {
		return schema.Value{Float: a.fsum / float64(a.n)}
	}
	return schema.Value{Float: float64(a.isum) / float64(a.n)}
}
func (a *avgAcc) AppendState(dst []byte) []byte {
	dst = binary.AppendVarint(dst, a.n)
	if a.float {
		return appendFloat(dst, a.fsum)
	}
	return binary.AppendVarint(dst, a.isum)
}
func (a *avgAcc) LoadState(src []byte) ([]byte, error) {
	src, err := loadVarint(src, &a.n)
	if err != nil {
		return nil, err
	}
	if a.float {
		return loadFloat(src, &a.fsum)
	}
	return loadVarint(src, &a.isum)
}

// extremeAcc is min or max of any orderable type.
type extremeAcc struct {
	typ schema.Type
	max bool
	has bool
	v   schema.Value // Bytes owned
}

func (a *extremeAcc) Add(v schema.Value, _ int64) {
	if v.Null {
		return
	}
	if !a.has {
		a.has = true
		a.set(v)
		return
	}
	c := Compare(a.typ, v, a.v)
	if (a.max && c > 0) || (!a.max && c < 0) {
		a.set(v)
	}
}

func (a *extremeAcc) Merge(o Acc) {
	if b := o.(*extremeAcc); b.has {
		a.Add(b.v, 0)
	}
}

func (a *extremeAcc) set(v schema.Value) {
	if a.typ == schema.String {
		a.v.Bytes = append(a.v.Bytes[:0], v.Bytes...)
		return
	}
	a.v = only(a.typ, v)
}

// only keeps the field of v that type t uses.
func only(t schema.Type, v schema.Value) schema.Value {
	switch {
	case v.Null:
		return schema.Value{Null: true}
	case t == schema.Float64:
		return schema.Value{Float: v.Float}
	case t == schema.String:
		return schema.Value{Bytes: v.Bytes}
	}
	return schema.Value{Int: v.Int}
}

func (a *extremeAcc) Result() schema.Value {
	if !a.has {
		return schema.Value{Null: true}
	}
	return a.v
}
func (a *extremeAcc) AppendState(dst []byte) []byte {
	if !a.has {
		return append(dst, 0)
	}
	return appendValue(append(dst, 1), a.typ, a.v)
}
func (a *extremeAcc) LoadState(src []byte) ([]byte, error) {
	if len(src) < 1 {
		return nil, errBadState
	}
	a.has = src[0] == 1
	if !a.has {
		return src[1:], nil
	}
	rest, err := loadValue(src[1:], a.typ, &a.v)
	a.v.Bytes = slices.Clone(a.v.Bytes)
	return rest, err
}

// byTimeAcc is first_value / last_value by event time; ties keep the
// earlier-seen value for first and the later-seen one for last.
type byTimeAcc struct {
	typ  schema.Type
	last bool
	has  bool
	ts   int64
	v    schema.Value
}

func (a *byTimeAcc) Add(v schema.Value, ts int64) {
	if a.has && ((a.last && ts < a.ts) || (!a.last && ts >= a.ts)) {
		return
	}
	a.has, a.ts = true, ts
	if a.typ == schema.String {
		a.v = schema.Value{Null: v.Null, Bytes: append(a.v.Bytes[:0], v.Bytes...)}
		return
	}
	a.v = only(a.typ, v)
}

// Merge keeps the earlier (first) or later (last) value; on equal times,
// as if a's rows came first: a's for first, b's for last.
func (a *byTimeAcc) Merge(o Acc) {
	b := o.(*byTimeAcc)
	if !b.has {
		return
	}
	if !a.has || (a.last && b.ts >= a.ts) || (!a.last && b.ts < a.ts) {
		a.has, a.ts = true, b.ts
		if a.typ == schema.String {
			a.v = schema.Value{Null: b.v.Null, Bytes: append(a.v.Bytes[:0], b.v.Bytes...)}
		} else {
			a.v = b.v
		}
	}
}
func (a *byTimeAcc) Result() schema.Value {
	if !a.has {
		return schema.Value{Null: true}
	}
	return a.v
}
func (a *byTimeAcc) AppendState(dst []byte) []byte {
	if !a.has {
		return append(dst, 0)
	}
	dst = binary.AppendVarint(append(dst, 1), a.ts)
	if a.v.Null {
		return append(dst, 0)
	}
	return appendValue(append(dst, 1), a.typ, a.v)
}
func (a *byTimeAcc) LoadState(src []byte) ([]byte, error) {
	if len(src) < 1 {
		return nil, errBadState
	}
	a.has = src[0] == 1
	if !a.has {
		return src[1:], nil
	}
	src, err := loadVarint(src[1:], &a.ts)
	if err != nil || len(src) < 1 {
		return nil, errBadState
	}
	if src[0] == 0 {
		a.v = schema.Value{Null: true}
		return src[1:], nil
	}
	rest, err := loadValue(src[1:], a.typ, &a.v)
	a.v.Bytes = slices.Clone(a.v.Bytes)
	return rest, err
}

// distinctAcc counts distinct non-null values exactly. Integers,
// timestamps and booleans are kept as int64s (a map of strings would
// encode and allocate every value); other types by their encoding. The
// stored state is the same either way: the sorted encodings.
type distinctAcc struct {
	typ  schema.Type
	seen map[string]struct{}
	ints map[int64]struct{}
	buf  []byte
}

func newDistinctAcc(t schema.Type) *distinctAcc {
	if t == schema.String || t == schema.Float64 {
		return &distinctAcc{typ: t, seen: map[string]struct{}{}}
	}
	return &distinctAcc{typ: t, ints: map[int64]struct{}{}}
}

func (a *distinctAcc) Add(v schema.Value, _ int64) {
	if v.Null {
		return
	}
	if a.ints != nil {
		a.ints[v.Int] = struct{}{}
		return
	}
	a.buf = appendValue(a.buf[:0], a.typ, v)
	if _, ok := a.seen[string(a.buf)]; !ok {
		a.seen[string(a.buf)] = struct{}{}
	}
}
func (a *distinctAcc) Merge(o Acc) {
	b := o.(*distinctAcc)
	for k := range b.seen {
		a.seen[k] = struct{}{}
	}
	for x := range b.ints {
		a.ints[x] = struct{}{}
	}
}
func (a *distinctAcc) Result() schema.Value {
	return schema.Value{Int: int64(len(a.seen) + len(a.ints))}
}
func (a *distinctAcc) AppendState(dst []byte) []byte {
	keys := make([]string, 0, len(a.seen)+len(a.ints))
	for k := range a.seen {
		keys = append(keys, k)
	}
	var enc []byte
	for x := range a.ints {
		enc = binary.AppendVarint(enc[:0], x)
		keys = append(keys, string(enc))
	}
	slices.Sort(keys) // deterministic state bytes
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	return dst
}
func (a *distinctAcc) LoadState(src []byte) ([]byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return nil, errBadState
	}
	src = src[k:]
	for range n {
		l, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < l {
			return nil, errBadState
		}
		key := src[k : k+int(l)]
		if a.ints != nil {
			x, n := binary.Varint(key)
			if n != len(key) {
				return nil, errBadState
			}
			a.ints[x] = struct{}{}
		} else {
			a.seen[string(key)] = struct{}{}
		}
		src = src[k+int(l):]
	}
	return src, nil
}

// Compare orders two non-null values of type t: -1, 0 or 1.
func Compare(t schema.Type, a, b schema.Value) int {
	switch t {
	case schema.String:
		return bytes.Compare(a.Bytes, b.Bytes)
	case schema.Float64:
		switch {
		case a.Float < b.Float:
			return -1
		case a.Float > b.Float:
			return 1
		}
		return 0
	default:
		switch {
		case a.Int < b.Int:
			return -1
		case a.Int > b.Int:
			return 1
		}
		return 0
	}
}

func appendValue(dst []byte, t schema.Type, v schema.Value) []byte {
	switch t {
	case schema.String:
		dst = binary.AppendUvarint(dst, uint64(len(v.Bytes)))
		return append(dst, v.Bytes...)
	case schema.Float64:
		return appendFloat(dst, v.Float)
	default:
		return binary.AppendVarint(dst, v.Int)
	}
}

func loadValue(src []byte, t schema.Type, v *schema.Value) ([]byte, error) {
	*v = schema.Value{}
	switch t {
	case schema.String:
		l, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < l {
			return nil, errBadState
		}
		v.Bytes = src[k : k+int(l)]
		return src[k+int(l):], nil
	case schema.Float64:
		return loadFloat(src, &v.Float)
	default:
		return loadVarint(src, &v.Int)
	}
}

func appendFloat(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

func loadFloat(src []byte, f *float64) ([]byte, error) {
	if len(src) < 8 {
		return nil, errBadState
	}
	*f = math.Float64frombits(binary.LittleEndian.Uint64(src))
	return src[8:], nil
}

func loadVarint(src []byte, x *int64) ([]byte, error) {
	v, k := binary.Varint(src)
	if k <= 0 {
		return nil, errBadState
	}
	*x = v
	return src[k:], nil
}
