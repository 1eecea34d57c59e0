package stream

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// joinRow is a row a join buffers, waiting for matches from the other side.
type joinRow struct {
	side    int    // 0: left, 1: right
	enc     []byte // the row encoded in the side's current columns (decoded when it matches)
	ver     uint32 // the side's schema version enc is in
	ts      int64
	span    Span        // a window join: the row's window
	bucket  *joinBucket // its index key, and the rows buffered under it
	matched bool        // a left row of a LEFT join found a match
	written bool        // its segment is durable (see joinSegments)
	marker  bool        // a matched marker entry is stored for it
}

// joinBucket holds the buffered rows of one side and index key, in about
// the order they came. A row reaches its bucket without a map lookup.
type joinBucket struct {
	key  string // [window start] + encoded join key
	rows []*group
}

// bufferedRow is a buffered row's group and joinRow, allocated together.
type bufferedRow struct {
	g  group
	jr joinRow
}

// joinState is a task's join buffers.
type joinState struct {
	index   [2]map[string]*joinBucket // side → index key → buffered rows
	q       dueQueue                  // buffered rows that leave, by due
	rows    int
	padRow  Row             // a left row with a null right side (LEFT JOIN)
	keyCols []schema.Column // the join key's types (both sides agree)
	keyBuf  []byte
	keyVal  []schema.Value
	spans   []Span
	pruned  Row    // a row to buffer, its unread columns NULL
	encBuf  []byte // a row to buffer, encoded
	rowKey  []byte // a buffered row's state key, built
	scratch Row    // a buffered row decoded
	// Buffered rows are stored a commit at a time: pending are the rows
	// buffered since the last commit, segs the stored segments that still
	// hold rows, by the time the last of them leaves; markers the rows
	// that became matched after their segment was written.
	pending [2][]*group // per side
	segs    segHeap
	segSeq  uint64
	markers []*group
}

// dueHeap is a min-heap of buffered join rows by due, with the due kept
// beside each pointer: sifting compares without loading the rows (the
// heap was a tenth of q9's CPU through container/heap and pointer loads).
type dueHeap []dueEntry

type dueEntry struct {
	due int64
	g   *group
}

func (h *dueHeap) push(g *group) {
	q := append(*h, dueEntry{g.due, g})
	i := len(q) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if q[parent].due <= q[i].due {
			break
		}
		q[parent], q[i] = q[i], q[parent]
		i = parent
	}
	*h = q
}

func (h *dueHeap) pop() *group {
	q := *h
	top := q[0].g
	n := len(q) - 1
	q[0] = q[n]
	q[n] = dueEntry{}
	q = q[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q[r].due < q[l].due {
			m = r
		}
		if q[i].due <= q[m].due {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}

// dueQueue orders buffered join rows by due. Rows of a side that come in
// order of due (a bid that leaves when the watermark passes its own time)
// queue in that side's FIFO, in O(1) and in memory order; the others (an
// auction that leaves at its expiry) go to a heap. The earliest of the
// heads leaves first.
type dueQueue struct {
	fifo [2]dueFIFO // per side
	heap dueHeap
}

type dueFIFO struct {
	q    []dueEntry
	head int // q[head:] are queued
}

func (f *dueFIFO) due() int64 {
	if f.head < len(f.q) {
		return f.q[f.head].due
	}
	return math.MaxInt64
}

func (q *dueQueue) push(g *group) {
	f := &q.fifo[g.jr.side]
	n := len(f.q)
	if n > f.head && f.q[n-1].due > g.due {
		q.heap.push(g)
		return
	}
	if f.head > 1024 && f.head > n/2 {
		// Most of it has left: move the rest down.
		m := copy(f.q, f.q[f.head:])
		clear(f.q[m:])
		f.q, f.head = f.q[:m], 0
	}
	f.q = append(f.q, dueEntry{g.due, g})
}

// next is the queue whose head leaves first (nil: the heap).
func (q *dueQueue) next() (*dueFIFO, int64) {
	f := &q.fifo[0]
	if o := &q.fifo[1]; o.due() < f.due() {
		f = o
	}
	if d := f.due(); len(q.heap) == 0 || d <= q.heap[0].due {
		return f, d
	}
	return nil, q.heap[0].due
}

// before reports whether a queued row is due before wm.
func (q *dueQueue) before(wm int64) bool {
	_, d := q.next()
	return d < wm
}

// pop removes and returns the row due first.
func (q *dueQueue) pop() *group {
	f, _ := q.next()
	if f == nil {
		return q.heap.pop()
	}
	g := f.q[f.head].g
	f.q[f.head] = dueEntry{}
	if f.head++; f.head == len(f.q) {
		f.q, f.head = f.q[:0], 0
	}
	return g
}

// seg is a stored segment of buffered rows.
type seg struct {
	key []byte
	due int64 // the latest due of its rows
}

type segHeap []seg

func (h segHeap) Len() int           { return len(h) }
func (h segHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h segHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *segHeap) Push(x any)        { *h = append(*h, x.(seg)) }
func (h *segHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (j *joinState) init(p *Join, rowLen int) {
	j.padRow = make(Row, rowLen)
	for _, k := range p.LeftKey {
		j.keyCols = append(j.keyCols, schema.Column{Type: k.Type})
	}
	j.reset()
}

func (j *joinState) reset() {
	j.index = [2]map[string]*joinBucket{{}, {}}
	j.q, j.rows = dueQueue{}, 0
	j.pending, j.segs, j.segSeq, j.markers = [2][]*group{}, nil, 0, nil
}

// end is the end offset of partition p.
func (t *Task) end(p int) (int64, error) {
	return t.opts.Log.End(t.source(p), t.vpPart[p])
}

// source is the log stream partition p (in the task's numbering) is read
// from: its input's, or a merge task's repartition stream.
func (t *Task) source(p int) string {
	if t.merging() {
		return t.opts.Stage.Repart
	}
	return t.inputs[t.vpIn[p]].Stream
}

// merging reports whether the task is a parallel view's merge task.
func (t *Task) merging() bool { return t.opts.Stage.Kind == StageMerge }

// inputNames names the task's input streams, for messages.
func (t *Task) inputNames() string {
	if len(t.inputs) == 1 {
		return fmt.Sprintf("%q", t.inputs[0].Stream)
	}
	return fmt.Sprintf("%q and %q", t.inputs[0].Stream, t.inputs[1].Stream)
}

// LateVersion is the schema version of the view's late records: the
// input's, or 1 for a join's (its rows have both sides' columns).
func (p *Plan) LateVersion() uint32 {
	if p.Join != nil || p.Lookup != nil {
		return 1
	}
	return p.Input.Version
}

// joinRecord matches a record of side (decoded into its segment of t.row)
// against the other side's buffer, feeds each joined row to the rest of
// the plan and buffers the record for later matches.
func (t *Task) joinRecord(side, p int, off int64, ts int64, tsNull bool) error {
	j := t.plan.Join
	row := t.row
	filter, keys, keep, otherKeep, until, otherUntil := j.LeftFilter, j.LeftKey, j.LeftKeep, j.RightKeep, j.LeftUntil, j.RightUntil
	if side == 1 {
		filter, keys, keep, otherKeep, until, otherUntil = j.RightFilter, j.RightKey, j.RightKeep, j.LeftKeep, j.RightUntil, j.LeftUntil
	}
	if filter != nil && !True(filter.Eval(row)) {
		return nil
	}
	windowed := t.plan.Window.Kind != NoWindow
	// Partners leave the other side's buffer: a record behind the
	// watermark may have missed one.
	otherLeaves := otherKeep != Forever || otherUntil != nil
	if tsNull {
		if windowed || keep != Forever || otherLeaves || until != nil {
			// No time: no window, and no telling when it stops matching.
			t.joinLate(side)
			return nil
		}
		ts = math.MinInt64
	}
	st := &t.join
	st.keyVal = st.keyVal[:0]
	keyNull := false
	for i := range keys {
		v := keys[i].Eval(row)
		keyNull = keyNull || v.Null
		st.keyVal = append(st.keyVal, v)
	}
	// Not t.spans: the rest of the plan uses that for each joined row.
	if windowed {
		st.spans = t.plan.Window.Assign(st.spans[:0], ts)
	} else {
		st.spans = append(st.spans[:0], Span{})
	}
	padLeft := side == 0 && j.Kind == LeftJoin
	other := 1 - side
	late := false
	for _, span := range st.spans {
		var sp *Span
		if windowed {
			sp = &span
			if span.End <= t.wm {
				late = true // its window is closed: the other side's rows are gone
				continue
			}
		} else if otherLeaves && ts < t.wm {
			late = true // a match of it may have left the buffer already
			continue
		}
		if keyNull {
			if padLeft {
				t.pad(row, ts, sp)
			}
			continue
		}
		st.keyBuf = st.keyBuf[:0]
		if windowed {
			st.keyBuf = binary.BigEndian.AppendUint64(st.keyBuf, uint64(span.Start)^(1<<63))
		}
		st.keyBuf = schema.EncodeRow(st.keyCols, st.keyBuf, st.keyVal)
		matched := false
		oseg := t.seg[other]
		var partners []*group
		if b := st.index[other][string(st.keyBuf)]; b != nil {
			partners = b.rows
		}
		for _, c := range partners {
			if c.gone {
				continue
			}
			ocols := t.inputs[other].Columns
			if _, err := schema.DecodeRow(ocols, c.jr.enc, row[oseg:oseg+len(ocols)]); err != nil {
				return fmt.Errorf("%w: a buffered join row of view %q: %v", wlog.ErrCorrupt, t.plan.Name, err)
			}
			if j.On != nil && !True(j.On.Eval(row)) {
				continue
			}
			matched = true
			if other == 0 && j.Kind == LeftJoin && !c.jr.matched {
				c.jr.matched = true
				switch {
				case c.storedEpoch > 0: // stored as an entry of its own (an older format)
					t.markJoinDirty(c)
				case c.jr.written:
					st.markers = append(st.markers, c)
				}
			}
			t.joinOut(row, max(ts, c.jr.ts), sp)
		}
		// Buffer the record until no on-time record of the other side can
		// match it.
		due := Forever
		switch {
		case windowed:
			due = span.End - 1
		case keep != Forever:
			due = satAdd(ts, keep)
		}
		if until != nil && !windowed {
			if u := until.Eval(row); !u.Null {
				due = min(due, u.Int)
			} else {
				due = math.MinInt64 // no bound: the ON condition matches nothing
			}
		}
		if due < t.wm {
			if padLeft && !matched {
				t.pad(row, ts, sp)
			}
			continue
		}
		t.bufferRow(side, p, off, row, ts, span, st.keyBuf, matched, due)
	}
	if late {
		t.joinLate(side)
	}
	return nil
}

// joinOut feeds a joined row to the rest of the plan.
func (t *Task) joinOut(row Row, ts int64, span *Span) {
	if t.plan.Filter != nil && !True(t.plan.Filter.Eval(row)) {
		return
	}
	t.apply(row, ts, false, span)
}

// pad feeds a left row with a null right side to the rest of the plan
// (LEFT JOIN: the row found no match). row holds the left side.
func (t *Task) pad(row Row, ts int64, span *Span) {
	pr := t.join.padRow
	n := len(t.plan.Input.Columns)
	copy(pr, row[:n])
	for i := n; i < len(pr); i++ {
		pr[i] = schema.Value{Null: true}
	}
	t.joinOut(pr, ts, span)
}

// joinLate hands a join input record to the late-data policy, with the
// other side's columns null.
func (t *Task) joinLate(side int) {
	other := 1 - side
	n := len(t.inputs[other].Columns)
	for i := range n {
		t.row[t.seg[other]+i] = schema.Value{Null: true}
	}
	t.handleLate(t.row)
}

// bufferRow keeps the record of side (in row) for later matches.
func (t *Task) bufferRow(side, p int, off int64, row Row, ts int64, span Span, indexKey []byte, matched bool, due int64) {
	in := &t.inputs[side]
	seg := row[t.seg[side] : t.seg[side]+len(in.Columns)]
	if used := t.plan.Join.Used[side]; used != nil {
		// Only what the view reads is kept: less state to write and hold.
		t.join.pruned = append(t.join.pruned[:0], seg...)
		for i, u := range used {
			if !u {
				t.join.pruned[i] = schema.Value{Null: true}
			}
		}
		seg = t.join.pruned
	}
	// Few allocations per buffered row: they were a third of q4's CPU in
	// the garbage collector. The encoding is sized exactly, the group and
	// its joinRow are one object, and rows of a key share its index key.
	st := &t.join
	st.encBuf = schema.EncodeRow(in.Columns, st.encBuf[:0], seg)
	key := append(st.rowKey[:0], byte(side))
	key = binary.AppendUvarint(key, uint64(p))
	key = binary.AppendUvarint(key, uint64(off))
	key = binary.BigEndian.AppendUint64(key, uint64(span.Start)^(1<<63))
	st.rowKey = key
	bucket := st.index[side][string(indexKey)]
	if bucket == nil {
		bucket = &joinBucket{key: string(indexKey)}
		st.index[side][bucket.key] = bucket
	}
	b := &bufferedRow{jr: joinRow{side: side, enc: slices.Clone(st.encBuf), ver: in.Version, ts: ts, span: span, bucket: bucket, matched: matched}}
	g := &b.g
	g.key, g.due, g.hidx, g.jr = string(key), due, -1, &b.jr
	t.indexJoinRow(g)
	t.join.pending[side] = append(t.join.pending[side], g)
}

// addJoinRow buffers a restored row, whose bucket (loadJoinRow) names
// its index key: the key's bucket in the index takes it, if there is one.
func (t *Task) addJoinRow(g *group) {
	idx := t.join.index[g.jr.side]
	if b := idx[g.jr.bucket.key]; b != nil {
		g.jr.bucket = b
	} else {
		idx[g.jr.bucket.key] = g.jr.bucket
	}
	t.indexJoinRow(g)
}

// indexJoinRow adds g to the buffer, at the end of its bucket.
func (t *Task) indexJoinRow(g *group) {
	st := &t.join
	b := g.jr.bucket
	b.rows = append(b.rows, g)
	st.rows++
	if g.due != Forever {
		st.q.push(g)
	}
}

// markJoinDirty records that a buffered row's state changed: it is
// written at the next checkpoint.
func (t *Task) markJoinDirty(g *group) {
	if g.dirtyGen != t.dirtyGen+1 {
		g.dirtyGen = t.dirtyGen + 1
		t.dirty = append(t.dirty, g)
	}
}

// evict drops the buffered rows no on-time record can match once the
// watermark is wm, before the watermark moves there; a LEFT join emits its
// unmatched left rows with a null right side.
func (t *Task) evict(wm int64) {
	if t.plan.Join == nil {
		return
	}
	st := &t.join
	for st.q.before(wm) {
		g := st.q.pop()
		jr := g.jr
		// Rows of a key leave in about the order they came: the leaving row
		// is first, or is marked gone (matching skips it) and drops off the
		// front later. Deleting from the middle would make a hot key's
		// evictions quadratic.
		g.gone = true
		b := jr.bucket
		rows := b.rows
		for len(rows) > 0 && rows[0].gone {
			rows[0] = nil
			rows = rows[1:]
		}
		b.rows = rows
		if len(rows) == 0 {
			// Every row in it has left: a row of its key buffered from
			// now on starts a new one.
			delete(st.index[jr.side], b.key)
		}
		st.rows--
		t.forget(g)
		if jr.marker {
			t.deleted = append(t.deleted, t.markerKey(g.key))
		}
		if jr.side == 0 && t.plan.Join.Kind == LeftJoin && !jr.matched {
			// Its own position (the key: side, partition, offset).
			p, n := binary.Uvarint([]byte(g.key[1:]))
			off, _ := binary.Uvarint([]byte(g.key[1+n:]))
			t.posPart, t.posOff = int64(p), int64(off)
			var sp *Span
			if t.plan.Window.Kind != NoWindow {
				sp = &jr.span
			}
			vals, err := schema.DecodeRow(t.inputs[0].Columns, jr.enc, st.scratch)
			if err != nil {
				panic("BUG: a buffered join row does not decode: " + err.Error())
			}
			st.scratch = vals
			t.pad(vals, jr.ts, sp)
		}
	}
}

func (t *Task) segmentPrefix() string { return t.opts.StatePrefix + "js/" }
func (t *Task) markerPrefix() string  { return t.opts.StatePrefix + "jm/" }

func (t *Task) markerKey(rowKey string) []byte {
	return append([]byte(t.markerPrefix()), rowKey...)
}

// joinSegments adds to the commit w the rows buffered since the last
// commit, as one segment entry, and the markers of rows matched since;
// and schedules the deletion of segments whose rows have all left. A row
// that came and left between two commits is never written. On restore,
// a segment's rows whose due is behind the committed watermark are the
// ones that had left: eviction runs before the watermark moves.
func (t *Task) joinSegments(w *wlog.Write) {
	st := &t.join
	for len(st.segs) > 0 && st.segs[0].due < t.wm {
		t.deleted = append(t.deleted, heap.Pop(&st.segs).(seg).key)
	}
	for _, g := range st.markers {
		if !g.gone && !g.jr.marker {
			g.jr.marker = true
			w.Puts = append(w.Puts, wlog.Put{Key: t.markerKey(g.key), Value: []byte{1}})
		}
	}
	clear(st.markers)
	st.markers = st.markers[:0]
	// One segment per side: the sides' rows often live for very different
	// times (an auction until it expires, a bid only until the watermark
	// passes it), and a segment lives as long as its longest-lived row.
	for side := range st.pending {
		t.writeSegment(w, side)
	}
}

// writeSegment adds the rows of side buffered since the last commit to
// w as one segment entry.
func (t *Task) writeSegment(w *wlog.Write, side int) {
	st := &t.join
	pending := st.pending[side]
	size := 0
	for _, g := range pending {
		if !g.gone {
			size += 2*binary.MaxVarintLen64 + len(g.key) + joinRowSize(g)
		}
	}
	v := make([]byte, 0, size)
	n, due := 0, int64(math.MinInt64)
	for _, g := range pending {
		if g.gone {
			continue
		}
		g.jr.written = true
		v = binary.AppendUvarint(v, uint64(len(g.key)))
		v = append(v, g.key...)
		v = binary.AppendUvarint(v, uint64(joinRowLen(g)))
		v = appendJoinRow(v, g)
		n++
		due = max(due, g.due)
	}
	clear(pending)
	st.pending[side] = pending[:0]
	if n == 0 {
		return
	}
	st.segSeq++
	key := binary.BigEndian.AppendUint64([]byte(t.segmentPrefix()), st.segSeq)
	w.Puts = append(w.Puts, wlog.Put{Key: key, Value: v})
	if due != Forever {
		heap.Push(&st.segs, seg{key: key, due: due})
	}
}

// restoreSegments loads the stored segments of buffered rows and the
// matched markers (restore, after the position).
func (t *Task) restoreSegments() error {
	st := &t.join
	byKey := map[string]*group{}
	prefix := t.segmentPrefix()
	var bad error
	err := t.opts.Meta.Scan([]byte(prefix), func(k, v []byte) bool {
		key := slices.Clone(k)
		if len(k) == len(prefix)+8 {
			st.segSeq = max(st.segSeq, binary.BigEndian.Uint64(k[len(prefix):]))
		}
		due := int64(math.MinInt64)
		for len(v) > 0 {
			kl, n := binary.Uvarint(v)
			if n <= 0 || uint64(len(v)-n) < kl {
				bad = errBadJoinState
				return false
			}
			gk := string(v[n : n+int(kl)])
			v = v[n+int(kl):]
			vl, n := binary.Uvarint(v)
			if n <= 0 || uint64(len(v)-n) < vl {
				bad = errBadJoinState
				return false
			}
			g, err := t.loadJoinRow(gk, slices.Clone(v[n:n+int(vl)]))
			if err != nil {
				bad = err
				return false
			}
			v = v[n+int(vl):]
			due = max(due, g.due)
			if g.due < t.wm {
				continue // it had left before the commit
			}
			g.jr.written = true
			t.addJoinRow(g)
			byKey[gk] = g
		}
		if due != Forever {
			heap.Push(&st.segs, seg{key: key, due: due})
		}
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return err
	}
	var gone [][]byte
	mp := t.markerPrefix()
	err = t.opts.Meta.Scan([]byte(mp), func(k, _ []byte) bool {
		if g := byKey[string(k[len(mp):])]; g != nil {
			g.jr.matched, g.jr.marker = true, true
		} else {
			gone = append(gone, slices.Clone(k))
		}
		return true
	})
	if err != nil {
		return err
	}
	if len(gone) > 0 {
		_, err = t.opts.Log.Append(context.Background(), &wlog.Write{Deletes: gone})
	}
	return err
}

// encodeJoinRow is a buffered row's state value.
func (t *Task) encodeJoinRow(g *group) []byte {
	return appendJoinRow(make([]byte, 0, joinRowSize(g)), g)
}

// joinRowLen is the exact size of a buffered row's state value.
func joinRowLen(g *group) int {
	jr := g.jr
	return 1 + uvarintLen(uint64(jr.ver)) + varintLen(jr.ts) + varintLen(g.due) + varintLen(jr.span.Start) + varintLen(jr.span.End) +
		uvarintLen(uint64(len(jr.bucket.key))) + len(jr.bucket.key) + len(jr.enc)
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }
func varintLen(x int64) int   { return uvarintLen(uint64(x<<1) ^ uint64(x>>63)) }

// joinRowSize bounds the size of a buffered row's state value.
func joinRowSize(g *group) int {
	return 1 + 6*binary.MaxVarintLen64 + len(g.jr.bucket.key) + len(g.jr.enc)
}

// appendJoinRow appends a buffered row's state value to v.
func appendJoinRow(v []byte, g *group) []byte {
	jr := g.jr
	var flags byte
	if jr.matched {
		flags = 1
	}
	v = append(v, flags)
	v = binary.AppendUvarint(v, uint64(jr.ver))
	v = binary.AppendVarint(v, jr.ts)
	v = binary.AppendVarint(v, g.due)
	v = binary.AppendVarint(v, jr.span.Start)
	v = binary.AppendVarint(v, jr.span.End)
	v = binary.AppendUvarint(v, uint64(len(jr.bucket.key)))
	v = append(v, jr.bucket.key...)
	return append(v, jr.enc...)
}

var errBadJoinState = errors.New("bad join row")

func (t *Task) loadJoinRow(key string, v []byte) (*group, error) {
	if len(key) < 1 || key[0] > 1 || len(v) < 1 {
		return nil, errBadJoinState
	}
	jr := &joinRow{side: int(key[0]), matched: v[0]&1 != 0}
	g := &group{key: key, jr: jr, hidx: -1}
	v = v[1:]
	ver, n := binary.Uvarint(v)
	if n <= 0 {
		return nil, errBadJoinState
	}
	jr.ver, v = uint32(ver), v[n:]
	for _, x := range []*int64{&jr.ts, &g.due, &jr.span.Start, &jr.span.End} {
		var err error
		if v, err = loadVarint(v, x); err != nil {
			return nil, err
		}
	}
	kl, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < kl {
		return nil, errBadJoinState
	}
	// A bucket of its own until addJoinRow finds its key's.
	jr.bucket, v = &joinBucket{key: string(v[n : n+int(kl)])}, v[n+int(kl):]
	m, err := t.mapper(jr.side, jr.ver)
	if err != nil {
		return nil, err
	}
	in := &t.inputs[jr.side]
	vals := make(Row, len(in.Columns))
	if err := m.decode(v, vals); err != nil {
		return nil, err
	}
	// The row is kept in the current columns from now on.
	jr.enc, jr.ver = v, in.Version
	if m.idx != nil {
		jr.enc = schema.EncodeRow(in.Columns, nil, vals)
	}
	return g, nil
}

// satAdd is a+b, saturating at Forever.
func satAdd(a, b int64) int64 {
	if a > 0 && b > Forever-a {
		return Forever
	}
	return a + b
}
