package plan

import (
	"fmt"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

// compileUnion plans SELECT ... UNION ALL SELECT ...: two inputs, each
// filtered and projected to the same columns, their rows written as they
// come. Aggregating over the union is a view over this one.
func compileUnion(cv *parse.CreateView, q *parse.Select, lookup Lookup) (*View, error) {
	second, top, err := flatten(q.UnionAll)
	if err != nil {
		return nil, err
	}
	if top != nil {
		return nil, errAt(q.UnionAll.Pos, "a Top-N inside UNION ALL is not supported: make the Top-N a view of its own")
	}
	branches := []*parse.Select{q, second}
	if q.UnionAll.UnionAll != nil {
		return nil, errAt(q.UnionAll.UnionAll.Pos, "a view's UNION ALL takes two SELECTs; for more, UNION ALL views of two")
	}
	p := &stream.Plan{Name: cv.Name}
	u := &stream.Union{}
	var binders [2]*binder
	names := map[string]bool{} // the output's, from the first SELECT
	offset := 0
	for s, br := range branches {
		switch {
		case br.Distinct:
			return nil, errAt(br.Pos, "SELECT DISTINCT inside UNION ALL is not supported; make the UNION ALL a view and SELECT DISTINCT from it")
		case len(br.GroupBy) > 0 || br.GroupByAll || br.Having != nil:
			return nil, errAt(br.Pos, "GROUP BY inside UNION ALL is not supported; make the UNION ALL a view and aggregate over it")
		case len(br.OrderBy) > 0:
			return nil, errAt(br.OrderBy[0].Pos, "ORDER BY is not supported in a view: a view's rows have no order; order them when you query the view")
		case br.Limit != nil:
			return nil, errAt(br.Limit.ExprPos(), "LIMIT is not supported in a view; limit when you query the view")
		case br.From == nil:
			return nil, errAt(br.Pos, "each SELECT of a UNION ALL needs FROM a stream or view")
		}
		if _, ok := br.From.(*parse.TableRef); !ok {
			return nil, errAt(br.From.FromPos(), "each SELECT of a UNION ALL reads one stream or view, without a window or a join; window over a view of the UNION ALL")
		}
		b := &binder{cv: cv}
		if err := b.from(br.From, lookup); err != nil {
			return nil, err
		}
		if b.src.Changelog != "" {
			return nil, errAt(br.Pos, "UNION ALL reads views that append rows; view %q updates its rows", b.src.Changelog)
		}
		binders[s] = b
		in := &inputScope{b: b}
		shift := func(e stream.Expr) stream.Expr {
			if offset == 0 {
				return e
			}
			at, eval := offset, e.Eval
			return stream.Expr{Type: e.Type, Eval: func(r stream.Row) schema.Value { return eval(r[at:]) }}
		}
		if br.Where != nil {
			if hasAggregate(br.Where) {
				return nil, errAt(br.Where.ExprPos(), "aggregates are not allowed in WHERE; use HAVING")
			}
			f, err := condition(br.Where, in, br.Where, "WHERE")
			if err != nil {
				return nil, err
			}
			*f = shift(*f)
			u.Filters[s] = f
		}
		var exprs []stream.Expr
		for i, it := range br.Items {
			if it.Star {
				return nil, errAt(it.Pos, "SELECT * is not supported in a UNION ALL: list the columns, so that both SELECTs agree")
			}
			if hasAggregate(it.Expr) {
				return nil, errAt(it.Expr.ExprPos(), "aggregates inside UNION ALL are not supported; make the UNION ALL a view and aggregate over it")
			}
			e, err := compile(it.Expr, in)
			if err != nil {
				return nil, err
			}
			exprs = append(exprs, shift(e))
			if s == 0 {
				if e.Type == nullType {
					return nil, errAt(it.Pos, "cannot tell the type of NULL here; write CAST(NULL AS type)")
				}
				if err := addOutput(p, names, columnName(it, i), e, it.Pos); err != nil {
					return nil, err
				}
			}
		}
		if s == 1 {
			if len(exprs) != len(p.Output) {
				return nil, errAt(br.Pos, "the SELECTs of UNION ALL have %d and %d columns; they need the same number", len(p.Output), len(exprs))
			}
			for i, e := range exprs {
				switch {
				case e.Type == nullType:
					exprs[i] = castExpr(e, p.Output[i].Type)
				case e.Type != p.Output[i].Type:
					return nil, errAt(br.Items[i].Pos, "column %d of UNION ALL (%s) is %s in the first SELECT and %s in the second; CAST one to the other",
						i+1, p.Output[i].Name, typeName(p.Output[i].Type), typeName(e.Type))
				}
			}
		}
		u.Project[s] = exprs
		offset += len(b.src.Columns)
	}
	p.Input, u.Right = binders[0].src.Input, binders[1].src.Input
	u.Names = [2]string{binders[0].names[0], binders[1].names[0]}
	p.Union = u
	p.Project = u.Project[0]
	if err := binders[0].streamingClauses(p); err != nil {
		return nil, err
	}
	// Views reading the union can take a column as event time when both
	// SELECTs put their input's event time there.
	v := &View{Name: cv.Name, SQL: cv.Text, Plan: p, TimeCol: -1}
	for i := range p.Output {
		l, lok := binders[0].selectedSlot(branches[0].Items[i])
		r, rok := binders[1].selectedSlot(branches[1].Items[i])
		if lok && rok && l == binders[0].src.EventCol && r == binders[1].src.EventCol {
			v.TimeCol, v.timeKind = i, timePassThrough
			break
		}
	}
	v.Explain = []string{fmt.Sprintf("view %s: append-only rows", p.Name)}
	for s, b := range binders {
		src := b.src
		line := fmt.Sprintf("  source %d: stream %s, %d partitions, event time %s, max disorder %s", s+1, src.Stream, src.Partitions, src.EventTime, dur(src.Disorder))
		if src.Upstream != nil {
			line = fmt.Sprintf("  source %d: view %s, event time %s", s+1, b.names[0], src.EventTime)
		}
		v.Explain = append(v.Explain, line)
		if w := branches[s].Where; w != nil {
			v.Explain = append(v.Explain, fmt.Sprintf("  filter %d: %s", s+1, parse.FormatExpr(w)))
		}
	}
	v.Explain = append(v.Explain, "  union all: each row as it comes, no state; watermark the lesser of the inputs'")
	if v.TimeCol >= 0 {
		v.Explain = append(v.Explain, fmt.Sprintf("  event time for views reading this one: %s", p.Output[v.TimeCol].Name))
	}
	v.Explain = append(v.Explain, "  output: "+outputText(p.Output))
	return v, nil
}
