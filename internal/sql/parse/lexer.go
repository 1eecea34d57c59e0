package parse

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tokEOF    tokKind = iota // end of input
	tokWord                  // unquoted identifier or keyword; val is lower-cased
	tokQuoted                // "quoted identifier"; val is unescaped and keeps its case
	tokString                // 'string literal'; val is unescaped
	tokNumber                // numeric literal; val is the text as written
	tokOp                    // operator or punctuation; val is the operator
	tokErr                   // lexical error; err says what went wrong
)

// token is one lexical token. pos is where it starts; end is the byte
// offset just past it, so src[pos.Offset:end] is the token as written.
type token struct {
	kind tokKind
	val  string
	pos  Pos
	end  int
	err  *Error // tokErr only
}

// lexer splits SQL text into tokens, tracking line, column (in runes) and
// byte offset.
type lexer struct {
	src       string
	off       int
	line, col int
}

// lex returns all tokens of src. The last token is tokEOF, or tokErr when
// the text has a lexical error: lexing stops at the first one, so the
// parser reports errors in source order.
func lex(src string) []token {
	lx := &lexer{src: src, line: 1, col: 1}
	var toks []token
	for {
		t := lx.next()
		toks = append(toks, t)
		if t.kind == tokEOF || t.kind == tokErr {
			return toks
		}
	}
}

func (lx *lexer) pos() Pos { return Pos{Line: lx.line, Col: lx.col, Offset: lx.off} }

// at returns the byte n bytes ahead, or 0 past the end.
func (lx *lexer) at(n int) byte {
	if lx.off+n < len(lx.src) {
		return lx.src[lx.off+n]
	}
	return 0
}

// advance moves past one rune.
func (lx *lexer) advance() {
	if lx.off >= len(lx.src) {
		return
	}
	r, w := utf8.DecodeRuneInString(lx.src[lx.off:])
	lx.off += w
	if r == '\n' {
		lx.line++
		lx.col = 1
	} else {
		lx.col++
	}
}

func (lx *lexer) errTok(p Pos, format string, args ...any) token {
	return token{kind: tokErr, pos: p, end: lx.off, err: &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '$' }

// skipSpace skips white space and comments. It returns an error token for
// an unterminated block comment.
func (lx *lexer) skipSpace() (token, bool) {
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch {
		case isSpace(c):
			lx.advance()
		case c == '-' && lx.at(1) == '-':
			for lx.off < len(lx.src) && lx.src[lx.off] != '\n' {
				lx.advance()
			}
		case c == '/' && lx.at(1) == '*':
			start := lx.pos()
			lx.advance()
			lx.advance()
			for {
				if lx.off >= len(lx.src) {
					return lx.errTok(start, "unterminated comment: no closing */ found"), false
				}
				if lx.src[lx.off] == '*' && lx.at(1) == '/' {
					lx.advance()
					lx.advance()
					break
				}
				lx.advance()
			}
		default:
			return token{}, true
		}
	}
	return token{}, true
}

func (lx *lexer) next() token {
	if t, ok := lx.skipSpace(); !ok {
		return t
	}
	start := lx.pos()
	if lx.off >= len(lx.src) {
		return token{kind: tokEOF, pos: start, end: lx.off}
	}
	c := lx.src[lx.off]
	switch {
	case isIdentStart(c):
		for lx.off < len(lx.src) && isIdentPart(lx.src[lx.off]) {
			lx.advance()
		}
		return token{kind: tokWord, val: strings.ToLower(lx.src[start.Offset:lx.off]), pos: start, end: lx.off}
	case isDigit(c) || c == '.' && isDigit(lx.at(1)):
		return lx.number(start)
	case c == '\'':
		val, ok := lx.quoted('\'')
		if !ok {
			return lx.errTok(start, "unterminated string: no closing ' found")
		}
		return token{kind: tokString, val: val, pos: start, end: lx.off}
	case c == '"':
		val, ok := lx.quoted('"')
		if !ok {
			return lx.errTok(start, "unterminated quoted identifier: no closing \" found")
		}
		if val == "" {
			return lx.errTok(start, "empty quoted identifier \"\"")
		}
		return token{kind: tokQuoted, val: val, pos: start, end: lx.off}
	}
	if op := lx.operator(); op != "" {
		for range len(op) {
			lx.advance()
		}
		return token{kind: tokOp, val: op, pos: start, end: lx.off}
	}
	r, w := utf8.DecodeRuneInString(lx.src[lx.off:])
	if r == utf8.RuneError && w == 1 {
		return lx.errTok(start, "invalid UTF-8 byte 0x%02x", c)
	}
	hint := ""
	switch c {
	case '|':
		hint = " (did you mean '||'?)"
	case '!':
		hint = " (did you mean '!='?)"
	case ':':
		hint = " (did you mean '::'?)"
	}
	return lx.errTok(start, "unexpected character %q%s", r, hint)
}

var twoCharOps = []string{"||", "<>", "!=", "<=", ">=", "::"}

const oneCharOps = "+-*/%=<>(),.;"

// operator returns the operator at the current offset, or "".
func (lx *lexer) operator() string {
	rest := lx.src[lx.off:]
	for _, op := range twoCharOps {
		if strings.HasPrefix(rest, op) {
			return op
		}
	}
	if strings.IndexByte(oneCharOps, rest[0]) >= 0 {
		return rest[:1]
	}
	return ""
}

// number lexes 123, 1.5, .5, 1., 1e3, 1.5E-3.
func (lx *lexer) number(start Pos) token {
	for isDigit(lx.at(0)) {
		lx.advance()
	}
	if lx.at(0) == '.' {
		lx.advance()
		for isDigit(lx.at(0)) {
			lx.advance()
		}
	}
	if c := lx.at(0); c == 'e' || c == 'E' {
		n := 1
		if s := lx.at(1); s == '+' || s == '-' {
			n = 2
		}
		if !isDigit(lx.at(n)) {
			for range n {
				lx.advance()
			}
			return lx.errTok(start, "malformed number %q: expected digits after the exponent", lx.src[start.Offset:lx.off])
		}
		for range n {
			lx.advance()
		}
		for isDigit(lx.at(0)) {
			lx.advance()
		}
	}
	if isIdentPart(lx.at(0)) {
		for isIdentPart(lx.at(0)) {
			lx.advance()
		}
		return lx.errTok(start, "malformed number %q", lx.src[start.Offset:lx.off])
	}
	return token{kind: tokNumber, val: lx.src[start.Offset:lx.off], pos: start, end: lx.off}
}

// quoted lexes a string or quoted identifier delimited by q, where a
// doubled q stands for one. It reports false when the closing quote is
// missing.
func (lx *lexer) quoted(q byte) (string, bool) {
	lx.advance() // opening quote
	var b strings.Builder
	for {
		if lx.off >= len(lx.src) {
			return "", false
		}
		c := lx.src[lx.off]
		if c == q {
			if lx.at(1) == q {
				b.WriteByte(q)
				lx.advance()
				lx.advance()
				continue
			}
			lx.advance()
			return b.String(), true
		}
		from := lx.off
		lx.advance()
		b.WriteString(lx.src[from:lx.off])
	}
}
