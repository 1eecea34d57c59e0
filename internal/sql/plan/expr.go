package plan

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

// nullType is the type of an untyped NULL literal: it takes the type its
// context needs.
const nullType schema.Type = 0

type value = schema.Value

var null = value{Null: true}

// scope resolves names while compiling expressions.
type scope interface {
	// column resolves an identifier to a row slot and its type.
	column(id *parse.Ident) (int, schema.Type, error)
	// grouped is called for every sub-expression before it is compiled:
	// in a post-aggregation scope it maps GROUP BY expressions and
	// aggregate calls to their slots (ok true).
	grouped(e parse.Expr) (slot int, typ schema.Type, ok bool, err error)
}

func errAt(pos parse.Pos, format string, args ...any) error {
	return &parse.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// condition compiles a WHERE, HAVING or ON condition: a boolean (or NULL).
// at is where the message points; clause names the clause in it.
func condition(e parse.Expr, s scope, at parse.Expr, clause string) (*stream.Expr, error) {
	c, err := compile(e, s)
	if err != nil {
		return nil, err
	}
	if c.Type != schema.Bool && c.Type != nullType {
		return nil, errAt(at.ExprPos(), "%s needs a boolean condition, got %s", clause, typeName(c.Type))
	}
	return &c, nil
}

func slotExpr(i int, t schema.Type) stream.Expr {
	return stream.Expr{Type: t, Eval: func(r stream.Row) value { return r[i] }}
}

func constExpr(t schema.Type, v value) stream.Expr {
	return stream.Expr{Type: t, Eval: func(stream.Row) value { return v }}
}

// isConst reports whether e has no column references (it can be folded).
func isConst(e parse.Expr) bool {
	switch x := e.(type) {
	case *parse.NumberLit, *parse.StringLit, *parse.BoolLit, *parse.NullLit, *parse.Interval:
		return true
	case *parse.Unary:
		return isConst(x.X)
	case *parse.Cast:
		return isConst(x.X)
	}
	return false
}

// compile turns e into a closure over rows of the scope.
func compile(e parse.Expr, sc scope) (stream.Expr, error) {
	if slot, typ, ok, err := sc.grouped(e); err != nil {
		return stream.Expr{}, err
	} else if ok {
		return slotExpr(slot, typ), nil
	}
	switch x := e.(type) {
	case *parse.Ident:
		i, t, err := sc.column(x)
		if err != nil {
			return stream.Expr{}, err
		}
		return slotExpr(i, t), nil
	case *parse.NumberLit:
		if x.IsInt {
			n, err := strconv.ParseInt(x.Text, 10, 64)
			if err == nil {
				return constExpr(schema.Int64, value{Int: n}), nil
			}
		}
		f, err := strconv.ParseFloat(x.Text, 64)
		if err != nil {
			return stream.Expr{}, errAt(x.Pos, "bad number %s", x.Text)
		}
		return constExpr(schema.Float64, value{Float: f}), nil
	case *parse.StringLit:
		return constExpr(schema.String, value{Bytes: []byte(x.Val)}), nil
	case *parse.BoolLit:
		return constExpr(schema.Bool, value{Int: b2i(x.Val)}), nil
	case *parse.NullLit:
		return constExpr(nullType, null), nil
	case *parse.Interval:
		return stream.Expr{}, errAt(x.Pos, "an interval (%s) can only be added to or subtracted from a timestamp here", x.Text)
	case *parse.Unary:
		return compileUnary(x, sc)
	case *parse.Binary:
		return compileBinary(x, sc)
	case *parse.IsNull:
		a, err := compile(x.X, sc)
		if err != nil {
			return stream.Expr{}, err
		}
		not := x.Not
		return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
			return value{Int: b2i(a.Eval(r).Null != not)}
		}}, nil
	case *parse.Between:
		lo := &parse.Binary{Pos: x.Pos, Op: ">=", L: x.X, R: x.Lo}
		hi := &parse.Binary{Pos: x.Pos, Op: "<=", L: x.X, R: x.Hi}
		var both parse.Expr = &parse.Binary{Pos: x.Pos, Op: "AND", L: lo, R: hi}
		if x.Not {
			both = &parse.Unary{Pos: x.Pos, Op: "NOT", X: both}
		}
		return compile(both, sc)
	case *parse.In:
		return compileIn(x, sc)
	case *parse.Like:
		return compileLike(x, sc)
	case *parse.Case:
		return compileCase(x, sc)
	case *parse.Cast:
		a, err := compile(x.X, sc)
		if err != nil {
			return stream.Expr{}, err
		}
		t, err := castType(x.Pos, x.Type)
		if err != nil {
			return stream.Expr{}, err
		}
		if !canCast(a.Type, t) {
			hint := ""
			if t == schema.Timestamp {
				hint = "; epoch seconds convert with to_timestamp(x), milliseconds with epoch_ms(x)"
			}
			return stream.Expr{}, errAt(x.Pos, "cannot CAST %s to %s%s", typeName(a.Type), typeName(t), hint)
		}
		return castExpr(a, t), nil
	case *parse.Call:
		return compileCall(x, sc)
	}
	return stream.Expr{}, errAt(e.ExprPos(), "this expression is not supported in views yet")
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func typeName(t schema.Type) string {
	switch t {
	case nullType:
		return "NULL"
	case schema.String:
		return "VARCHAR"
	case schema.Int64:
		return "BIGINT"
	case schema.Float64:
		return "DOUBLE"
	case schema.Bool:
		return "BOOLEAN"
	case schema.Timestamp:
		return "TIMESTAMP"
	}
	return t.String()
}

func numeric(t schema.Type) bool { return t == schema.Int64 || t == schema.Float64 || t == nullType }

// asFloat reads a numeric value of type t as a float64.
func asFloat(t schema.Type, v value) float64 {
	if t == schema.Int64 {
		return float64(v.Int)
	}
	return v.Float
}

func compileUnary(x *parse.Unary, sc scope) (stream.Expr, error) {
	a, err := compile(x.X, sc)
	if err != nil {
		return stream.Expr{}, err
	}
	switch x.Op {
	case "NOT":
		if a.Type != schema.Bool && a.Type != nullType {
			return stream.Expr{}, errAt(x.Pos, "NOT needs a boolean, got %s", typeName(a.Type))
		}
		return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
			v := a.Eval(r)
			if v.Null {
				return null
			}
			return value{Int: 1 - v.Int}
		}}, nil
	case "+":
		if !numeric(a.Type) {
			return stream.Expr{}, errAt(x.Pos, "unary + needs a number, got %s", typeName(a.Type))
		}
		return a, nil
	case "-":
		switch a.Type {
		case schema.Int64:
			return stream.Expr{Type: schema.Int64, Eval: func(r stream.Row) value {
				v := a.Eval(r)
				v.Int = -v.Int
				return v
			}}, nil
		case schema.Float64:
			return stream.Expr{Type: schema.Float64, Eval: func(r stream.Row) value {
				v := a.Eval(r)
				v.Float = -v.Float
				return v
			}}, nil
		case nullType:
			return a, nil
		}
		return stream.Expr{}, errAt(x.Pos, "unary - needs a number, got %s", typeName(a.Type))
	}
	return stream.Expr{}, errAt(x.Pos, "operator %s is not supported", x.Op)
}

func compileBinary(x *parse.Binary, sc scope) (stream.Expr, error) {
	// timestamp ± interval
	if iv, ok := x.R.(*parse.Interval); ok && (x.Op == "+" || x.Op == "-") {
		a, err := compile(x.L, sc)
		if err != nil {
			return stream.Expr{}, err
		}
		if a.Type != schema.Timestamp {
			return stream.Expr{}, errAt(x.Pos, "%s %s INTERVAL needs a timestamp on the left, got %s", typeName(a.Type), x.Op, typeName(a.Type))
		}
		d := iv.Micros
		if x.Op == "-" {
			d = -d
		}
		return stream.Expr{Type: schema.Timestamp, Eval: func(r stream.Row) value {
			v := a.Eval(r)
			v.Int += d
			return v
		}}, nil
	}
	a, err := compile(x.L, sc)
	if err != nil {
		return stream.Expr{}, err
	}
	b, err := compile(x.R, sc)
	if err != nil {
		return stream.Expr{}, err
	}
	switch x.Op {
	case "AND", "OR":
		for _, e := range []stream.Expr{a, b} {
			if e.Type != schema.Bool && e.Type != nullType {
				return stream.Expr{}, errAt(x.Pos, "%s needs booleans on both sides, got %s", x.Op, typeName(e.Type))
			}
		}
		if x.Op == "AND" {
			return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
				l := a.Eval(r)
				if !l.Null && l.Int == 0 {
					return value{}
				}
				rv := b.Eval(r)
				if !rv.Null && rv.Int == 0 {
					return value{}
				}
				if l.Null || rv.Null {
					return null
				}
				return value{Int: 1}
			}}, nil
		}
		return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
			l := a.Eval(r)
			if !l.Null && l.Int != 0 {
				return value{Int: 1}
			}
			rv := b.Eval(r)
			if !rv.Null && rv.Int != 0 {
				return value{Int: 1}
			}
			if l.Null || rv.Null {
				return null
			}
			return value{}
		}}, nil
	case "=", "<>", "<", "<=", ">", ">=":
		return compileCompare(x, a, b)
	case "||":
		a, b = castExpr(a, schema.String), castExpr(b, schema.String)
		return stream.Expr{Type: schema.String, Eval: func(r stream.Row) value {
			l, rv := a.Eval(r), b.Eval(r)
			if l.Null || rv.Null {
				return null
			}
			out := make([]byte, 0, len(l.Bytes)+len(rv.Bytes))
			return value{Bytes: append(append(out, l.Bytes...), rv.Bytes...)}
		}}, nil
	case "+", "-", "*", "/", "%":
		return compileArith(x, a, b)
	}
	return stream.Expr{}, errAt(x.Pos, "operator %s is not supported", x.Op)
}

func compileArith(x *parse.Binary, a, b stream.Expr) (stream.Expr, error) {
	if !numeric(a.Type) || !numeric(b.Type) {
		return stream.Expr{}, errAt(x.Pos, "%s needs numbers, got %s %s %s", x.Op, typeName(a.Type), x.Op, typeName(b.Type))
	}
	if a.Type == nullType || b.Type == nullType {
		t := max(a.Type, b.Type)
		if x.Op == "/" {
			t = schema.Float64
		}
		return constExpr(t, null), nil
	}
	op := x.Op
	if a.Type == schema.Int64 && b.Type == schema.Int64 && op != "/" {
		var f func(p, q int64) (int64, bool)
		switch op {
		case "+":
			f = func(p, q int64) (int64, bool) { return p + q, true }
		case "-":
			f = func(p, q int64) (int64, bool) { return p - q, true }
		case "*":
			f = func(p, q int64) (int64, bool) { return p * q, true }
		case "%":
			f = func(p, q int64) (int64, bool) {
				if q == 0 {
					return 0, false
				}
				return p % q, true
			}
		}
		return stream.Expr{Type: schema.Int64, Eval: func(r stream.Row) value {
			l, rv := a.Eval(r), b.Eval(r)
			if l.Null || rv.Null {
				return null
			}
			n, ok := f(l.Int, rv.Int)
			if !ok {
				return null
			}
			return value{Int: n}
		}}, nil
	}
	// DuckDB semantics: '/' is always floating-point division.
	at, bt := a.Type, b.Type
	var f func(p, q float64) (float64, bool)
	switch op {
	case "+":
		f = func(p, q float64) (float64, bool) { return p + q, true }
	case "-":
		f = func(p, q float64) (float64, bool) { return p - q, true }
	case "*":
		f = func(p, q float64) (float64, bool) { return p * q, true }
	case "/":
		// IEEE division, as DuckDB: x/0 is ±inf, 0/0 is nan.
		f = func(p, q float64) (float64, bool) { return p / q, true }
	case "%":
		f = func(p, q float64) (float64, bool) { return math.Mod(p, q), true }
	}
	return stream.Expr{Type: schema.Float64, Eval: func(r stream.Row) value {
		l, rv := a.Eval(r), b.Eval(r)
		if l.Null || rv.Null {
			return null
		}
		n, ok := f(asFloat(at, l), asFloat(bt, rv))
		if !ok {
			return null
		}
		return value{Float: n}
	}}, nil
}

// unify makes a and b comparable: numbers compare as numbers, a string
// constant against a timestamp is parsed as a timestamp.
func unify(pos parse.Pos, a, b stream.Expr, what string) (stream.Expr, stream.Expr, schema.Type, error) {
	switch {
	case a.Type == b.Type:
		return a, b, a.Type, nil
	case a.Type == nullType:
		return a, b, b.Type, nil
	case b.Type == nullType:
		return a, b, a.Type, nil
	case numeric(a.Type) && numeric(b.Type):
		return castExpr(a, schema.Float64), castExpr(b, schema.Float64), schema.Float64, nil
	case a.Type == schema.Timestamp && b.Type == schema.String:
		return a, castExpr(b, schema.Timestamp), schema.Timestamp, nil
	case a.Type == schema.String && b.Type == schema.Timestamp:
		return castExpr(a, schema.Timestamp), b, schema.Timestamp, nil
	}
	return a, b, 0, errAt(pos, "cannot %s %s and %s; use CAST", what, typeName(a.Type), typeName(b.Type))
}

func compileCompare(x *parse.Binary, a, b stream.Expr) (stream.Expr, error) {
	a, b, t, err := unify(x.Pos, a, b, "compare")
	if err != nil {
		return stream.Expr{}, err
	}
	var test func(c int) bool
	switch x.Op {
	case "=":
		test = func(c int) bool { return c == 0 }
	case "<>":
		test = func(c int) bool { return c != 0 }
	case "<":
		test = func(c int) bool { return c < 0 }
	case "<=":
		test = func(c int) bool { return c <= 0 }
	case ">":
		test = func(c int) bool { return c > 0 }
	case ">=":
		test = func(c int) bool { return c >= 0 }
	}
	if t == schema.Int64 || t == schema.Timestamp {
		// The common case, specialised: no Compare call.
		switch x.Op {
		case "=":
			return intCmp(a, b, func(p, q int64) bool { return p == q }), nil
		case "<":
			return intCmp(a, b, func(p, q int64) bool { return p < q }), nil
		case ">":
			return intCmp(a, b, func(p, q int64) bool { return p > q }), nil
		case ">=":
			return intCmp(a, b, func(p, q int64) bool { return p >= q }), nil
		case "<=":
			return intCmp(a, b, func(p, q int64) bool { return p <= q }), nil
		}
	}
	return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
		l, rv := a.Eval(r), b.Eval(r)
		if l.Null || rv.Null {
			return null
		}
		return value{Int: b2i(test(stream.Compare(t, l, rv)))}
	}}, nil
}

func intCmp(a, b stream.Expr, f func(p, q int64) bool) stream.Expr {
	return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
		l, rv := a.Eval(r), b.Eval(r)
		if l.Null || rv.Null {
			return null
		}
		return value{Int: b2i(f(l.Int, rv.Int))}
	}}
}

func compileIn(x *parse.In, sc scope) (stream.Expr, error) {
	a, err := compile(x.X, sc)
	if err != nil {
		return stream.Expr{}, err
	}
	items := make([]stream.Expr, len(x.List))
	allConst := true
	t := a.Type
	for i, it := range x.List {
		if items[i], err = compile(it, sc); err != nil {
			return stream.Expr{}, err
		}
		if !isConst(it) {
			allConst = false
		}
	}
	for i := range items {
		_, _, ut, err := unify(x.List[i].ExprPos(), a, items[i], "compare")
		if err != nil {
			return stream.Expr{}, err
		}
		if ut == schema.Float64 || t == nullType {
			t = ut
		}
	}
	a = castExpr(a, t)
	for i := range items {
		items[i] = castExpr(items[i], t)
	}
	not := x.Not
	if allConst && (t == schema.String || t == schema.Int64 || t == schema.Timestamp || t == schema.Bool) {
		set := map[string]bool{}
		hasNull := false
		for _, it := range items {
			v := it.Eval(nil)
			if v.Null {
				hasNull = true
				continue
			}
			set[string(keyBytes(t, v))] = true
		}
		return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
			v := a.Eval(r)
			if v.Null {
				return null
			}
			var buf [16]byte
			if set[string(keyBytesBuf(buf[:0], t, v))] {
				return value{Int: b2i(!not)}
			}
			if hasNull {
				return null
			}
			return value{Int: b2i(not)}
		}}, nil
	}
	return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
		v := a.Eval(r)
		if v.Null {
			return null
		}
		sawNull := false
		for _, it := range items {
			w := it.Eval(r)
			if w.Null {
				sawNull = true
				continue
			}
			if stream.Compare(t, v, w) == 0 {
				return value{Int: b2i(!not)}
			}
		}
		if sawNull {
			return null
		}
		return value{Int: b2i(not)}
	}}, nil
}

func keyBytes(t schema.Type, v value) []byte { return keyBytesBuf(nil, t, v) }

func keyBytesBuf(dst []byte, t schema.Type, v value) []byte {
	if t == schema.String {
		return append(dst, v.Bytes...)
	}
	return strconv.AppendInt(dst, v.Int, 10)
}

func compileLike(x *parse.Like, sc scope) (stream.Expr, error) {
	a, err := compile(x.X, sc)
	if err != nil {
		return stream.Expr{}, err
	}
	if a.Type != schema.String && a.Type != nullType {
		return stream.Expr{}, errAt(x.Pos, "LIKE needs a string, got %s", typeName(a.Type))
	}
	lit, ok := x.Pattern.(*parse.StringLit)
	if !ok {
		return stream.Expr{}, errAt(x.Pattern.ExprPos(), "the LIKE pattern must be a string literal")
	}
	var re strings.Builder
	if x.ILike {
		re.WriteString("(?is)")
	} else {
		re.WriteString("(?s)")
	}
	re.WriteString("^")
	for _, c := range lit.Val {
		switch c {
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	rx := regexp.MustCompile(re.String())
	not := x.Not
	// Fast paths for 'prefix%' and '%infix%' without wildcards inside.
	body := strings.Trim(lit.Val, "%")
	simple := !x.ILike && !strings.ContainsAny(body, "%_")
	prefix := simple && strings.HasSuffix(lit.Val, "%") && !strings.HasPrefix(lit.Val, "%")
	infix := simple && strings.HasSuffix(lit.Val, "%") && strings.HasPrefix(lit.Val, "%") && len(lit.Val) >= 2
	match := rx.Match
	switch {
	case prefix:
		p := []byte(body)
		match = func(s []byte) bool { return bytes.HasPrefix(s, p) }
	case infix:
		p := []byte(body)
		match = func(s []byte) bool { return bytes.Contains(s, p) }
	}
	return stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
		v := a.Eval(r)
		if v.Null {
			return null
		}
		return value{Int: b2i(match(v.Bytes) != not)}
	}}, nil
}

// commonType is the type of CASE and COALESCE results.
func commonType(pos parse.Pos, es []stream.Expr, what string) (schema.Type, error) {
	t := nullType
	for _, e := range es {
		switch {
		case e.Type == nullType || e.Type == t:
		case t == nullType:
			t = e.Type
		case numeric(t) && numeric(e.Type):
			t = schema.Float64
		default:
			return 0, errAt(pos, "%s mixes %s and %s; use CAST", what, typeName(t), typeName(e.Type))
		}
	}
	return t, nil
}

func compileCase(x *parse.Case, sc scope) (stream.Expr, error) {
	var operand *stream.Expr
	if x.Operand != nil {
		o, err := compile(x.Operand, sc)
		if err != nil {
			return stream.Expr{}, err
		}
		operand = &o
	}
	conds := make([]stream.Expr, len(x.Whens))
	thens := make([]stream.Expr, len(x.Whens))
	for i, w := range x.Whens {
		var err error
		cond := w.Cond
		if operand != nil {
			c, err := compile(w.Cond, sc)
			if err != nil {
				return stream.Expr{}, err
			}
			a, b, t, err := unify(w.Cond.ExprPos(), *operand, c, "compare")
			if err != nil {
				return stream.Expr{}, err
			}
			conds[i] = stream.Expr{Type: schema.Bool, Eval: func(r stream.Row) value {
				l, rv := a.Eval(r), b.Eval(r)
				if l.Null || rv.Null {
					return null
				}
				return value{Int: b2i(stream.Compare(t, l, rv) == 0)}
			}}
		} else {
			if conds[i], err = compile(cond, sc); err != nil {
				return stream.Expr{}, err
			}
			if conds[i].Type != schema.Bool && conds[i].Type != nullType {
				return stream.Expr{}, errAt(cond.ExprPos(), "WHEN needs a boolean condition, got %s", typeName(conds[i].Type))
			}
		}
		if thens[i], err = compile(w.Then, sc); err != nil {
			return stream.Expr{}, err
		}
	}
	els := constExpr(nullType, null)
	if x.Else != nil {
		var err error
		if els, err = compile(x.Else, sc); err != nil {
			return stream.Expr{}, err
		}
	}
	t, err := commonType(x.Pos, append(append([]stream.Expr(nil), thens...), els), "CASE")
	if err != nil {
		return stream.Expr{}, err
	}
	for i := range thens {
		thens[i] = castExpr(thens[i], t)
	}
	els = castExpr(els, t)
	return stream.Expr{Type: t, Eval: func(r stream.Row) value {
		for i := range conds {
			if stream.True(conds[i].Eval(r)) {
				return thens[i].Eval(r)
			}
		}
		return els.Eval(r)
	}}, nil
}

// castType maps a SQL type name to a column type.
func castType(pos parse.Pos, name string) (schema.Type, error) {
	base := name
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = strings.TrimSpace(base[:i])
	}
	switch base {
	case "BIGINT", "INT", "INTEGER", "INT8", "INT4", "SMALLINT", "TINYINT", "HUGEINT", "LONG":
		return schema.Int64, nil
	case "DOUBLE", "FLOAT", "REAL", "FLOAT8", "FLOAT4", "DOUBLE PRECISION", "DECIMAL", "NUMERIC":
		return schema.Float64, nil
	case "VARCHAR", "TEXT", "STRING", "CHAR":
		return schema.String, nil
	case "BOOLEAN", "BOOL":
		return schema.Bool, nil
	case "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return schema.Timestamp, nil
	}
	return 0, errAt(pos, "cannot CAST to %s: views support BIGINT, DOUBLE, VARCHAR, BOOLEAN and TIMESTAMP", name)
}

// canCast reports whether CAST(x AS to) is defined for x of type from.
func canCast(from, to schema.Type) bool {
	if from == to || from == nullType || to == schema.String || from == schema.String {
		return true
	}
	switch to {
	case schema.Int64, schema.Float64, schema.Bool:
		return from == schema.Int64 || from == schema.Float64 || from == schema.Bool || (to == schema.Int64 && from == schema.Timestamp)
	}
	return false // to TIMESTAMP: only from strings
}

// castExpr converts e to type t. A value that does not convert becomes
// NULL (a stream cannot stop at one bad row).
func castExpr(e stream.Expr, t schema.Type) stream.Expr {
	from := e.Type
	if from == t {
		return e
	}
	if from == nullType {
		return stream.Expr{Type: t, Eval: e.Eval}
	}
	var conv func(v value) value
	switch t {
	case schema.Float64:
		switch from {
		case schema.Int64:
			conv = func(v value) value { return value{Float: float64(v.Int)} }
		case schema.String:
			conv = func(v value) value {
				f, err := strconv.ParseFloat(strings.TrimSpace(string(v.Bytes)), 64)
				if err != nil {
					return null
				}
				return value{Float: f}
			}
		case schema.Bool:
			conv = func(v value) value { return value{Float: float64(v.Int)} }
		}
	case schema.Int64:
		switch from {
		case schema.Float64:
			// Round half to even, as DuckDB casts a DOUBLE (its DECIMAL
			// literals, which views do not have, round half away from zero).
			conv = func(v value) value {
				f := math.RoundToEven(v.Float)
				if math.IsNaN(f) || f < -0x1p63 || f >= 0x1p63 {
					return null
				}
				return value{Int: int64(f)}
			}
		case schema.String:
			conv = func(v value) value {
				s := strings.TrimSpace(string(v.Bytes))
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					return value{Int: n}
				}
				if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
					if n, err := strconv.ParseInt(h, 16, 64); err == nil {
						return value{Int: n}
					}
					return null
				}
				// '2.5' and '1e3' read as numbers and round half away from
				// zero, as DuckDB does.
				f, err := strconv.ParseFloat(s, 64)
				if err != nil || math.IsNaN(f) || math.Abs(f) >= 0x1p63 {
					return null
				}
				return value{Int: int64(math.Round(f))}
			}
		case schema.Bool:
			conv = func(v value) value { return value{Int: v.Int} }
		case schema.Timestamp:
			conv = func(v value) value { return value{Int: v.Int} }
		}
	case schema.String:
		conv = func(v value) value { return value{Bytes: formatValue(nil, from, v)} }
	case schema.Bool:
		switch from {
		case schema.Int64:
			conv = func(v value) value { return value{Int: b2i(v.Int != 0)} }
		case schema.Float64:
			conv = func(v value) value { return value{Int: b2i(v.Float != 0)} }
		case schema.String:
			conv = func(v value) value {
				switch strings.ToLower(strings.TrimSpace(string(v.Bytes))) {
				case "true", "t", "1", "yes", "y":
					return value{Int: 1}
				case "false", "f", "0", "no", "n":
					return value{}
				}
				return null
			}
		}
	case schema.Timestamp:
		switch from {
		case schema.String:
			conv = func(v value) value {
				us, err := parseTimestamp(string(v.Bytes))
				if err != nil {
					return null
				}
				return value{Int: us}
			}
		}
	}
	if conv == nil {
		// Only reached for conversions canCast refuses at CREATE.
		return stream.Expr{Type: t, Eval: func(stream.Row) value { return null }}
	}
	return stream.Expr{Type: t, Eval: func(r stream.Row) value {
		v := e.Eval(r)
		if v.Null {
			return null
		}
		return conv(v)
	}}
}

// parseTimestamp reads 'YYYY-MM-DD[ T]HH:MM:SS[.frac][Z|±hh:mm]' or a date; UTC
// when no zone is given.
func parseTimestamp(s string) (int64, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), nil
		}
	}
	return 0, fmt.Errorf("%q is not a timestamp", s)
}

// formatValue writes v as text, as DuckDB casts it to VARCHAR.
func formatValue(dst []byte, t schema.Type, v value) []byte {
	switch t {
	case schema.String:
		return append(dst, v.Bytes...)
	case schema.Int64:
		return strconv.AppendInt(dst, v.Int, 10)
	case schema.Float64:
		return appendDouble(dst, v.Float)
	case schema.Bool:
		if v.Int != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case schema.Timestamp:
		return time.UnixMicro(v.Int).UTC().AppendFormat(dst, "2006-01-02 15:04:05.999999")
	}
	return dst
}

// appendDouble writes f as DuckDB casts a DOUBLE to VARCHAR: the shortest
// digits that read back as f, positional with at least one decimal (2.0,
// 1234567.0) unless the decimal exponent is below -4 or 16 and above
// (1e-05, 1.5e+16); inf, -inf and nan.
func appendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	exp, _ := strconv.Atoi(string(e[bytes.IndexByte(e, 'e')+1:]))
	if exp < -4 || exp >= 16 {
		return append(dst, e...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	if bytes.IndexByte(dst[start:], '.') < 0 {
		dst = append(dst, ".0"...)
	}
	return dst
}
