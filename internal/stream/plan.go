package stream

import (
	"math"
	"slices"
	"time"

	"github.com/weirhq/weir/internal/schema"
)

// LatePolicy is what a view does with a record whose window was emitted.
type LatePolicy uint8

const (
	// LateSideOutput keeps late records in the view's side output (the
	// default: nothing is silently lost).
	LateSideOutput LatePolicy = iota
	// LateDrop counts late records (metric and SHOW VIEWS) and keeps nothing.
	LateDrop
	// LateUpdate keeps window state for LateFor after the window fires and
	// updates the emitted row; records later still go to the side output.
	LateUpdate
)

func (p LatePolicy) String() string {
	switch p {
	case LateDrop:
		return "drop"
	case LateUpdate:
		return "update"
	}
	return "side output"
}

// Input is the stream a plan reads.
type Input struct {
	Stream     string
	Partitions int
	Columns    []schema.Column // the current schema: what expressions index
	Version    uint32          // the current schema version
	SchemaFor  func(version uint32) (*schema.Schema, error)
	EventCol   int
	Disorder   int64 // µs: the stream's bound on disorder
	// Upstream is set when the input is another view's output: it returns
	// that view's watermark as this input sees it (µs; math.MinInt64 while
	// there is none): every row the view will still write has a later
	// event time, and every row it wrote up to it is in the log once the
	// call returns. The input's watermark then comes from Upstream alone,
	// not from its rows' times (a view writes a window's rows when the
	// window closes, in no order of time within one close).
	Upstream func() int64
	// Changelog: the input is an upsert view's output; its last two
	// columns are the row key and the deletion flag (see changelog.go).
	// It has no event-time column (EventCol -1).
	Changelog bool
}

// Plan is a compiled view: everything a task evaluates.
//
// Rows flow: input row (the input's columns, then window_start and
// window_end when windowed) → Filter → window assignment → Keys and Aggs
// per group → the group row (key values, [window_start, window_end],
// aggregate results) → Having → Project. Without aggregation, Project
// applies to the input row directly.
type Plan struct {
	Name        string
	Input       Input
	Filter      *Expr
	Window      Window
	Aggregating bool
	Keys        []Expr // GROUP BY expressions other than the window bounds
	Aggs        []AggSpec
	Having      *Expr
	Project     []Expr
	Output      []schema.Column // the view's visible columns
	Join        *Join           // nil: one input
	Union       *Union          // nil: not a UNION ALL
	TopN        *TopN           // nil: not a Top-N (see TopN)
	// RowCount is the index in Aggs of the count(*) that counts a group's
	// rows, for a changelog input (a group with none left is deleted).
	RowCount int
	Lookup   *Lookup // nil: no reference table joined (see Lookup)

	AllowedLateness int64 // µs: windows fire when the watermark passes end + this
	Late            LatePolicy
	LateFor         int64         // µs, LateUpdate: how long fired windows stay updatable
	EmitEvery       time.Duration // early firing of open windows; 0: none
	// Parallelism is how many tasks run the view (see parallel.go); 0 or
	// 1: one. Plans ParallelError refuses run on one task.
	Parallelism int
}

// Upsert reports whether the view's output is a changelog of upserts and
// deletes by row key (continuous aggregates, early firing, late updates),
// rather than append-only rows.
func (p *Plan) Upsert() bool {
	if !p.Aggregating {
		return false
	}
	return p.Window.Kind == NoWindow || p.EmitEvery > 0 || p.Late == LateUpdate
}

// Hidden columns of an upsert view's output stream, after the visible ones.
const (
	RowKeyColumn  = "_row_key" // hex of the group's state key
	DeletedColumn = "_deleted" // the row was retracted
)

// OutputColumns are the columns of the view's output stream: the visible
// ones, and for upsert views the row key and the retraction flag.
func (p *Plan) OutputColumns() []schema.Column {
	cols := append([]schema.Column(nil), p.Output...)
	if p.Upsert() {
		cols = append(cols,
			schema.Column{Name: RowKeyColumn, Type: schema.String},
			schema.Column{Name: DeletedColumn, Type: schema.Bool})
	}
	return cols
}

// JoinKind is the kind of a two-input join.
type JoinKind uint8

const (
	InnerJoin JoinKind = iota
	// LeftJoin also emits each left row that found no match, with the
	// right side null, once the watermark shows no match can come.
	LeftJoin
)

func (k JoinKind) String() string {
	if k == LeftJoin {
		return "LEFT"
	}
	return "INNER"
}

// Forever is a Join keep time: rows stay joinable for good.
const Forever = int64(math.MaxInt64)

// Join makes a plan read two inputs (Plan.Input on the left, Right) and
// evaluate the rest of the plan over their joined rows: the left input's
// columns, then the right's (then window_start and window_end when
// windowed). Both sides are buffered in state, keyed by the equi-join key;
// each arriving row is matched against the other side's buffer.
//
// How long a row stays buffered: a window join (Plan.Window set) keeps a
// row until the watermark passes its window's end, and rows match only
// within one window; otherwise a left row stays LeftKeep past its event
// time (the longest a matching right row can trail it), a right row
// RightKeep. A record behind the watermark is late whenever a partner of
// it may have left the buffer already: the view's late-data policy takes
// it, so every on-time pair is joined exactly once, however the two
// inputs interleave.
type Join struct {
	Kind  JoinKind
	Right Input
	// LeftKey and RightKey are the equi-join key expressions, over the
	// joined row (each reads only its own side's columns). A null key
	// matches nothing.
	LeftKey, RightKey []Expr
	// LeftFilter and RightFilter are the WHERE conditions on one side's
	// columns alone, checked before a row is buffered.
	LeftFilter, RightFilter *Expr
	// On is the rest of the ON condition, over the joined row, checked for
	// each pair with equal keys; nil: true.
	On *Expr
	// LeftKeep and RightKeep are in µs, or Forever.
	LeftKeep, RightKeep int64
	// LeftUntil and RightUntil, when set, bound a side's rows by a column
	// of their own (an auction matches bids up to its expiry): over the
	// joined row, reading that side's columns, the latest event time of
	// the other side that may still match; a row leaves once the
	// watermark passes it (or its keep, if sooner). NULL: no bound.
	LeftUntil, RightUntil *Expr
	// Names are what the sides are called in the view (alias or stream).
	Names [2]string
	// Used says, per side and input column, whether the view reads it
	// past the join; the others are buffered as NULL (a row's late record
	// is written whole, before it is buffered). nil: every column.
	Used [2][]bool
}

// LateColumns are the columns of the view's late records: the input's;
// for a join both sides' (the absent one null), each named
// <side>_<column> after what the view calls the side; for a lookup, the
// input's and the table's, named <table>_<column>.
func (p *Plan) LateColumns() []schema.Column {
	if lk := p.Lookup; lk != nil {
		cols := slices.Clone(p.Input.Columns)
		for _, c := range lk.Table.Columns() {
			c.Name = lk.Name + "_" + c.Name
			c.Nullable = true
			cols = append(cols, c)
		}
		return cols
	}
	if p.Join == nil {
		return p.Input.Columns
	}
	var cols []schema.Column
	for s, in := range p.Inputs() {
		for _, c := range in.Columns {
			c.Name = p.Join.Names[s] + "_" + c.Name
			c.Nullable = true
			cols = append(cols, c)
		}
	}
	return cols
}

// Union makes a plan read two inputs (Plan.Input first, Right) and write
// each row as it comes: filtered and projected by its side's expressions,
// which read the side's columns at its place in the row (the first
// input's columns, then the second's). There is no state.
type Union struct {
	Right   Input
	Filters [2]*Expr
	Project [2][]Expr
	Names   [2]string
}

// Inputs are the streams a plan reads: its input, and a join's or a
// union's second.
func (p *Plan) Inputs() []Input {
	switch {
	case p.Join != nil:
		return []Input{p.Input, p.Join.Right}
	case p.Union != nil:
		return []Input{p.Input, p.Union.Right}
	}
	return []Input{p.Input}
}

// RowColumns are the columns of the rows the plan evaluates (before the
// window bounds): the input's, or for two inputs the first's then the
// second's. A view's late records have these columns.
func (p *Plan) RowColumns() []schema.Column {
	if lk := p.Lookup; lk != nil {
		return append(slices.Clone(p.Input.Columns), lk.Table.Columns()...)
	}
	in := p.Inputs()
	if len(in) == 1 {
		return p.Input.Columns
	}
	return append(slices.Clone(in[0].Columns), in[1].Columns...)
}
