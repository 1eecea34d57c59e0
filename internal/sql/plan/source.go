package plan

import (
	"fmt"
	"math"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

// How a view's output column carries event time, for views reading it.
const (
	timeNone        = iota
	timeWindowEnd   // window_end of a windowed aggregate
	timeWindowStart // window_start of a tumbling, hopping or cumulating aggregate
	timePassThrough // the input's event-time column, of a view without state
)

// timeColumn records which output column, if any, views reading this one
// can take as their event time: the first of window_end, window_start or
// the input's event-time column the view selects as it is.
func (b *binder) timeColumn(v *View, q *parse.Select) {
	p := v.Plan
	v.TimeCol = -1
	if p.Upsert() {
		return
	}
	windowed := p.Aggregating && p.Window.Kind != stream.NoWindow
	if !p.Aggregating && p.Join != nil {
		return // a join's rows come when pairs meet, in no order of time
	}
	best := timeNone
	for i, it := range q.Items {
		slot, ok := b.selectedSlot(it)
		if !ok {
			continue
		}
		kind := timeNone
		switch {
		case windowed && slot == len(b.rowCols)+1:
			kind = timeWindowEnd
		case windowed && slot == len(b.rowCols) && p.Window.Kind != stream.Session:
			kind = timeWindowStart
		case !p.Aggregating && slot == b.src.EventCol:
			kind = timePassThrough
		}
		if kind != timeNone && (best == timeNone || kind < best) {
			best, v.TimeCol = kind, b.itemOut[i]
		}
	}
	if best == timeNone && !p.Aggregating && b.starTime >= 0 {
		best, v.TimeCol = timePassThrough, b.starTime // SELECT * keeps it as it is
	}
	v.timeKind = best
}

// selectedSlot is the input row slot a select item names as it is (a
// bare column), if it does.
func (b *binder) selectedSlot(it parse.SelectItem) (int, bool) {
	id, ok := it.Expr.(*parse.Ident)
	if !ok {
		return 0, false
	}
	slot, _, err := b.resolve(id)
	return slot, err == nil
}

// AsSource is the view's output as the input of other views: its
// columns, one partition, and the output column that carries event time
// (see View.TimeCol). upstreamWm returns the view's committed watermark
// (stream.Stats.WatermarkMicros). An upserting view (a continuous
// aggregate, EMIT EVERY, LATE DATA UPDATE, a continuous Top-N) is a
// changelog source, which only continuous aggregates can read. It fails,
// saying why, for append views without an event-time column.
func (v *View) AsSource(upstreamWm func() int64) (Source, error) {
	p := v.Plan
	if p.Upsert() {
		// A changelog: the reader aggregates it, taking back each key's
		// previous row (see stream.Input.Changelog).
		cols := p.OutputColumns()
		sch := schema.FromColumns(cols)
		in := stream.Input{Stream: OutputStream(v.Name), Partitions: 1, Columns: cols, Version: 1, EventCol: -1, Changelog: true,
			SchemaFor: func(ver uint32) (*schema.Schema, error) {
				if ver != 1 {
					return nil, fmt.Errorf("view %q output has no schema version %d", v.Name, ver)
				}
				return sch, nil
			},
			Upstream: upstreamWm}
		return Source{Input: in, Changelog: v.Name}, nil
	}
	if v.TimeCol < 0 {
		hint := "select window_end (or window_start) as it is"
		if !p.Aggregating {
			hint = fmt.Sprintf("select its event-time column %q as it is", v.Plan.Input.Columns[v.Plan.Input.EventCol].Name)
			if p.Join != nil {
				hint = "aggregate its rows per window first"
			}
		}
		return Source{}, fmt.Errorf("view %q has no event-time column for the views reading it: %s", v.Name, hint)
	}
	cols := p.OutputColumns()
	sch := schema.FromColumns(cols)
	in := stream.Input{Stream: OutputStream(v.Name), Partitions: 1, Columns: cols, Version: 1,
		SchemaFor: func(ver uint32) (*schema.Schema, error) {
			if ver != 1 {
				return nil, fmt.Errorf("view %q output has no schema version %d", v.Name, ver)
			}
			return sch, nil
		},
		EventCol: v.TimeCol}
	// A windowed aggregate writes a window's rows once the watermark
	// passes its end plus the allowed lateness: the rows still to come end
	// later than that (and start up to a window size earlier). A view
	// without state writes each row as it reads it: the rows still to
	// come are at or past its watermark (a late record passes through as
	// late).
	var back int64
	switch v.timeKind {
	case timeWindowEnd:
		back = p.AllowedLateness
	case timeWindowStart:
		back = p.AllowedLateness + p.Window.Size
	}
	in.Upstream = func() int64 {
		w := upstreamWm()
		if w == math.MinInt64 || w == math.MaxInt64 {
			return w
		}
		return w - back
	}
	return Source{Input: in, EventTime: cols[v.TimeCol].Name}, nil
}

// OutputStreamPrefix names a view's output stream in the log: the prefix,
// then the view's name.
const OutputStreamPrefix = "view/"

// OutputStream is the log stream holding a view's rows.
func OutputStream(view string) string { return OutputStreamPrefix + view }

// LateStream is the log stream holding a view's late records.
func LateStream(view string) string { return OutputStreamPrefix + view + "__late" }

// FromNames are the streams and views a view statement reads, in order
// (names of its WITH queries aside).
func FromNames(q *parse.Select) []string {
	if in, err := inlineWith(q); err == nil {
		q = in
	}
	var names []string
	var walk func(f parse.From)
	walk = func(f parse.From) {
		switch x := f.(type) {
		case *parse.TableRef:
			names = append(names, x.Name)
		case *parse.WindowTVF:
			names = append(names, x.Table)
		case *parse.Join:
			walk(x.Left)
			walk(x.Right)
		case *parse.Subquery:
			names = append(names, FromNames(x.Query)...)
		}
	}
	for ; q != nil; q = q.UnionAll {
		walk(q.From)
	}
	return names
}
