package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

// tasks is "1 partial task", "2 partial tasks" and so on.
func tasks(n int, kind string) string {
	if kind != "" {
		kind += " "
	}
	if n == 1 {
		return "1 " + kind + "task"
	}
	return fmt.Sprintf("%d %stasks", n, kind)
}

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
	if p.Lookup != nil {
		explainLookup(b, p, add)
	} else if j := b.join; j != nil {
		for s, src := range j.side {
			side := []string{"left", "right"}[s]
			if v, ok := strings.CutPrefix(src.Stream, OutputStreamPrefix); ok && src.Upstream != nil {
				add("  source %s: view %s AS %s, event time %s, watermark that view's", side, v, qualifier(j.names[s]), src.EventTime)
				continue
			}
			add("  source %s: stream %s AS %s, %d partitions, event time %s, max disorder %s", side,
				src.Stream, qualifier(j.names[s]), src.Partitions, src.EventTime, dur(src.Disorder))
		}
		add("  watermark: the lesser of the sides' (a stream's: min over its active partitions of max event time - its disorder; a view's: its own); one task reads every partition")
		for s, f := range j.pushed {
			if len(f) > 0 {
				add("  filter %s before the join: %s", qualifier(j.names[s]), strings.Join(f, " AND "))
			}
		}
		kind := j.kind.String() + " JOIN"
		switch {
		case p.Window.Kind != stream.NoWindow:
			kind += " (window join: rows match within one window)"
		case p.Join.LeftKeep != stream.Forever || p.Join.RightKeep != stream.Forever || p.Join.LeftUntil != nil || p.Join.RightUntil != nil:
			kind += " (interval join)"
		default:
			kind += " (regular join)"
		}
		add("  join: %s on %s", kind, strings.Join(j.keyText, " AND "))
		if len(j.boundText) > 0 {
			add("  time bounds: %s", strings.Join(j.boundText, " AND "))
		}
		if len(j.onText) > 0 {
			add("  join condition: %s", strings.Join(j.onText, " AND "))
		}
		keep := func(us int64, until *stream.Expr) string {
			switch {
			case until != nil && us == stream.Forever:
				return "until the watermark passes its bound column (see time bounds)"
			case until != nil:
				return "until the watermark passes its bound column or its event time + " + dur(us)
			case us == stream.Forever:
				return "for the life of the view"
			}
			return "until the watermark passes its event time + " + dur(us)
		}
		if p.Window.Kind != stream.NoWindow {
			add("  join state: each side's rows by key and window, until the watermark passes the window's end")
		} else {
			add("  join state: left rows by key %s; right rows by key %s", keep(p.Join.LeftKeep, p.Join.LeftUntil), keep(p.Join.RightKeep, p.Join.RightUntil))
		}
		if p.Join.Kind == stream.LeftJoin {
			add("  unmatched left rows: emitted with a null right side when they leave the join state")
		}
		if p.Window.Kind != stream.NoWindow || p.Join.LeftKeep != stream.Forever || p.Join.RightKeep != stream.Forever || p.Join.LeftUntil != nil || p.Join.RightUntil != nil {
			late := "kept in " + p.Name + "__late (both sides' columns; the other side null)"
			if p.Late == stream.LateDrop {
				late = "dropped and counted"
			}
			add("  late join input (behind the watermark): %s", late)
		}
	} else if in.Changelog {
		add("  source: the changelog of view %s (its rows by key: upserts and deletions)", b.src.Changelog)
		add("  state: each key's current row of %s, so that a change takes the old row back out of its group", b.src.Changelog)
	} else if v, ok := strings.CutPrefix(in.Stream, OutputStreamPrefix); ok && in.Upstream != nil {
		add("  source: view %s, event time %s", v, b.src.EventTime)
		add("  watermark: view %s's, as of its last commit (its rows still to come are later)", v)
	} else {
		readers := "one task reads every partition"
		if n := b.cv.Parallelism; n > 1 {
			readers = tasks(min(n, in.Partitions), "") + " read a share of the partitions each"
		}
		add("  source: stream %s, %d partitions, event time %s, max disorder %s; %s",
			in.Stream, in.Partitions, b.src.EventTime, dur(in.Disorder), readers)
		add("  watermark: min over active partitions of (max event time - %s); partitions idle for the idle timeout do not hold it back", dur(in.Disorder))
	}
	if q.Where != nil && b.join == nil {
		add("  filter: %s", parse.FormatExpr(q.Where))
	} else if p.Filter != nil {
		add("  filter after the join: the rest of WHERE")
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
		what := "key"
		if p.TopN != nil {
			first := fmt.Sprintf("the first %d rows", p.TopN.N)
			if p.TopN.N == 1 {
				first = "the first row"
			}
			ties := "ties: the row read first"
			switch p.TopN.Rank {
			case stream.Rank:
				first, ties = fmt.Sprintf("the rows ranked %d or better by RANK()", p.TopN.N), "ties share a rank, all kept"
			case stream.DenseRank:
				first, ties = fmt.Sprintf("the rows of the first %d distinct values by DENSE_RANK()", p.TopN.N), "ties share a rank, all kept"
			}
			what = "key, holding its first rows"
			if p.Aggs[0].All {
				// Over a changelog (changelogPlan): rows change and leave.
				if p.TopN.Rank == stream.RowNumber {
					ties = fmt.Sprintf("ties: by the row key of %s", b.src.Changelog)
				}
				what = fmt.Sprintf("key, holding every current row of %s (when a ranked row changes or leaves, the next takes its rank)", b.src.Changelog)
			}
			add("  top-n: %s by %s per %s (%s)", first, b.topText, key, ties)
		} else {
			add("  aggregate: group by %s; aggregates %s", key, strings.Join(b.aggText, ", "))
		}
		if p.Window.Kind != stream.NoWindow {
			add("  state: one entry per open window and %s, deleted when the window closes (watermark past end + %s)", what, dur(p.AllowedLateness+p.LateFor))
		} else if p.Input.Changelog {
			add("  state: one entry per %s, deleted when its last row leaves", what)
		} else {
			add("  state: one entry per %s, kept for the life of the view", what)
		}
		switch {
		case p.TopN != nil && p.Upsert() && p.Aggs[0].All:
			add("  output rows keyed by group and row number: a row that enters or leaves at rank r rewrites ranks r to %d; a row updated in place rewrites its own", p.TopN.N)
		case p.TopN != nil && p.Upsert():
			add("  output rows keyed by group and row number: a row that enters at rank r rewrites ranks r to %d", p.TopN.N)
		}
		if n := b.cv.Parallelism; n > 1 {
			add("  repartition: %s each pre-aggregate a share of the %d input partitions, then %s__repart (%d partitions, by a hash of the group key) feeds %d merge tasks", tasks(min(n, p.Input.Partitions), "partial"), p.Input.Partitions, p.Name, n, n)
		} else {
			add("  repartition: none (the task sees every partition)")
		}
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
	if n := b.cv.Parallelism; n > 1 && !p.Aggregating {
		add("  tasks: %s, each over a share of the %d input partitions", tasks(min(n, p.Input.Partitions), "split"), p.Input.Partitions)
	}
	add("  output: %s", outputText(p.Output))
	return lines
}

// outputText lists a view's columns with their types.
func outputText(out []schema.Column) string {
	var cols []string
	for _, c := range out {
		cols = append(cols, c.Name+" "+typeName(c.Type))
	}
	return strings.Join(cols, ", ")
}
