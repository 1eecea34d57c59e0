package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/weirhq/weir/internal/sql/parse"
)

// rowNumber is the name a ranked row's number goes by once a Top-N
// subquery is flattened; SQL cannot spell it, so it shadows nothing.
const rowNumber = "\x00row_number"

// topNClause is the ranking of a flattened Top-N query.
type topNClause struct {
	call *parse.Call // ROW_NUMBER() OVER (...)
	n    int
	name string // the row number's column in the subquery
}

// flatten rewrites a query that reads a subquery in FROM into one query
// over the subquery's own FROM, with the subquery's select items put in
// where the outer query names them. A subquery that ranks its rows with
// ROW_NUMBER() becomes a Top-N; one without state (filters and
// projections) merges into the outer query. Anything that needs state of
// its own inside is refused with the way around it: a view of its own,
// which other views can read.
func flatten(q *parse.Select) (*parse.Select, *topNClause, error) {
	sq, ok := q.From.(*parse.Subquery)
	if !ok {
		return q, nil, nil
	}
	inner := sq.Query
	if _, nested := inner.From.(*parse.Subquery); nested {
		var top *topNClause
		var err error
		if inner, top, err = flatten(inner); err != nil {
			return nil, nil, err
		}
		if top != nil {
			return nil, nil, errAt(sq.Pos, "a subquery over a Top-N (ROW_NUMBER) is not supported: select from the ranked rows directly, or make the Top-N a view of its own")
		}
	}
	asView := "create the subquery as a view of its own and read that view here (views can read views)"
	switch {
	case inner.From == nil:
		return nil, nil, errAt(inner.Pos, "the subquery needs FROM")
	case inner.UnionAll != nil:
		return nil, nil, errAt(inner.Pos, "UNION ALL in a subquery is not supported: %s", asView)
	case len(inner.OrderBy) > 0:
		return nil, nil, errAt(inner.OrderBy[0].Pos, "ORDER BY in a subquery orders nothing in a view; drop it (Top-N is ROW_NUMBER() OVER (... ORDER BY ...))")
	case inner.Limit != nil:
		return nil, nil, errAt(inner.Limit.ExprPos(), "LIMIT in a subquery is not supported; for the first N rows per group use ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) <= N")
	case inner.Distinct || len(inner.GroupBy) > 0 || inner.GroupByAll || inner.Having != nil:
		return nil, nil, errAt(inner.Pos, "an aggregating subquery in FROM is not supported yet: %s", asView)
	}
	var top *topNClause
	for _, it := range inner.Items {
		if it.Expr == nil {
			continue
		}
		if hasAggregate(it.Expr) {
			return nil, nil, errAt(it.Expr.ExprPos(), "an aggregating subquery in FROM is not supported yet: %s", asView)
		}
		c, ok := it.Expr.(*parse.Call)
		if !ok || c.Over == nil {
			continue
		}
		if top != nil {
			return nil, nil, errAt(c.Pos, "one ROW_NUMBER(), RANK() or DENSE_RANK() per query: rank by one ordering")
		}
		if err := checkRowNumber(c); err != nil {
			return nil, nil, err
		}
		top = &topNClause{call: c, name: columnName(it, slices.Index(inner.Items, it))}
	}

	// The subquery's columns, by name: what the outer query may say.
	cols := map[string]parse.Expr{}
	var names []string
	star := false
	starTable := "" // the one t.* of the subquery: other names are t's columns
	for i, it := range inner.Items {
		if it.Star {
			if star {
				starTable = "" // two stars: names stay as they are
			} else {
				starTable = it.StarTable
			}
			star = true
			continue
		}
		name := columnName(it, i)
		e := it.Expr
		if top != nil && e == parse.Expr(top.call) {
			e = &parse.Ident{Pos: it.Pos, Parts: []string{rowNumber}}
		}
		cols[strings.ToLower(name)] = e
		names = append(names, name)
	}
	subst := func(e parse.Expr) (parse.Expr, error) {
		return substitute(e, func(id *parse.Ident) (parse.Expr, error) {
			parts := id.Parts
			switch {
			case len(parts) == 2 && parts[0] == sq.Alias:
				parts = parts[1:]
			case len(parts) > 1:
				return nil, errAt(id.Pos, "unknown table %q in %s: the query reads the subquery %q", parts[0], strings.Join(id.Parts, "."), sq.Alias)
			}
			if e, ok := cols[strings.ToLower(parts[0])]; ok {
				return e, nil
			}
			if star && starTable != "" {
				return &parse.Ident{Pos: id.Pos, Parts: []string{starTable, parts[0]}}, nil
			}
			if star {
				return &parse.Ident{Pos: id.Pos, Parts: parts}, nil
			}
			return nil, errAt(id.Pos, "unknown column %q; the subquery %q has: %s", parts[0], sq.Alias, strings.Join(names, ", "))
		})
	}

	out := &parse.Select{Pos: q.Pos, Distinct: q.Distinct, From: inner.From, GroupByAll: q.GroupByAll, OrderBy: q.OrderBy, Limit: q.Limit, UnionAll: q.UnionAll}
	for _, it := range q.Items {
		if it.Star {
			if it.StarTable != "" && it.StarTable != sq.Alias {
				return nil, nil, errAt(it.Pos, "unknown table %q in %s.*: the query reads the subquery %q", it.StarTable, it.StarTable, sq.Alias)
			}
			for i, in := range inner.Items {
				if in.Star {
					out.Items = append(out.Items, parse.SelectItem{Pos: it.Pos, Star: true, StarTable: in.StarTable})
					continue
				}
				out.Items = append(out.Items, parse.SelectItem{Pos: it.Pos, Expr: cols[strings.ToLower(columnName(in, i))], Alias: columnName(in, i)})
			}
			continue
		}
		e, err := subst(it.Expr)
		if err != nil {
			return nil, nil, err
		}
		alias := it.Alias
		if alias == "" {
			// The outer query names a column as the subquery does.
			alias = columnName(it, len(out.Items))
		}
		out.Items = append(out.Items, parse.SelectItem{Pos: it.Pos, Expr: e, Alias: alias})
	}
	for _, g := range q.GroupBy {
		if n, ok := g.(*parse.NumberLit); ok && n.IsInt {
			out.GroupBy = append(out.GroupBy, g) // an ordinal of the outer select list
			continue
		}
		e, err := subst(g)
		if err != nil {
			return nil, nil, err
		}
		out.GroupBy = append(out.GroupBy, e)
	}
	var err error
	if out.Having, err = subst(q.Having); err != nil {
		return nil, nil, err
	}
	where, err := subst(q.Where)
	if err != nil {
		return nil, nil, err
	}
	if top == nil {
		out.Where = and(conjuncts(where, conjuncts(inner.Where, nil)))
		return out, nil, nil
	}

	// Top-N: the outer query picks ranked rows, and only by their number.
	switch {
	case len(q.GroupBy) > 0 || q.GroupByAll || q.Having != nil || q.Distinct:
		return nil, nil, errAt(q.Pos, "grouping the rows of a Top-N in the query that ranks them is not supported: put the Top-N in a subquery, SELECT ... FROM (SELECT ... FROM (...) WHERE rn <= N) GROUP BY ..., or make it a view of its own")
	case q.UnionAll != nil:
		return nil, nil, errAt(q.Pos, "UNION ALL of a Top-N is not supported: make the Top-N a view of its own")
	}
	for _, it := range out.Items {
		if it.Expr != nil && hasAggregate(it.Expr) {
			return nil, nil, errAt(it.Expr.ExprPos(), "aggregates over a Top-N are not supported: make the Top-N a view of its own")
		}
	}
	need := "a Top-N keeps the first N rows of each group: write WHERE " + top.name + " <= N around the subquery"
	if where == nil {
		return nil, nil, errAt(q.Pos, "%s", need)
	}
	bounded := false
	for _, c := range conjuncts(where, nil) {
		n, ok := rankBound(c)
		if !ok {
			return nil, nil, errAt(c.ExprPos(), "only a bound on the row number may follow a Top-N subquery, as in %s <= 10; put other conditions in the subquery's WHERE", top.name)
		}
		if !bounded || n < top.n {
			top.n, bounded = n, true
		}
	}
	switch {
	case top.n < 1:
		return nil, nil, errAt(where.ExprPos(), "the row-number bound keeps no row: %s() starts at 1", strings.ToUpper(top.call.Name))
	case top.n > maxTopN:
		return nil, nil, errAt(where.ExprPos(), "a Top-N keeps at most %d rows per group; got %d", maxTopN, top.n)
	}
	out.Where = inner.Where
	return out, top, nil
}

// maxTopN bounds N: every group keeps its N rows in memory.
const maxTopN = 10_000

// checkRowNumber checks that c is ROW_NUMBER() OVER (... ORDER BY ...).
func checkRowNumber(c *parse.Call) error {
	fn := strings.ToUpper(c.Name)
	switch {
	case c.Name != "row_number" && c.Name != "rank" && c.Name != "dense_rank":
		return errAt(c.Pos, "window function %s() OVER (...) is not supported in views; ROW_NUMBER(), RANK() and DENSE_RANK() are, for Top-N", c.Name)
	case len(c.Args) > 0 || c.Star || c.Distinct:
		return errAt(c.Pos, "%s() takes no arguments", fn)
	case len(c.Over.OrderBy) == 0:
		return errAt(c.Pos, "%s() OVER (...) needs ORDER BY: it says which rows come first", fn)
	}
	for _, e := range c.Over.PartitionBy {
		if hasAggregate(e) {
			return errAt(e.ExprPos(), "aggregates are not allowed in PARTITION BY")
		}
	}
	for _, o := range c.Over.OrderBy {
		if hasAggregate(o.Expr) {
			return errAt(o.Expr.ExprPos(), "aggregates are not allowed in ORDER BY of ROW_NUMBER()")
		}
	}
	return nil
}

// rankBound reads a bound on the row number: rn <= N, rn < N, rn = N
// (N = 1 only), or the same with the sides swapped.
func rankBound(e parse.Expr) (int, bool) {
	b, ok := e.(*parse.Binary)
	if !ok {
		return 0, false
	}
	isRank := func(e parse.Expr) bool {
		id, ok := e.(*parse.Ident)
		return ok && len(id.Parts) == 1 && id.Parts[0] == rowNumber
	}
	num := func(e parse.Expr) (int, bool) {
		lit, ok := e.(*parse.NumberLit)
		if !ok || !lit.IsInt {
			return 0, false
		}
		n, err := strconv.Atoi(lit.Text)
		return n, err == nil
	}
	op := b.Op
	l, r := b.L, b.R
	if !isRank(l) {
		l, r = r, l
		switch op {
		case "<":
			op = ">"
		case "<=":
			op = ">="
		case ">":
			op = "<"
		case ">=":
			op = "<="
		}
	}
	n, ok := num(r)
	if !isRank(l) || !ok {
		return 0, false
	}
	switch op {
	case "<=":
		return n, true
	case "<":
		return n - 1, true
	case "=":
		return n, n == 1
	}
	return 0, false
}

// substitute copies e with every identifier replaced by what fn returns.
func substitute(e parse.Expr, fn func(*parse.Ident) (parse.Expr, error)) (parse.Expr, error) {
	if e == nil {
		return nil, nil
	}
	var err error
	sub := func(x parse.Expr) parse.Expr {
		if err != nil || x == nil {
			return x
		}
		var y parse.Expr
		y, err = substitute(x, fn)
		return y
	}
	switch x := e.(type) {
	case *parse.Ident:
		return fn(x)
	case *parse.Unary:
		c := *x
		c.X = sub(x.X)
		return &c, err
	case *parse.Binary:
		c := *x
		c.L, c.R = sub(x.L), sub(x.R)
		return &c, err
	case *parse.IsNull:
		c := *x
		c.X = sub(x.X)
		return &c, err
	case *parse.Like:
		c := *x
		c.X, c.Pattern = sub(x.X), sub(x.Pattern)
		return &c, err
	case *parse.In:
		c := *x
		c.X = sub(x.X)
		c.List = make([]parse.Expr, len(x.List))
		for i, y := range x.List {
			c.List[i] = sub(y)
		}
		return &c, err
	case *parse.Between:
		c := *x
		c.X, c.Lo, c.Hi = sub(x.X), sub(x.Lo), sub(x.Hi)
		return &c, err
	case *parse.Case:
		c := *x
		c.Operand = sub(x.Operand)
		c.Whens = make([]parse.When, len(x.Whens))
		for i, w := range x.Whens {
			c.Whens[i] = parse.When{Cond: sub(w.Cond), Then: sub(w.Then)}
		}
		c.Else = sub(x.Else)
		return &c, err
	case *parse.Cast:
		c := *x
		c.X = sub(x.X)
		return &c, err
	case *parse.Call:
		c := *x
		c.Args = make([]parse.Expr, len(x.Args))
		for i, y := range x.Args {
			c.Args[i] = sub(y)
		}
		if x.Over != nil {
			o := &parse.Over{}
			for _, y := range x.Over.PartitionBy {
				o.PartitionBy = append(o.PartitionBy, sub(y))
			}
			for _, y := range x.Over.OrderBy {
				o.OrderBy = append(o.OrderBy, parse.OrderItem{Pos: y.Pos, Expr: sub(y.Expr), Desc: y.Desc})
			}
			c.Over = o
		}
		return &c, err
	}
	return e, nil // literals
}

// inlineWith puts each common table expression of q's WITH in where a
// FROM names it, as a subquery; flatten takes it from there. A WITH name
// hides a stream or view of the same name.
func inlineWith(q *parse.Select) (*parse.Select, error) {
	if len(q.With) == 0 {
		return q, nil
	}
	defs := map[string]*parse.Select{}
	for _, c := range q.With {
		cq, err := inlineQuery(c.Query, defs)
		if err != nil {
			return nil, err
		}
		defs[c.Name] = cq
	}
	out := *q
	out.With = nil
	return inlineQuery(&out, defs)
}

func inlineQuery(q *parse.Select, defs map[string]*parse.Select) (*parse.Select, error) {
	out := *q
	var err error
	if out.From, err = inlineFrom(q.From, defs); err != nil {
		return nil, err
	}
	if q.UnionAll != nil {
		if out.UnionAll, err = inlineQuery(q.UnionAll, defs); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

func inlineFrom(f parse.From, defs map[string]*parse.Select) (parse.From, error) {
	switch x := f.(type) {
	case *parse.TableRef:
		if d, ok := defs[x.Name]; ok {
			alias := x.Alias
			if alias == "" {
				alias = x.Name
			}
			return &parse.Subquery{Pos: x.Pos, Query: d, Alias: alias}, nil
		}
	case *parse.WindowTVF:
		if d, ok := defs[x.Table]; ok {
			return windowOverQuery(x, d)
		}
	case *parse.Subquery:
		q, err := inlineQuery(x.Query, defs)
		if err != nil {
			return nil, err
		}
		c := *x
		c.Query = q
		return &c, nil
	case *parse.Join:
		c := *x
		var err error
		if c.Left, err = inlineFrom(x.Left, defs); err != nil {
			return nil, err
		}
		if c.Right, err = inlineFrom(x.Right, defs); err != nil {
			return nil, err
		}
		return &c, nil
	}
	return f, nil
}

// windowOverQuery rewrites a window function over a WITH query that
// filters or projects one stream (or view) into a subquery over the
// window of that stream: TABLE(TUMBLE(TABLE w, DESCRIPTOR(t), ...)) with
// w AS (SELECT ... FROM s) reads TUMBLE(TABLE s, DESCRIPTOR(t's column
// of s), ...), and keeps w's columns and the window bounds.
func windowOverQuery(x *parse.WindowTVF, d *parse.Select) (parse.From, error) {
	flat, top, err := flatten(d)
	if err != nil {
		return nil, err
	}
	base, ok := flat.From.(*parse.TableRef)
	need := fmt.Sprintf("a window over %q needs it to filter or project one stream or view", x.Table)
	switch {
	case !ok || top != nil || flat.UnionAll != nil:
		return nil, errAt(x.Pos, "%s; here it does more: make it a view of its own", need)
	case flat.Distinct || len(flat.GroupBy) > 0 || flat.GroupByAll || flat.Having != nil:
		return nil, errAt(x.Pos, "%s; here it aggregates: make it a view of its own", need)
	}
	column := func(name string) (string, error) {
		star := false
		for i, it := range flat.Items {
			if it.Star {
				star = true
				continue
			}
			if !strings.EqualFold(columnName(it, i), name) {
				continue
			}
			if id, ok := it.Expr.(*parse.Ident); ok {
				return id.Parts[len(id.Parts)-1], nil
			}
			return "", errAt(x.Pos, "a window over %q runs on a column of %q as it is; %s is computed there", x.Table, base.Name, name)
		}
		if star {
			return name, nil
		}
		return "", errAt(x.Pos, "%q has no column %q", x.Table, name)
	}
	w := *x
	w.Table, w.Alias = base.Name, base.Alias
	if w.TimeCol, err = column(x.TimeCol); err != nil {
		return nil, err
	}
	w.PartitionBy = nil
	for _, k := range x.PartitionBy {
		c, err := column(k)
		if err != nil {
			return nil, err
		}
		w.PartitionBy = append(w.PartitionBy, c)
	}
	inner := *flat
	inner.From = &w
	inner.Items = slices.Clone(flat.Items)
	if !slices.ContainsFunc(flat.Items, func(it parse.SelectItem) bool { return it.Star }) {
		for _, b := range []string{"window_start", "window_end"} {
			inner.Items = append(inner.Items, parse.SelectItem{Pos: x.Pos, Expr: &parse.Ident{Pos: x.Pos, Parts: []string{b}}})
		}
	}
	alias := x.Alias
	if alias == "" {
		alias = x.Table
	}
	return &parse.Subquery{Pos: x.Pos, Query: &inner, Alias: alias}, nil
}
