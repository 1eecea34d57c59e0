package stream

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"

	"github.com/weirhq/weir/internal/schema"
)

// TopN makes an aggregating plan keep, per group (Plan.Keys, and the
// window when windowed), the N rows that come first by Order: SQL's
// ROW_NUMBER() OVER (PARTITION BY keys ORDER BY order) <= N. Plan.Aggs
// is then the one AggTopN aggregate, and a group emits one row per kept
// row instead of a group row: the input row (the Keep slots; the others
// null), then window_start and window_end when windowed, then the row
// number from 1. Plan.Project reads that row.
//
// Order puts NULLs last, ascending or descending (as DuckDB does). Rows
// equal by Order rank by input position: the record read first (lower
// partition, then lower offset) ranks first. Positions are the same on
// every replay, so a restart reproduces the ranking exactly.
//
// A windowed Top-N appends each window's rows when it closes. Without a
// window the view is an upsert changelog keyed by group and row number:
// a row that enters at rank r rewrites ranks r to N.
//
// Over a changelog input (an upsert view's rows, which change and leave)
// a group keeps every row, not only the first N (AggSpec.All): when a
// ranked row leaves, the next one takes its rank. Rows equal by Order
// then rank by their changelog key, not by position: a row's position
// changes with each update, its key does not.
type TopN struct {
	N     int
	Order []Expr
	Desc  []bool
	Keep  []int // the input row slots stored with each kept row
	// Rank is how rows are numbered: ROW_NUMBER() (each its own),
	// RANK() (ties share a number, gaps after them) or DENSE_RANK() (ties
	// share, no gaps). With ties a group may keep more than N rows.
	Rank RankKind
}

// RankKind is a Top-N's numbering.
type RankKind uint8

const (
	RowNumber RankKind = iota
	Rank
	DenseRank
)

// posLen is the size of the input position at the end of a sort key.
const posLen = 12

// topEntry encodes row (read at position p, off) as a ranked entry: the
// order key, the tie-breaker (the position, or over a changelog the row's
// key and its length), then the kept columns. It returns the entry and
// the length of its sort key (order key and tie-breaker).
func (t *Task) topEntry(dst []byte, row Row) ([]byte, int) {
	tn := t.plan.TopN
	for i, e := range tn.Order {
		dst = appendOrderKey(dst, e.Type, e.Eval(row), tn.Desc[i])
	}
	if in := &t.plan.Input; in.Changelog {
		key := row[len(in.Columns)-2].Bytes
		dst = append(dst, key...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(key)))
	} else {
		dst = binary.BigEndian.AppendUint32(dst, uint32(t.posPart))
		dst = binary.BigEndian.AppendUint64(dst, uint64(t.posOff))
	}
	k := len(dst)
	for i, s := range tn.Keep {
		t.topVals[i] = row[s]
	}
	return schema.EncodeRow(t.topCols, dst, t.topVals), k
}

// appendOrderKey appends v's memcomparable encoding: byte order is value
// order (reversed when desc), NULL after every value either way.
func appendOrderKey(dst []byte, typ schema.Type, v schema.Value, desc bool) []byte {
	if v.Null {
		return append(dst, 1)
	}
	dst = append(dst, 0)
	start := len(dst)
	switch typ {
	case schema.String:
		for _, c := range v.Bytes {
			if c == 0 {
				dst = append(dst, 0, 0xff)
			} else {
				dst = append(dst, c)
			}
		}
		dst = append(dst, 0, 0)
	case schema.Float64:
		f := v.Float
		if f == 0 {
			f = 0 // -0 = 0
		}
		bits := math.Float64bits(f)
		if bits&(1<<63) != 0 {
			bits = ^bits
		} else {
			bits |= 1 << 63
		}
		dst = binary.BigEndian.AppendUint64(dst, bits)
	default: // Int64, Timestamp, Bool
		dst = binary.BigEndian.AppendUint64(dst, uint64(v.Int)^(1<<63))
	}
	if desc {
		for i := start; i < len(dst); i++ {
			dst[i] = ^dst[i]
		}
	}
	return dst
}

// ranked is one kept row: b[:k] is its sort key, b[k:] its columns.
type ranked struct {
	b []byte
	k int
}

// topAcc is the state of one Top-N group: up to n rows (every row when
// all), in rank order.
type topAcc struct {
	n    int
	rank RankKind
	all  bool
	rows []ranked
	// dirty is the first row that changed since the group's rows were
	// last emitted (an upsert view rewrites rows from there); emitted is
	// how many rows the output holds (RANK may keep fewer rows later:
	// the rest are deleted); replaced are rows before dirty whose entry
	// was replaced in place (replace), rewritten alone.
	dirty, emitted int
	replaced       []int
}

// orderLen is the length of r's order key (its sort key less the
// tie-breaker).
func (a *topAcc) orderLen(r ranked) int {
	if a.all {
		return r.k - 4 - int(binary.BigEndian.Uint32(r.b[r.k-4:r.k]))
	}
	return r.k - posLen
}

// tie reports whether rows i and j have equal ORDER BY values.
func (a *topAcc) tie(i, j int) bool {
	ri, rj := a.rows[i], a.rows[j]
	return bytes.Equal(ri.b[:a.orderLen(ri)], rj.b[:a.orderLen(rj)])
}

// kept is how many of the rows the numbering keeps.
func (a *topAcc) kept() int {
	switch a.rank {
	case Rank: // the first n, and those tied with the n-th
		k := min(a.n, len(a.rows))
		for k < len(a.rows) && a.tie(k, k-1) {
			k++
		}
		return k
	case DenseRank: // the rows of the first n distinct values
		distinct := 0
		for i := range a.rows {
			if i == 0 || !a.tie(i, i-1) {
				if distinct++; distinct > a.n {
					return i
				}
			}
		}
		return len(a.rows)
	}
	return min(a.n, len(a.rows))
}

// number is row i's rank number, given row i-1's.
func (a *topAcc) number(i int, prev int64) int64 {
	switch {
	case a.rank == RowNumber || i == 0:
		return int64(i + 1)
	case a.tie(i, i-1):
		return prev
	case a.rank == Rank:
		return int64(i + 1)
	}
	return prev + 1
}

// offer ranks the entry e (sort key e[:k]) in the group and reports
// whether it is kept. e is copied.
func (a *topAcc) offer(e []byte, k int) bool {
	i := a.search(e[:k])
	if a.all {
		a.rows = slices.Insert(a.rows, i, ranked{b: slices.Clone(e), k: k})
		a.dirty = min(a.dirty, i)
		return true
	}
	if a.rank == RowNumber {
		if i >= a.n {
			return false
		}
		var buf []byte
		if len(a.rows) == a.n {
			// The last row leaves: its buffer takes the new one.
			buf = a.rows[a.n-1].b[:0]
			a.rows = a.rows[:a.n-1]
		}
		a.rows = slices.Insert(a.rows, i, ranked{b: append(buf, e...), k: k})
		a.dirty = min(a.dirty, i)
		return true
	}
	a.rows = slices.Insert(a.rows, i, ranked{b: slices.Clone(e), k: k})
	cut := a.kept()
	if i >= cut {
		a.rows = slices.Delete(a.rows, i, i+1)
		return false
	}
	clear(a.rows[cut:])
	a.rows = a.rows[:cut]
	a.dirty = min(a.dirty, i)
	return true
}

// replace puts entry e (sort key e[:k]) in place of the row with the same
// sort key, in a group that keeps every row: ok reports whether there
// was one, changed whether its entry differed. Only that row's rank is
// rewritten.
func (a *topAcc) replace(e []byte, k int) (ok, changed bool) {
	i := a.search(e[:k])
	if !a.all || i == len(a.rows) || !bytes.Equal(a.rows[i].b[:a.rows[i].k], e[:k]) {
		return false, false
	}
	if bytes.Equal(a.rows[i].b, e) {
		return true, false
	}
	a.rows[i].b = append(a.rows[i].b[:0], e...)
	if i < a.dirty && !slices.Contains(a.replaced, i) {
		a.replaced = append(a.replaced, i)
	}
	return true, true
}

// search is where the sort key key goes among the rows, and whether a
// row has it.
func (a *topAcc) search(key []byte) int {
	i, _ := slices.BinarySearchFunc(a.rows, key, func(r ranked, key []byte) int { return bytes.Compare(r.b[:r.k], key) })
	return i
}

// Retract takes a row back out of a group that keeps every row: v is its
// entry (Bytes) and sort key length (Int), as topEntry made them.
func (a *topAcc) Retract(v schema.Value, _ int64) {
	key := v.Bytes[:v.Int]
	i := a.search(key)
	if !a.all || i == len(a.rows) || !bytes.Equal(a.rows[i].b[:a.rows[i].k], key) {
		panic("BUG: a Top-N row taken back is not in its group")
	}
	a.rows = slices.Delete(a.rows, i, i+1)
	a.dirty = min(a.dirty, i)
}

func (a *topAcc) Add(schema.Value, int64) {
	panic("BUG: Top-N state takes rows through offer")
}

func (a *topAcc) Merge(o Acc) {
	for _, r := range o.(*topAcc).rows {
		a.offer(r.b, r.k)
	}
}

// Result is the number of kept rows (a group's rows are emitted by the
// task, not as one value).
func (a *topAcc) Result() schema.Value { return schema.Value{Int: int64(len(a.rows))} }

func (a *topAcc) AppendState(dst []byte) []byte {
	size := binary.MaxVarintLen64
	for _, r := range a.rows {
		size += 2*binary.MaxVarintLen64 + len(r.b)
	}
	dst = slices.Grow(dst, size)
	dst = binary.AppendUvarint(dst, uint64(len(a.rows)))
	for _, r := range a.rows {
		dst = binary.AppendUvarint(dst, uint64(r.k))
		dst = binary.AppendUvarint(dst, uint64(len(r.b)))
		dst = append(dst, r.b...)
	}
	return dst
}

func (a *topAcc) LoadState(src []byte) ([]byte, error) {
	n, w := binary.Uvarint(src)
	if w <= 0 || n > uint64(len(src)) || (a.rank == RowNumber && !a.all && n > uint64(a.n)) {
		return nil, errBadState // (RANK keeps ties: more than n rows)
	}
	src = src[w:]
	a.rows = make([]ranked, 0, n)
	for range n {
		k, w := binary.Uvarint(src)
		if w <= 0 {
			return nil, errBadState
		}
		src = src[w:]
		l, w := binary.Uvarint(src)
		if w <= 0 || l > uint64(len(src)-w) || k > l || k < 4 {
			return nil, errBadState
		}
		src = src[w:]
		r := ranked{b: slices.Clone(src[:l]), k: int(k)}
		if o := a.orderLen(r); o < 0 {
			return nil, errBadState
		}
		a.rows = append(a.rows, r)
		src = src[l:]
	}
	// Unknown what the output shows: an upsert view rewrites every rank
	// at the group's next change (the same rows again, where unchanged).
	a.dirty, a.emitted = 0, a.kept()
	return src, nil
}

// topKey is the output row key of row r of a Top-N group (upsert views).
func (t *Task) topKey(g *group, r int) string {
	if !t.plan.Upsert() {
		return ""
	}
	t.keyBuf = binary.AppendUvarint(append(t.keyBuf[:0], g.key...), uint64(r+1))
	return string(t.keyBuf)
}

// emitTop writes the rows of a Top-N group: every rank when the window
// closes, or for an upsert view the ranks that changed (all: every rank).
func (t *Task) emitTop(g *group, all bool) {
	a := g.accs[0].(*topAcc)
	from := a.dirty
	if all || !t.plan.Upsert() {
		from = 0
	}
	row := t.topRow
	n := len(t.row)
	if t.plan.Window.Kind != NoWindow {
		row[n-2] = schema.Value{Int: g.span.Start}
		row[n-1] = schema.Value{Int: g.span.End}
	}
	var num int64
	shown := a.kept()
	for r := 0; r < shown; r++ {
		num = a.number(r, num)
		if r < from && (len(a.replaced) == 0 || !slices.Contains(a.replaced, r)) {
			continue
		}
		vals, err := schema.DecodeRow(t.topCols, a.rows[r].b[a.rows[r].k:], t.topVals)
		if err != nil {
			panic("BUG: Top-N row does not decode: " + err.Error())
		}
		for i, s := range t.plan.TopN.Keep {
			row[s] = vals[i]
		}
		row[n] = schema.Value{Int: num}
		t.writeOut(row, t.topKey(g, r), false)
	}
	if t.plan.Upsert() {
		// Rows a better one pushed out (ties no longer within N), or
		// ranks left empty by rows that left.
		for r := shown; r < a.emitted; r++ {
			t.writeOut(row, t.topKey(g, r), true)
		}
		t.topShown += shown - a.emitted
	}
	a.dirty, a.emitted = len(a.rows), shown
	a.replaced = a.replaced[:0]
	g.changed = false
	if a.all && len(a.rows) == 0 {
		// Its last changelog row left: the group is no more.
		g.gone = true
		delete(t.groups, g.key)
		t.forget(g)
	}
}
