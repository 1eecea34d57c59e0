package plan

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

// aggregates maps SQL aggregate names to kinds.
var aggregates = map[string]stream.AggKind{
	"count": stream.AggCount, "sum": stream.AggSum, "min": stream.AggMin, "max": stream.AggMax,
	"avg": stream.AggAvg, "mean": stream.AggAvg, "first_value": stream.AggFirst, "last_value": stream.AggLast,
	"approx_count_distinct": stream.AggApproxDistinct,
	"approx_percentile":     stream.AggApproxQuantile, "approx_quantile": stream.AggApproxQuantile,
}

// notYet are functions users will try whose support is planned.
var notYet = map[string]string{
	"percentile_cont":   "exact percentiles are not supported; use approx_percentile(x, q)",
	"quantile_cont":     "exact percentiles are not supported; use approx_percentile(x, q)",
	"quantile":          "exact percentiles are not supported; use approx_percentile(x, q)",
	"median":            "exact medians are not supported; use approx_percentile(x, 0.5)",
	"row_number":        "ROW_NUMBER() ranks rows for a Top-N: rank in a subquery and keep the first N around it, as in SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x DESC) AS rn FROM s) t WHERE rn <= 10",
	"now":               "now() and current_timestamp would make a view depend on when it is computed; use the event time",
	"current_timestamp": "now() and current_timestamp would make a view depend on when it is computed; use the event time",
	"random":            "random() would make a view differ between replays",
}

func isAggregate(c *parse.Call) bool {
	_, ok := aggregates[c.Name]
	return ok && c.Over == nil
}

func nargs(c *parse.Call, lo, hi int) error {
	if len(c.Args) >= lo && len(c.Args) <= hi {
		return nil
	}
	switch {
	case lo == hi:
		return errAt(c.Pos, "%s takes %d argument(s), got %d", c.Name, lo, len(c.Args))
	case hi >= 1000:
		return errAt(c.Pos, "%s takes at least %d argument(s), got %d", c.Name, lo, len(c.Args))
	}
	return errAt(c.Pos, "%s takes %d to %d arguments, got %d", c.Name, lo, hi, len(c.Args))
}

func compileCall(c *parse.Call, sc scope) (stream.Expr, error) {
	if msg, ok := notYet[c.Name]; ok {
		return stream.Expr{}, errAt(c.Pos, "%s: %s", c.Name, msg)
	}
	if c.Over != nil {
		return stream.Expr{}, errAt(c.Pos, "window function %s() OVER (...) is not supported in views; ROW_NUMBER(), RANK() and DENSE_RANK() are, for Top-N", c.Name)
	}
	if isAggregate(c) {
		return stream.Expr{}, errAt(c.Pos, "aggregate %s() is not allowed here: aggregates go in the SELECT list or HAVING of a grouped query", c.Name)
	}
	fn, ok := scalars[c.Name]
	if !ok {
		return stream.Expr{}, errAt(c.Pos, "unknown function %s()", c.Name)
	}
	if c.Distinct || c.Star {
		return stream.Expr{}, errAt(c.Pos, "%s is not an aggregate: DISTINCT and * are not allowed in its arguments", c.Name)
	}
	args := make([]stream.Expr, len(c.Args))
	for i, a := range c.Args {
		if c.Name == "date_trunc" && i == 0 || c.Name == "extract" && i == 0 || c.Name == "date_part" && i == 0 {
			continue // the unit, read below
		}
		var err error
		if args[i], err = compile(a, sc); err != nil {
			return stream.Expr{}, err
		}
	}
	return fn(c, args)
}

func str1(c *parse.Call, args []stream.Expr, f func([]byte) []byte) (stream.Expr, error) {
	if err := nargs(c, 1, 1); err != nil {
		return stream.Expr{}, err
	}
	a := castExpr(args[0], schema.String)
	return stream.Expr{Type: schema.String, Eval: func(r stream.Row) value {
		v := a.Eval(r)
		if v.Null {
			return null
		}
		return value{Bytes: f(v.Bytes)}
	}}, nil
}
func num1(c *parse.Call, args []stream.Expr, fi func(int64) int64, ff func(float64) float64) (stream.Expr, error) {
	if err := nargs(c, 1, 1); err != nil {
		return stream.Expr{}, err
	}
	a := args[0]
	switch a.Type {
	case schema.Int64:
		return stream.Expr{Type: schema.Int64, Eval: func(r stream.Row) value {
			v := a.Eval(r)
			if !v.Null {
				v.Int = fi(v.Int)
			}
			return v
		}}, nil
	case schema.Float64, nullType:
		return stream.Expr{Type: schema.Float64, Eval: func(r stream.Row) value {
			v := a.Eval(r)
			if !v.Null {
				v.Float = ff(v.Float)
			}
			return v
		}}, nil
	}
	return stream.Expr{}, errAt(c.Pos, "%s needs a number, got %s", c.Name, typeName(a.Type))
}

// scalarFunc compiles a call of one scalar function over its compiled
// arguments (an argument the function reads itself, like date_trunc's unit,
// is left zero).
type scalarFunc func(c *parse.Call, args []stream.Expr) (stream.Expr, error)

// scalars are the scalar functions of views, by name: compileCall knows a
// name before it compiles the arguments, so an unknown function is
// reported as such.
var scalars map[string]scalarFunc

func init() {
	scalars = map[string]scalarFunc{}
	add := func(f scalarFunc, names ...string) {
		for _, n := range names {
			scalars[n] = f
		}
	}
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		return str1(c, args, bytes.ToLower)
	}, "lower")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		return str1(c, args, bytes.ToUpper)
	}, "upper")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		// SQL's trim removes spaces only, not tabs or newlines.
		return str1(c, args, func(b []byte) []byte { return bytes.Trim(b, " ") })
	}, "trim")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		if err := nargs(c, 1, 1); err != nil {
			return stream.Expr{}, err
		}
		a := castExpr(args[0], schema.String)
		byteLen := c.Name == "strlen"
		return stream.Expr{Type: schema.Int64, Eval: func(r stream.Row) value {
			v := a.Eval(r)
			if v.Null {
				return null
			}
			if byteLen {
				return value{Int: int64(len(v.Bytes))}
			}
			return value{Int: int64(utf8.RuneCount(v.Bytes))}
		}}, nil
	}, "length", "char_length", "strlen")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		if err := nargs(c, 2, 3); err != nil {
			return stream.Expr{}, err
		}
		s := castExpr(args[0], schema.String)
		from := castExpr(args[1], schema.Int64)
		n := constExpr(schema.Int64, value{Int: math.MaxInt32})
		if len(args) == 3 {
			n = castExpr(args[2], schema.Int64)
		}
		return stream.Expr{Type: schema.String, Eval: func(r stream.Row) value {
			v, f, l := s.Eval(r), from.Eval(r), n.Eval(r)
			if v.Null || f.Null || l.Null {
				return null
			}
			return value{Bytes: substr(v.Bytes, f.Int, l.Int)}
		}}, nil
	}, "substr", "substring")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		parts := make([]stream.Expr, len(args))
		for i := range args {
			parts[i] = castExpr(args[i], schema.String)
		}
		return stream.Expr{Type: schema.String, Eval: func(r stream.Row) value {
			var out []byte
			for _, p := range parts {
				if v := p.Eval(r); !v.Null {
					out = append(out, v.Bytes...)
				}
			}
			if out == nil {
				out = []byte{}
			}
			return value{Bytes: out}
		}}, nil
	}, "concat")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		if err := nargs(c, 3, 3); err != nil {
			return stream.Expr{}, err
		}
		s, o, n := castExpr(args[0], schema.String), castExpr(args[1], schema.String), castExpr(args[2], schema.String)
		return stream.Expr{Type: schema.String, Eval: func(r stream.Row) value {
			v, ov, nv := s.Eval(r), o.Eval(r), n.Eval(r)
			if v.Null || ov.Null || nv.Null {
				return null
			}
			if len(ov.Bytes) == 0 {
				return v // as in DuckDB: an empty search string matches nothing
			}
			return value{Bytes: bytes.ReplaceAll(v.Bytes, ov.Bytes, nv.Bytes)}
		}}, nil
	}, "replace")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		// DuckDB's: the n-th part (from 1; negative counts from the end),
		// '' past the ends; an empty separator splits into characters.
		if err := nargs(c, 3, 3); err != nil {
			return stream.Expr{}, err
		}
		if args[2].Type != schema.Int64 && args[2].Type != nullType {
			return stream.Expr{}, errAt(c.Args[2].ExprPos(), "split_part needs the part number as an integer, got %s", typeName(args[2].Type))
		}
		s, sep, n := castExpr(args[0], schema.String), castExpr(args[1], schema.String), castExpr(args[2], schema.Int64)
		return stream.Expr{Type: schema.String, Eval: func(r stream.Row) value {
			v, sv, nv := s.Eval(r), sep.Eval(r), n.Eval(r)
			if v.Null || sv.Null || nv.Null {
				return null
			}
			return value{Bytes: splitPart(v.Bytes, sv.Bytes, nv.Int)}
		}}, nil
	}, "split_part")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		return compileRegexpExtract(c, args)
	}, "regexp_extract")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		return compileStrftime(c, args)
	}, "strftime")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		if err := nargs(c, 2, 2); err != nil {
			return stream.Expr{}, err
		}
		s, p := castExpr(args[0], schema.String), castExpr(args[1], schema.String)
		var f func(a, b []byte) bool
		switch c.Name {
		case "starts_with", "prefix":
			f = bytes.HasPrefix
		case "ends_with", "suffix":
			f = bytes.HasSuffix
		default:
			f = bytes.Contains
		}
		return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
			v, pv := s.Eval(r), p.Eval(r)
			if v.Null || pv.Null {
				return null
			}
			return value{Int: b2i(f(v.Bytes, pv.Bytes))}
		}}, nil
	}, "starts_with", "prefix", "contains", "ends_with", "suffix")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		return num1(c, args, func(x int64) int64 {
			if x < 0 {
				return -x
			}
			return x
		}, math.Abs)
	}, "abs")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		return num1(c, args, func(x int64) int64 { return x }, math.Floor)
	}, "floor")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		return num1(c, args, func(x int64) int64 { return x }, math.Ceil)
	}, "ceil", "ceiling")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		if err := nargs(c, 1, 2); err != nil {
			return stream.Expr{}, err
		}
		digits := int64(0)
		if len(c.Args) == 2 {
			if !isConst(c.Args[1]) || args[1].Type != schema.Int64 {
				return stream.Expr{}, errAt(c.Args[1].ExprPos(), "round's second argument must be an integer literal, e.g. round(x, 2) or round(x, -3)")
			}
			digits = args[1].Eval(nil).Int
			if digits < -18 || digits > 18 {
				return stream.Expr{}, errAt(c.Args[1].ExprPos(), "round's digits must be from -18 to 18, got %d", digits)
			}
		}
		a := args[0]
		if a.Type == schema.Int64 {
			if digits >= 0 {
				return a, nil
			}
			unit := int64(math.Pow10(int(-digits)))
			return stream.Expr{Type: schema.Int64, Eval: func(r stream.Row) value {
				v := a.Eval(r)
				if !v.Null {
					q, m := v.Int/unit, v.Int%unit
					switch {
					case m*2 >= unit:
						q++
					case m*2 <= -unit:
						q--
					}
					v.Int = q * unit // half away from zero, as DuckDB
				}
				return v
			}}, nil
		}
		if !numeric(a.Type) {
			return stream.Expr{}, errAt(c.Pos, "round needs a number, got %s", typeName(a.Type))
		}
		scale := math.Pow(10, float64(digits))
		return stream.Expr{Type: schema.Float64, Eval: func(r stream.Row) value {
			v := a.Eval(r)
			if !v.Null {
				v.Float = math.Round(v.Float*scale) / scale
			}
			return v
		}}, nil
	}, "round")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		lo, hi := 1, 1000
		if c.Name == "ifnull" {
			lo, hi = 2, 2
		}
		if err := nargs(c, lo, hi); err != nil {
			return stream.Expr{}, err
		}
		t, err := commonType(c.Pos, args, c.Name)
		if err != nil {
			return stream.Expr{}, err
		}
		for i := range args {
			args[i] = castExpr(args[i], t)
		}
		return stream.Expr{Type: t, Eval: func(r stream.Row) value {
			for _, a := range args {
				if v := a.Eval(r); !v.Null {
					return v
				}
			}
			return null
		}}, nil
	}, "coalesce", "ifnull")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		if err := nargs(c, 2, 2); err != nil {
			return stream.Expr{}, err
		}
		a, b, t, err := unify(c.Pos, args[0], args[1], "compare")
		if err != nil {
			return stream.Expr{}, err
		}
		orig := args[0]
		return stream.Expr{Type: orig.Type, Eval: func(r stream.Row) value {
			l, rv := a.Eval(r), b.Eval(r)
			if !l.Null && !rv.Null && stream.Compare(t, l, rv) == 0 {
				return null
			}
			return orig.Eval(r)
		}}, nil
	}, "nullif")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		if err := nargs(c, 1, 1000); err != nil {
			return stream.Expr{}, err
		}
		t, err := commonType(c.Pos, args, c.Name)
		if err != nil {
			return stream.Expr{}, err
		}
		for i := range args {
			args[i] = castExpr(args[i], t)
		}
		want := 1
		if c.Name == "least" {
			want = -1
		}
		return stream.Expr{Type: t, Eval: func(r stream.Row) value {
			best := null
			for _, a := range args {
				v := a.Eval(r)
				if v.Null {
					continue
				}
				if best.Null || stream.Compare(t, v, best) == want {
					best = v
				}
			}
			return best
		}}, nil
	}, "greatest", "least")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		return compileTimePart(c, args)
	}, "date_trunc", "extract", "date_part")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		// Seconds since the epoch (with a fraction) to a timestamp.
		if err := nargs(c, 1, 1); err != nil {
			return stream.Expr{}, err
		}
		if !numeric(args[0].Type) {
			return stream.Expr{}, errAt(c.Pos, "to_timestamp needs seconds as a number, got %s", typeName(args[0].Type))
		}
		a := castExpr(args[0], schema.Float64)
		return stream.Expr{Type: schema.Timestamp, Eval: func(r stream.Row) value {
			v := a.Eval(r)
			if v.Null || math.IsNaN(v.Float) || math.Abs(v.Float) > 9.2e12 {
				return null
			}
			return value{Int: int64(math.Round(v.Float * 1e6))}
		}}, nil
	}, "to_timestamp")
	add(func(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
		// epoch_ms(milliseconds) is a timestamp; epoch_ms(timestamp) its milliseconds.
		if err := nargs(c, 1, 1); err != nil {
			return stream.Expr{}, err
		}
		a := args[0]
		switch a.Type {
		case schema.Timestamp:
			return stream.Expr{Type: schema.Int64, Eval: func(r stream.Row) value {
				v := a.Eval(r)
				if !v.Null {
					v.Int = floorDiv(v.Int, 1000)
				}
				return v
			}}, nil
		case schema.Int64:
			return stream.Expr{Type: schema.Timestamp, Eval: func(r stream.Row) value {
				v := a.Eval(r)
				if !v.Null {
					v.Int *= 1000
				}
				return v
			}}, nil
		}
		return stream.Expr{}, errAt(c.Pos, "epoch_ms takes a BIGINT of milliseconds or a TIMESTAMP, got %s", typeName(a.Type))
	}, "epoch_ms")
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// substr is DuckDB's substring: 1-based start, in characters. A negative
// start counts from the end (-1 is the last character) and 0 is the place
// before the first; a negative length takes the characters before start.
func substr(s []byte, from, n int64) []byte {
	runes := []rune(string(s))
	size := int64(len(runes))
	var start int64
	switch {
	case from > 0:
		start = from - 1
	case from < 0:
		start = size + from
	default:
		start = -1
	}
	end := addSat(start, n)
	if n < 0 {
		start, end = end, start
	}
	start, end = max(start, 0), min(end, size)
	if start >= end {
		return []byte{}
	}
	return []byte(string(runes[start:end]))
}

// addSat is a + b, saturated at the bounds of int64.
func addSat(a, b int64) int64 {
	c := a + b
	switch {
	case b > 0 && c < a:
		return math.MaxInt64
	case b < 0 && c > a:
		return math.MinInt64
	}
	return c
}

// splitPart is split_part's result for part n of s split at sep, found
// without splitting s into a slice of parts.
func splitPart(s, sep []byte, n int64) []byte {
	if len(sep) == 0 {
		// Characters: count them for a negative n, then walk to the n-th.
		if n < 0 {
			n += int64(utf8.RuneCount(s)) + 1
		}
		for i, k := 0, int64(1); i < len(s); k++ {
			_, size := utf8.DecodeRune(s[i:])
			if k == n {
				return s[i : i+size]
			}
			i += size
		}
		return []byte{}
	}
	if n < 0 {
		n += int64(bytes.Count(s, sep)) + 2
	}
	if n < 1 {
		return []byte{}
	}
	for ; n > 1; n-- {
		i := bytes.Index(s, sep)
		if i < 0 {
			return []byte{}
		}
		s = s[i+len(sep):]
	}
	if i := bytes.Index(s, sep); i >= 0 {
		return s[:i]
	}
	return s
}

// compileRegexpExtract compiles regexp_extract(s, pattern [, group]): the
// group's text of the first match (group 0: the whole match), an empty
// string without a match. The pattern and group must be literals (the pattern is compiled
// once; Go's regexp is RE2 syntax, as DuckDB's).
func compileRegexpExtract(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
	if err := nargs(c, 2, 3); err != nil {
		return stream.Expr{}, err
	}
	lit, ok := c.Args[1].(*parse.StringLit)
	if !ok {
		return stream.Expr{}, errAt(c.Args[1].ExprPos(), "regexp_extract needs the pattern as a string literal")
	}
	re, err := regexp.Compile(lit.Val)
	if err != nil {
		return stream.Expr{}, errAt(lit.Pos, "regexp_extract: bad pattern: %v", err)
	}
	group := 0
	if len(c.Args) == 3 {
		g, ok := c.Args[2].(*parse.NumberLit)
		n := -1
		if ok && g.IsInt {
			n, _ = strconv.Atoi(g.Text)
		}
		if n < 0 {
			return stream.Expr{}, errAt(c.Args[2].ExprPos(), "regexp_extract needs the group as a non-negative integer literal")
		}
		if n > re.NumSubexp() {
			return stream.Expr{}, errAt(g.Pos, "regexp_extract: the pattern has %d groups, not %d", re.NumSubexp(), n)
		}
		group = n
	}
	s := castExpr(args[0], schema.String)
	return stream.Expr{Type: schema.String, Eval: func(r stream.Row) value {
		v := s.Eval(r)
		if v.Null {
			return null
		}
		m := re.FindSubmatchIndex(v.Bytes)
		if m == nil || m[2*group] < 0 {
			return value{Bytes: []byte{}}
		}
		return value{Bytes: v.Bytes[m[2*group]:m[2*group+1]]}
	}}, nil
}

// compileStrftime compiles strftime(ts, 'format'): ts in UTC as text, with
// DuckDB's %Y %y %m %d %H %M %S %f (µs) %g (ms) %j (day of year) and %%.
func compileStrftime(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
	if err := nargs(c, 2, 2); err != nil {
		return stream.Expr{}, err
	}
	if args[0].Type != schema.Timestamp && args[0].Type != nullType {
		return stream.Expr{}, errAt(c.Args[0].ExprPos(), "strftime needs a timestamp, got %s", typeName(args[0].Type))
	}
	lit, ok := c.Args[1].(*parse.StringLit)
	if !ok {
		return stream.Expr{}, errAt(c.Args[1].ExprPos(), "strftime needs the format as a string literal, e.g. '%%Y-%%m-%%d'")
	}
	f := lit.Val
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 == len(f) || !strings.ContainsRune("YymdHMSfgj%", rune(f[i+1])) {
			return stream.Expr{}, errAt(lit.Pos, "strftime format %q: %s is not supported; use %%Y %%y %%m %%d %%H %%M %%S %%f %%g %%j or %%%%", f, f[i:min(i+2, len(f))])
		}
		i++
	}
	ts := args[0]
	return stream.Expr{Type: schema.String, Eval: func(r stream.Row) value {
		v := ts.Eval(r)
		if v.Null {
			return null
		}
		return value{Bytes: appendStrftime(make([]byte, 0, len(f)+8), time.UnixMicro(v.Int).UTC(), f)}
	}}, nil
}

func appendStrftime(dst []byte, t time.Time, f string) []byte {
	pad := func(dst []byte, x, width int) []byte {
		var digits [10]byte
		i := len(digits)
		for x > 0 || i > len(digits)-width {
			i--
			digits[i] = byte('0' + x%10)
			x /= 10
		}
		return append(dst, digits[i:]...)
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			dst = append(dst, f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			dst = pad(dst, t.Year(), 4)
		case 'y':
			dst = pad(dst, t.Year()%100, 2)
		case 'm':
			dst = pad(dst, int(t.Month()), 2)
		case 'd':
			dst = pad(dst, t.Day(), 2)
		case 'H':
			dst = pad(dst, t.Hour(), 2)
		case 'M':
			dst = pad(dst, t.Minute(), 2)
		case 'S':
			dst = pad(dst, t.Second(), 2)
		case 'f':
			dst = pad(dst, t.Nanosecond()/1000, 6)
		case 'g':
			dst = pad(dst, t.Nanosecond()/1e6, 3)
		case 'j':
			dst = pad(dst, t.YearDay(), 3)
		case '%':
			dst = append(dst, '%')
		}
	}
	return dst
}

var truncUnits = map[string]int64{
	"millisecond": 1000, "second": 1e6, "minute": 60e6, "hour": 3600e6, "day": 86400e6,
}

func compileTimePart(c *parse.Call, args []stream.Expr) (stream.Expr, error) {
	if err := nargs(c, 2, 2); err != nil {
		return stream.Expr{}, err
	}
	lit, ok := c.Args[0].(*parse.StringLit)
	if !ok {
		return stream.Expr{}, errAt(c.Args[0].ExprPos(), "%s needs the unit as a string literal, e.g. 'minute'", c.Name)
	}
	unit := strings.TrimSuffix(strings.ToLower(lit.Val), "s")
	ts := args[1]
	if ts.Type != schema.Timestamp && ts.Type != nullType {
		return stream.Expr{}, errAt(c.Args[1].ExprPos(), "%s needs a timestamp, got %s", c.Name, typeName(ts.Type))
	}
	if c.Name == "date_trunc" {
		if unit == "week" || unit == "month" || unit == "year" || unit == "quarter" {
			return calendarTrunc(c, unit, ts)
		}
		step, ok := truncUnits[unit]
		if !ok {
			return stream.Expr{}, errAt(lit.Pos, "date_trunc unit %q is not one of millisecond, second, minute, hour, day, week, month, quarter, year", lit.Val)
		}
		return stream.Expr{Type: schema.Timestamp, Eval: func(r stream.Row) value {
			v := ts.Eval(r)
			if !v.Null {
				m := v.Int % step
				if m < 0 {
					m += step
				}
				v.Int -= m
			}
			return v
		}}, nil
	}
	var f func(t time.Time) int64
	switch unit {
	case "year":
		f = func(t time.Time) int64 { return int64(t.Year()) }
	case "month":
		f = func(t time.Time) int64 { return int64(t.Month()) }
	case "day":
		f = func(t time.Time) int64 { return int64(t.Day()) }
	case "hour":
		f = func(t time.Time) int64 { return int64(t.Hour()) }
	case "minute":
		f = func(t time.Time) int64 { return int64(t.Minute()) }
	case "second":
		f = func(t time.Time) int64 { return int64(t.Second()) }
	case "dow":
		f = func(t time.Time) int64 { return int64(t.Weekday()) }
	case "doy":
		f = func(t time.Time) int64 { return int64(t.YearDay()) }
	case "epoch":
		// Seconds with their fraction, a DOUBLE, as DuckDB.
		return stream.Expr{Type: schema.Float64, Eval: func(r stream.Row) value {
			v := ts.Eval(r)
			if v.Null {
				return null
			}
			return value{Float: float64(v.Int) / 1e6}
		}}, nil
	default:
		return stream.Expr{}, errAt(lit.Pos, "%s unit %q is not one of year, month, day, hour, minute, second, dow, doy, epoch", c.Name, lit.Val)
	}
	return stream.Expr{Type: schema.Int64, Eval: func(r stream.Row) value {
		v := ts.Eval(r)
		if v.Null {
			return null
		}
		return value{Int: f(time.UnixMicro(v.Int).UTC())}
	}}, nil
}

func calendarTrunc(c *parse.Call, unit string, ts stream.Expr) (stream.Expr, error) {
	return stream.Expr{Type: schema.Timestamp, Eval: func(r stream.Row) value {
		v := ts.Eval(r)
		if v.Null {
			return v
		}
		t := time.UnixMicro(v.Int).UTC()
		var d time.Time
		switch unit {
		case "week": // ISO weeks start on Monday
			wd := (int(t.Weekday()) + 6) % 7
			d = time.Date(t.Year(), t.Month(), t.Day()-wd, 0, 0, 0, 0, time.UTC)
		case "month":
			d = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		case "quarter":
			d = time.Date(t.Year(), (t.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
		default:
			d = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		return value{Int: d.UnixMicro()}
	}}, nil
}
