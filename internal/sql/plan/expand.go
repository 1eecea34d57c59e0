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
// DISTINCT) or has UNION ALL, and one that is a side of a join, becomes a
// view named <view>__<WITH name> (a subquery: <view>__sub1, __sub2, …)
// and the query reads it by that name. Steps without state stay where
// they are (Compile merges them). It returns the steps in the order they
// must start, then the view; a view without such steps is returned alone.
func Expand(cv *parse.CreateView) ([]*parse.CreateView, error) {
	e := &expander{parent: cv.Name}
	q, err := e.query(cv.Query, map[string]string{})
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
	parent string
	steps  []*parse.CreateView
	subs   int
}

// ownState reports whether q needs a view of its own to be read.
func ownState(q *parse.Select) bool {
	if q.UnionAll != nil || q.Distinct || len(q.GroupBy) > 0 || q.GroupByAll || q.Having != nil {
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
func (e *expander) query(q *parse.Select, names map[string]string) (*parse.Select, error) {
	out := *q
	joined := joinSides(q)
	names = maps.Clone(names)
	var kept []parse.CTE
	for _, c := range q.With {
		if !ownState(c.Query) && !joined[c.Name] {
			cq, err := e.query(c.Query, names)
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
		step, err := e.query(&cq, names)
		if err != nil {
			return nil, err
		}
		e.steps = append(e.steps, &parse.CreateView{Pos: c.Pos, Name: name, Query: step,
			Text: fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS %s", name, c.Text)})
		names[c.Name] = name
	}
	out.With = kept
	from, err := e.from(q.From, names, false)
	if err != nil {
		return nil, err
	}
	out.From = from
	if q.UnionAll != nil {
		if out.UnionAll, err = e.query(q.UnionAll, names); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// from rewrites a FROM item: names of hoisted WITH queries become their
// views; subqueries with state (or any, as a join side) become steps.
func (e *expander) from(f parse.From, names map[string]string, joinSide bool) (parse.From, error) {
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
		if c.Left, err = e.from(x.Left, names, true); err != nil {
			return nil, err
		}
		if c.Right, err = e.from(x.Right, names, true); err != nil {
			return nil, err
		}
		return &c, nil
	case *parse.Subquery:
		if !ownState(x.Query) && !joinSide {
			q, err := e.query(x.Query, names)
			if err != nil {
				return nil, err
			}
			c := *x
			c.Query = q
			return &c, nil
		}
		e.subs++
		name := fmt.Sprintf("%s%ssub%d", e.parent, HiddenPrefix, e.subs)
		q, err := e.query(x.Query, names)
		if err != nil {
			return nil, err
		}
		e.steps = append(e.steps, &parse.CreateView{Pos: x.Pos, Name: name, Query: q,
			Text: fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS %s", name, x.Text)})
		return &parse.TableRef{Pos: x.Pos, Name: name, Alias: x.Alias}, nil
	}
	return f, nil
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
