package stream_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/sql/plan"
	"github.com/weirhq/weir/internal/stream"
)

// joinRig is two one-partition streams, orders (ts, id) and payments
// (ts, order_id, amount), written record by record so that the order the
// task sees them in is fixed, and a view task over them.
type joinRig struct {
	t    *testing.T
	log  *pebblelog.Log
	cols map[string][]schema.Column
	task *stream.Task
	plan *stream.Plan
}

func newJoinRig(t *testing.T, sql string) *joinRig {
	l, err := pebblelog.Open(filepath.Join(t.TempDir(), "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	r := &joinRig{t: t, log: l, cols: map[string][]schema.Column{
		"orders":   {{Name: "ts", Type: schema.Timestamp}, {Name: "id", Type: schema.Int64}},
		"payments": {{Name: "ts", Type: schema.Timestamp}, {Name: "order_id", Type: schema.Int64}, {Name: "amount", Type: schema.Float64}},
		"auctions": {{Name: "ts", Type: schema.Timestamp}, {Name: "id", Type: schema.Int64}, {Name: "expires", Type: schema.Timestamp, Nullable: true}},
	}}
	for _, s := range []string{"orders", "payments", "auctions", "out", "late"} {
		if err := l.EnsureStream(s, 1); err != nil {
			t.Fatal(err)
		}
	}
	st, err := parse.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	v, err := plan.Compile(st.(*parse.CreateView), func(name string) (plan.Source, bool) {
		cols, ok := r.cols[name]
		return plan.Source{EventTime: "ts", Input: stream.Input{Stream: name, Partitions: 1, Columns: cols, Version: 1}}, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	r.plan = v.Plan
	r.restart()
	return r
}

// restart replaces the task by a new one restored from the store.
func (r *joinRig) restart() {
	r.task = stream.NewTask(r.plan, stream.Options{Log: r.log, Meta: r.log, OutputStream: "out", LateStream: "late", StatePrefix: "v/"})
	if err := r.task.Restore(); err != nil {
		r.t.Fatal(err)
	}
}

// add appends one record and lets the task process it.
func (r *joinRig) add(stream string, vals ...float64) {
	r.put(stream, vals...)
	r.step()
}

// put appends one record: seconds since the epoch, then the other columns.
func (r *joinRig) put(stream string, vals ...float64) {
	cols := r.cols[stream]
	row := []schema.Value{{Int: int64(vals[0] * 1e6)}}
	for i, v := range vals[1:] {
		switch {
		case math.IsNaN(v):
			row = append(row, schema.Value{Null: true})
		case cols[i+1].Type == schema.Int64:
			row = append(row, schema.Value{Int: int64(v)})
		case cols[i+1].Type == schema.Timestamp:
			row = append(row, schema.Value{Int: int64(v * 1e6)})
		default:
			row = append(row, schema.Value{Float: v})
		}
	}
	payload := wlog.AppendRecord(nil, schema.EncodeRow(cols, nil, row))
	if _, err := r.log.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{{Stream: stream, Meta: 1, Count: 1, Payload: payload}}}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *joinRig) step() {
	if _, err := r.task.Step(); err != nil {
		r.t.Fatal(err)
	}
	if err := r.task.Commit(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *joinRig) table(name string, cols []schema.Column) string {
	return strings.TrimSpace(renderTable(r.t, r.log, name, cols, false))
}

// Join input behind the watermark is late: it goes to the side output
// with the other side null and joins nothing, while on-time pairs are
// joined once each; a LEFT join emits an unmatched left row once the
// watermark passes its time + the interval, and state survives restarts.
func TestJoinLateRecords(t *testing.T) {
	r := newJoinRig(t, `CREATE MATERIALIZED VIEW v AS
		SELECT o.id, p.amount, p.ts AS paid
		FROM orders o LEFT JOIN payments p ON o.id = p.order_id AND p.ts BETWEEN o.ts AND o.ts + INTERVAL '5' SECOND`)
	// Both streams have records before the first round: neither is idle.
	r.put("orders", 10, 1)
	r.put("payments", 12, 1, 9.5) // watermark 10: pairs with order 1
	r.step()
	r.add("orders", 20, 2) // watermark 12
	r.restart()
	r.add("payments", 21, 2, 7) // watermark 20: pairs with order 2
	r.add("orders", 15, 3)      // behind the watermark: late
	r.add("payments", 16, 3, 1) // late too, though its order was 15
	r.add("payments", 22, 1, 3) // on time, but order 1 (10 s) is past its 5 s
	r.add("orders", 30, 4)      // unmatched for now
	r.restart()
	r.add("payments", 33, 9, 1) // watermark 30: order 4 still open
	if got := r.table("out", r.plan.OutputColumns()); got != strings.TrimSpace(`
id | amount | paid
1 | 9.500000 | 1970-01-01T00:00:12.000
2 | 7.000000 | 1970-01-01T00:00:21.000`) {
		t.Fatalf("before order 4 is decided:\n%s", got)
	}
	r.add("payments", 36, 9, 1) // watermark 33
	r.add("orders", 40, 5)      // watermark 36 > 30 + 5: order 4 has no match
	got := r.table("out", r.plan.OutputColumns())
	if want := strings.TrimSpace(`
id | amount | paid
1 | 9.500000 | 1970-01-01T00:00:12.000
2 | 7.000000 | 1970-01-01T00:00:21.000
4 | NULL | NULL`); got != want {
		t.Fatalf("view rows:\n%s\nwant:\n%s", got, want)
	}
	late := r.table("late", r.plan.LateColumns())
	if want := strings.TrimSpace(`
o_ts | o_id | p_ts | p_order_id | p_amount
1970-01-01T00:00:15.000 | 3 | NULL | NULL | NULL
NULL | NULL | 1970-01-01T00:00:16.000 | 3 | 1.000000`); late != want {
		t.Fatalf("late records:\n%s\nwant:\n%s", late, want)
	}
	if c := r.task.Stats().Counts; c.In != 11 || c.LateKept != 2 || c.Out != 3 {
		t.Fatalf("counts %+v", c)
	}
}

// TestJoinUntilColumn: a row bounded by a column of its own (an auction
// by its expiry) leaves the join state when the watermark passes that
// column, across restarts; one whose column is NULL matches nothing and a
// LEFT JOIN pads it at once; a bid after the expiry joins nothing.
func TestJoinUntilColumn(t *testing.T) {
	r := newJoinRig(t, `CREATE MATERIALIZED VIEW v AS
		SELECT a.id, p.amount FROM auctions a LEFT JOIN payments p
		ON a.id = p.order_id AND p.ts BETWEEN a.ts AND a.expires`)
	r.put("auctions", 10, 1, 15)
	r.put("payments", 10, 9, 0)
	r.step()
	r.add("auctions", 11, 2, math.NaN()) // no expiry: no bid can match it
	r.add("payments", 12, 1, 5)          // auction 1, in its lifetime
	r.restart()
	r.add("payments", 14, 2, 6) // auction 2: no match (its bound is NULL)
	r.add("payments", 16, 1, 7) // after auction 1 expired (15): no match
	r.restart()
	r.add("auctions", 20, 3, 40) // watermark 16 > 15: auction 1 left, matched
	got := r.table("out", r.plan.OutputColumns())
	if want := strings.TrimSpace(`
id | amount
1 | 5.000000
2 | NULL`); got != want {
		t.Fatalf("view rows:\n%s\nwant:\n%s", got, want)
	}
	if c := r.task.Stats().Counts; c.LateKept != 0 {
		t.Fatalf("no record is late here: %+v", c)
	}
}
