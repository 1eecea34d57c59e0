package parse

import "fmt"

// Pos is a position in the SQL text: 1-based line and column (in runes),
// and the 0-based byte offset.
type Pos struct {
	Line, Col, Offset int
}

func (p Pos) String() string { return fmt.Sprintf("line %d, column %d", p.Line, p.Col) }

// Error is a syntax error at a position. Its message says what was found,
// what was expected, and where.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Statement is one SQL statement.
type Statement interface {
	StmtPos() Pos
}

// Select is a query: SELECT ... FROM ... [WHERE] [GROUP BY] [HAVING]
// [ORDER BY] [LIMIT]. Parts the streaming planner does not support are
// still parsed, so it can refuse them with their position.
type Select struct {
	Pos      Pos
	Distinct bool
	Items    []SelectItem
	From     From // nil: no FROM clause
	Where    Expr
	GroupBy  []Expr
	// GroupByAll is GROUP BY ALL (DuckDB): group by every select item
	// that holds no aggregate.
	GroupByAll bool
	Having     Expr
	OrderBy    []OrderItem
	Limit      Expr
	// UnionAll is the SELECT after UNION ALL, or nil; it may have its own.
	// ORDER BY and LIMIT, when written, belong to the last.
	UnionAll *Select
	// With are the common table expressions of WITH ... before the
	// SELECT, in order: each may read the ones before it.
	With []CTE
}

// CTE is one `name AS (SELECT ...)` of a WITH clause.
type CTE struct {
	Pos   Pos
	Name  string
	Query *Select
	Text  string // the query's source text
}

// SelectItem is one entry of the select list: an expression with an
// optional alias, or a star (`*` or `t.*`).
type SelectItem struct {
	Pos       Pos
	Expr      Expr   // nil for a star
	Alias     string // "" when none was given
	Star      bool
	StarTable string // `t.*`: "t"
}

// OrderItem is one ORDER BY entry.
type OrderItem struct {
	Pos  Pos
	Expr Expr
	Desc bool
}

// From is a FROM item: *TableRef, *WindowTVF, *Subquery or *Join.
type From interface {
	FromPos() Pos
}

// TableRef names a stream, table or view.
type TableRef struct {
	Pos   Pos
	Name  string
	Alias string
}

// WindowTVF is a windowing table-valued function in the Flink form:
//
//	TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), size))
//	TABLE(HOP(TABLE s, DESCRIPTOR(ts), slide, size))
//	TABLE(CUMULATE(TABLE s, DESCRIPTOR(ts), step, size))
//	TABLE(SESSION(TABLE s [PARTITION BY k, ...], DESCRIPTOR(ts), gap))
//
// The result has the columns of s plus window_start and window_end.
type WindowTVF struct {
	Pos         Pos
	Kind        string // "TUMBLE", "HOP", "CUMULATE" or "SESSION"
	Table       string
	PartitionBy []string // SESSION only
	TimeCol     string
	Args        []*Interval // TUMBLE: size; HOP: slide, size; CUMULATE: step, size; SESSION: gap
	Alias       string
}

// Subquery is `(SELECT ...) [AS] alias` in FROM.
type Subquery struct {
	Pos   Pos
	Query *Select
	Alias string
	Text  string // the query's source text, without the parentheses
}

// Join is `left [INNER|LEFT|RIGHT|FULL] JOIN right ON cond`.
type Join struct {
	Pos         Pos
	Kind        string // "INNER", "LEFT", "RIGHT", "FULL", "CROSS"
	Left, Right From
	On          Expr // nil for CROSS
}

// CreateView is CREATE [OR REPLACE] MATERIALIZED VIEW [IF NOT EXISTS] name
// AS query, followed by the streaming clauses, in any order:
//
//	ALLOWED LATENESS INTERVAL '10' SECOND
//	EMIT EVERY INTERVAL '1' SECOND
//	LATE DATA DROP | LATE DATA SIDE OUTPUT | LATE DATA UPDATE [FOR INTERVAL '1' HOUR]
//	STATE TTL INTERVAL '1' HOUR
//	PARALLELISM 2
type CreateView struct {
	Pos         Pos
	Name        string
	OrReplace   bool
	IfNotExists bool
	Query       *Select
	// Text is the statement's source text, without the final semicolon.
	Text string

	AllowedLateness *Interval // nil: not given
	EmitEvery       *Interval // nil: not given
	StateTTL        *Interval // STATE TTL, for regular joins; nil: not given
	Parallelism     int       // PARALLELISM n: tasks running the view; 0: not given
	Late            LatePolicy
	LateFor         *Interval // LATE DATA UPDATE FOR ...; nil: not given
}

// LatePolicy is what a view does with a record whose window has been emitted.
type LatePolicy int

const (
	LateDefault    LatePolicy = iota // not given: the planner picks (side output)
	LateDrop                         // LATE DATA DROP: counted, not kept
	LateSideOutput                   // LATE DATA SIDE OUTPUT: into <view>__late
	LateUpdate                       // LATE DATA UPDATE: the window's row is updated
)

// DropView is DROP MATERIALIZED VIEW [IF EXISTS] name.
type DropView struct {
	Pos      Pos
	Name     string
	IfExists bool
}

// ShowViews is SHOW VIEWS (also SHOW MATERIALIZED VIEWS).
type ShowViews struct {
	Pos Pos
}

// ShowTables is SHOW TABLES: the node's tables (streams, views and
// reference tables).
type ShowTables struct {
	Pos Pos
}

// Explain is EXPLAIN followed by a SELECT or a CREATE MATERIALIZED VIEW.
type Explain struct {
	Pos  Pos
	Stmt Statement
}

func (s *Select) StmtPos() Pos     { return s.Pos }
func (s *CreateView) StmtPos() Pos { return s.Pos }
func (s *DropView) StmtPos() Pos   { return s.Pos }
func (s *ShowViews) StmtPos() Pos  { return s.Pos }
func (s *ShowTables) StmtPos() Pos { return s.Pos }
func (s *Explain) StmtPos() Pos    { return s.Pos }

func (f *TableRef) FromPos() Pos  { return f.Pos }
func (f *WindowTVF) FromPos() Pos { return f.Pos }
func (f *Subquery) FromPos() Pos  { return f.Pos }
func (f *Join) FromPos() Pos      { return f.Pos }

// Expr is an expression node.
type Expr interface {
	ExprPos() Pos
}

// Ident is a column reference, possibly qualified (`t.col`). Unquoted
// identifiers are lower-cased; quoted ones ("Col") keep their case.
type Ident struct {
	Pos   Pos
	Parts []string
}

// NumberLit is a numeric literal as written; IsInt when it has no '.' or exponent.
type NumberLit struct {
	Pos   Pos
	Text  string
	IsInt bool
}

// StringLit is a single-quoted string; a doubled quote inside stands for one.
type StringLit struct {
	Pos Pos
	Val string
}

// BoolLit is TRUE or FALSE.
type BoolLit struct {
	Pos Pos
	Val bool
}

// NullLit is NULL.
type NullLit struct {
	Pos Pos
}

// Interval is an interval literal: INTERVAL '1' MINUTE, INTERVAL '90' SECOND,
// INTERVAL '1 minute', INTERVAL '1.5' SECOND, INTERVAL 5 MINUTE (DuckDB form).
// Units: MILLISECOND, SECOND, MINUTE, HOUR, DAY (singular or plural).
// Months and years are not fixed durations and are refused.
type Interval struct {
	Pos    Pos
	Text   string // the literal as written, for messages
	Micros int64
}

// Unary is `-x`, `+x` or `NOT x`.
type Unary struct {
	Pos Pos
	Op  string // "-", "+", "NOT"
	X   Expr
}

// Binary is `l op r`. Op is one of + - * / % || = <> < <= > >= AND OR
// (`!=` is reported as "<>").
type Binary struct {
	Pos  Pos
	Op   string
	L, R Expr
}

// IsNull is `x IS [NOT] NULL`.
type IsNull struct {
	Pos Pos
	X   Expr
	Not bool
}

// Like is `x [NOT] LIKE|ILIKE pattern`.
type Like struct {
	Pos        Pos
	X, Pattern Expr
	Not        bool
	ILike      bool
}

// In is `x [NOT] IN (a, b, ...)`.
type In struct {
	Pos  Pos
	X    Expr
	List []Expr
	Not  bool
}

// Between is `x [NOT] BETWEEN lo AND hi`.
type Between struct {
	Pos       Pos
	X, Lo, Hi Expr
	Not       bool
}

// Case is `CASE [operand] WHEN .. THEN .. [ELSE ..] END`.
type Case struct {
	Pos     Pos
	Operand Expr // nil for the searched form
	Whens   []When
	Else    Expr // nil: NULL
}

// When is one WHEN ... THEN ... arm.
type When struct {
	Cond, Then Expr
}

// Cast is `CAST(x AS type)`, `TRY_CAST(x AS type)` or `x::type`. Type is
// upper-cased, with parameters as written (e.g. "DECIMAL(10,2)").
type Cast struct {
	Pos  Pos
	X    Expr
	Type string
	Try  bool
}

// Call is a function call `name([DISTINCT] args)`, `count(*)`, with an
// optional `OVER (PARTITION BY ... ORDER BY ...)`. EXTRACT(unit FROM x) is
// parsed as Call{Name: "extract", Args: [StringLit(unit), x]}. Name is
// lower-cased.
type Call struct {
	Pos      Pos
	Name     string
	Args     []Expr
	Distinct bool
	Star     bool // count(*)
	Over     *Over
}

// Over is a window specification for analytic functions (ROW_NUMBER etc.).
type Over struct {
	PartitionBy []Expr
	OrderBy     []OrderItem
}

func (e *Ident) ExprPos() Pos     { return e.Pos }
func (e *NumberLit) ExprPos() Pos { return e.Pos }
func (e *StringLit) ExprPos() Pos { return e.Pos }
func (e *BoolLit) ExprPos() Pos   { return e.Pos }
func (e *NullLit) ExprPos() Pos   { return e.Pos }
func (e *Interval) ExprPos() Pos  { return e.Pos }
func (e *Unary) ExprPos() Pos     { return e.Pos }
func (e *Binary) ExprPos() Pos    { return e.Pos }
func (e *IsNull) ExprPos() Pos    { return e.Pos }
func (e *Like) ExprPos() Pos      { return e.Pos }
func (e *In) ExprPos() Pos        { return e.Pos }
func (e *Between) ExprPos() Pos   { return e.Pos }
func (e *Case) ExprPos() Pos      { return e.Pos }
func (e *Cast) ExprPos() Pos      { return e.Pos }
func (e *Call) ExprPos() Pos      { return e.Pos }
