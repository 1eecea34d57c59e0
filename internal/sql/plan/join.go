package plan

import (
	"fmt"
	"strings"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

// joinBind is what FROM a JOIN b established: two sides, their columns
// laid out one after the other in the joined row.
type joinBind struct {
	x     *parse.Join
	side  [2]Source
	names [2][]string // what each side may be qualified with
	tvf   [2]*parse.WindowTVF
	kind  stream.JoinKind
	// lookup: the right side is a reference table (see planLookup).
	lookup bool
	// Filled by planJoin, for EXPLAIN.
	keyText   []string
	boundText []string
	onText    []string
	pushed    [2][]string
}

// fromJoin binds `left JOIN right ON cond` over two streams (or two
// windows of streams, for a window join).
func (b *binder) fromJoin(x *parse.Join, lookup Lookup) error {
	j := &joinBind{x: x}
	switch x.Kind {
	case "INNER":
		j.kind = stream.InnerJoin
	case "LEFT":
		j.kind = stream.LeftJoin
	case "CROSS":
		return errAt(x.Pos, "CROSS JOIN is not supported in views: its state would hold every row of both streams; join ON an equality of columns")
	default:
		return errAt(x.Pos, "%s JOIN is not supported in views yet: use JOIN or LEFT JOIN (swap the sides for a RIGHT JOIN)", x.Kind)
	}
	for i, f := range []parse.From{x.Left, x.Right} {
		switch y := f.(type) {
		case *parse.TableRef:
			src, err := find(lookup, y.Name, y.Pos)
			if err != nil {
				return err
			}
			j.side[i], j.names[i] = src, []string{y.Name, y.Alias}
		case *parse.WindowTVF:
			sub := &binder{cv: b.cv}
			if err := sub.from(y, lookup); err != nil {
				return err
			}
			if y.Kind == "SESSION" {
				return errAt(y.Pos, "a window join over SESSION windows is not supported: sessions differ per side; use TUMBLE, HOP or CUMULATE")
			}
			j.side[i], j.names[i], j.tvf[i] = sub.src, []string{y.Table, y.Alias}, y
			b.window = sub.window
		case *parse.Join:
			return errAt(y.FromPos(), "a view joins two streams; a join of more is not supported yet")
		default:
			return errAt(f.FromPos(), "a join in a view reads streams, views, or windows of them; a subquery or WITH query as a join side is not supported yet: make it a view of its own and join that")
		}
	}
	for _, src := range j.side {
		if src.Changelog != "" {
			return errAt(x.Pos, "a join reads views that append rows; view %q updates its rows (join the stream it reads instead)", src.Changelog)
		}
	}
	for t, src := range j.side {
		if src.Table != nil {
			return b.bindLookup(x, j, t)
		}
	}
	if (j.tvf[0] == nil) != (j.tvf[1] == nil) {
		return errAt(x.Pos, "a window join needs the same window on both sides, e.g. TABLE(TUMBLE(TABLE a, ...)) a JOIN TABLE(TUMBLE(TABLE b, ...)) b ON ... AND a.window_start = b.window_start AND a.window_end = b.window_end")
	}
	if j.tvf[0] != nil {
		l, r := j.tvf[0], j.tvf[1]
		same := l.Kind == r.Kind && len(l.Args) == len(r.Args)
		for i := range l.Args {
			same = same && i < len(r.Args) && l.Args[i].Micros == r.Args[i].Micros
		}
		if !same {
			return errAt(r.Pos, "a window join needs the same window on both sides: the left is %s, the right %s", windowText(l), windowText(r))
		}
	}
	if a, c := j.names[0], j.names[1]; qualifier(a) == qualifier(c) {
		return errAt(x.Pos, "both sides of the join are called %q; give them aliases, e.g. FROM %s a JOIN %s b", qualifier(a), a[0], c[0])
	}
	b.join = j
	b.src = j.side[0]
	b.names = j.names[0]
	b.rowCols = append(append([]schema.Column(nil), j.side[0].Columns...), j.side[1].Columns...)
	return nil
}

func qualifier(names []string) string {
	if names[1] != "" {
		return names[1]
	}
	return names[0]
}

func windowText(w *parse.WindowTVF) string {
	var args []string
	for _, a := range w.Args {
		args = append(args, a.Text)
	}
	return w.Kind + "(" + strings.Join(args, ", ") + ")"
}

// resolveJoin finds an identifier among the joined row's columns.
func (b *binder) resolveJoin(id *parse.Ident) (int, schema.Type, error) {
	j := b.join
	name := id.Parts[len(id.Parts)-1]
	if len(id.Parts) > 2 {
		return 0, 0, errAt(id.Pos, "%s: nested names are not supported", strings.Join(id.Parts, "."))
	}
	sides := []int{0, 1}
	if len(id.Parts) == 2 {
		switch q := id.Parts[0]; {
		case matches(j.names[0], q):
			sides = []int{0}
		case matches(j.names[1], q):
			sides = []int{1}
		default:
			return 0, 0, errAt(id.Pos, "unknown table %q in %s: the view joins %q and %q", q, strings.Join(id.Parts, "."), qualifier(j.names[0]), qualifier(j.names[1]))
		}
	}
	if b.window.Kind != stream.NoWindow {
		// Both sides share one window: its bounds are one pair of columns.
		n := len(b.rowCols)
		switch strings.ToLower(name) {
		case "window_start":
			return n, schema.Timestamp, nil
		case "window_end":
			return n + 1, schema.Timestamp, nil
		}
	}
	found, fslot, ftype := -1, 0, schema.Type(0)
	for _, s := range sides {
		off := 0
		if s == 1 {
			off = len(j.side[0].Columns)
		}
		slot, typ, ok := findColumn(j.side[s].Columns, name)
		if !ok {
			continue
		}
		if found >= 0 {
			return 0, 0, errAt(id.Pos, "column %q is in both %q and %q: qualify it, e.g. %s.%s", name, qualifier(j.names[0]), qualifier(j.names[1]), qualifier(j.names[0]), name)
		}
		found, fslot, ftype = s, off+slot, typ
	}
	if found >= 0 {
		b.markUsed(fslot)
		return fslot, ftype, nil
	}
	var have []string
	for _, s := range sides {
		for _, c := range j.side[s].Columns {
			have = append(have, qualifier(j.names[s])+"."+c.Name)
		}
	}
	return 0, 0, errAt(id.Pos, "unknown column %q; the join has: %s", strings.Join(id.Parts, "."), strings.Join(have, ", "))
}

// markUsed records that the view reads a slot of the joined row.
func (b *binder) markUsed(slot int) {
	if b.used == nil {
		b.used = map[int]bool{}
	}
	b.used[slot] = true
}

// usedColumns says, per side, which input columns the view reads (and the
// event time): the join buffers only those.
func (b *binder) usedColumns() [2][]bool {
	var out [2][]bool
	off := 0
	for s, src := range b.join.side {
		out[s] = make([]bool, len(src.Columns))
		for i := range src.Columns {
			out[s][i] = b.used[off+i] || i == src.EventCol
		}
		off += len(src.Columns)
	}
	return out
}

func matches(names []string, q string) bool {
	if names[1] != "" {
		return q == names[1]
	}
	return q == names[0]
}

// findColumn finds a column by name, exactly or else ignoring case.
func findColumn(cols []schema.Column, name string) (int, schema.Type, bool) {
	for i, c := range cols {
		if c.Name == name {
			return i, c.Type, true
		}
	}
	for i, c := range cols {
		if strings.EqualFold(c.Name, name) {
			return i, c.Type, true
		}
	}
	return 0, 0, false
}

// starColumns are the slots SELECT * (or t.*) expands to in a join.
func (b *binder) starColumns(table string, pos parse.Pos) ([]int, error) {
	j := b.join
	var sides []int
	switch {
	case table == "":
		sides = []int{0, 1}
	case matches(j.names[0], table):
		sides = []int{0}
	case matches(j.names[1], table):
		sides = []int{1}
	default:
		return nil, errAt(pos, "unknown table %q in %s.*: the view joins %q and %q", table, table, qualifier(j.names[0]), qualifier(j.names[1]))
	}
	var slots []int
	for _, s := range sides {
		off := 0
		if s == 1 {
			off = len(j.side[0].Columns)
		}
		for i := range j.side[s].Columns {
			slots = append(slots, off+i)
			b.markUsed(off + i)
		}
	}
	if b.window.Kind != stream.NoWindow && table == "" {
		slots = append(slots, len(b.rowCols), len(b.rowCols)+1)
	}
	return slots, nil
}

// sidesOf tells which sides' columns e reads: bit 0 the left, bit 1 the
// right, bit 2 the shared window bounds.
func (b *binder) sidesOf(e parse.Expr) (int, error) {
	mask := 0
	var err error
	nl := len(b.join.side[0].Columns)
	walk(e, func(x parse.Expr) {
		id, ok := x.(*parse.Ident)
		if !ok || err != nil {
			return
		}
		var slot int
		if slot, _, err = b.resolveJoin(id); err != nil {
			return
		}
		switch {
		case slot < nl:
			mask |= 1
		case slot < len(b.rowCols):
			mask |= 2
		default:
			mask |= 4
		}
	})
	return mask, err
}

// conjuncts splits e at its top-level ANDs.
func conjuncts(e parse.Expr, out []parse.Expr) []parse.Expr {
	if x, ok := e.(*parse.Binary); ok && x.Op == "AND" {
		return conjuncts(x.R, conjuncts(x.L, out))
	}
	if e != nil {
		out = append(out, e)
	}
	return out
}

func and(es []parse.Expr) parse.Expr {
	var out parse.Expr
	for _, e := range es {
		if out == nil {
			out = e
		} else {
			out = &parse.Binary{Pos: e.ExprPos(), Op: "AND", L: out, R: e}
		}
	}
	return out
}

// planJoin compiles the join's ON condition into keys, time bounds and a
// residual condition, pushes the WHERE conditions on one side below the
// join, and returns what is left of WHERE (over the joined row).
func (b *binder) planJoin(p *stream.Plan, where parse.Expr) (parse.Expr, error) {
	j := b.join
	in := &inputScope{b: b}
	sj := &stream.Join{Kind: j.kind, Right: j.side[1].Input, LeftKeep: stream.Forever, RightKeep: stream.Forever,
		Names: [2]string{qualifier(j.names[0]), qualifier(j.names[1])}}
	p.Input = j.side[0].Input
	p.Join = sj
	var on []parse.Expr
	sawStart, sawEnd := false, false
	// Bounds on d = right event time - left event time.
	lo, hi := int64(0), int64(0)
	hasLo, hasHi := false, false
	var ons []parse.Expr
	for _, c := range conjuncts(j.x.On, nil) {
		// A BETWEEN that is not a pair of event-time bounds may hold one
		// (b.ts BETWEEN a.ts AND a.expires): look at its halves apart.
		if x, ok := c.(*parse.Between); ok && !x.Not {
			if _, _, ok := b.timeBound(c); !ok {
				ons = append(ons, &parse.Binary{Pos: x.Pos, Op: ">=", L: x.X, R: x.Lo}, &parse.Binary{Pos: x.Pos, Op: "<=", L: x.X, R: x.Hi})
				continue
			}
		}
		ons = append(ons, c)
	}
	for _, c := range ons {
		if hasAggregate(c) {
			return nil, errAt(c.ExprPos(), "aggregates are not allowed in a join's ON condition")
		}
		mask, err := b.sidesOf(c)
		if err != nil {
			return nil, err
		}
		if x, ok := c.(*parse.Binary); ok && x.Op == "=" && b.window.Kind != stream.NoWindow && mask == 4 {
			// l.window_start = r.window_start: the sides share the window.
			for _, y := range []parse.Expr{x.L, x.R} {
				if id, ok := y.(*parse.Ident); ok {
					switch strings.ToLower(id.Parts[len(id.Parts)-1]) {
					case "window_start":
						sawStart = true
					case "window_end":
						sawEnd = true
					}
				}
			}
			continue
		}
		if x, ok := c.(*parse.Binary); ok && x.Op == "=" && mask == 3 {
			lm, err := b.sidesOf(x.L)
			if err != nil {
				return nil, err
			}
			rm, err := b.sidesOf(x.R)
			if err != nil {
				return nil, err
			}
			if (lm == 1 && rm == 2) || (lm == 2 && rm == 1) {
				le, re := x.L, x.R
				if lm == 2 {
					le, re = re, le
				}
				if !b.isEventTime(le, 0) || !b.isEventTime(re, 1) {
					lk, err := compile(le, in)
					if err != nil {
						return nil, err
					}
					rk, err := compile(re, in)
					if err != nil {
						return nil, err
					}
					if lk, rk, _, err = unify(x.Pos, lk, rk, "join on"); err != nil {
						return nil, err
					}
					sj.LeftKey = append(sj.LeftKey, lk)
					sj.RightKey = append(sj.RightKey, rk)
					j.keyText = append(j.keyText, clauseText(c))
					continue
				}
			}
		}
		if side, until, ok, err := b.untilBound(c, in); err != nil {
			return nil, err
		} else if ok {
			if side == 0 && sj.LeftUntil == nil {
				sj.LeftUntil = until
			} else if side == 1 && sj.RightUntil == nil {
				sj.RightUntil = until
			}
			j.boundText = append(j.boundText, clauseText(c))
			on = append(on, c)
			continue
		}
		if l, h, ok := b.timeBound(c); ok {
			if l != nil && (!hasLo || *l > lo) {
				lo, hasLo = *l, true
			}
			if h != nil && (!hasHi || *h < hi) {
				hi, hasHi = *h, true
			}
			j.boundText = append(j.boundText, clauseText(c))
		} else {
			j.onText = append(j.onText, clauseText(c))
		}
		on = append(on, c) // time bounds too: they are checked per pair
	}
	if b.window.Kind != stream.NoWindow && !(sawStart && sawEnd) {
		return nil, errAt(j.x.Pos, "a window join matches rows of the same window: add ON ... AND %s.window_start = %s.window_start AND %s.window_end = %s.window_end",
			qualifier(j.names[0]), qualifier(j.names[1]), qualifier(j.names[0]), qualifier(j.names[1]))
	}
	if ttl := b.cv.StateTTL; ttl != nil {
		switch {
		case b.window.Kind != stream.NoWindow || hasLo || hasHi:
			return nil, errAt(ttl.Pos, "STATE TTL applies to regular joins; this one's state is bounded already by its window or time bounds")
		case ttl.Micros <= 0:
			return nil, errAt(ttl.Pos, "STATE TTL needs a positive interval, got %s", ttl.Text)
		}
		// Rows further apart in event time than the TTL do not join: the
		// bound a buffered row's expiry needs to keep results exact.
		lo, hi, hasLo, hasHi = -ttl.Micros, ttl.Micros, true, true
		at := func(s int) *parse.Ident {
			return &parse.Ident{Pos: ttl.Pos, Parts: []string{qualifier(j.names[s]), j.side[s].EventTime}}
		}
		on = append(on,
			&parse.Binary{Pos: ttl.Pos, Op: ">=", L: at(1), R: &parse.Binary{Pos: ttl.Pos, Op: "-", L: at(0), R: ttl}},
			&parse.Binary{Pos: ttl.Pos, Op: "<=", L: at(1), R: &parse.Binary{Pos: ttl.Pos, Op: "+", L: at(0), R: ttl}})
		j.boundText = append(j.boundText, fmt.Sprintf("STATE TTL %s: %s within %s of %s", ttl.Text, qualifiedTime(j, 1), dur(ttl.Micros), qualifiedTime(j, 0)))
	}
	if len(sj.LeftKey) == 0 {
		return nil, errAt(j.x.Pos, "a join in a view needs an equality of a column (or expression) of each side in ON, e.g. ON %s.id = %s.id: it is what the state is keyed by",
			qualifier(j.names[0]), qualifier(j.names[1]))
	}
	if hasHi {
		sj.LeftKeep = hi
	}
	if hasLo {
		sj.RightKeep = -lo
	}
	if hasLo && hasHi && lo > hi {
		return nil, errAt(j.x.Pos, "the join's time bounds leave no pair: the right side's time must be at least %s and at most %s after the left's", dur(lo), dur(hi))
	}
	if j.kind == stream.LeftJoin && b.window.Kind == stream.NoWindow && sj.LeftKeep == stream.Forever && sj.LeftUntil == nil {
		return nil, errAt(j.x.Pos, "a LEFT JOIN in a view needs a time bound (e.g. ON ... AND %s BETWEEN %s AND %s + INTERVAL '1' HOUR), a window join or STATE TTL: without one, no time comes when a left row is known to have no match",
			qualifiedTime(j, 1), qualifiedTime(j, 0), qualifiedTime(j, 0))
	}
	if len(on) > 0 {
		var err error
		if sj.On, err = condition(and(on), in, j.x.On, "ON"); err != nil {
			return nil, err
		}
	}
	// WHERE conditions on one side filter it before the join; a LEFT join
	// keeps right-side conditions above it (they see the padded nulls).
	var side [2][]parse.Expr
	var left []parse.Expr
	for _, c := range conjuncts(where, nil) {
		mask, err := b.sidesOf(c)
		if err != nil {
			return nil, err
		}
		switch {
		case mask == 1 && !hasAggregate(c):
			side[0] = append(side[0], c)
		case mask == 2 && j.kind == stream.InnerJoin && !hasAggregate(c):
			side[1] = append(side[1], c)
		default:
			left = append(left, c)
		}
	}
	for s, cs := range side {
		if len(cs) == 0 {
			continue
		}
		e, err := condition(and(cs), in, cs[0], "WHERE")
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			j.pushed[s] = append(j.pushed[s], clauseText(c))
		}
		if s == 0 {
			sj.LeftFilter = e
		} else {
			sj.RightFilter = e
		}
	}
	return and(left), nil
}

func qualifiedTime(j *joinBind, s int) string {
	return qualifier(j.names[s]) + "." + j.side[s].EventTime
}

// isEventTime reports whether e is side s's event-time column.
func (b *binder) isEventTime(e parse.Expr, s int) bool {
	id, ok := e.(*parse.Ident)
	if !ok {
		return false
	}
	slot, _, err := b.resolveJoin(id)
	if err != nil {
		return false
	}
	if s == 1 {
		slot -= len(b.join.side[0].Columns)
	}
	return slot == b.join.side[s].EventCol
}

// timeBound reads a condition between the two sides' event times, such
// as r.ts BETWEEN l.ts AND l.ts + INTERVAL '1' HOUR or l.ts > r.ts -
// INTERVAL '5' SECOND, as bounds on d = right time - left time (nil: no
// bound that way).
func (b *binder) timeBound(c parse.Expr) (lo, hi *int64, ok bool) {
	switch x := c.(type) {
	case *parse.Between:
		if x.Not {
			return nil, nil, false
		}
		l1, _, ok1 := b.timeBound(&parse.Binary{Op: ">=", L: x.X, R: x.Lo})
		_, h2, ok2 := b.timeBound(&parse.Binary{Op: "<=", L: x.X, R: x.Hi})
		if !ok1 || !ok2 {
			return nil, nil, false
		}
		return l1, h2, true
	case *parse.Binary:
		sa, oa, ok1 := b.timeTerm(x.L)
		sb, ob, ok2 := b.timeTerm(x.R)
		if !ok1 || !ok2 || sa == sb {
			return nil, nil, false
		}
		// A op B with A = tA + oa, B = tB + ob. Make it about d = tR - tL.
		var le, ge bool // d <= v, d >= v
		var v int64
		if sa == 0 { // tL + oa op tR + ob  ⇔  d op' oa - ob
			v = oa - ob
			switch x.Op {
			case "<", "<=":
				ge = true
			case ">", ">=":
				le = true
			case "=":
				le, ge = true, true
			default:
				return nil, nil, false
			}
		} else { // tR + oa op tL + ob  ⇔  d op ob - oa
			v = ob - oa
			switch x.Op {
			case "<", "<=":
				le = true
			case ">", ">=":
				ge = true
			case "=":
				le, ge = true, true
			default:
				return nil, nil, false
			}
		}
		if ge {
			lo = &v
		}
		if le {
			hi = &v
		}
		return lo, hi, true
	}
	return nil, nil, false
}

// untilBound reads an upper bound on one side's event time by a
// timestamp column of the other side, such as b.ts <= a.expires or
// a.deadline + INTERVAL '1' HOUR > b.ts: the other side's rows can match
// nothing once the watermark passes that column. It returns that side
// and its bound as an expression over the joined row.
func (b *binder) untilBound(c parse.Expr, in scope) (int, *stream.Expr, bool, error) {
	x, ok := c.(*parse.Binary)
	if !ok || b.window.Kind != stream.NoWindow {
		return 0, nil, false, nil
	}
	l, r, op := x.L, x.R, x.Op
	switch op {
	case ">", ">=": // r < l
		l, r = r, l
	case "<", "<=":
	default:
		return 0, nil, false, nil
	}
	// l is the event time of side s (± an interval); r a column of the
	// other side (± an interval).
	s, off, ok := b.timeTerm(l)
	if !ok {
		return 0, nil, false, nil
	}
	col, roff := r, int64(0)
	if y, ok := r.(*parse.Binary); ok && (y.Op == "+" || y.Op == "-") {
		if iv, ok := y.R.(*parse.Interval); ok {
			col, roff = y.L, iv.Micros
			if y.Op == "-" {
				roff = -roff
			}
		}
	}
	id, ok := col.(*parse.Ident)
	if !ok {
		return 0, nil, false, nil
	}
	mask, err := b.sidesOf(id)
	if err != nil {
		return 0, nil, false, err
	}
	other := 1 - s
	if mask != 1<<other || b.isEventTime(id, other) {
		return 0, nil, false, nil
	}
	e, err := compile(col, in)
	if err != nil || e.Type != schema.Timestamp {
		return 0, nil, false, err
	}
	// ts + off <= col + roff  ⇔  ts <= col + (roff - off).
	if d := roff - off; d != 0 {
		base := e
		e = stream.Expr{Type: schema.Timestamp, Eval: func(row stream.Row) schema.Value {
			v := base.Eval(row)
			if !v.Null {
				v.Int += d
			}
			return v
		}}
	}
	return other, &e, true, nil
}

// timeTerm reads `side.ts`, `side.ts + INTERVAL ...` or `side.ts -
// INTERVAL ...`: the side and the offset in µs.
func (b *binder) timeTerm(e parse.Expr) (int, int64, bool) {
	var off int64
	if x, ok := e.(*parse.Binary); ok && (x.Op == "+" || x.Op == "-") {
		iv, ok := x.R.(*parse.Interval)
		if !ok {
			return 0, 0, false
		}
		off = iv.Micros
		if x.Op == "-" {
			off = -off
		}
		e = x.L
	}
	for s := range 2 {
		if b.isEventTime(e, s) {
			return s, off, true
		}
	}
	return 0, 0, false
}

// clauseText is a condition as EXPLAIN shows it: without the outer
// parentheses FormatExpr puts around a binary expression.
func clauseText(e parse.Expr) string {
	s := parse.FormatExpr(e)
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return s
	}
	depth := 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth == 0 && i < len(s)-1 {
			return s // the first parenthesis closes before the end
		}
	}
	return s[1 : len(s)-1]
}
