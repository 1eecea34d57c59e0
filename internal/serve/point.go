package serve

import (
	"database/sql/driver"
	"slices"
	"strconv"
	"strings"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
)

// Point reads: `SELECT cols FROM view WHERE col = value [AND ...]` on an
// upsert view (a continuous aggregate, EMIT EVERY) is answered from an
// in-memory index of the view's latest row per key, kept from the rows the
// tail sync copies anyway, without DuckDB. The answer is the one DuckDB
// would give over the same synced tail (TestPointReadsMatchDuckDB), in
// microseconds instead of a scan of the view's changelog.

// pointIndex is the latest visible row of each key of an upsert table.
type pointIndex struct {
	rows map[string][]driver.Value // row key -> visible values
	// byCol[c][v]: the row keys whose column c is v, built on the first
	// point read on c and kept up to date from then on.
	byCol map[int]map[driver.Value]map[string]struct{}
}

func newPointIndex() *pointIndex {
	return &pointIndex{rows: map[string][]driver.Value{}, byCol: map[int]map[driver.Value]map[string]struct{}{}}
}

// apply records one changelog row: visible values, then the row key and
// the retraction flag.
func (ix *pointIndex) apply(row []driver.Value) {
	n := len(row) - 2
	key, _ := row[n].(string)
	deleted, _ := row[n+1].(bool)
	if old, ok := ix.rows[key]; ok {
		for c, m := range ix.byCol {
			if set := m[old[c]]; set != nil {
				delete(set, key)
				if len(set) == 0 {
					delete(m, old[c])
				}
			}
		}
		delete(ix.rows, key)
	}
	if deleted {
		return
	}
	vals := slices.Clone(row[:n])
	ix.rows[key] = vals
	for c, m := range ix.byCol {
		ix.add(m, vals[c], key)
	}
}

func (ix *pointIndex) add(m map[driver.Value]map[string]struct{}, v driver.Value, key string) {
	set := m[v]
	if set == nil {
		set = map[string]struct{}{}
		m[v] = set
	}
	set[key] = struct{}{}
}

// lookup returns the row keys whose column c equals v.
func (ix *pointIndex) lookup(c int, v driver.Value) map[string]struct{} {
	m, ok := ix.byCol[c]
	if !ok {
		m = map[driver.Value]map[string]struct{}{}
		for key, vals := range ix.rows {
			ix.add(m, vals[c], key)
		}
		ix.byCol[c] = m
	}
	return m[v]
}

// pointPlan is a query the index can answer.
type pointPlan struct {
	table  string
	out    []int    // visible columns to return, in order
	names  []string // their result names
	eqCols []int    // WHERE col = value, ANDed
	eqVals []driver.Value
	limit  int // -1: none
}

// planPoint recognises a point read of one of the upsert tables: a plain
// SELECT of columns (or *) from the table, a WHERE clause of equalities of
// columns with literals joined by AND, and at most a LIMIT. Anything else
// (and any column of a type the literal does not match) goes to DuckDB.
func planPoint(sel *parse.Select, tableFor func(name string) *tableState) (*pointPlan, *tableState, bool) {
	if sel == nil || sel.Distinct || sel.Where == nil || len(sel.GroupBy) > 0 || sel.GroupByAll || sel.Having != nil || len(sel.OrderBy) > 0 {
		return nil, nil, false
	}
	ref, ok := sel.From.(*parse.TableRef)
	if !ok {
		return nil, nil, false
	}
	t := tableFor(ref.Name)
	if t == nil || !t.Upsert || t.point == nil {
		return nil, nil, false
	}
	visible := t.Schema.Columns[:len(t.Schema.Columns)-2]
	colOf := func(e parse.Expr) int {
		id, ok := e.(*parse.Ident)
		if !ok {
			return -1
		}
		name := id.Parts[len(id.Parts)-1]
		if len(id.Parts) == 2 && !strings.EqualFold(id.Parts[0], ref.Name) && !(ref.Alias != "" && strings.EqualFold(id.Parts[0], ref.Alias)) {
			return -1
		}
		if len(id.Parts) > 2 {
			return -1
		}
		for i, c := range visible {
			if strings.EqualFold(c.Name, name) {
				return i
			}
		}
		return -1
	}
	p := &pointPlan{table: t.Name, limit: -1}
	for _, it := range sel.Items {
		switch {
		case it.Star && (it.StarTable == "" || strings.EqualFold(it.StarTable, ref.Name) || strings.EqualFold(it.StarTable, ref.Alias)):
			for i, c := range visible {
				p.out, p.names = append(p.out, i), append(p.names, c.Name)
			}
		case it.Star:
			return nil, nil, false
		default:
			c := colOf(it.Expr)
			if c < 0 {
				return nil, nil, false
			}
			name := visible[c].Name
			if it.Alias != "" {
				name = it.Alias
			}
			p.out, p.names = append(p.out, c), append(p.names, name)
		}
	}
	var walk func(e parse.Expr) bool
	walk = func(e parse.Expr) bool {
		b, ok := e.(*parse.Binary)
		if !ok {
			return false
		}
		if b.Op == "AND" {
			return walk(b.L) && walk(b.R)
		}
		if b.Op != "=" {
			return false
		}
		c, lit := colOf(b.L), b.R
		if c < 0 {
			c, lit = colOf(b.R), b.L
		}
		if c < 0 {
			return false
		}
		v, ok := literalFor(visible[c].Type, lit)
		if !ok {
			return false
		}
		p.eqCols, p.eqVals = append(p.eqCols, c), append(p.eqVals, v)
		return true
	}
	if !walk(sel.Where) {
		return nil, nil, false
	}
	if sel.Limit != nil {
		n, ok := sel.Limit.(*parse.NumberLit)
		if !ok || !n.IsInt {
			return nil, nil, false
		}
		l, err := strconv.Atoi(n.Text)
		if err != nil || l < 0 {
			return nil, nil, false
		}
		p.limit = l
	}
	return p, t, true
}

// literalFor converts a literal to the value the tail holds for a column
// of type t (as fillArgs makes it), when the comparison is exact.
func literalFor(t schema.Type, e parse.Expr) (driver.Value, bool) {
	switch x := e.(type) {
	case *parse.StringLit:
		if t == schema.String {
			return x.Val, true
		}
	case *parse.NumberLit:
		switch t {
		case schema.Int64:
			if x.IsInt {
				n, err := strconv.ParseInt(x.Text, 10, 64)
				return n, err == nil
			}
		case schema.Float64:
			f, err := strconv.ParseFloat(x.Text, 64)
			return f, err == nil
		}
	case *parse.Unary:
		if x.Op == "-" {
			if v, ok := literalFor(t, x.X); ok {
				switch n := v.(type) {
				case int64:
					return -n, true
				case float64:
					return -n, true
				}
			}
		}
	case *parse.BoolLit:
		if t == schema.Bool {
			return x.Val, true
		}
	}
	return nil, false
}

// pointRead answers p from t's index (under e.mu: the sync writes it).
func (e *Engine) pointRead(t *tableState, p *pointPlan, native bool) *Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	visible := t.Schema.Columns[:len(t.Schema.Columns)-2]
	res := &Result{Columns: p.names, Rows: [][]any{}}
	for _, c := range p.out {
		res.Types = append(res.Types, duckType(visible[c].Type)) // the tail's column types
	}
	keys := t.point.lookup(p.eqCols[0], p.eqVals[0])
	// A stable order for equal queries (DuckDB's has none without ORDER BY).
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		vals := t.point.rows[k]
		match := true
		for i := 1; i < len(p.eqCols); i++ {
			if vals[p.eqCols[i]] != p.eqVals[i] {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if p.limit >= 0 && len(res.Rows) == p.limit {
			break
		}
		row := make([]any, len(p.out))
		for i, c := range p.out {
			row[i] = vals[c]
			if !native {
				row[i] = jsonValue(row[i])
			}
		}
		res.Rows = append(res.Rows, row)
	}
	return res
}

// pointCount is how many queries the index answered (tests).
func (e *Engine) pointCount() int64 { return e.points.Load() }
