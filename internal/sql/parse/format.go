package parse

import (
	"fmt"
	"strings"
)

// FormatExpr renders e as SQL text in a canonical, fully parenthesised
// form: every operator application is wrapped in parentheses, keywords are
// upper-case, identifiers are quoted only when they must be, `x::t` is
// written CAST(x AS t) and intervals are written in the largest unit that
// divides them exactly. Parsing the result with ParseExpr gives back the
// same tree, apart from positions. A nil e gives "".
func FormatExpr(e Expr) string { return format(e, false) }

// FormatExprKey is FormatExpr with every identifier reduced to its last
// part (`clicks.url` and `url` give the same text): a key for matching an
// expression against another written with or without qualifiers, as a
// select item against its GROUP BY expression.
func FormatExprKey(e Expr) string { return format(e, true) }

func format(e Expr, lastPartOnly bool) string {
	if e == nil {
		return ""
	}
	b := &formatter{lastPartOnly: lastPartOnly}
	writeExpr(b, e)
	return b.String()
}

// formatter collects the text; lastPartOnly drops identifier qualifiers.
type formatter struct {
	strings.Builder
	lastPartOnly bool
}

const nilText = "<nil>"

func writeExpr(b *formatter, e Expr) {
	switch x := e.(type) {
	case nil:
		b.WriteString(nilText)
	case *Ident:
		if x == nil || len(x.Parts) == 0 {
			b.WriteString(nilText)
			return
		}
		parts := x.Parts
		if b.lastPartOnly {
			parts = parts[len(parts)-1:]
		}
		for i, part := range parts {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(formatName(part))
		}
	case *NumberLit:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteString(x.Text)
	case *StringLit:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteString(quoteString(x.Val))
	case *BoolLit:
		switch {
		case x == nil:
			b.WriteString(nilText)
		case x.Val:
			b.WriteString("TRUE")
		default:
			b.WriteString("FALSE")
		}
	case *NullLit:
		b.WriteString("NULL")
	case *Interval:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteString(formatInterval(x.Micros))
	case *Unary:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteByte('(')
		b.WriteString(x.Op)
		if x.Op == "NOT" {
			b.WriteByte(' ')
		}
		writeExpr(b, x.X)
		b.WriteByte(')')
	case *Binary:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteByte('(')
		writeExpr(b, x.L)
		b.WriteString(" " + x.Op + " ")
		writeExpr(b, x.R)
		b.WriteByte(')')
	case *IsNull:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteByte('(')
		writeExpr(b, x.X)
		if x.Not {
			b.WriteString(" IS NOT NULL)")
		} else {
			b.WriteString(" IS NULL)")
		}
	case *Like:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteByte('(')
		writeExpr(b, x.X)
		if x.Not {
			b.WriteString(" NOT")
		}
		if x.ILike {
			b.WriteString(" ILIKE ")
		} else {
			b.WriteString(" LIKE ")
		}
		writeExpr(b, x.Pattern)
		b.WriteByte(')')
	case *In:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteByte('(')
		writeExpr(b, x.X)
		if x.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		writeList(b, x.List)
		b.WriteString("))")
	case *Between:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteByte('(')
		writeExpr(b, x.X)
		if x.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" BETWEEN ")
		writeExpr(b, x.Lo)
		b.WriteString(" AND ")
		writeExpr(b, x.Hi)
		b.WriteByte(')')
	case *Case:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		b.WriteString("CASE")
		if x.Operand != nil {
			b.WriteByte(' ')
			writeExpr(b, x.Operand)
		}
		for _, w := range x.Whens {
			b.WriteString(" WHEN ")
			writeExpr(b, w.Cond)
			b.WriteString(" THEN ")
			writeExpr(b, w.Then)
		}
		if x.Else != nil {
			b.WriteString(" ELSE ")
			writeExpr(b, x.Else)
		}
		b.WriteString(" END")
	case *Cast:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		if x.Try {
			b.WriteString("TRY_CAST(")
		} else {
			b.WriteString("CAST(")
		}
		writeExpr(b, x.X)
		b.WriteString(" AS " + x.Type + ")")
	case *Call:
		if x == nil {
			b.WriteString(nilText)
			return
		}
		writeCall(b, x)
	default:
		fmt.Fprintf(b, "<%T>", e)
	}
}

func writeCall(b *formatter, c *Call) {
	if unit, ok := extractUnit(c); ok {
		b.WriteString("EXTRACT(")
		if isPlainName(unit) {
			b.WriteString(unit)
		} else {
			b.WriteString(quoteString(unit))
		}
		b.WriteString(" FROM ")
		writeExpr(b, c.Args[1])
		b.WriteByte(')')
		return
	}
	b.WriteString(c.Name)
	b.WriteByte('(')
	switch {
	case c.Star:
		b.WriteByte('*')
	case c.Distinct:
		b.WriteString("DISTINCT ")
	}
	writeList(b, c.Args)
	b.WriteByte(')')
	if o := c.Over; o != nil {
		b.WriteString(" OVER (")
		if len(o.PartitionBy) > 0 {
			b.WriteString("PARTITION BY ")
			writeList(b, o.PartitionBy)
		}
		if len(o.OrderBy) > 0 {
			if len(o.PartitionBy) > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("ORDER BY ")
			for i, it := range o.OrderBy {
				if i > 0 {
					b.WriteString(", ")
				}
				writeExpr(b, it.Expr)
				if it.Desc {
					b.WriteString(" DESC")
				}
			}
		}
		b.WriteByte(')')
	}
}

// extractUnit reports whether c has the shape EXTRACT(unit FROM x) gives.
func extractUnit(c *Call) (string, bool) {
	if c.Name != "extract" || len(c.Args) != 2 || c.Star || c.Distinct || c.Over != nil {
		return "", false
	}
	s, ok := c.Args[0].(*StringLit)
	if !ok || s == nil {
		return "", false
	}
	return s.Val, true
}

func writeList(b *formatter, list []Expr) {
	for i, e := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(b, e)
	}
}

// isPlainName reports whether s reads back unchanged as an unquoted word.
func isPlainName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentPart(s[i]) || 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

// formatName writes an identifier part, quoting it when it is not a plain
// lower-case word or is a reserved word.
func formatName(s string) string {
	if isPlainName(s) && !reserved[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// formatInterval writes micros as an interval literal in the largest unit
// that divides it exactly, or in milliseconds with a fraction.
func formatInterval(us int64) string {
	if us == 0 {
		return "INTERVAL '0' SECOND"
	}
	for _, u := range []struct {
		name string
		n    int64
	}{
		{"DAY", 86_400_000_000}, {"HOUR", 3_600_000_000}, {"MINUTE", 60_000_000},
		{"SECOND", 1_000_000}, {"MILLISECOND", 1_000},
	} {
		if us%u.n == 0 {
			return fmt.Sprintf("INTERVAL '%d' %s", us/u.n, u.name)
		}
	}
	sign, mag := "", uint64(us)
	if us < 0 {
		sign, mag = "-", uint64(-(us+1))+1
	}
	return fmt.Sprintf("INTERVAL '%s%d.%03d' MILLISECOND", sign, mag/1000, mag%1000)
}
