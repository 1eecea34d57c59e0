package stream

import "fmt"

// WindowKind is the windowing table-valued function of a plan.
type WindowKind uint8

const (
	NoWindow WindowKind = iota
	Tumble              // fixed, non-overlapping windows of Size
	Hop                 // windows of Size starting every Slide
	Cumulate            // windows from a Size boundary growing by Slide (the step)
	Session             // per key, records closer than Gap share a window
)

func (k WindowKind) String() string {
	switch k {
	case Tumble:
		return "TUMBLE"
	case Hop:
		return "HOP"
	case Cumulate:
		return "CUMULATE"
	case Session:
		return "SESSION"
	}
	return "none"
}

// Window is a plan's windowing: which column carries event time and how
// rows are assigned to windows. Times are µs since the epoch.
type Window struct {
	Kind  WindowKind
	Size  int64
	Slide int64 // Hop: the slide; Cumulate: the step
	Gap   int64 // Session: a window closes after this long without records
}

// Span is one window: [Start, End).
type Span struct{ Start, End int64 }

// floorTo rounds t down to a multiple of unit (also for negative t).
func floorTo(t, unit int64) int64 {
	r := t % unit
	if r < 0 {
		r += unit
	}
	return t - r
}

// Assign appends the windows that hold event time ts to dst, oldest start
// first.
func (w *Window) Assign(dst []Span, ts int64) []Span {
	switch w.Kind {
	case Tumble:
		s := floorTo(ts, w.Size)
		return append(dst, Span{s, s + w.Size})
	case Hop:
		last := floorTo(ts, w.Slide)
		first := last
		for first-w.Slide > ts-w.Size {
			first -= w.Slide
		}
		for s := first; s <= last; s += w.Slide {
			dst = append(dst, Span{s, s + w.Size})
		}
		return dst
	case Cumulate:
		base := floorTo(ts, w.Size)
		for e := base + w.Slide; e <= base+w.Size; e += w.Slide {
			if e > ts {
				dst = append(dst, Span{base, e})
			}
		}
		return dst
	}
	panic(fmt.Sprintf("BUG: window kind %d", w.Kind))
}
