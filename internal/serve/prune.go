package serve

import (
	"math"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/lake"
	"github.com/weirhq/weir/internal/sql/parse"
)

// Time-partition pruning: a query over one lake table whose WHERE clause
// bounds the table's event-time column by constants reads only the files of
// the event hours in those bounds. DuckDB would skip the other files' row
// groups by their statistics too, but only after opening every file; for a
// dashboard's "last hour" over a week of hourly files, not opening them is
// most of the time saved.
//
// The analysis is deliberately narrow, so that it is right or does nothing:
// one SELECT reading the table once, with no subqueries, joins or set
// operations; bounds are taken from top-level AND terms comparing the bare
// column with a timestamp literal (or now() minus an interval, for lower
// bounds only: DuckDB's now() is later than ours, so its bound is tighter).
// Anything else leaves the file list whole.

const hourMicros = int64(time.Hour / time.Microsecond)

// parseSelect parses q once for the engine's own analyses (pruning, point
// reads): nil unless it is one SELECT our parser takes whole. The parser
// takes no subqueries in expressions and no set operations but UNION ALL;
// queries with UNION ALL or WITH are left out here, so with a plain table
// in FROM, that is the one place the query reads the table.
func parseSelect(q string) *parse.Select {
	st, err := parse.Parse(q)
	if err != nil {
		return nil
	}
	sel, _ := st.(*parse.Select)
	if sel != nil && (sel.UnionAll != nil || len(sel.With) > 0) {
		return nil // the table may be read in either part, or in a WITH
	}
	return sel
}

// timeBounds returns the inclusive range [lo, hi] (µs) that the query's
// WHERE clause allows for column col of table, or ok=false when it cannot
// be analysed safely (sel nil: not a query parseSelect took).
func timeBounds(sel *parse.Select, table, col string, now time.Time) (lo, hi int64, ok bool) {
	if sel == nil || sel.Where == nil {
		return 0, 0, false
	}
	ref, isRef := sel.From.(*parse.TableRef)
	if !isRef || !strings.EqualFold(ref.Name, table) {
		return 0, 0, false
	}
	lo, hi = math.MinInt64, math.MaxInt64
	found := false
	var walk func(e parse.Expr)
	walk = func(e parse.Expr) {
		switch x := e.(type) {
		case *parse.Binary:
			if x.Op == "AND" {
				walk(x.L)
				walk(x.R)
				return
			}
			op, l, r := x.Op, x.L, x.R
			if !isColumn(l, col, ref) {
				if !isColumn(r, col, ref) {
					return
				}
				l, r = r, l
				op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}[op]
			}
			v, exact, isConst := constTime(r, now)
			if !isConst {
				return
			}
			switch op {
			case ">", ">=":
				lo, found = max(lo, v), true
			case "<", "<=":
				if exact {
					hi, found = min(hi, v), true
				}
			case "=":
				if exact {
					lo, hi, found = max(lo, v), min(hi, v), true
				}
			}
		case *parse.Between:
			if x.Not || !isColumn(x.X, col, ref) {
				return
			}
			a, _, okA := constTime(x.Lo, now) // any constant is a safe lower bound
			b, bExact, okB := constTime(x.Hi, now)
			if okA {
				lo, found = max(lo, a), true
			}
			if okB && bExact {
				hi, found = min(hi, b), true
			}
		}
	}
	walk(sel.Where)
	return lo, hi, found
}

// isColumn reports whether e is the bare column col (optionally qualified
// by the table or its alias).
func isColumn(e parse.Expr, col string, ref *parse.TableRef) bool {
	id, ok := e.(*parse.Ident)
	if !ok {
		return false
	}
	switch len(id.Parts) {
	case 1:
		return strings.EqualFold(id.Parts[0], col)
	case 2:
		q := id.Parts[0]
		return strings.EqualFold(id.Parts[1], col) && (strings.EqualFold(q, ref.Name) || ref.Alias != "" && strings.EqualFold(q, ref.Alias))
	}
	return false
}

// constTime evaluates a timestamp constant to µs since the epoch. exact is
// false for values that depend on the clock (now() - INTERVAL ...), which
// are only safe as lower bounds.
func constTime(e parse.Expr, now time.Time) (us int64, exact, ok bool) {
	switch x := e.(type) {
	case *parse.StringLit:
		us, ok = parseTimestamp(x.Val)
		return us, true, ok
	case *parse.Cast:
		if s, isStr := x.X.(*parse.StringLit); isStr && (x.Type == "TIMESTAMP" || x.Type == "TIMESTAMPTZ" || x.Type == "DATE" ||
			x.Type == "TIMESTAMP WITH TIME ZONE") {
			us, ok = parseTimestamp(s.Val)
			return us, true, ok
		}
	case *parse.Ident:
		if len(x.Parts) == 1 && x.Parts[0] == "current_timestamp" {
			return now.UnixMicro(), false, true
		}
	case *parse.Call:
		if len(x.Args) == 0 && (x.Name == "now" || x.Name == "current_timestamp" || x.Name == "get_current_timestamp") {
			return now.UnixMicro(), false, true
		}
	case *parse.Binary:
		if x.Op != "-" && x.Op != "+" {
			return 0, false, false
		}
		base, exact, ok := constTime(x.L, now)
		iv, isIv := x.R.(*parse.Interval)
		if !ok || !isIv {
			return 0, false, false
		}
		if x.Op == "-" {
			return base - iv.Micros, exact, true
		}
		return base + iv.Micros, exact, true
	}
	return 0, false, false
}

// The literal forms DuckDB casts to a timestamp with the session time zone
// (UTC), most specific first.
var timestampLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07", "2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", "2006-01-02",
}

func parseTimestamp(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMicro(), true
		}
	}
	return 0, false
}

// pruneFiles keeps the files of st whose event hour meets [lo, hi].
func pruneFiles(st *lake.State, lo, hi int64) []string {
	out := make([]string, 0, len(st.Files))
	for i, f := range st.Files {
		start := int64(st.Hours[i]) * hourMicros
		if start+hourMicros > lo && start <= hi {
			out = append(out, f)
		}
	}
	return out
}
