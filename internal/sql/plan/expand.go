package plan

import (
	"fmt"
	"maps"
	"slices"

	"github.com/weirhq/weir/internal/sql/parse"
)

// Expand splits a view whose query holds steps with state of their own
// into hidden views that run before it, as chains of views do: a WITH
// query or a subquery in FROM that aggregates (GROUP BY, aggregates,
// DISTINCT), has UNION ALL or is a Top-N, and one that is a side of a
// join, becomes a view named <view>__<WITH name> (a subquery:
// <view>__sub1, __sub2, …) and the query reads it by that name. Steps without state stay where
// they are (Compile merges them). It returns the steps in the order they
// must start, then the view; a view without such steps is returned alone.
func Expand(cv *parse.CreateView) ([]*parse.CreateView, error) {
	e := &expander{parent: cv.Name, text: cv.Text, taken: map[string]bool{}}
	q, err := e.query(cv.Query, map[string]string{}, nil)
	if err != nil {
		return nil, err
	}
	if len(e.steps) == 0 {
		return []*parse.CreateView{cv}, nil
	}
	main := *cv
	main.Query = q
	return append(e.steps, &main), nil
}

// HiddenPrefix is how a view's steps are named: parent + HiddenPrefix + name.
const HiddenPrefix = "__"

type expander struct {
	parent, text string
	steps        []*parse.CreateView
	subs         int
	taken        map[string]bool
}

// step records a step. Its text names the whole statement it comes
// from: a step is the same step only if that is unchanged (what it reads
// of the statement's other WITH queries may have changed otherwise).
func (e *expander) step(pos parse.Pos, name, text string, q *parse.Select) error {
	if e.taken[name] {
		return errAt(pos, "two steps of view %q would be named %q; rename the WITH query", e.parent, name)
	}
	e.taken[name] = true
	e.steps = append(e.steps, &parse.CreateView{Pos: pos, Name: name, Query: q,
		Text: fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS %s\n-- a step of: %s", name, text, e.text)})
	return nil
}

// ownState reports whether q needs a view of its own to be read.
func ownState(q *parse.Select) bool {
	if q.UnionAll != nil || q.Distinct || len(q.GroupBy) > 0 || q.GroupByAll || q.Having != nil || isTopN(q) {
		return true
	}
	for _, it := range q.Items {
		if it.Expr != nil && hasAggregate(it.Expr) {
			return true
		}
	}
	return false
}

// query rewrites q: its WITH queries and FROM subqueries with state of
// their own become steps; names maps the WITH names hoisted so far to
// their views.
// scope are the WITH queries without state visible to q (a step's query
// takes them along, as it leaves the statement).
func (e *expander) query(q *parse.Select, names map[string]string, scope []parse.CTE) (*parse.Select, error) {
	out := *q
	joined := joinSides(q)
	names = maps.Clone(names)
	kept := slices.Clone(scope)
	for _, c := range q.With {
		if !ownState(c.Query) && !joined[c.Name] {
			cq, err := e.query(c.Query, names, kept)
			if err != nil {
				return nil, err
			}
			c.Query = cq
			kept = append(kept, c)
			continue
		}
		name := e.parent + HiddenPrefix + c.Name
		cq := *c.Query
		cq.With = slices.Clone(kept) // the stateless WITH queries before it
		step, err := e.query(&cq, names, nil)
		if err != nil {
			return nil, err
		}
		if err := e.step(c.Pos, name, c.Text, step); err != nil {
			return nil, err
		}
		names[c.Name] = name
	}
	out.With = kept
	from, err := e.from(q.From, names, false, kept)
	if err != nil {
		return nil, err
	}
	out.From = from
	if q.UnionAll != nil {
		if out.UnionAll, err = e.query(q.UnionAll, names, kept); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// from rewrites a FROM item: names of hoisted WITH queries become their
// views; subqueries with state (or any, as a join side) become steps.
func (e *expander) from(f parse.From, names map[string]string, joinSide bool, scope []parse.CTE) (parse.From, error) {
	switch x := f.(type) {
	case *parse.TableRef:
		if v, ok := names[x.Name]; ok {
			c := *x
			c.Name = v
			if c.Alias == "" {
				c.Alias = x.Name // the query still says x.col
			}
			return &c, nil
		}
	case *parse.WindowTVF:
		if v, ok := names[x.Table]; ok {
			c := *x
			c.Table = v
			if c.Alias == "" {
				c.Alias = x.Table
			}
			return &c, nil
		}
	case *parse.Join:
		c := *x
		var err error
		if c.Left, err = e.from(x.Left, names, true, scope); err != nil {
			return nil, err
		}
		if c.Right, err = e.from(x.Right, names, true, scope); err != nil {
			return nil, err
		}
		return &c, nil
	case *parse.Subquery:
		if !ownState(x.Query) && !joinSide {
			q, err := e.query(x.Query, names, nil)
			if err != nil {
				return nil, err
			}
			c := *x
			c.Query = q
			return &c, nil
		}
		e.subs++
		name := fmt.Sprintf("%s%ssub%d", e.parent, HiddenPrefix, e.subs)
		sq := *x.Query
		sq.With = append(slices.Clone(scope), sq.With...) // what it may read of the statement's WITH
		q, err := e.query(&sq, names, nil)
		if err != nil {
			return nil, err
		}
		if err := e.step(x.Pos, name, x.Text, q); err != nil {
			return nil, err
		}
		return &parse.TableRef{Pos: x.Pos, Name: name, Alias: x.Alias}, nil
	}
	return f, nil
}

// isTopN reports whether q picks ranked rows: its FROM is a subquery
// that numbers them (ROW_NUMBER(), RANK() or DENSE_RANK() OVER ...).
func isTopN(q *parse.Select) bool {
	sq, ok := q.From.(*parse.Subquery)
	if !ok {
		return false
	}
	for _, it := range sq.Query.Items {
		if c, ok := it.Expr.(*parse.Call); ok && c.Over != nil {
			return true
		}
	}
	return false
}

// joinSides are the names q's joins read directly (a WITH query there
// needs a view: a join side is a stream or a view).
func joinSides(q *parse.Select) map[string]bool {
	out := map[string]bool{}
	var walk func(f parse.From, side bool)
	walk = func(f parse.From, side bool) {
		switch x := f.(type) {
		case *parse.TableRef:
			if side {
				out[x.Name] = true
			}
		case *parse.WindowTVF:
			if side {
				out[x.Table] = true
			}
		case *parse.Join:
			walk(x.Left, true)
			walk(x.Right, true)
		}
	}
	for s := q; s != nil; s = s.UnionAll {
		walk(s.From, false)
	}
	for _, c := range q.With {
		for s := c.Query; s != nil; s = s.UnionAll {
			walk(s.From, false)
		}
	}
	return out
}
