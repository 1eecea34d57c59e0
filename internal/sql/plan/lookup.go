package plan

import (
	"math"
	"strings"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

// bindLookup finishes binding a join of a stream (or a window of one)
// with a reference table (side t of j): the table goes on the right.
func (b *binder) bindLookup(x *parse.Join, j *joinBind, t int) error {
	if j.side[1-t].Table != nil {
		return errAt(x.Pos, "both sides of the join are reference tables; a view reads a stream or a view, and may join it with a table")
	}
	if t == 0 {
		if j.kind == stream.LeftJoin {
			return errAt(x.Pos, "a LEFT JOIN keeps the stream's rows: put the stream %q on the left and the table %q on the right", qualifier(j.names[1]), qualifier(j.names[0]))
		}
		j.side[0], j.side[1] = j.side[1], j.side[0]
		j.names[0], j.names[1] = j.names[1], j.names[0]
		j.tvf[0], j.tvf[1] = j.tvf[1], j.tvf[0]
	}
	if j.tvf[1] != nil {
		return errAt(j.tvf[1].Pos, "a window over the reference table %q: tables have no event time; window the stream and join the table", j.tvf[1].Table)
	}
	if a, c := j.names[0], j.names[1]; qualifier(a) == qualifier(c) {
		return errAt(x.Pos, "both sides of the join are called %q; give them aliases, e.g. FROM %s a JOIN %s b", qualifier(a), a[0], c[0])
	}
	j.lookup = true
	b.join = j
	b.src = j.side[0]
	b.names = j.names[0]
	b.rowCols = append(append(b.rowCols[:0:0], j.side[0].Columns...), j.side[1].Columns...)
	return nil
}

// planLookup compiles a join with a reference table: equalities of
// stream expressions with table columns are the lookup key, the rest of
// ON is checked per matching table row, and WHERE conditions on the
// stream alone run before the lookup. It returns the rest of WHERE.
func (b *binder) planLookup(p *stream.Plan, where parse.Expr) (parse.Expr, error) {
	j := b.join
	in := &inputScope{b: b}
	nl := len(j.side[0].Columns)
	lk := &stream.Lookup{Kind: j.kind, Table: j.side[1].Table, Name: qualifier(j.names[1])}
	p.Input = j.side[0].Input
	p.Lookup = lk
	var on []parse.Expr
	for _, c := range conjuncts(j.x.On, nil) {
		if hasAggregate(c) {
			return nil, errAt(c.ExprPos(), "aggregates are not allowed in a join's ON condition")
		}
		mask, err := b.sidesOf(c)
		if err != nil {
			return nil, err
		}
		if mask&4 != 0 {
			return nil, errAt(c.ExprPos(), "the join with table %q is made before the window: its ON condition cannot read window_start or window_end", lk.Name)
		}
		if x, ok := c.(*parse.Binary); ok && x.Op == "=" && mask == 3 {
			l, r := x.L, x.R
			if m, err := b.sidesOf(l); err != nil {
				return nil, err
			} else if m == 2 {
				l, r = r, l
			}
			lm, err := b.sidesOf(l)
			if err != nil {
				return nil, err
			}
			id, bare := r.(*parse.Ident)
			if lm == 1 && bare {
				slot, typ, err := b.resolveJoin(id)
				if err != nil {
					return nil, err
				}
				k, err := compile(l, in)
				if err != nil {
					return nil, err
				}
				if k.Type != typ {
					if !numeric(k.Type) || !numeric(typ) {
						return nil, errAt(x.Pos, "%s is %s and %s is %s: a lookup key compares equal types; CAST one of them",
							parse.FormatExpr(l), typeName(k.Type), parse.FormatExpr(r), typeName(typ))
					}
					k = lookupCast(k, typ)
				}
				if k.Type == schema.Float64 {
					k = plusZero(k)
				}
				lk.Key = append(lk.Key, k)
				lk.TableCols = append(lk.TableCols, slot-nl)
				j.keyText = append(j.keyText, parse.FormatExpr(l)+" = "+parse.FormatExpr(r))
				continue
			}
		}
		on = append(on, c)
	}
	if len(lk.Key) == 0 {
		return nil, errAt(j.x.Pos, "a join with the reference table %q looks rows up by key: ON needs an equality of a stream expression and a column of %q, e.g. ON s.country = %s.code",
			lk.Name, lk.Name, lk.Name)
	}
	if len(on) > 0 {
		cond := and(on)
		var err error
		if lk.On, err = condition(cond, in, cond, "ON"); err != nil {
			return nil, err
		}
		for _, c := range on {
			j.onText = append(j.onText, parse.FormatExpr(c))
		}
	}
	var pushed, rest []parse.Expr
	for _, c := range conjuncts(where, nil) {
		mask, err := b.sidesOf(c)
		if err != nil {
			return nil, err
		}
		if mask == 1 && !hasAggregate(c) {
			pushed = append(pushed, c)
			j.pushed[0] = append(j.pushed[0], parse.FormatExpr(c))
			continue
		}
		rest = append(rest, c)
	}
	if len(pushed) > 0 {
		cond := and(pushed)
		var err error
		if lk.Filter, err = condition(cond, in, cond, "WHERE"); err != nil {
			return nil, err
		}
	}
	return and(rest), nil
}

// lookupCast converts a lookup key to the table column's numeric type
// without changing what it equals: a float that is not a whole number
// (or out of range) equals no integer, so it looks nothing up.
func lookupCast(k stream.Expr, typ schema.Type) stream.Expr {
	if k.Type != schema.Float64 || typ != schema.Int64 {
		return castExpr(k, typ)
	}
	return stream.Expr{Type: schema.Int64, Eval: func(row stream.Row) schema.Value {
		v := k.Eval(row)
		if v.Null || v.Float != math.Trunc(v.Float) || v.Float < -(1<<63) || v.Float >= 1<<63 {
			return schema.Value{Null: true}
		}
		return schema.Value{Int: int64(v.Float)}
	}}
}

// plusZero makes -0 a key equal to 0 (the index does the same).
func plusZero(k stream.Expr) stream.Expr {
	return stream.Expr{Type: k.Type, Eval: func(row stream.Row) schema.Value {
		v := k.Eval(row)
		if !v.Null && v.Float == 0 {
			v.Float = 0
		}
		return v
	}}
}

// explainLookup describes a join with a reference table.
func explainLookup(b *binder, p *stream.Plan, add func(string, ...any)) {
	j := b.join
	src := j.side[0]
	if v, ok := strings.CutPrefix(src.Stream, OutputStreamPrefix); ok && src.Upstream != nil {
		add("  source: view %s AS %s, event time %s, watermark that view's", v, qualifier(j.names[0]), src.EventTime)
	} else {
		add("  source: stream %s AS %s, %d partitions, event time %s, max disorder %s; one task reads every partition",
			src.Stream, qualifier(j.names[0]), src.Partitions, src.EventTime, dur(src.Disorder))
	}
	if len(j.pushed[0]) > 0 {
		add("  filter before the lookup: %s", strings.Join(j.pushed[0], " AND "))
	}
	add("  lookup join: %s JOIN table %s (%d columns) on %s; each row joins the table as it is when processed, refreshed in the background",
		p.Lookup.Kind, j.side[1].Stream, len(j.side[1].Columns), strings.Join(j.keyText, " AND "))
	if len(j.onText) > 0 {
		add("  join condition per table row: %s", strings.Join(j.onText, " AND "))
	}
	if p.Lookup.Kind == stream.LeftJoin {
		add("  unmatched rows: kept with the table's columns null")
	}
}
