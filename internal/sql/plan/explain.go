package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

func dur(us int64) string { return (time.Duration(us) * time.Microsecond).String() }

// explain describes the operator graph of a view, one stage per line.
func explain(b *binder, p *stream.Plan, q *parse.Select) []string {
	in := p.Input
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	mode := "append-only rows"
	if p.Upsert() {
		mode = "upserts by key (a changelog)"
	}
	add("view %s: %s", p.Name, mode)
	add("  source: stream %s, %d partitions, event time %s, max disorder %s; one task reads every partition",
		in.Stream, in.Partitions, b.src.EventTime, dur(in.Disorder))
	add("  watermark: min over active partitions of (max event time - %s); partitions idle for the idle timeout do not hold it back", dur(in.Disorder))
	if q.Where != nil {
		add("  filter: %s", parse.FormatExpr(q.Where))
	}
	switch p.Window.Kind {
	case stream.Tumble:
		add("  window: TUMBLE size %s on %s", dur(p.Window.Size), b.src.EventTime)
	case stream.Hop:
		add("  window: HOP size %s slide %s on %s (each row is in %d windows)", dur(p.Window.Size), dur(p.Window.Slide), b.src.EventTime, p.Window.Size/p.Window.Slide)
	case stream.Cumulate:
		add("  window: CUMULATE size %s step %s on %s", dur(p.Window.Size), dur(p.Window.Slide), b.src.EventTime)
	case stream.Session:
		add("  window: SESSION gap %s on %s, per key; sessions that a record bridges merge", dur(p.Window.Gap), b.src.EventTime)
	}
	if p.Aggregating {
		keys := append([]string(nil), b.keyText...)
		if p.Window.Kind != stream.NoWindow {
			keys = append(keys, "window_start", "window_end")
		}
		key := "(none: one group)"
		if len(keys) > 0 {
			key = strings.Join(keys, ", ")
		}
		add("  aggregate: group by %s; aggregates %s", key, strings.Join(b.aggText, ", "))
		if p.Window.Kind != stream.NoWindow {
			add("  state: one entry per open window and key, deleted when the window closes (watermark past end + %s)", dur(p.AllowedLateness+p.LateFor))
		} else {
			add("  state: one entry per key, kept for the life of the view")
		}
		add("  repartition: none (the task sees every partition)")
		if q.Having != nil {
			add("  having: %s", parse.FormatExpr(q.Having))
		}
	}
	if p.Window.Kind != stream.NoWindow && p.Aggregating {
		emit := fmt.Sprintf("when the watermark passes window_end + %s", dur(p.AllowedLateness))
		if p.EmitEvery > 0 {
			emit += fmt.Sprintf(", and every %s for open windows that changed", p.EmitEvery)
		}
		add("  emit: %s", emit)
		switch p.Late {
		case stream.LateDrop:
			add("  late data: dropped and counted")
		case stream.LateSideOutput:
			add("  late data: kept in %s__late", p.Name)
		case stream.LateUpdate:
			add("  late data: updates the emitted row for %s after it fires, then kept in %s__late", dur(p.LateFor), p.Name)
		}
	}
	var cols []string
	for _, c := range p.Output {
		cols = append(cols, c.Name+" "+typeName(c.Type))
	}
	add("  output: %s", strings.Join(cols, ", "))
	return lines
}
