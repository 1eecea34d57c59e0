package stream_test

import (
	"slices"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/sql/plan"
	"github.com/weirhq/weir/internal/stream"
)

// planView plans a CREATE MATERIALIZED VIEW (text) over the tests' clicks
// stream of schema sc.
func planView(tb testing.TB, sql string, sc *schema.Schema, partitions int, disorder time.Duration) *stream.Plan {
	tb.Helper()
	st, err := parse.Parse(sql)
	if err != nil {
		tb.Fatal(err)
	}
	cv, ok := st.(*parse.CreateView)
	if !ok {
		tb.Fatalf("not a CREATE MATERIALIZED VIEW: %s", sql)
	}
	return planStmt(tb, cv, sc, partitions, disorder)
}

// planStmt is planView for a parsed statement.
func planStmt(tb testing.TB, cv *parse.CreateView, sc *schema.Schema, partitions int, disorder time.Duration) *stream.Plan {
	tb.Helper()
	src := plan.Source{EventTime: "ts", Input: stream.Input{Stream: "clicks", Partitions: partitions, Columns: sc.Columns,
		Version: 1, EventCol: sc.ColumnIndex("ts"), Disorder: disorder.Microseconds()}}
	v, err := plan.Compile(cv, func(name string) (plan.Source, bool) { return src, name == "clicks" })
	if err != nil {
		tb.Fatalf("%s: %v", cv.Name, err)
	}
	return v.Plan
}

// drain steps the task until a round reads nothing.
func drain(tb testing.TB, task *stream.Task) {
	tb.Helper()
	for {
		progressed, err := task.Step()
		if err != nil {
			tb.Fatal(err)
		}
		if !progressed {
			return
		}
	}
}

// restoredJob makes the parallel job of p, its repartition stream, and
// restores its tasks (the first stage's, then the merge tasks).
func restoredJob(tb testing.TB, p *stream.Plan, o stream.Options) (*stream.Job, []*stream.Task) {
	tb.Helper()
	j := stream.NewJob(p, o)
	if err := j.Prepare(); err != nil {
		tb.Fatal(err)
	}
	first, merges := j.Stages()
	tasks := append(slices.Clone(first), merges...)
	for _, task := range tasks {
		if err := task.Restore(); err != nil {
			tb.Fatal(err)
		}
	}
	return j, tasks
}
