package stream

import (
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

	AllowedLateness int64 // µs: windows fire when the watermark passes end + this
	Late            LatePolicy
	LateFor         int64         // µs, LateUpdate: how long fired windows stay updatable
	EmitEvery       time.Duration // early firing of open windows; 0: none
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
