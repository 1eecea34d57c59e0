// Package nexmark runs the Nexmark queries of queries/*.sql in process:
// the generator (internal/connect/nexmark) appends people, auctions and
// bids to the streams "person", "auction" and "bid" of an embedded log
// while the query's view task reads them; the view's output stream is the
// sink. It reports events/s over the wall time and per CPU second, and can
// write the result rows as CSV.
//
// `weir bench nexmark run` and `make bench-nexmark` use it; the SQL is
// ours, written from the descriptions in ../shared/brief/NEXMARK.md.
package nexmark

import (
	"context"
	"embed"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weirhq/weir/bench/internal/nodeproc"
	gen "github.com/weirhq/weir/internal/connect/nexmark"
	"github.com/weirhq/weir/internal/lake"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/sql/plan"
	"github.com/weirhq/weir/internal/stream"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// Queries lists the queries there is SQL for, in order (q0, q1, q2, …).
func Queries() []string {
	entries, _ := queryFiles.ReadDir("queries")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".sql"))
	}
	sort.Slice(names, func(i, j int) bool {
		a, _ := strconv.Atoi(names[i][1:])
		b, _ := strconv.Atoi(names[j][1:])
		return a < b
	})
	return names
}

// SQL returns a query's CREATE MATERIALIZED VIEW statements: one, or
// several where each may read the ones before it.
func SQL(query string) (string, error) {
	b, err := queryFiles.ReadFile("queries/" + query + ".sql")
	if err != nil {
		return "", fmt.Errorf("no Nexmark query %q; there is SQL for %s", query, strings.Join(Queries(), ", "))
	}
	return string(b), nil
}

// The streams' schemas: the standard fields, flat; dateTime and expires
// are the event times (epoch milliseconds in, TIMESTAMP in SQL).
const (
	personSchema = `{"type":"object","required":["id","name","emailAddress","creditCard","city","state","dateTime","extra"],"properties":{
 "id":{"type":"integer"},"name":{"type":"string"},"emailAddress":{"type":"string"},"creditCard":{"type":"string"},
 "city":{"type":"string"},"state":{"type":"string"},"dateTime":{"type":["string","integer"],"format":"date-time"},"extra":{"type":"string"}}}`
	auctionSchema = `{"type":"object","required":["id","itemName","description","initialBid","reserve","dateTime","expires","seller","category","extra"],"properties":{
 "id":{"type":"integer"},"itemName":{"type":"string"},"description":{"type":"string"},"initialBid":{"type":"integer"},
 "reserve":{"type":"integer"},"dateTime":{"type":["string","integer"],"format":"date-time"},
 "expires":{"type":["string","integer"],"format":"date-time"},"seller":{"type":"integer"},"category":{"type":"integer"},"extra":{"type":"string"}}}`
	bidSchema = `{"type":"object","required":["auction","bidder","price","channel","url","dateTime","extra"],"properties":{
 "auction":{"type":"integer"},"bidder":{"type":"integer"},"price":{"type":"integer"},"channel":{"type":"string"},
 "url":{"type":"string"},"dateTime":{"type":["string","integer"],"format":"date-time"},"extra":{"type":"string"}}}`
)

// Streams are the three streams' compiled schemas, by name.
func Streams() (map[string]*schema.Schema, error) {
	out := map[string]*schema.Schema{}
	for name, src := range map[string]string{"person": personSchema, "auction": auctionSchema, "bid": bidSchema} {
		s, err := schema.Compile([]byte(src))
		if err != nil {
			return nil, fmt.Errorf("nexmark %s schema: %w", name, err)
		}
		out[name] = s
	}
	return out, nil
}

// SideInputTable is q13's static side table: SideInputRows rows of
// (key BIGINT, value VARCHAR), key 0 … SideInputRows-1 and value
// SideInputValue(key).
const (
	SideInputTable = "side_input"
	SideInputRows  = 10_000
)

// SideInputValue is the side table's value for a key.
func SideInputValue(key int64) string { return "side-" + strconv.FormatInt(key, 10) }

// staticTable is a lookup table that never changes.
type staticTable struct {
	name string
	cols []schema.Column
	snap *stream.TableSnapshot
}

func (t *staticTable) Name() string                   { return t.name }
func (t *staticTable) Columns() []schema.Column       { return t.cols }
func (t *staticTable) Current() *stream.TableSnapshot { return t.snap }

var sideInput = func() *staticTable {
	rows := make([][]schema.Value, SideInputRows)
	for k := range rows {
		rows[k] = []schema.Value{{Int: int64(k)}, {Bytes: []byte(SideInputValue(int64(k)))}}
	}
	return &staticTable{name: SideInputTable, cols: []schema.Column{{Name: "key", Type: schema.Int64}, {Name: "value", Type: schema.String}},
		snap: &stream.TableSnapshot{Version: 1, Rows: rows}}
}()

// Disorder is the watermark's distance behind the newest event: Nexmark's
// customary 4 s (the generator itself has no disorder).
const Disorder = 4 * time.Second

// Options say what to run.
type Options struct {
	Query  string
	Events int64
	Seed   uint64
	// Rate is events per second of event time; 0: the generator's default
	// (10,000).
	Rate float64
	// Dir holds the run's log; default a temporary directory, removed
	// after the run.
	Dir string
	// CSV, when set, receives the result rows with a header, sorted.
	CSV io.Writer
	// Parallelism: the person, auction and bid streams get this many
	// partitions, each filled by a generator of its own (events in blocks
	// of 8192, block b to partition b mod Parallelism), and every view
	// the runtime can run in parallel runs with this many tasks (see
	// stream.ParallelError). 0 or 1: one of each.
	Parallelism int
}

// Result is what a run measured.
type Result struct {
	Query   string
	Events  int64
	Wall    time.Duration // first event generated to the last result committed
	CPU     time.Duration // user + system time of the process over the run
	OutRows int64         // rows written to the view's output (upserts included)
	// LakeRows and LakeFiles: what a lake sink committed (q10).
	LakeRows  int64
	LakeFiles int
	// PeakRSSMB is the process's peak resident set during the run, in MB
	// (memory earlier runs freed is returned to the system, and the peak
	// reset, when the run starts); -1 where /proc cannot tell.
	PeakRSSMB int64
}

// EventsPerSecond is the throughput over the wall time.
func (r Result) EventsPerSecond() float64 { return float64(r.Events) / r.Wall.Seconds() }

// EventsPerCPUSecond is the throughput per core.
func (r Result) EventsPerCPUSecond() float64 { return float64(r.Events) / r.CPU.Seconds() }

// Run runs one query over opts.Events generated events. A query is one
// view, or several where one reads another (the last is the result): each
// runs as its own task, all at once, as a node runs them.
func Run(ctx context.Context, opts Options) (Result, error) {
	src, err := SQL(opts.Query)
	if err != nil {
		return Result{}, err
	}
	stmts, err := parse.ParseScript(src)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", opts.Query, err)
	}
	schemas, err := Streams()
	if err != nil {
		return Result{}, err
	}
	parts := max(opts.Parallelism, 1)
	var views []*plan.View
	var tasks []stream.Runner
	lookup := func(name string) (plan.Source, bool) {
		if s, ok := schemas[name]; ok {
			ev := s.ColumnIndex("dateTime")
			return plan.Source{EventTime: "dateTime", Input: stream.Input{Stream: name, Partitions: parts, Columns: s.Columns,
				Version: 1, EventCol: ev, Disorder: Disorder.Microseconds()}}, true
		}
		if name == SideInputTable {
			return plan.Source{Table: sideInput, Input: stream.Input{Stream: name, Columns: sideInput.Columns(), EventCol: -1}}, true
		}
		for i, v := range views {
			if v.Name == name {
				src, err := v.AsSource(func() int64 { return tasks[i].Stats().WatermarkMicros })
				if err != nil {
					src.Err = err
				}
				return src, true
			}
		}
		return plan.Source{}, false
	}
	for _, st := range stmts {
		cv, ok := st.(*parse.CreateView)
		if !ok {
			return Result{}, fmt.Errorf("%s: %s: not a CREATE MATERIALIZED VIEW", opts.Query, st.StmtPos())
		}
		// A view's steps with state of their own run as views of their own.
		steps, err := plan.Expand(cv)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", opts.Query, err)
		}
		for _, step := range steps {
			v, err := plan.Compile(step, lookup)
			if err != nil {
				return Result{}, fmt.Errorf("%s: %w", opts.Query, err)
			}
			if stream.ParallelError(v.Plan) == nil {
				v.Plan.Parallelism = parts
			}
			views = append(views, v)
		}
	}
	if len(views) == 0 {
		return Result{}, fmt.Errorf("%s: no CREATE MATERIALIZED VIEW", opts.Query)
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "weir-nexmark-"); err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
	}
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		return Result{}, err
	}
	defer l.Close()
	for _, name := range []string{"person", "auction", "bid"} {
		if err := l.EnsureStream(name, parts); err != nil {
			return Result{}, err
		}
	}
	ends := make([][]int64, len(views)) // records each input partition of a view gets
	for i, v := range views {
		for _, s := range []string{plan.OutputStream(v.Name), plan.LateStream(v.Name)} {
			if err := l.EnsureStream(s, 1); err != nil {
				return Result{}, err
			}
		}
		for _, in := range v.Plan.Inputs() {
			for p := range in.Partitions {
				want := int64(0) // a view's output: it ends when that view's run does
				for k := gen.KindPerson; k <= gen.KindBid; k++ {
					if k.String() == in.Stream {
						want = blockCount(k, opts.Events, p, parts)
					}
				}
				ends[i] = append(ends[i], want)
			}
		}
		tasks = append(tasks, stream.NewRunner(v.Plan, stream.Options{Log: l, Meta: l,
			OutputStream: plan.OutputStream(v.Name), LateStream: plan.LateStream(v.Name), StatePrefix: "vstate/" + v.Name + "/"}))
	}

	debug.FreeOSMemory()
	peakFrom := nodeproc.ResetPeakRSS(os.Getpid())
	cpu0 := cpuTime()
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(tasks)+parts)
	for p := range parts {
		go func() {
			errs <- generate(ctx, l, schemas, gen.Config{Seed: opts.Seed, Rate: opts.Rate}, opts.Events, p, parts)
		}()
	}
	for i, task := range tasks {
		go func() {
			err := task.RunBounded(ctx, ends[i])
			if err != nil {
				err = fmt.Errorf("%s: view %s: %w", opts.Query, views[i].Name, err)
			}
			errs <- err
		}()
	}
	last := views[len(views)-1]
	var lw *lake.Writer
	lakeDone := make(chan error, 1)
	if lakeQueries[opts.Query] {
		// The sink is a lake table of the result, partitioned by event hour.
		if lw, err = openLake(ctx, l, dir, last); err != nil {
			cancel()
			return Result{}, err
		}
		lctx, lcancel := context.WithCancel(context.Background())
		defer lcancel()
		go func() { lakeDone <- lw.Run(lctx) }()
		defer func() {
			lcancel()
			<-lakeDone
		}()
	}
	var first error
	for range len(tasks) + parts {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	if first != nil {
		return Result{}, first
	}
	if lw != nil {
		// Done when the lake has committed every row of the result.
		end, err := l.End(plan.OutputStream(last.Name), 0)
		if err != nil {
			return Result{}, err
		}
		for st := lw.State(); st.Offsets[0] < end; st = lw.State() {
			select {
			case err := <-lakeDone:
				return Result{}, fmt.Errorf("%s: lake sink: %v", opts.Query, err)
			case <-lw.Changed():
			}
		}
	}
	res := Result{Query: opts.Query, Events: opts.Events, Wall: time.Since(start), CPU: cpuTime() - cpu0, OutRows: tasks[len(tasks)-1].Stats().Counts.Out, PeakRSSMB: -1}
	if peakFrom == nil {
		res.PeakRSSMB = nodeproc.PeakRSS(os.Getpid())
	}
	if lw != nil {
		st := lw.State()
		res.LakeRows, res.LakeFiles = st.Rows, len(st.Files)
	}
	if opts.CSV != nil {
		if err := writeCSV(opts.CSV, l, plan.OutputStream(last.Name), last.Plan); err != nil {
			return res, err
		}
	}
	return res, nil
}

// lakeQueries write their result to a lake table (Iceberg, Parquet files
// by event day and hour) instead of leaving it in the log.
var lakeQueries = map[string]bool{"q10": true}

// openLake opens the lake table of view v's output, partitioned by its
// first timestamp column.
func openLake(ctx context.Context, l wlog.Log, dir string, v *plan.View) (*lake.Writer, error) {
	cols := v.Plan.OutputColumns()
	ev := slices.IndexFunc(cols, func(c schema.Column) bool { return c.Type == schema.Timestamp })
	if ev < 0 {
		return nil, fmt.Errorf("view %s has no timestamp column to partition its lake table by", v.Name)
	}
	return lake.Open(ctx, lake.Options{Warehouse: filepath.Join(dir, "lake"), Table: v.Name, Stream: plan.OutputStream(v.Name), Partitions: 1,
		Schema: schema.FromColumns(cols), SchemaVer: 1, EventCol: ev, MaxRows: 1_000_000, MaxBytes: 128 << 20, Interval: time.Second, Log: l})
}

// genBlock is how many consecutive events one generator writes to its
// partition before the next block goes to the next partition.
const genBlock = 8192

// blockCount is how many events of kind k among the first n fall in the
// blocks of partition part of parts.
func blockCount(k gen.Kind, n int64, part, parts int) int64 {
	var c int64
	for b := int64(part) * genBlock; b < n; b += int64(parts) * genBlock {
		c += gen.Count(k, min(b+genBlock, n)) - gen.Count(k, b)
	}
	return c
}

// generate appends events 0..n-1 of the blocks of partition part (of
// parts) to that partition of their kind's stream.
func generate(ctx context.Context, l wlog.Log, schemas map[string]*schema.Schema, cfg gen.Config, n int64, part, parts int) error {
	g := gen.New(cfg)
	var e gen.Event
	var payload [3][]byte
	var count [3]int
	var vals []schema.Value
	var row []byte
	// perm[k][i]: the schema column of the i-th value generate lists.
	var perm [3][]int
	var cols [3][]schema.Column
	ordered := make([][]schema.Value, 3)
	for k := range perm {
		s := schemas[gen.Kind(k).String()]
		cols[k] = s.Columns
		for _, name := range fieldOrder[k] {
			perm[k] = append(perm[k], s.ColumnIndex(name))
		}
		ordered[k] = make([]schema.Value, len(s.Columns))
	}
	flush := func() error {
		w := &wlog.Write{}
		for k := range payload {
			if count[k] > 0 {
				w.Chunks = append(w.Chunks, wlog.Chunk{Stream: gen.Kind(k).String(), Partition: part, Meta: 1, Count: count[k], Payload: payload[k]})
			}
		}
		if len(w.Chunks) == 0 {
			return nil
		}
		if _, err := l.Append(ctx, w); err != nil {
			return fmt.Errorf("nexmark generator: %w", err)
		}
		for k := range payload {
			// The log copied the chunks: the buffers can be filled again.
			payload[k], count[k] = payload[k][:0], 0
		}
		return nil
	}
	// An event's strings are copied into sbuf, which is reused from one
	// event to the next (EncodeRow has copied them by then): no
	// allocation per string, which was a third of q4's allocations.
	var sbuf []byte
	str := func(s string) schema.Value {
		if cap(sbuf)-len(sbuf) < len(s) {
			sbuf = make([]byte, 0, max(16<<10, 2*len(s))) // the values made so far keep the old one
		}
		start := len(sbuf)
		sbuf = append(sbuf, s...)
		return schema.Value{Bytes: sbuf[start:len(sbuf):len(sbuf)]}
	}
	num := func(x int64) schema.Value { return schema.Value{Int: x} }
	ms := func(x int64) schema.Value { return schema.Value{Int: x * 1000} }
	for i := int64(part) * genBlock; i < n; i++ {
		if i%genBlock == 0 && i > int64(part)*genBlock {
			// The end of a block: flush it, skip the other partitions'.
			if err := flush(); err != nil {
				return err
			}
			if i += int64(parts-1) * genBlock; i >= n {
				break
			}
		}
		g.Event(i, &e)
		sbuf = sbuf[:0]
		switch e.Kind {
		case gen.KindPerson:
			p := &e.Person
			vals = append(vals[:0], num(p.ID), str(p.Name), str(p.EmailAddress), str(p.CreditCard), str(p.City), str(p.State), ms(p.DateTime), str(p.Extra))
		case gen.KindAuction:
			a := &e.Auction
			vals = append(vals[:0], num(a.ID), str(a.ItemName), str(a.Description), num(a.InitialBid), num(a.Reserve), ms(a.DateTime), ms(a.Expires), num(a.Seller), num(a.Category), str(a.Extra))
		default:
			b := &e.Bid
			vals = append(vals[:0], num(b.Auction), num(b.Bidder), num(b.Price), str(b.Channel), str(b.URL), ms(b.DateTime), str(b.Extra))
		}
		for i, c := range perm[e.Kind] {
			ordered[e.Kind][c] = vals[i]
		}
		row = schema.EncodeRow(cols[e.Kind], row[:0], ordered[e.Kind])
		payload[e.Kind] = wlog.AppendRecord(payload[e.Kind], row)
		count[e.Kind]++
	}
	return flush()
}

// fieldOrder is the order generate lists each kind's values in.
var fieldOrder = [...][]string{
	gen.KindPerson:  {"id", "name", "emailAddress", "creditCard", "city", "state", "dateTime", "extra"},
	gen.KindAuction: {"id", "itemName", "description", "initialBid", "reserve", "dateTime", "expires", "seller", "category", "extra"},
	gen.KindBid:     {"auction", "bidder", "price", "channel", "url", "dateTime", "extra"},
}

// writeCSV writes the view's table: its rows (for an upsert view, the
// latest non-deleted row per key), sorted, timestamps as epoch
// milliseconds.
func writeCSV(w io.Writer, l wlog.Log, out string, p *stream.Plan) error {
	cols := p.OutputColumns()
	visible := p.Output
	var rows [][]string
	latest := map[string][]string{}
	end, err := l.End(out, 0)
	if err != nil {
		return err
	}
	var vals []schema.Value
	for off := int64(0); off < end; {
		batches, err := l.Read(out, 0, off, 4<<20)
		if err != nil {
			return err
		}
		for _, b := range batches {
			var derr error
			if err := b.Records(func(_ int64, rec []byte) bool {
				if vals, derr = schema.DecodeRow(cols, rec, vals); derr != nil {
					return false
				}
				line := make([]string, len(visible))
				for i, c := range visible {
					line[i] = FormatValue(c.Type, vals[i])
				}
				if !p.Upsert() {
					rows = append(rows, line)
					return true
				}
				key := hex.EncodeToString(vals[len(cols)-2].Bytes)
				if vals[len(cols)-1].Int != 0 {
					delete(latest, key)
				} else {
					latest[key] = line
				}
				return true
			}); err != nil {
				return err
			}
			if derr != nil {
				return derr
			}
			off = b.End()
		}
	}
	for _, line := range latest {
		rows = append(rows, line)
	}
	slices.SortFunc(rows, func(a, b []string) int { return slices.Compare(a, b) })
	cw := csv.NewWriter(w)
	header := make([]string, len(visible))
	for i, c := range visible {
		header[i] = c.Name
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// FormatValue renders a value for the CSV: integers and timestamps (epoch
// milliseconds) as integers, doubles in the shortest form that reads back
// exactly, strings as they are, NULL as empty.
func FormatValue(t schema.Type, v schema.Value) string {
	switch {
	case v.Null:
		return ""
	case t == schema.String:
		return string(v.Bytes)
	case t == schema.Float64:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case t == schema.Timestamp:
		return strconv.FormatInt(v.Int/1000, 10)
	case t == schema.Bool:
		return strconv.FormatBool(v.Int != 0)
	}
	return strconv.FormatInt(v.Int, 10)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
