package plan

import (
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

// Source is a stream as the planner sees it.
type Source struct {
	stream.Input
	EventTime string // the name of the event-time column
	// Table, when set, makes the name a reference table (Input.Columns
	// are its columns, Input.Stream its name): views join it by key.
	Table stream.LookupTable
	// Changelog names the upsert view whose changelog this is
	// (Input.Changelog): only a continuous aggregate may read it.
	Changelog string
	// Err, when set, says why the name (a view) cannot be read.
	Err error
}

// Lookup finds a stream, or a view to read as one, by name.
type Lookup func(name string) (Source, bool)

// find looks a FROM name up.
func find(lookup Lookup, name string, pos parse.Pos) (Source, error) {
	src, ok := lookup(name)
	switch {
	case !ok:
		return Source{}, errAt(pos, "unknown stream %q: views read the streams declared in weir.yaml and other views", name)
	case src.Err != nil:
		return Source{}, errAt(pos, "%v", src.Err)
	}
	return src, nil
}

// View is a compiled CREATE MATERIALIZED VIEW.
type View struct {
	Name    string
	SQL     string
	Plan    *stream.Plan
	Explain []string // the operator graph, one line per stage
	// TimeCol is the output column views reading this one take as event
	// time (window_end, window_start, or the input's event-time column
	// selected as it is), or -1: see AsSource.
	TimeCol  int
	timeKind int
}

// DefaultLateFor is how long LATE DATA UPDATE keeps a fired window
// updatable when no FOR interval is given.
const DefaultLateFor = time.Hour

// Compile plans a view over the streams lookup knows.
func Compile(cv *parse.CreateView, lookup Lookup) (*View, error) {
	v, err := compileView(cv, lookup)
	if err != nil || cv.Parallelism == 0 {
		return v, err
	}
	if why := stream.ParallelError(v.Plan); why != nil && cv.Parallelism > 1 {
		return nil, errAt(cv.Pos, "PARALLELISM %d cannot run %v on more than one task yet; drop the clause (the view then runs on one task)", cv.Parallelism, why)
	}
	v.Plan.Parallelism = cv.Parallelism
	return v, nil
}

func compileView(cv *parse.CreateView, lookup Lookup) (*View, error) {
	q, err := inlineWith(cv.Query)
	if err != nil {
		return nil, err
	}
	q, top, err := flatten(q)
	if err != nil {
		return nil, err
	}
	if len(q.OrderBy) > 0 {
		return nil, errAt(q.OrderBy[0].Pos, "ORDER BY is not supported in a view: a view's rows have no order; order them when you query the view")
	}
	if q.Limit != nil {
		return nil, errAt(q.Limit.ExprPos(), "LIMIT is not supported in a view; limit when you query the view")
	}
	if q.UnionAll != nil {
		return compileUnion(cv, q, lookup)
	}
	if q.From == nil {
		return nil, errAt(q.Pos, "a view needs FROM: name a stream, or a window over one, e.g. FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))")
	}
	b := &binder{cv: cv}
	if err := b.from(q.From, lookup); err != nil {
		return nil, err
	}
	if q.Distinct {
		if err := b.distinct(q); err != nil {
			return nil, err
		}
	}
	p := &stream.Plan{Name: cv.Name, Input: b.src.Input, Window: b.window}
	in := &inputScope{b: b}
	where := q.Where
	if where != nil && hasAggregate(where) {
		return nil, errAt(where.ExprPos(), "aggregates are not allowed in WHERE; use HAVING")
	}
	switch {
	case b.join != nil && b.join.lookup:
		if where, err = b.planLookup(p, where); err != nil {
			return nil, err
		}
	case b.join != nil:
		if where, err = b.planJoin(p, where); err != nil {
			return nil, err
		}
	}
	if where != nil {
		var err error
		if p.Filter, err = condition(where, in, where, "WHERE"); err != nil {
			return nil, err
		}
	}
	if q.GroupByAll {
		// GROUP BY ALL: every select item without an aggregate is a key.
		for _, it := range q.Items {
			if it.Expr != nil && !hasAggregate(it.Expr) && !isConst(it.Expr) {
				q.GroupBy = append(q.GroupBy, it.Expr)
			}
		}
		q.GroupByAll = false
	}
	aggregating := len(q.GroupBy) > 0 || q.Having != nil
	for _, it := range q.Items {
		if it.Expr != nil && hasAggregate(it.Expr) {
			aggregating = true
		}
	}
	p.Aggregating = aggregating
	var out scope = in
	var ts *topScope
	if top != nil {
		if ts, err = b.topN(top, in, p); err != nil {
			return nil, err
		}
		out = ts
	} else if aggregating {
		gs, err := b.groupScope(q, in, p)
		if err != nil {
			return nil, err
		}
		out = gs
	}
	names := map[string]bool{}
	b.starTime = -1
	for i, it := range q.Items {
		b.itemOut = append(b.itemOut, len(p.Output))
		if it.Star {
			if aggregating {
				return nil, errAt(it.Pos, "SELECT * is not allowed in a grouped query; list the GROUP BY columns and aggregates")
			}
			if b.join != nil {
				slots, err := b.starColumns(it.StarTable, it.Pos)
				if err != nil {
					return nil, err
				}
				cols := b.columns()
				for _, j := range slots {
					if err := addOutput(p, names, cols[j].Name, slotExpr(j, cols[j].Type), it.Pos); err != nil {
						return nil, err
					}
				}
				continue
			}
			if t := it.StarTable; t != "" && t != b.names[0] && t != b.names[1] {
				return nil, errAt(it.Pos, "unknown table %q in %s.*: the view reads %q", t, t, b.names[0])
			}
			for j, c := range b.columns() {
				if b.src.Changelog != "" && (c.Name == stream.RowKeyColumn || c.Name == stream.DeletedColumn) {
					continue // a changelog's own columns are not its rows'
				}
				if j == b.src.EventCol && b.starTime < 0 {
					b.starTime = len(p.Output)
				}
				if err := addOutput(p, names, c.Name, slotExpr(j, c.Type), it.Pos); err != nil {
					return nil, err
				}
				if ts != nil && j < len(b.rowCols) {
					ts.used[j] = true
				}
			}
			continue
		}
		e, err := compile(it.Expr, out)
		if err != nil {
			return nil, err
		}
		if e.Type == nullType {
			return nil, errAt(it.Pos, "cannot tell the type of NULL here; write CAST(NULL AS type)")
		}
		if err := addOutput(p, names, columnName(it, i), e, it.Pos); err != nil {
			return nil, err
		}
	}
	if q.Having != nil {
		var err error
		if p.Having, err = condition(q.Having, out, q.Having, "HAVING"); err != nil {
			return nil, err
		}
	}
	if b.src.Changelog != "" && b.join == nil {
		if err := b.changelogPlan(p, q, top != nil); err != nil {
			return nil, err
		}
	}
	if err := b.streamingClauses(p); err != nil {
		return nil, err
	}
	if p.Join != nil {
		p.Join.Used = b.usedColumns()
	}
	if ts != nil {
		ts.keep(p)
	}
	v := &View{Name: cv.Name, SQL: cv.Text, Plan: p}
	b.timeColumn(v, q)
	v.Explain = explain(b, p, q)
	return v, nil
}

// changelogPlan checks a view over an upsert view's changelog: a
// continuous aggregate of aggregates that can take a row back; it adds
// the count of each group's rows (a group with none left is deleted).
func (b *binder) changelogPlan(p *stream.Plan, q *parse.Select, topN bool) error {
	name := b.src.Changelog
	switch {
	case topN:
		// Each group keeps all its rows: a ranked row that leaves makes
		// room for the next.
		p.Aggs[0].All = true
		return nil
	case !p.Aggregating:
		return errAt(q.Pos, "view %q updates its rows: a view reading it must aggregate them (GROUP BY, count, sum, avg); to see its rows, query %q", name, name)
	}
	for i, a := range p.Aggs {
		if !stream.Retractable(a.Kind) {
			return errAt(q.Pos, "view %q updates its rows, so a view over it takes each changed row back out of its group; %s cannot take a value back: use count, sum or avg (or aggregate the stream %q reads)",
				name, b.aggText[i], name)
		}
	}
	p.Aggs = append(p.Aggs, stream.AggSpec{Kind: stream.AggCount, Type: schema.Int64})
	p.RowCount = len(p.Aggs) - 1
	return nil
}

// distinct rewrites SELECT DISTINCT as a GROUP BY of the select list
// (and of the window's bounds, when windowed: distinct rows per window).
func (b *binder) distinct(q *parse.Select) error {
	if len(q.GroupBy) > 0 || q.GroupByAll || q.Having != nil {
		return errAt(q.Pos, "SELECT DISTINCT with GROUP BY or HAVING: the groups are distinct already; drop DISTINCT")
	}
	have := map[string]bool{}
	for _, it := range q.Items {
		switch {
		case it.Star:
			return errAt(it.Pos, "SELECT DISTINCT * is not supported in views: list the columns")
		case hasAggregate(it.Expr):
			return errAt(it.Expr.ExprPos(), "SELECT DISTINCT with aggregates is not supported in views: GROUP BY the other columns instead")
		case isConst(it.Expr):
			continue
		}
		if k := parse.FormatExprKey(it.Expr); !have[k] {
			have[k] = true
			q.GroupBy = append(q.GroupBy, it.Expr)
		}
	}
	if b.window.Kind != stream.NoWindow {
		for _, w := range []string{"window_start", "window_end"} {
			if id := (&parse.Ident{Pos: q.Pos, Parts: []string{w}}); !have[parse.FormatExprKey(id)] {
				q.GroupBy = append(q.GroupBy, id)
			}
		}
	}
	if len(q.GroupBy) == 0 {
		return errAt(q.Pos, "SELECT DISTINCT of constants only: select a column")
	}
	q.Distinct = false
	return nil
}

func addOutput(p *stream.Plan, names map[string]bool, name string, e stream.Expr, pos parse.Pos) error {
	if names[name] {
		return errAt(pos, "two columns of the view are named %q; name them apart with AS", name)
	}
	if strings.HasPrefix(name, "_") && (name == stream.RowKeyColumn || name == stream.DeletedColumn) {
		return errAt(pos, "the column name %q is reserved; pick another with AS", name)
	}
	names[name] = true
	p.Project = append(p.Project, e)
	p.Output = append(p.Output, schema.Column{Name: name, Type: e.Type, Nullable: true})
	return nil
}

// columnName is an output column's name: the alias, a column's own name,
// or the function's name.
func columnName(it parse.SelectItem, i int) string {
	if it.Alias != "" {
		return it.Alias
	}
	switch x := it.Expr.(type) {
	case *parse.Ident:
		return x.Parts[len(x.Parts)-1]
	case *parse.Call:
		return x.Name
	case *parse.Cast:
		if id, ok := x.X.(*parse.Ident); ok {
			return id.Parts[len(id.Parts)-1]
		}
	}
	return "col" + strconv.Itoa(i+1)
}

// binder holds what FROM established.
type binder struct {
	cv       *parse.CreateView
	src      Source
	names    []string // names the input may be qualified with
	window   stream.Window
	tvf      *parse.WindowTVF
	keyText  []string // GROUP BY keys as written, for EXPLAIN
	aggText  []string
	join     *joinBind       // FROM a JOIN b
	rowCols  []schema.Column // the row's columns before the window bounds
	topText  string          // a Top-N's ORDER BY, for EXPLAIN
	itemOut  []int           // the output column of each select item (its first, for a star)
	starTime int             // the output column a star put the event time in, or -1
	used     map[int]bool    // a join's row slots the view reads
}

func (b *binder) from(f parse.From, lookup Lookup) error {
	switch x := f.(type) {
	case *parse.TableRef:
		src, err := find(lookup, x.Name, x.Pos)
		if err != nil {
			return err
		}
		if src.Table != nil {
			return errAt(x.Pos, "%q is a reference table: a view reads a stream or a view, and may join it with a table (FROM s JOIN %s t ON s.k = t.k)", x.Name, x.Name)
		}
		b.src = src
		b.names = []string{x.Name, x.Alias}
		b.rowCols = src.Columns
		return nil
	case *parse.WindowTVF:
		src, err := find(lookup, x.Table, x.Pos)
		if err != nil {
			return err
		}
		if src.Table != nil {
			return errAt(x.Pos, "a window over the reference table %q: tables have no event time; window the stream and join the table", x.Table)
		}
		if src.Changelog != "" {
			return errAt(x.Pos, "a window over view %q, which updates its rows: windows need rows that are appended in event time; aggregate it without a window (GROUP BY), or window the stream it reads", x.Table)
		}
		b.src, b.tvf = src, x
		b.names = []string{x.Table, x.Alias}
		b.rowCols = src.Columns
		for _, c := range src.Columns {
			if n := strings.ToLower(c.Name); n == "window_start" || n == "window_end" {
				return errAt(x.Pos, "%q has a column named %s, and a window over it adds its own window_start and window_end: rename the column in %q (e.g. %s AS %s_prev)",
					x.Table, c.Name, x.Table, c.Name, n)
			}
		}
		if x.TimeCol != src.EventTime && !strings.EqualFold(x.TimeCol, src.EventTime) {
			return errAt(x.Pos, "windows run on the stream's event time: DESCRIPTOR(%s) must name %q, the event_time column of %q in weir.yaml",
				x.TimeCol, src.EventTime, x.Table)
		}
		for _, iv := range x.Args {
			if iv.Micros <= 0 {
				return errAt(iv.Pos, "%s needs a positive interval, got %s", x.Kind, iv.Text)
			}
		}
		switch x.Kind {
		case "TUMBLE":
			b.window = stream.Window{Kind: stream.Tumble, Size: x.Args[0].Micros}
		case "HOP":
			slide, size := x.Args[0], x.Args[1]
			if size.Micros%slide.Micros != 0 {
				return errAt(size.Pos, "HOP size (%s) must be a whole multiple of its slide (%s)", size.Text, slide.Text)
			}
			b.window = stream.Window{Kind: stream.Hop, Size: size.Micros, Slide: slide.Micros}
		case "CUMULATE":
			step, size := x.Args[0], x.Args[1]
			if size.Micros%step.Micros != 0 {
				return errAt(size.Pos, "CUMULATE size (%s) must be a whole multiple of its step (%s)", size.Text, step.Text)
			}
			b.window = stream.Window{Kind: stream.Cumulate, Size: size.Micros, Slide: step.Micros}
		case "SESSION":
			b.window = stream.Window{Kind: stream.Session, Gap: x.Args[0].Micros}
		default:
			return errAt(x.Pos, "unknown window function %s", x.Kind)
		}
		return nil
	case *parse.Join:
		return b.fromJoin(x, lookup)
	case *parse.Subquery:
		return errAt(x.Pos, "subqueries in FROM are not supported in views yet")
	}
	return errAt(f.FromPos(), "this FROM item is not supported in views")
}

// columns are the input row's columns: the stream's, then the window bounds.
func (b *binder) columns() []schema.Column {
	cols := append([]schema.Column(nil), b.rowCols...)
	if b.window.Kind != stream.NoWindow {
		cols = append(cols, schema.Column{Name: "window_start", Type: schema.Timestamp}, schema.Column{Name: "window_end", Type: schema.Timestamp})
	}
	return cols
}

// resolve finds an identifier among the input columns.
func (b *binder) resolve(id *parse.Ident) (int, schema.Type, error) {
	if b.join != nil {
		return b.resolveJoin(id)
	}
	name := id.Parts[len(id.Parts)-1]
	if len(id.Parts) > 2 {
		return 0, 0, errAt(id.Pos, "%s: nested names are not supported", strings.Join(id.Parts, "."))
	}
	if len(id.Parts) == 2 && id.Parts[0] != b.names[0] && id.Parts[0] != b.names[1] {
		return 0, 0, errAt(id.Pos, "unknown table %q in %s: the view reads %q", id.Parts[0], strings.Join(id.Parts, "."), b.names[0])
	}
	cols := b.columns()
	for i, c := range cols {
		if c.Name == name {
			return i, c.Type, nil
		}
	}
	found := -1
	for i, c := range cols {
		if strings.EqualFold(c.Name, name) {
			if found >= 0 {
				return 0, 0, errAt(id.Pos, "column %q is ambiguous: the stream has %q and %q; quote the name", name, cols[found].Name, c.Name)
			}
			found = i
		}
	}
	if found >= 0 {
		return found, cols[found].Type, nil
	}
	if msg, ok := notYet[name]; ok && len(id.Parts) == 1 {
		return 0, 0, errAt(id.Pos, "%s: %s", name, msg)
	}
	var have []string
	for _, c := range cols {
		have = append(have, c.Name)
	}
	return 0, 0, errAt(id.Pos, "unknown column %q; %q has: %s", name, b.names[0], strings.Join(have, ", "))
}

// inputScope resolves names to the input row.
type inputScope struct{ b *binder }

func (s *inputScope) column(id *parse.Ident) (int, schema.Type, error) { return s.b.resolve(id) }
func (s *inputScope) grouped(parse.Expr) (int, schema.Type, bool, error) {
	return 0, 0, false, nil
}

// groupScope resolves names after aggregation: GROUP BY expressions,
// window bounds and aggregates, each a slot of the group row.
type groupScope struct {
	b       *binder
	in      *inputScope
	p       *stream.Plan
	keys    map[string]int // parse.FormatExprKey → slot
	keyType []schema.Type
	window  bool
	aggs    map[string]int // parse.FormatExprKey → aggregate index
}

func (b *binder) groupScope(q *parse.Select, in *inputScope, p *stream.Plan) (*groupScope, error) {
	gs := &groupScope{b: b, in: in, p: p, keys: map[string]int{}, aggs: map[string]int{}}
	var sawStart, sawEnd bool
	var keyExprs []parse.Expr // the GROUP BY keys, window bounds aside
	for _, g := range q.GroupBy {
		if n, ok := g.(*parse.NumberLit); ok && n.IsInt {
			i, _ := strconv.Atoi(n.Text)
			if i < 1 || i > len(q.Items) || q.Items[i-1].Expr == nil {
				return nil, errAt(n.Pos, "GROUP BY %s: there is no select item %s", n.Text, n.Text)
			}
			g = q.Items[i-1].Expr
		}
		if id, ok := g.(*parse.Ident); ok && len(id.Parts) == 1 {
			// GROUP BY a select alias (DuckDB allows it) when no column has the name.
			if _, _, err := b.resolve(id); err != nil {
				for _, it := range q.Items {
					if it.Alias == id.Parts[0] && it.Expr != nil {
						g = it.Expr
						break
					}
				}
			}
		}
		if id, ok := g.(*parse.Ident); ok && b.window.Kind != stream.NoWindow {
			if slot, _, err := b.resolve(id); err == nil && slot >= len(b.rowCols) {
				if slot == len(b.rowCols) {
					sawStart = true
				} else {
					sawEnd = true
				}
				continue
			}
		}
		if hasAggregate(g) {
			return nil, errAt(g.ExprPos(), "aggregates are not allowed in GROUP BY")
		}
		fp := parse.FormatExprKey(g)
		if _, dup := gs.keys[fp]; dup {
			continue
		}
		e, err := compile(g, in)
		if err != nil {
			return nil, err
		}
		if e.Type == nullType {
			return nil, errAt(g.ExprPos(), "cannot GROUP BY NULL")
		}
		gs.keys[fp] = len(p.Keys)
		gs.keyType = append(gs.keyType, e.Type)
		p.Keys = append(p.Keys, e)
		b.keyText = append(b.keyText, fp)
		keyExprs = append(keyExprs, g)
	}
	if b.window.Kind == stream.Session && len(b.tvf.PartitionBy) > 0 {
		// Sessions are kept per GROUP BY key: PARTITION BY must name the
		// same columns (compared as resolved columns, not as text).
		parts, keys := map[int]bool{}, map[int]bool{}
		for _, name := range b.tvf.PartitionBy {
			slot, _, err := b.resolve(&parse.Ident{Pos: b.tvf.Pos, Parts: []string{name}})
			if err != nil {
				return nil, err
			}
			parts[slot] = true
		}
		for _, g := range keyExprs {
			slot := -1
			if id, ok := g.(*parse.Ident); ok {
				slot, _, _ = b.resolve(id)
			}
			keys[slot] = true
		}
		if !maps.Equal(keys, parts) {
			return nil, errAt(b.tvf.Pos, "SESSION(... PARTITION BY %s ...) must name the same columns as GROUP BY (besides window_start, window_end): sessions are kept per key; GROUP BY has %s",
				strings.Join(b.tvf.PartitionBy, ", "), strings.Join(b.keyText, ", "))
		}
	}
	if b.window.Kind != stream.NoWindow {
		if !sawStart || !sawEnd {
			pos := q.Pos
			if len(q.GroupBy) > 0 {
				pos = q.GroupBy[0].ExprPos()
			}
			return nil, errAt(pos, "an aggregate over %s windows must GROUP BY window_start, window_end (and its keys)", b.window.Kind)
		}
		gs.window = true
	}
	return gs, nil
}

func (s *groupScope) column(id *parse.Ident) (int, schema.Type, error) {
	if _, _, err := s.b.resolve(id); err != nil {
		return 0, 0, err
	}
	return 0, 0, errAt(id.Pos, "column %q must appear in GROUP BY or be used in an aggregate function", strings.Join(id.Parts, "."))
}

func (s *groupScope) grouped(e parse.Expr) (int, schema.Type, bool, error) {
	nk := len(s.p.Keys)
	base := nk
	if s.window {
		base += 2
	}
	if id, ok := e.(*parse.Ident); ok && s.window {
		if slot, _, err := s.b.resolve(id); err == nil && slot >= len(s.b.rowCols) {
			return nk + slot - len(s.b.rowCols), schema.Timestamp, true, nil
		}
	}
	if isConst(e) {
		return 0, 0, false, nil
	}
	fp := parse.FormatExprKey(e)
	if slot, ok := s.keys[fp]; ok {
		return slot, s.keyType[slot], true, nil
	}
	c, ok := e.(*parse.Call)
	if !ok || !isAggregate(c) {
		return 0, 0, false, nil
	}
	if i, ok := s.aggs[fp]; ok {
		return base + i, s.p.Aggs[i].Type, true, nil
	}
	spec, err := s.aggregate(c)
	if err != nil {
		return 0, 0, false, err
	}
	i := len(s.p.Aggs)
	s.aggs[fp] = i
	s.p.Aggs = append(s.p.Aggs, spec)
	s.b.aggText = append(s.b.aggText, fp)
	return base + i, spec.Type, true, nil
}

func (s *groupScope) aggregate(c *parse.Call) (stream.AggSpec, error) {
	kind := aggregates[c.Name]
	if c.Star {
		if c.Name != "count" {
			return stream.AggSpec{}, errAt(c.Pos, "%s(*) is not allowed; only count(*)", c.Name)
		}
		return stream.AggSpec{Kind: stream.AggCount, Type: schema.Int64}, nil
	}
	var quantile float64
	if kind == stream.AggApproxQuantile {
		if len(c.Args) != 2 {
			return stream.AggSpec{}, errAt(c.Pos, "%s takes (value, fraction), e.g. %s(latency, 0.99); got %d arguments", c.Name, c.Name, len(c.Args))
		}
		lit, ok := c.Args[1].(*parse.NumberLit)
		q, err := 0.0, error(nil)
		if ok {
			q, err = strconv.ParseFloat(lit.Text, 64)
		}
		if !ok || err != nil || q < 0 || q > 1 {
			return stream.AggSpec{}, errAt(c.Args[1].ExprPos(), "the fraction of %s must be a number literal from 0 to 1, e.g. 0.99", c.Name)
		}
		quantile = q
		c = &parse.Call{Pos: c.Pos, Name: c.Name, Args: c.Args[:1]}
	}
	if len(c.Args) != 1 {
		return stream.AggSpec{}, errAt(c.Pos, "%s takes one argument, got %d", c.Name, len(c.Args))
	}
	if hasAggregate(c.Args[0]) {
		return stream.AggSpec{}, errAt(c.Args[0].ExprPos(), "aggregates cannot be nested")
	}
	arg, err := compile(c.Args[0], s.in)
	if err != nil {
		return stream.AggSpec{}, err
	}
	spec := stream.AggSpec{Kind: kind, Arg: &arg, Quantile: quantile}
	if c.Distinct {
		if kind != stream.AggCount {
			return stream.AggSpec{}, errAt(c.Pos, "DISTINCT is supported in count(DISTINCT x) only")
		}
		spec.Kind = stream.AggCountDistinct
	}
	switch spec.Kind {
	case stream.AggCount, stream.AggCountDistinct:
		spec.Type = schema.Int64
	case stream.AggSum:
		if !numeric(arg.Type) {
			return stream.AggSpec{}, errAt(c.Pos, "sum needs a number, got %s", typeName(arg.Type))
		}
		spec.Type = arg.Type
		if arg.Type == nullType {
			spec.Type = schema.Int64
		}
	case stream.AggApproxDistinct:
		spec.Type = schema.Int64
	case stream.AggApproxQuantile:
		if !numeric(arg.Type) {
			return stream.AggSpec{}, errAt(c.Pos, "%s needs a number, got %s", c.Name, typeName(arg.Type))
		}
		spec.Type = schema.Float64
	case stream.AggAvg:
		if !numeric(arg.Type) {
			return stream.AggSpec{}, errAt(c.Pos, "%s needs a number, got %s", c.Name, typeName(arg.Type))
		}
		spec.Type = schema.Float64
	default:
		if arg.Type == nullType {
			return stream.AggSpec{}, errAt(c.Pos, "%s(NULL) has no type; write CAST(NULL AS type)", c.Name)
		}
		spec.Type = arg.Type
	}
	if arg.Type == nullType {
		a := castExpr(arg, spec.Type)
		spec.Arg = &a
	}
	return spec, nil
}

// streamingClauses applies ALLOWED LATENESS, EMIT EVERY and LATE DATA.
func (b *binder) streamingClauses(p *stream.Plan) error {
	cv := b.cv
	windowedAgg := p.Aggregating && b.window.Kind != stream.NoWindow
	if b.window.Kind == stream.Session && !p.Aggregating {
		return errAt(b.tvf.Pos, "SESSION windows need an aggregate: GROUP BY window_start, window_end and the session key")
	}
	need := func(iv *parse.Interval, clause string) error {
		if !windowedAgg {
			return errAt(iv.Pos, "%s applies to aggregates over TUMBLE, HOP, CUMULATE or SESSION windows only", clause)
		}
		if iv.Micros < 0 {
			return errAt(iv.Pos, "%s needs an interval of 0 or more, got %s", clause, iv.Text)
		}
		return nil
	}
	if iv := cv.StateTTL; iv != nil && p.Join == nil {
		return errAt(iv.Pos, "STATE TTL applies to regular joins (a join without time bounds or a window) only")
	}
	if iv := cv.AllowedLateness; iv != nil {
		if err := need(iv, "ALLOWED LATENESS"); err != nil {
			return err
		}
		p.AllowedLateness = iv.Micros
	}
	if iv := cv.EmitEvery; iv != nil {
		if err := need(iv, "EMIT EVERY"); err != nil {
			return err
		}
		if iv.Micros < 10_000 {
			return errAt(iv.Pos, "EMIT EVERY needs at least 10 milliseconds, got %s", iv.Text)
		}
		p.EmitEvery = time.Duration(iv.Micros) * time.Microsecond
	}
	switch cv.Late {
	case parse.LateDefault, parse.LateSideOutput:
		p.Late = stream.LateSideOutput
	case parse.LateDrop:
		p.Late = stream.LateDrop
	case parse.LateUpdate:
		p.Late = stream.LateUpdate
		p.LateFor = DefaultLateFor.Microseconds()
	}
	if cv.Late != parse.LateDefault && b.join != nil && cv.Late != parse.LateUpdate && !windowedAgg {
		return nil // a join's late records: kept (side output) or dropped
	}
	if cv.Late != parse.LateDefault && !windowedAgg {
		return errAt(cv.Pos, "LATE DATA applies to aggregates over TUMBLE, HOP, CUMULATE or SESSION windows only: other views have no late records")
	}
	if iv := cv.LateFor; iv != nil {
		if err := need(iv, "LATE DATA UPDATE FOR"); err != nil {
			return err
		}
		p.LateFor = iv.Micros
	}
	return nil
}

// hasAggregate reports whether e calls an aggregate function.
func hasAggregate(e parse.Expr) bool {
	found := false
	walk(e, func(x parse.Expr) {
		if c, ok := x.(*parse.Call); ok && isAggregate(c) {
			found = true
		}
	})
	return found
}

// walk calls fn for e and each sub-expression.
func walk(e parse.Expr, fn func(parse.Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch x := e.(type) {
	case *parse.Unary:
		walk(x.X, fn)
	case *parse.Binary:
		walk(x.L, fn)
		walk(x.R, fn)
	case *parse.IsNull:
		walk(x.X, fn)
	case *parse.Like:
		walk(x.X, fn)
		walk(x.Pattern, fn)
	case *parse.In:
		walk(x.X, fn)
		for _, y := range x.List {
			walk(y, fn)
		}
	case *parse.Between:
		walk(x.X, fn)
		walk(x.Lo, fn)
		walk(x.Hi, fn)
	case *parse.Case:
		walk(x.Operand, fn)
		for _, w := range x.Whens {
			walk(w.Cond, fn)
			walk(w.Then, fn)
		}
		walk(x.Else, fn)
	case *parse.Cast:
		walk(x.X, fn)
	case *parse.Call:
		for _, y := range x.Args {
			walk(y, fn)
		}
	}
}
