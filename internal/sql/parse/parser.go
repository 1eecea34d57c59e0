package parse

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting of expressions and subqueries, so that deep
// input cannot exhaust the stack.
const maxDepth = 200

// reserved words cannot be used unquoted as column or table names or as
// implicit aliases. They include the words that end a select item or a
// FROM item, among them ALLOWED, EMIT and LATE, which start the streaming
// clauses of CREATE MATERIALIZED VIEW.
var reserved = map[string]bool{
	"all": true, "allowed": true, "and": true, "as": true, "asc": true,
	"between": true, "case": true, "create": true, "cross": true,
	"desc": true, "distinct": true, "else": true, "emit": true, "end": true,
	"except": true, "exists": true, "false": true,
	"from": true, "full": true, "group": true, "having": true, "ilike": true,
	"in": true, "inner": true, "intersect": true, "interval": true,
	"is": true, "join": true, "late": true, "lateral": true, "left": true,
	"like": true, "limit": true, "natural": true, "not": true, "null": true,
	"on": true, "or": true, "order": true, "outer": true,
	"qualify": true, "right": true, "select": true, "table": true,
	"then": true, "true": true, "union": true, "using": true, "when": true,
	"where": true, "window": true, "with": true,
}

// Operator precedence, lowest to highest.
const (
	precOr = 1 + iota
	precAnd
	precNot
	precCmp // = <> < <= > >= IS LIKE ILIKE IN BETWEEN
	precConcat
	precAdd
	precMul
)

// Parse parses exactly one statement; a trailing ';' is allowed. Errors are
// *Error values.
//
// Every node's Pos is the position of its first token, except for operator
// nodes, whose Pos is the operator token, since that is what a message
// about the operator points at:
//
//   - Binary and Unary: the operator (`+`, `AND`, `NOT`, ...);
//   - IsNull: IS; Like, In and Between: LIKE, ILIKE, IN or BETWEEN, or the
//     NOT of NOT LIKE and the like;
//   - Cast written `x::type`: the `::`;
//   - Join: its first keyword (JOIN, INNER, LEFT, ...), or the ',' of a
//     comma join.
//
// A CreateView's Text runs from CREATE to the end of its last token.
func Parse(src string) (Statement, error) {
	p := newParser(src)
	st, err := p.parseStatement()
	if err != nil {
		return nil, err
	}
	semi := false
	for p.acceptOp(";") {
		semi = true
	}
	if t := p.peek(); t.kind != tokEOF {
		if semi && t.kind != tokErr {
			return nil, p.errAt(t, fmt.Sprintf("only one statement is allowed, found %s after ';'", p.describe(t)))
		}
		return nil, p.errEnd(t)
	}
	return st, nil
}

// ParseScript parses a file of statements separated by ';'. Empty
// statements and comments are allowed; an empty script gives no
// statements. Errors are *Error values.
func ParseScript(src string) ([]Statement, error) {
	p := newParser(src)
	var out []Statement
	for {
		for p.acceptOp(";") {
		}
		if t := p.peek(); t.kind == tokEOF {
			return out, nil
		}
		st, err := p.parseStatement()
		if err != nil {
			return nil, err
		}
		out = append(out, st)
		if t := p.peek(); t.kind != tokEOF && !p.isOp(";") {
			return nil, p.errEnd(t)
		}
	}
}

// ParseExpr parses one expression (for tests and tools). Errors are *Error
// values.
func ParseExpr(src string) (Expr, error) {
	p := newParser(src)
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errExpected(t, "end of input after the expression")
	}
	return e, nil
}

type parser struct {
	src     string
	toks    []token
	i       int   // index of the current token
	prev    token // the last consumed token
	hasPrev bool
	depth   int
}

func newParser(src string) *parser {
	return &parser{src: src, toks: lex(src)}
}

// ---- token helpers ----

func (p *parser) peek() token { return p.toks[p.i] }

// peekAt returns the token n places ahead of the current one; past the end
// it returns the last token (EOF or a lexical error).
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

// next consumes and returns the current token. It never moves past the
// last token.
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	p.prev, p.hasPrev = t, true
	return t
}

func isWord(t token, w string) bool { return t.kind == tokWord && t.val == w }
func isOp(t token, op string) bool  { return t.kind == tokOp && t.val == op }

func (p *parser) isWord(w string) bool { return isWord(p.peek(), w) }
func (p *parser) isOp(op string) bool  { return isOp(p.peek(), op) }

func (p *parser) acceptWord(w string) bool {
	if p.isWord(w) {
		p.next()
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.next()
		return true
	}
	return false
}

// expectWord consumes the keyword w or reports that what was expected.
func (p *parser) expectWord(w, what string) (token, *Error) {
	if t := p.peek(); isWord(t, w) {
		return p.next(), nil
	}
	return token{}, p.errExpected(p.peek(), what)
}

// expectOp consumes the operator op or reports that what was expected.
func (p *parser) expectOp(op, what string) (token, *Error) {
	if t := p.peek(); isOp(t, op) {
		return p.next(), nil
	}
	return token{}, p.errExpected(p.peek(), what)
}

// isName reports whether t can be a name: a quoted identifier or a word
// that is not reserved.
func isName(t token) bool {
	return t.kind == tokQuoted || t.kind == tokWord && !reserved[t.val]
}

// raw is the token as written in the source.
func (p *parser) raw(t token) string {
	if t.pos.Offset < 0 || t.end > len(p.src) || t.pos.Offset > t.end {
		return ""
	}
	return p.src[t.pos.Offset:t.end]
}

// describe renders a token for a message: quoted as written (shortened
// when long), or "end of input".
func (p *parser) describe(t token) string {
	if t.kind == tokEOF {
		return "end of input"
	}
	return quoteShort(p.raw(t))
}

func quoteShort(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		n := 0
		for i := range s {
			if n == max-3 {
				s = s[:i] + "..."
				break
			}
			n++
		}
	}
	return fmt.Sprintf("%q", s)
}

// text is the source from start up to the end of the last consumed token.
func (p *parser) text(start Pos) string {
	end := p.prev.end
	if !p.hasPrev || end < start.Offset || end > len(p.src) {
		return ""
	}
	return p.src[start.Offset:end]
}

// ---- errors ----

func (p *parser) errAt(t token, msg string) *Error {
	return &Error{Pos: t.pos, Msg: msg}
}

// errExpected reports that what was expected where t was found. A lexical
// error token reports the lexical error instead.
func (p *parser) errExpected(t token, what string) *Error {
	switch t.kind {
	case tokErr:
		return t.err
	case tokEOF:
		return &Error{Pos: t.pos, Msg: "unexpected end of input: expected " + what}
	}
	return &Error{Pos: t.pos, Msg: fmt.Sprintf("expected %s, found %s", what, p.describe(t))}
}

// errName reports a missing name, with a hint when a reserved word was used.
func (p *parser) errName(t token, what string) *Error {
	if t.kind == tokWord && reserved[t.val] {
		r := p.raw(t)
		return p.errAt(t, fmt.Sprintf("expected %s, found the reserved word %q (write it in double quotes to use it as a name)", what, r))
	}
	return p.errExpected(t, what)
}

// errEnd reports t found where a statement should have ended.
func (p *parser) errEnd(t token) *Error {
	if t.kind == tokWord {
		switch t.val {
		case "allowed", "emit", "late":
			clause := map[string]string{"allowed": "ALLOWED LATENESS", "emit": "EMIT EVERY", "late": "LATE DATA"}[t.val]
			return p.errAt(t, clause+" is only allowed in CREATE MATERIALIZED VIEW, after the view's query")
		case "union", "intersect", "except", "offset", "fetch", "window", "qualify":
			return p.errAt(t, strings.ToUpper(t.val)+" is not supported yet")
		}
	}
	return p.errExpected(t, "';' or end of input")
}

// after is " after <previous token>" for messages, or "" at the start.
func (p *parser) after() string {
	if !p.hasPrev {
		return ""
	}
	return " after " + p.describe(p.prev)
}

// enter counts one level of nesting and refuses to go past maxDepth.
func (p *parser) enter(t token) *Error {
	p.depth++
	if p.depth > maxDepth {
		return &Error{Pos: t.pos, Msg: fmt.Sprintf("expression is nested too deeply (more than %d levels)", maxDepth)}
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// ---- statements ----

func (p *parser) parseStatement() (Statement, *Error) {
	t := p.peek()
	if t.kind == tokWord {
		switch t.val {
		case "select":
			s, err := p.parseSelect()
			if err != nil {
				return nil, err
			}
			return s, nil
		case "with":
			s, err := p.parseWith()
			if err != nil {
				return nil, err
			}
			return s, nil
		case "create":
			s, err := p.parseCreate()
			if err != nil {
				return nil, err
			}
			return s, nil
		case "drop":
			s, err := p.parseDrop()
			if err != nil {
				return nil, err
			}
			return s, nil
		case "show":
			s, err := p.parseShow()
			if err != nil {
				return nil, err
			}
			return s, nil
		case "explain":
			s, err := p.parseExplain()
			if err != nil {
				return nil, err
			}
			return s, nil
		}
	}
	return nil, p.errExpected(t, "a statement (SELECT, CREATE MATERIALIZED VIEW, DROP MATERIALIZED VIEW, SHOW VIEWS or EXPLAIN)")
}

// parseName parses a simple (unqualified) name.
func (p *parser) parseName(what string) (string, *Error) {
	t := p.peek()
	if !isName(t) {
		return "", p.errName(t, what)
	}
	p.next()
	if d := p.peek(); isOp(d, ".") {
		return "", p.errAt(t, fmt.Sprintf("qualified names (a.b) are not supported: expected %s", what))
	}
	return t.val, nil
}

func (p *parser) parseCreate() (*CreateView, *Error) {
	create := p.next()
	cv := &CreateView{Pos: create.pos}
	if p.acceptWord("or") {
		if _, err := p.expectWord("replace", "REPLACE after OR"); err != nil {
			return nil, err
		}
		cv.OrReplace = true
	}
	switch t := p.peek(); {
	case isWord(t, "materialized"):
		p.next()
		if _, err := p.expectWord("view", "VIEW after MATERIALIZED"); err != nil {
			return nil, err
		}
	case isWord(t, "view"):
		return nil, p.errAt(t, "CREATE VIEW is not supported: use CREATE MATERIALIZED VIEW")
	default:
		what := "MATERIALIZED VIEW after CREATE"
		if cv.OrReplace {
			what += " OR REPLACE"
		}
		return nil, p.errExpected(t, what)
	}
	if p.isWord("if") && isWord(p.peekAt(1), "not") {
		ifTok := p.next()
		p.next()
		if _, err := p.expectWord("exists", "EXISTS after IF NOT"); err != nil {
			return nil, err
		}
		if cv.OrReplace {
			return nil, p.errAt(ifTok, "OR REPLACE and IF NOT EXISTS cannot be used together")
		}
		cv.IfNotExists = true
	}
	name, err := p.parseName("a view name")
	if err != nil {
		return nil, err
	}
	cv.Name = name
	if _, err := p.expectWord("as", "AS after the view name"); err != nil {
		return nil, err
	}
	switch t := p.peek(); {
	case isWord(t, "with"):
		cv.Query, err = p.parseWith()
	case !isWord(t, "select"):
		return nil, p.errExpected(t, "SELECT or WITH after AS")
	default:
		cv.Query, err = p.parseSelect()
	}
	if err != nil {
		return nil, err
	}
	if err := p.parseStreamingClauses(cv); err != nil {
		return nil, err
	}
	cv.Text = strings.TrimSpace(p.text(create.pos))
	return cv, nil
}

// parseStreamingClauses parses ALLOWED LATENESS, EMIT EVERY and LATE DATA,
// in any order, each at most once.
func (p *parser) parseStreamingClauses(cv *CreateView) *Error {
	seen := map[string]Pos{}
	for {
		t := p.peek()
		var clause string
		switch {
		case isWord(t, "allowed"):
			clause = "ALLOWED LATENESS"
		case isWord(t, "emit"):
			clause = "EMIT EVERY"
		case isWord(t, "late"):
			clause = "LATE DATA"
		case isWord(t, "state") && isWord(p.peekAt(1), "ttl"):
			clause = "STATE TTL"
		case isWord(t, "parallelism"):
			clause = "PARALLELISM"
		default:
			if len(seen) > 0 && t.kind == tokWord {
				switch t.val {
				case "from", "where", "group", "having", "order", "limit", "join", "inner", "left", "right", "full", "cross":
					return p.errAt(t, fmt.Sprintf("%s must come before the streaming clauses (ALLOWED LATENESS, EMIT EVERY, LATE DATA, STATE TTL, PARALLELISM), which end the view", strings.ToUpper(t.val)))
				}
			}
			return nil
		}
		if first, ok := seen[clause]; ok {
			return p.errAt(t, fmt.Sprintf("%s is given twice (first at %s)", clause, first))
		}
		seen[clause] = t.pos
		p.next()
		var err *Error
		switch clause {
		case "ALLOWED LATENESS":
			if _, err = p.expectWord("lateness", "LATENESS after ALLOWED"); err == nil {
				cv.AllowedLateness, err = p.parseClauseInterval(clause)
			}
		case "EMIT EVERY":
			if _, err = p.expectWord("every", "EVERY after EMIT"); err == nil {
				cv.EmitEvery, err = p.parseClauseInterval(clause)
			}
		case "LATE DATA":
			err = p.parseLateData(cv)
		case "STATE TTL":
			p.next()
			cv.StateTTL, err = p.parseClauseInterval(clause)
		case "PARALLELISM":
			err = p.parseParallelism(cv)
		}
		if err != nil {
			return err
		}
	}
}

// MaxParallelism bounds PARALLELISM n.
const MaxParallelism = 64

// parseParallelism parses the n of PARALLELISM n.
func (p *parser) parseParallelism(cv *CreateView) *Error {
	t := p.next()
	n, err := strconv.Atoi(t.val)
	if t.kind != tokNumber || err != nil || n < 1 || n > MaxParallelism {
		return p.errAt(t, fmt.Sprintf("PARALLELISM takes a whole number of tasks from 1 to %d, as in PARALLELISM 2", MaxParallelism))
	}
	cv.Parallelism = n
	return nil
}

func (p *parser) parseLateData(cv *CreateView) *Error {
	if _, err := p.expectWord("data", "DATA after LATE"); err != nil {
		return err
	}
	switch t := p.peek(); {
	case isWord(t, "drop"):
		p.next()
		cv.Late = LateDrop
	case isWord(t, "side"):
		p.next()
		if _, err := p.expectWord("output", "OUTPUT after LATE DATA SIDE"); err != nil {
			return err
		}
		cv.Late = LateSideOutput
	case isWord(t, "update"):
		p.next()
		cv.Late = LateUpdate
		if p.acceptWord("for") {
			iv, err := p.parseClauseInterval("LATE DATA UPDATE FOR")
			if err != nil {
				return err
			}
			cv.LateFor = iv
		}
	default:
		return p.errExpected(t, "DROP, SIDE OUTPUT or UPDATE after LATE DATA")
	}
	return nil
}

func (p *parser) parseClauseInterval(clause string) (*Interval, *Error) {
	if t := p.peek(); !isWord(t, "interval") {
		return nil, p.errExpected(t, "an interval literal (for example INTERVAL '10' SECOND) after "+clause)
	}
	return p.parseInterval()
}

func (p *parser) parseDrop() (*DropView, *Error) {
	drop := p.next()
	if t := p.peek(); isWord(t, "view") {
		return nil, p.errAt(t, "DROP VIEW is not supported: use DROP MATERIALIZED VIEW")
	}
	if _, err := p.expectWord("materialized", "MATERIALIZED VIEW after DROP"); err != nil {
		return nil, err
	}
	if _, err := p.expectWord("view", "VIEW after MATERIALIZED"); err != nil {
		return nil, err
	}
	dv := &DropView{Pos: drop.pos}
	if p.isWord("if") && isWord(p.peekAt(1), "exists") {
		p.next()
		p.next()
		dv.IfExists = true
	}
	name, err := p.parseName("a view name")
	if err != nil {
		return nil, err
	}
	dv.Name = name
	return dv, nil
}

func (p *parser) parseShow() (Statement, *Error) {
	show := p.next()
	what := "VIEWS, MATERIALIZED VIEWS or TABLES after SHOW"
	if p.acceptWord("tables") {
		return &ShowTables{Pos: show.pos}, nil
	}
	if p.acceptWord("materialized") {
		what = "VIEWS after MATERIALIZED"
	}
	if _, err := p.expectWord("views", what); err != nil {
		return nil, err
	}
	return &ShowViews{Pos: show.pos}, nil
}

func (p *parser) parseExplain() (*Explain, *Error) {
	explain := p.next()
	ex := &Explain{Pos: explain.pos}
	switch t := p.peek(); {
	case isWord(t, "select"):
		s, err := p.parseSelect()
		if err != nil {
			return nil, err
		}
		ex.Stmt = s
	case isWord(t, "create"):
		s, err := p.parseCreate()
		if err != nil {
			return nil, err
		}
		ex.Stmt = s
	case isWord(t, "with"):
		s, err := p.parseWith()
		if err != nil {
			return nil, err
		}
		ex.Stmt = s
	default:
		return nil, p.errExpected(t, "SELECT or CREATE MATERIALIZED VIEW after EXPLAIN")
	}
	return ex, nil
}

// ---- SELECT ----

// parseSelect parses a query; the current token is SELECT.
// parseWith parses WITH name AS (SELECT ...) [, ...] SELECT ...: the
// common table expressions go with the final SELECT.
func (p *parser) parseWith() (*Select, *Error) {
	with := p.next()
	if p.isWord("recursive") {
		return nil, p.errAt(p.peek(), "WITH RECURSIVE is not supported")
	}
	var ctes []CTE
	for {
		t := p.peek()
		name, err := p.parseName("a name for the common table expression, as in WITH recent AS (SELECT ...)")
		if err != nil {
			return nil, err
		}
		for _, c := range ctes {
			if c.Name == name {
				return nil, p.errAt(t, fmt.Sprintf("%q is defined twice in this WITH", name))
			}
		}
		if isOp(p.peek(), "(") {
			return nil, p.errAt(p.peek(), "column lists after a WITH name are not supported: name the columns with AS inside the SELECT")
		}
		if _, err := p.expectWord("as", fmt.Sprintf("AS after %s", name)); err != nil {
			return nil, err
		}
		open, err := p.expectOp("(", fmt.Sprintf("'(' and a SELECT after %s AS", name))
		if err != nil {
			return nil, err
		}
		if u := p.peek(); !isWord(u, "select") {
			return nil, p.errExpected(u, "SELECT inside WITH "+name+" AS (...)")
		}
		q, err := p.parseSelect()
		if err != nil {
			return nil, err
		}
		text := p.text(q.Pos)
		if _, err := p.expectOp(")", fmt.Sprintf("')' to close WITH %s AS ( opened at %s", name, open.pos)); err != nil {
			return nil, err
		}
		ctes = append(ctes, CTE{Pos: t.pos, Name: name, Query: q, Text: text})
		if !p.acceptOp(",") {
			break
		}
	}
	if u := p.peek(); !isWord(u, "select") {
		return nil, p.errExpected(u, "SELECT after the WITH clause begun at "+with.pos.String())
	}
	s, err := p.parseSelect()
	if err != nil {
		return nil, err
	}
	s.With = ctes
	return s, nil
}

func (p *parser) parseSelect() (*Select, *Error) {
	sel := p.next()
	if err := p.enter(sel); err != nil {
		return nil, err
	}
	defer p.leave()
	s := &Select{Pos: sel.pos}
	if p.acceptWord("distinct") {
		s.Distinct = true
	} else {
		p.acceptWord("all")
	}
	for {
		item, err := p.parseSelectItem()
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, item)
		if !p.acceptOp(",") {
			break
		}
	}
	var err *Error
	if p.acceptWord("from") {
		if s.From, err = p.parseFrom(); err != nil {
			return nil, err
		}
	}
	if p.acceptWord("where") {
		if s.Where, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	if p.acceptWord("group") {
		if _, err := p.expectWord("by", "BY after GROUP"); err != nil {
			return nil, err
		}
		if p.acceptWord("all") {
			s.GroupByAll = true
		} else if s.GroupBy, err = p.parseExprList(); err != nil {
			return nil, err
		}
	}
	if p.acceptWord("having") {
		if s.Having, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); isWord(t, "union") {
		p.next()
		if !p.acceptWord("all") {
			return nil, p.errAt(t, "UNION without ALL is not supported yet: write UNION ALL (and SELECT DISTINCT over it for distinct rows)")
		}
		if !p.isWord("select") {
			return nil, p.errExpected(p.peek(), "SELECT after UNION ALL")
		}
		if s.UnionAll, err = p.parseSelect(); err != nil {
			return nil, err
		}
		return s, nil
	}
	if p.acceptWord("order") {
		if _, err := p.expectWord("by", "BY after ORDER"); err != nil {
			return nil, err
		}
		if s.OrderBy, err = p.parseOrderItems(); err != nil {
			return nil, err
		}
	}
	if p.acceptWord("limit") {
		if s.Limit, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) parseSelectItem() (SelectItem, *Error) {
	t := p.peek()
	if isOp(t, "*") {
		p.next()
		return SelectItem{Pos: t.pos, Star: true}, nil
	}
	if isName(t) && isOp(p.peekAt(1), ".") && isOp(p.peekAt(2), "*") {
		p.next()
		p.next()
		p.next()
		return SelectItem{Pos: t.pos, Star: true, StarTable: t.val}, nil
	}
	e, err := p.parseExpr()
	if err != nil {
		return SelectItem{}, err
	}
	item := SelectItem{Pos: t.pos, Expr: e}
	if item.Alias, err = p.parseOptAlias(); err != nil {
		return SelectItem{}, err
	}
	return item, nil
}

// parseOptAlias parses `AS name`, or an implicit alias (a name that is not
// a reserved word), or nothing.
func (p *parser) parseOptAlias() (string, *Error) {
	if p.acceptWord("as") {
		t := p.peek()
		if !isName(t) {
			return "", p.errName(t, "an alias after AS")
		}
		p.next()
		return t.val, nil
	}
	if t := p.peek(); isName(t) && !(t.val == "state" && isWord(p.peekAt(1), "ttl")) && !(t.val == "parallelism" && p.peekAt(1).kind == tokNumber) {
		p.next()
		return t.val, nil
	}
	return "", nil
}

func (p *parser) parseExprList() ([]Expr, *Error) {
	var list []Expr
	for {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		if !p.acceptOp(",") {
			return list, nil
		}
	}
}

func (p *parser) parseOrderItems() ([]OrderItem, *Error) {
	var items []OrderItem
	for {
		t := p.peek()
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		item := OrderItem{Pos: t.pos, Expr: e}
		if p.acceptWord("desc") {
			item.Desc = true
		} else {
			p.acceptWord("asc")
		}
		items = append(items, item)
		if !p.acceptOp(",") {
			return items, nil
		}
	}
}

// ---- FROM ----

// parseFrom parses FROM items separated by commas; a comma is a CROSS join
// and binds more loosely than JOIN, as in standard SQL.
func (p *parser) parseFrom() (From, *Error) {
	left, err := p.parseJoined()
	if err != nil {
		return nil, err
	}
	for p.isOp(",") {
		comma := p.next()
		right, err := p.parseJoined()
		if err != nil {
			return nil, err
		}
		left = &Join{Pos: comma.pos, Kind: "CROSS", Left: left, Right: right}
	}
	return left, nil
}

// parseJoined parses a FROM item followed by any number of joins,
// associating to the left.
func (p *parser) parseJoined() (From, *Error) {
	left, err := p.parseFromItem()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokWord {
			return left, nil
		}
		var kind string
		switch t.val {
		case "join":
			kind = "INNER"
		case "inner", "cross", "left", "right", "full":
			kind = strings.ToUpper(t.val)
			p.next()
			written := kind
			if kind != "INNER" && kind != "CROSS" && p.acceptWord("outer") {
				written += " OUTER"
			}
			if _, err := p.expectWord("join", "JOIN after "+written); err != nil {
				return nil, err
			}
		case "natural":
			return nil, p.errAt(t, "NATURAL JOIN is not supported: write JOIN ... ON")
		default:
			return left, nil
		}
		if kind == "INNER" && t.val == "join" {
			p.next()
		}
		right, err := p.parseFromItem()
		if err != nil {
			return nil, err
		}
		j := &Join{Pos: t.pos, Kind: kind, Left: left, Right: right}
		if u := p.peek(); kind == "CROSS" && isWord(u, "on") {
			return nil, p.errAt(u, "CROSS JOIN takes no ON condition: write JOIN ... ON for an inner join")
		}
		if kind != "CROSS" {
			if u := p.peek(); isWord(u, "using") {
				return nil, p.errAt(u, "JOIN ... USING is not supported: write ON a.col = b.col")
			}
			if _, err := p.expectWord("on", "ON and a join condition after the right side of "+kind+" JOIN"); err != nil {
				return nil, err
			}
			if j.On, err = p.parseExpr(); err != nil {
				return nil, err
			}
		}
		left = j
	}
}

var windowTVFs = map[string]struct {
	form string
	args []string // names of the interval arguments
}{
	"TUMBLE":   {"(TABLE stream, DESCRIPTOR(time_column), size)", []string{"size"}},
	"HOP":      {"(TABLE stream, DESCRIPTOR(time_column), slide, size)", []string{"slide", "size"}},
	"CUMULATE": {"(TABLE stream, DESCRIPTOR(time_column), step, size)", []string{"step", "size"}},
	"SESSION":  {"(TABLE stream [PARTITION BY key, ...], DESCRIPTOR(time_column), gap)", []string{"gap"}},
}

func (p *parser) parseFromItem() (From, *Error) {
	t := p.peek()
	switch {
	case isOp(t, "("):
		open := p.next()
		switch u := p.peek(); {
		case isWord(u, "with"):
			return nil, p.errAt(u, "WITH (common table expressions) is not supported yet")
		case !isWord(u, "select"):
			return nil, p.errExpected(u, "SELECT after '(' in FROM (parenthesised joins are not supported)")
		}
		q, err := p.parseSelect()
		if err != nil {
			return nil, err
		}
		text := p.text(q.Pos)
		if _, err := p.expectOp(")", fmt.Sprintf("')' to close the subquery opened at %s", open.pos)); err != nil {
			return nil, err
		}
		sq := &Subquery{Pos: open.pos, Query: q, Text: text}
		if sq.Alias, err = p.parseOptAlias(); err != nil {
			return nil, err
		}
		if sq.Alias == "" {
			return nil, p.errExpected(p.peek(), "an alias for the subquery in FROM, as in (SELECT ...) AS s")
		}
		return sq, nil
	case isWord(t, "table"):
		return p.parseTVF()
	case isName(t):
		p.next()
		if u := p.peek(); isOp(u, "(") {
			if _, ok := windowTVFs[strings.ToUpper(t.val)]; ok && t.kind == tokWord {
				k := strings.ToUpper(t.val)
				return nil, p.errAt(t, fmt.Sprintf("write the window function in the form TABLE(%s%s)", k, windowTVFs[k].form))
			}
			return nil, p.errAt(t, "table functions are not supported in FROM (only TABLE(TUMBLE(...)), TABLE(HOP(...)), TABLE(CUMULATE(...)) and TABLE(SESSION(...)))")
		}
		if u := p.peek(); isOp(u, ".") {
			return nil, p.errAt(u, "qualified table names (schema.table) are not supported")
		}
		ref := &TableRef{Pos: t.pos, Name: t.val}
		var err *Error
		if ref.Alias, err = p.parseOptAlias(); err != nil {
			return nil, err
		}
		return ref, nil
	}
	return nil, p.errExpected(t, "a table name, a subquery or TABLE(...)"+p.after())
}

// tvfArg is one argument of a window TVF, before it is checked against
// the function's form.
type tvfArg struct {
	pos       Pos
	table     bool // TABLE name [PARTITION BY ...]
	desc      bool // DESCRIPTOR(col)
	name      string
	partition []string
	partPos   Pos
	expr      Expr
}

// parseTVF parses TABLE(KIND(args)) [[AS] alias]; the current token is TABLE.
func (p *parser) parseTVF() (*WindowTVF, *Error) {
	tableTok := p.next()
	if _, err := p.expectOp("(", "'(' after TABLE (as in TABLE(TUMBLE(...)))"); err != nil {
		return nil, err
	}
	kt := p.peek()
	kind := strings.ToUpper(kt.val)
	spec, ok := windowTVFs[kind]
	if kt.kind != tokWord || !ok {
		if kt.kind == tokWord {
			return nil, p.errAt(kt, fmt.Sprintf("unknown window function %q: expected TUMBLE, HOP, CUMULATE or SESSION", p.raw(kt)))
		}
		return nil, p.errExpected(kt, "a window function (TUMBLE, HOP, CUMULATE or SESSION) after TABLE(")
	}
	p.next()
	if _, err := p.expectOp("(", "'(' after "+kind); err != nil {
		return nil, err
	}
	var args []tvfArg
	if !p.isOp(")") {
		for {
			a, err := p.parseTVFArg()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if _, err := p.expectOp(")", "')' to close "+kind+"("); err != nil {
		return nil, err
	}
	if want := 2 + len(spec.args); len(args) != want {
		plural := "s"
		if len(args) == 1 {
			plural = ""
		}
		return nil, p.errAt(kt, fmt.Sprintf("%s takes %s: found %d argument%s", kind, spec.form, len(args), plural))
	}
	w := &WindowTVF{Pos: tableTok.pos, Kind: kind}
	if a := args[0]; !a.table {
		return nil, &Error{Pos: a.pos, Msg: fmt.Sprintf("the first argument of %s must be TABLE stream: %s takes %s", kind, kind, spec.form)}
	}
	if a := args[0]; len(a.partition) > 0 && kind != "SESSION" {
		return nil, &Error{Pos: a.partPos, Msg: fmt.Sprintf("PARTITION BY is only allowed in SESSION, not in %s", kind)}
	}
	w.Table, w.PartitionBy = args[0].name, args[0].partition
	if a := args[1]; !a.desc {
		return nil, &Error{Pos: a.pos, Msg: fmt.Sprintf("the second argument of %s must be DESCRIPTOR(time_column): %s takes %s", kind, kind, spec.form)}
	}
	w.TimeCol = args[1].name
	for i, name := range spec.args {
		a := args[2+i]
		iv, ok := a.expr.(*Interval)
		if !ok {
			return nil, &Error{Pos: a.pos, Msg: fmt.Sprintf("the %s argument of %s must be an interval literal, such as INTERVAL '1' MINUTE", name, kind)}
		}
		w.Args = append(w.Args, iv)
	}
	if _, err := p.expectOp(")", "')' to close TABLE("); err != nil {
		return nil, err
	}
	var err *Error
	if w.Alias, err = p.parseOptAlias(); err != nil {
		return nil, err
	}
	return w, nil
}

func (p *parser) parseTVFArg() (tvfArg, *Error) {
	t := p.peek()
	a := tvfArg{pos: t.pos}
	switch {
	case isWord(t, "table"):
		p.next()
		name, err := p.parseName("a stream name after TABLE")
		if err != nil {
			return a, err
		}
		a.table, a.name = true, name
		if pt := p.peek(); isWord(pt, "partition") {
			p.next()
			a.partPos = pt.pos
			if _, err := p.expectWord("by", "BY after PARTITION"); err != nil {
				return a, err
			}
			for {
				k, err := p.parseName("a partition column")
				if err != nil {
					return a, err
				}
				a.partition = append(a.partition, k)
				// A comma ends the key list when DESCRIPTOR follows.
				if !p.isOp(",") || isWord(p.peekAt(1), "descriptor") {
					break
				}
				p.next()
			}
		}
	case isWord(t, "descriptor") && isOp(p.peekAt(1), "("):
		p.next()
		p.next()
		col, err := p.parseName("a time column in DESCRIPTOR(")
		if err != nil {
			return a, err
		}
		if c := p.peek(); isOp(c, ",") {
			return a, p.errAt(c, "DESCRIPTOR takes exactly one time column")
		}
		if _, err := p.expectOp(")", "')' to close DESCRIPTOR("); err != nil {
			return a, err
		}
		a.desc, a.name = true, col
	default:
		e, err := p.parseExpr()
		if err != nil {
			return a, err
		}
		a.expr = e
	}
	return a, nil
}

// ---- expressions ----

func (p *parser) parseExpr() (Expr, *Error) {
	if err := p.enter(p.peek()); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.parseBinary(precOr)
}

// infix returns the precedence of the infix operator at the current token
// (0 if there is none) and whether it is a NOT LIKE / NOT IN / NOT BETWEEN.
func (p *parser) infix() (prec int, not bool) {
	t := p.peek()
	switch t.kind {
	case tokOp:
		switch t.val {
		case "=", "<>", "!=", "<", "<=", ">", ">=":
			return precCmp, false
		case "||":
			return precConcat, false
		case "+", "-":
			return precAdd, false
		case "*", "/", "%":
			return precMul, false
		}
	case tokWord:
		switch t.val {
		case "or":
			return precOr, false
		case "and":
			return precAnd, false
		case "is", "like", "ilike", "in", "between":
			return precCmp, false
		case "not":
			switch u := p.peekAt(1); {
			case isWord(u, "like"), isWord(u, "ilike"), isWord(u, "in"), isWord(u, "between"):
				return precCmp, true
			}
		}
	}
	return 0, false
}

// parseBinary parses an expression whose infix operators all have
// precedence at least min (Pratt parsing; operators are left-associative).
func (p *parser) parseBinary(min int) (Expr, *Error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		prec, not := p.infix()
		if prec == 0 || prec < min {
			return left, nil
		}
		opTok := p.next()
		t := opTok
		if not {
			t = p.next()
		}
		if t.kind == tokOp || t.val == "and" || t.val == "or" {
			op := t.val
			switch op {
			case "!=":
				op = "<>"
			case "and", "or":
				op = strings.ToUpper(op)
			}
			right, err := p.parseBinary(prec + 1)
			if err != nil {
				return nil, err
			}
			left = &Binary{Pos: t.pos, Op: op, L: left, R: right}
			continue
		}
		switch t.val {
		case "is":
			isNot := p.acceptWord("not")
			if !p.acceptWord("null") {
				what := "NULL or NOT NULL after IS"
				if isNot {
					what = "NULL after IS NOT"
				}
				return nil, p.errExpected(p.peek(), what)
			}
			left = &IsNull{Pos: t.pos, X: left, Not: isNot}
		case "like", "ilike":
			pat, err := p.parseBinary(precCmp + 1)
			if err != nil {
				return nil, err
			}
			left = &Like{Pos: opTok.pos, X: left, Pattern: pat, Not: not, ILike: t.val == "ilike"}
		case "in":
			if _, err := p.expectOp("(", "'(' after IN"); err != nil {
				return nil, err
			}
			if u := p.peek(); isWord(u, "select") || isWord(u, "with") {
				return nil, p.errAt(u, "IN (SELECT ...) subqueries are not supported yet")
			}
			list, err := p.parseExprList()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp(")", "')' to close IN ("); err != nil {
				return nil, err
			}
			left = &In{Pos: opTok.pos, X: left, List: list, Not: not}
		case "between":
			lo, err := p.parseBinary(precCmp + 1)
			if err != nil {
				return nil, err
			}
			if _, err := p.expectWord("and", "AND in BETWEEN ... AND ..."); err != nil {
				return nil, err
			}
			hi, err := p.parseBinary(precCmp + 1)
			if err != nil {
				return nil, err
			}
			left = &Between{Pos: opTok.pos, X: left, Lo: lo, Hi: hi, Not: not}
		}
	}
}

// parseUnary parses prefix NOT, - and +, then a primary with its postfix
// casts. NOT takes a comparison as its operand; - and + bind tighter than
// any infix operator but more loosely than `::`.
func (p *parser) parseUnary() (Expr, *Error) {
	t := p.peek()
	switch {
	case isWord(t, "not"):
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseBinary(precCmp)
		if err != nil {
			return nil, err
		}
		return &Unary{Pos: t.pos, Op: "NOT", X: x}, nil
	case isOp(t, "-"), isOp(t, "+"):
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &Unary{Pos: t.pos, Op: t.val, X: x}, nil
	}
	x, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for p.isOp("::") {
		c := p.next()
		typ, err := p.parseType()
		if err != nil {
			return nil, err
		}
		x = &Cast{Pos: c.pos, X: x, Type: typ}
	}
	return x, nil
}

func (p *parser) parsePrimary() (Expr, *Error) {
	t := p.peek()
	switch t.kind {
	case tokNumber:
		p.next()
		return &NumberLit{Pos: t.pos, Text: t.val, IsInt: !strings.ContainsAny(t.val, ".eE")}, nil
	case tokString:
		p.next()
		return &StringLit{Pos: t.pos, Val: t.val}, nil
	case tokQuoted:
		return p.parseIdent()
	case tokOp:
		if t.val != "(" {
			break
		}
		open := p.next()
		if u := p.peek(); isWord(u, "select") || isWord(u, "with") {
			return nil, p.errAt(u, "subqueries in expressions are not supported yet")
		}
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expectOp(")", fmt.Sprintf("')' to close the '(' at %s", open.pos)); err != nil {
			return nil, err
		}
		return e, nil
	case tokWord:
		next := p.peekAt(1)
		call := isOp(next, "(")
		switch t.val {
		case "true", "false":
			p.next()
			return &BoolLit{Pos: t.pos, Val: t.val == "true"}, nil
		case "null":
			p.next()
			return &NullLit{Pos: t.pos}, nil
		case "interval":
			return p.parseInterval()
		case "case":
			return p.parseCase()
		case "exists":
			if call {
				return nil, p.errAt(t, "EXISTS subqueries are not supported yet")
			}
		case "cast", "try_cast":
			if call {
				return p.parseCast()
			}
		case "extract":
			if call {
				return p.parseExtract()
			}
		case "timestamp", "timestamptz", "date", "time":
			if next.kind == tokString {
				p.next()
				p.next()
				return &Cast{Pos: t.pos, X: &StringLit{Pos: next.pos, Val: next.val}, Type: strings.ToUpper(t.val)}, nil
			}
		}
		if call && (!reserved[t.val] || t.val == "left" || t.val == "right") {
			return p.parseCall()
		}
		if !reserved[t.val] {
			return p.parseIdent()
		}
	}
	return nil, p.errExpected(t, "an expression"+p.after())
}

// parseIdent parses a possibly qualified column reference.
func (p *parser) parseIdent() (Expr, *Error) {
	t := p.next()
	id := &Ident{Pos: t.pos, Parts: []string{t.val}}
	for p.isOp(".") {
		p.next()
		u := p.peek()
		if u.kind != tokWord && u.kind != tokQuoted {
			return nil, p.errExpected(u, "a name after '.'")
		}
		p.next()
		id.Parts = append(id.Parts, u.val)
	}
	return id, nil
}

// parseCall parses name( [DISTINCT|ALL] args | * ) [OVER (...)].
func (p *parser) parseCall() (Expr, *Error) {
	nameTok := p.next()
	p.next() // (
	c := &Call{Pos: nameTok.pos, Name: nameTok.val}
	closeWhat := "')' to close " + p.raw(nameTok) + "("
	switch {
	case p.isOp("*"):
		p.next()
		c.Star = true
	case p.isOp(")"):
	default:
		if p.acceptWord("distinct") {
			c.Distinct = true
		} else {
			p.acceptWord("all")
		}
		args, err := p.parseExprList()
		if err != nil {
			return nil, err
		}
		c.Args = args
	}
	if _, err := p.expectOp(")", closeWhat); err != nil {
		return nil, err
	}
	if p.isWord("over") {
		p.next()
		if _, err := p.expectOp("(", "'(' after OVER (named windows are not supported)"); err != nil {
			return nil, err
		}
		o := &Over{}
		if p.acceptWord("partition") {
			if _, err := p.expectWord("by", "BY after PARTITION"); err != nil {
				return nil, err
			}
			list, err := p.parseExprList()
			if err != nil {
				return nil, err
			}
			o.PartitionBy = list
		}
		if p.acceptWord("order") {
			if _, err := p.expectWord("by", "BY after ORDER"); err != nil {
				return nil, err
			}
			items, err := p.parseOrderItems()
			if err != nil {
				return nil, err
			}
			o.OrderBy = items
		}
		if _, err := p.expectOp(")", "')' to close OVER ("); err != nil {
			return nil, err
		}
		c.Over = o
	}
	return c, nil
}

func (p *parser) parseCase() (Expr, *Error) {
	ct := p.next()
	c := &Case{Pos: ct.pos}
	if u := p.peek(); isWord(u, "end") || isWord(u, "else") {
		return nil, p.errExpected(u, "WHEN in CASE")
	}
	if !p.isWord("when") {
		op, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		c.Operand = op
	}
	if !p.isWord("when") {
		return nil, p.errExpected(p.peek(), "WHEN in CASE")
	}
	for p.acceptWord("when") {
		cond, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expectWord("then", "THEN after the WHEN condition"); err != nil {
			return nil, err
		}
		then, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, When{Cond: cond, Then: then})
	}
	if p.acceptWord("else") {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		c.Else = e
		if _, err := p.expectWord("end", "END to close CASE"); err != nil {
			return nil, err
		}
		return c, nil
	}
	if _, err := p.expectWord("end", "WHEN, ELSE or END in CASE"); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *parser) parseCast() (Expr, *Error) {
	ct := p.next()
	p.next() // (
	name := strings.ToUpper(ct.val)
	x, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expectWord("as", "AS in "+name+"(expr AS type)"); err != nil {
		return nil, err
	}
	typ, err := p.parseType()
	if err != nil {
		return nil, err
	}
	if _, err := p.expectOp(")", "')' to close "+name+"("); err != nil {
		return nil, err
	}
	return &Cast{Pos: ct.pos, X: x, Type: typ, Try: ct.val == "try_cast"}, nil
}

func (p *parser) parseExtract() (Expr, *Error) {
	et := p.next()
	p.next() // (
	ut := p.peek()
	if ut.kind != tokWord && ut.kind != tokString {
		return nil, p.errExpected(ut, "a date part (for example YEAR or HOUR) in EXTRACT(")
	}
	p.next()
	if _, err := p.expectWord("from", "FROM in EXTRACT(part FROM expr)"); err != nil {
		return nil, err
	}
	x, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expectOp(")", "')' to close EXTRACT("); err != nil {
		return nil, err
	}
	unit := &StringLit{Pos: ut.pos, Val: strings.ToLower(ut.val)}
	return &Call{Pos: et.pos, Name: "extract", Args: []Expr{unit, x}}, nil
}

// parseType parses a type name: a word, possibly with numeric parameters,
// and the multi-word forms DOUBLE PRECISION, CHARACTER VARYING and
// TIMESTAMP/TIME WITH[OUT] TIME ZONE. The result is upper-cased.
func (p *parser) parseType() (string, *Error) {
	t := p.peek()
	if t.kind != tokWord || reserved[t.val] && t.val != "interval" {
		return "", p.errExpected(t, "a type name"+p.after())
	}
	p.next()
	name := strings.ToUpper(t.val)
	switch {
	case name == "DOUBLE" && p.isWord("precision"):
		p.next()
		name = "DOUBLE PRECISION"
	case name == "CHARACTER" && p.isWord("varying"):
		p.next()
		name = "CHARACTER VARYING"
	}
	if p.isOp("(") {
		open := name
		p.next()
		var params []string
		for {
			n := p.peek()
			if n.kind != tokNumber {
				return "", p.errExpected(n, "a number in the parameters of "+open)
			}
			p.next()
			params = append(params, n.val)
			if !p.acceptOp(",") {
				break
			}
		}
		if _, err := p.expectOp(")", "')' to close "+open+"("); err != nil {
			return "", err
		}
		name += "(" + strings.Join(params, ",") + ")"
	}
	if t.val == "timestamp" || t.val == "time" {
		if w := p.peek(); (isWord(w, "with") || isWord(w, "without")) && isWord(p.peekAt(1), "time") && isWord(p.peekAt(2), "zone") {
			p.next()
			p.next()
			p.next()
			name += " " + strings.ToUpper(w.val) + " TIME ZONE"
		}
	}
	return name, nil
}

// ---- intervals ----

var intervalUnits = map[string]int64{
	"millisecond": 1_000, "milliseconds": 1_000,
	"second": 1_000_000, "seconds": 1_000_000,
	"minute": 60_000_000, "minutes": 60_000_000,
	"hour": 3_600_000_000, "hours": 3_600_000_000,
	"day": 86_400_000_000, "days": 86_400_000_000,
}

// calendarUnits are refused: they are not fixed durations.
var calendarUnits = map[string]bool{"month": true, "months": true, "year": true, "years": true}

// isUnitWord reports whether the lower-case word w names an interval unit,
// accepted or refused.
func isUnitWord(w string) bool {
	_, ok := intervalUnits[w]
	return ok || calendarUnits[w]
}

// unitMicros returns the length of an interval unit in microseconds, or a
// message saying why the unit is refused. written is the unit as written.
func unitMicros(written string) (int64, string) {
	u := strings.ToLower(written)
	if n, ok := intervalUnits[u]; ok {
		return n, ""
	}
	if calendarUnits[u] {
		return 0, fmt.Sprintf("interval unit %s is not supported: months and years are not fixed durations (use DAY, HOUR, MINUTE, SECOND or MILLISECOND)", strings.ToUpper(written))
	}
	return 0, fmt.Sprintf("unknown interval unit %q: expected MILLISECOND, SECOND, MINUTE, HOUR or DAY", written)
}

// parseInterval parses an interval literal; the current token is INTERVAL.
//
//	INTERVAL '1' MINUTE    INTERVAL '1.5' SECOND    INTERVAL 5 MINUTE
//	INTERVAL '1 minute'    INTERVAL '2 hours 30 minutes'
func (p *parser) parseInterval() (*Interval, *Error) {
	it := p.next()
	iv := &Interval{Pos: it.pos}
	t := p.peek()
	var num string
	switch {
	case t.kind == tokString:
		p.next()
		s := strings.TrimSpace(t.val)
		if !isDecimal(s) {
			us, msg := intervalString(s, p.text(it.pos))
			if msg != "" {
				return nil, p.errAt(t, msg)
			}
			iv.Micros, iv.Text = us, p.text(it.pos)
			if u := p.peek(); u.kind == tokWord && isUnitWord(u.val) {
				return nil, p.errAt(u, fmt.Sprintf("%s already has its unit: write INTERVAL '1' MINUTE or INTERVAL '1 minute', not both", iv.Text))
			}
			return iv, nil
		}
		num = s
	case t.kind == tokNumber:
		p.next()
		num = t.val
	case isOp(t, "-") && p.peekAt(1).kind == tokNumber:
		p.next()
		num = "-" + p.next().val
	default:
		return nil, p.errExpected(t, "a quoted value or a number after INTERVAL (for example INTERVAL '1' MINUTE)")
	}
	ut := p.peek()
	if ut.kind != tokWord || reserved[ut.val] {
		return nil, p.errExpected(ut, "an interval unit (MILLISECOND, SECOND, MINUTE, HOUR or DAY) after "+p.text(it.pos))
	}
	unit, msg := unitMicros(p.raw(ut))
	if msg != "" {
		return nil, p.errAt(ut, msg)
	}
	p.next()
	iv.Text = p.text(it.pos)
	us, msg := scaleDecimal(num, unit)
	if msg != "" {
		return nil, p.errAt(t, iv.Text+" "+msg)
	}
	iv.Micros = us
	return iv, nil
}

// intervalString reads the contents of INTERVAL '...' without a separate
// unit: one or more "number unit" pairs, as in '1 minute' or
// '1 hour 30 minutes'. On failure it returns a message; text is the whole
// literal, for the message.
func intervalString(s, text string) (int64, string) {
	bad := fmt.Sprintf("cannot read %s: expected a number and a unit, such as INTERVAL '1 minute' or INTERVAL '1' MINUTE", text)
	var total int64
	i := 0
	skip := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	skip()
	if i == len(s) {
		return 0, bad
	}
	for i < len(s) {
		start := i
		if s[i] == '+' || s[i] == '-' {
			i++
		}
		digits := 0
		for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
			if s[i] != '.' {
				digits++
			}
			i++
		}
		num := s[start:i]
		if digits == 0 || !isDecimal(num) {
			return 0, bad
		}
		skip()
		ustart := i
		for i < len(s) && isIdentStart(s[i]) {
			i++
		}
		if ustart == i {
			return 0, bad
		}
		unit, msg := unitMicros(s[ustart:i])
		if msg != "" {
			return 0, msg
		}
		us, msg := scaleDecimal(num, unit)
		if msg != "" {
			return 0, text + " " + msg
		}
		if us > 0 && total > maxInt64-us || us < 0 && total < minInt64-us {
			return 0, text + " is out of range"
		}
		total += us
		skip()
	}
	return total, ""
}

const (
	maxInt64 = 1<<63 - 1
	minInt64 = -1 << 63
)

// isDecimal reports whether s is [+-] digits [. digits] [e [+-] digits],
// with at least one digit before the exponent.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// scaleDecimal returns the decimal num (as accepted by isDecimal) times
// unit, exactly. On failure it returns a message to append to the
// interval's text.
func scaleDecimal(num string, unit int64) (int64, string) {
	neg := false
	switch {
	case strings.HasPrefix(num, "-"):
		neg, num = true, num[1:]
	case strings.HasPrefix(num, "+"):
		num = num[1:]
	}
	exp := 0
	if i := strings.IndexAny(num, "eE"); i >= 0 {
		es := strings.TrimPrefix(num[i+1:], "+")
		num = num[:i]
		if strings.Trim(num, "0.") == "" {
			return 0, "" // zero, whatever the exponent
		}
		eneg := strings.HasPrefix(es, "-")
		es = strings.TrimPrefix(es, "-")
		es = strings.TrimLeft(es, "0")
		if len(es) > 4 {
			return 0, "is out of range"
		}
		for _, c := range es {
			exp = exp*10 + int(c-'0')
		}
		if eneg {
			exp = -exp
		}
	}
	intPart, frac, _ := strings.Cut(num, ".")
	frac = strings.TrimRight(frac, "0")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0, ""
	}
	scale := len(frac) - exp
	if scale < -40 {
		return 0, "is out of range"
	}
	m, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return 0, "is not a number"
	}
	m.Mul(m, big.NewInt(unit))
	ten := big.NewInt(10)
	if scale > 0 {
		d := new(big.Int).Exp(ten, big.NewInt(int64(scale)), nil)
		q, r := new(big.Int).QuoRem(m, d, new(big.Int))
		if r.Sign() != 0 {
			return 0, "is not a whole number of microseconds"
		}
		m = q
	} else if scale < 0 {
		m.Mul(m, new(big.Int).Exp(ten, big.NewInt(int64(-scale)), nil))
	}
	if neg {
		m.Neg(m)
	}
	if !m.IsInt64() {
		return 0, "is out of range"
	}
	return m.Int64(), ""
}
