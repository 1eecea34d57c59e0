package pgwire

import (
	"strconv"
	"strings"
)

// split cuts a simple-query string into its statements at top-level
// semicolons: not inside quotes ('...', "...", $tag$...$tag$) or comments
// (-- and /* */). Empty statements are left out.
func split(q string) []string {
	var out []string
	start := 0
	add := func(end int) {
		if s := strings.TrimSpace(q[start:end]); s != "" && !onlyComments(s) {
			out = append(out, s)
		}
		start = end + 1
	}
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '\'', '"':
			i = skipQuoted(q, i, c)
		case '-':
			if i+1 < len(q) && q[i+1] == '-' {
				for i < len(q) && q[i] != '\n' {
					i++
				}
			}
		case '/':
			if i+1 < len(q) && q[i+1] == '*' {
				end := strings.Index(q[i+2:], "*/")
				if end < 0 {
					i = len(q)
				} else {
					i += 2 + end + 1
				}
			}
		case '$':
			if tag, ok := dollarTag(q[i:]); ok {
				end := strings.Index(q[i+len(tag):], tag)
				if end < 0 {
					i = len(q)
				} else {
					i += len(tag) + end + len(tag) - 1
				}
			}
		case ';':
			add(i)
		}
	}
	if start < len(q) {
		add(len(q))
	}
	return out
}

// skipQuoted returns the index of the quote that closes the one at i (a
// doubled quote is an escaped one), or the end of q.
func skipQuoted(q string, i int, quote byte) int {
	for j := i + 1; j < len(q); j++ {
		if q[j] == quote {
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j
		}
	}
	return len(q)
}

// dollarTag reads a dollar-quote opening ($$ or $name$) at the start of s.
// $1 (a parameter) is not one.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 1 && c >= '0' && c <= '9':
		default:
			return "", false
		}
	}
	return "", false
}

// onlyComments reports whether s holds nothing but comments.
func onlyComments(s string) bool { return trimComments(s) == "" }

// trimComments drops the spaces and comments that start s.
func trimComments(s string) string {
	for {
		s = strings.TrimSpace(s)
		var end int
		switch {
		case strings.HasPrefix(s, "--"):
			end = strings.IndexByte(s, '\n')
		case strings.HasPrefix(s, "/*"):
			if end = strings.Index(s, "*/"); end >= 0 {
				end++
			}
		default:
			return s
		}
		if end < 0 {
			return ""
		}
		s = s[end+1:]
	}
}

// keywords returns the first n words of a statement, upper-cased, after
// leading comments and parentheses.
func keywords(q string, n int) []string {
	q = strings.TrimLeft(trimComments(q), "( \t\r\n")
	f := strings.FieldsFunc(q, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	if len(f) > n {
		f = f[:n]
	}
	for i := range f {
		f[i] = strings.ToUpper(f[i])
	}
	return f
}

// sessionTag returns the command tag of a statement that only sets up a
// Postgres session (transactions, session settings), which Weir accepts and
// ignores; "" for any other statement.
func sessionTag(q string) string {
	k := keywords(q, 2)
	if len(k) == 0 {
		return ""
	}
	switch k[0] {
	case "SET", "RESET":
		return "SET"
	case "BEGIN", "START":
		return "BEGIN"
	case "COMMIT", "END":
		return "COMMIT"
	case "ROLLBACK", "ABORT":
		return "ROLLBACK"
	case "DISCARD":
		return "DISCARD ALL"
	case "DEALLOCATE":
		return "DEALLOCATE"
	case "LISTEN":
		return "LISTEN"
	case "UNLISTEN":
		return "UNLISTEN"
	case "CLOSE":
		return "CLOSE CURSOR"
	}
	return ""
}

// commandTag is the tag Postgres would send for a statement that returned
// rows rows.
func commandTag(q string, rows int) string {
	k := keywords(q, 3)
	if len(k) == 0 {
		return "SELECT " + strconv.Itoa(rows)
	}
	switch k[0] {
	case "CREATE", "DROP":
		return strings.Join(k, " ")
	case "SHOW", "EXPLAIN":
		return k[0]
	}
	return "SELECT " + strconv.Itoa(rows)
}
