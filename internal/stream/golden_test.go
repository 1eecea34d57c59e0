package stream_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/gate"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

var update = flag.Bool("update", false, "rewrite the golden .out files of testdata/sql")

const clicksSchema = `{"type":"object","required":["ts","user_id","url","status","country"],"additionalProperties":false,
 "properties":{"ts":{"type":["string","integer"],"format":"date-time"},"user_id":{"type":"string","minLength":1},
 "url":{"type":"string"},"status":{"type":"integer"},"amount":{"type":["number","null"]},"country":{"type":"string"}}}`

// goldenCase is one testdata/sql/*.sql file: header comments
// (-- input: FILE, -- partitions: N, -- disorder: DURATION), then one
// CREATE MATERIALIZED VIEW statement.
type goldenCase struct {
	name       string
	input      string
	partitions int
	disorder   time.Duration
	stmt       *parse.CreateView
}

var headerRE = regexp.MustCompile(`(?m)^--\s*(input|partitions|disorder):\s*(\S+)\s*$`)

func loadCase(t *testing.T, path string) goldenCase {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := goldenCase{name: strings.TrimSuffix(filepath.Base(path), ".sql"), input: "clicks.ndjson", partitions: 1, disorder: 5 * time.Second}
	for _, m := range headerRE.FindAllStringSubmatch(string(src), -1) {
		switch m[1] {
		case "input":
			c.input = m[2]
		case "partitions":
			c.partitions, _ = strconv.Atoi(m[2])
		case "disorder":
			c.disorder, _ = time.ParseDuration(m[2])
		}
	}
	st, err := parse.Parse(string(src))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cv, ok := st.(*parse.CreateView)
	if !ok {
		t.Fatalf("%s: not a CREATE MATERIALIZED VIEW", path)
	}
	c.stmt = cv
	return c
}

// env is a log with the input ingested through the real gate.
type env struct {
	log  *pebblelog.Log
	plan *stream.Plan
}

func newEnv(t *testing.T, c goldenCase) *env {
	t.Helper()
	l, err := pebblelog.Open(filepath.Join(t.TempDir(), "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sc, err := schema.Compile([]byte(clicksSchema))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(l, l, []gate.Stream{{Name: "clicks", Schema: sc, Version: 1, KeyCols: []int{sc.ColumnIndex("user_id")}, Partitions: c.partitions}}, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile(filepath.Join("testdata", "sql", "inputs", c.input))
	if err != nil {
		t.Fatal(err)
	}
	// Requests of 7 lines: small chunks, so a round can stop mid-input.
	lines := bytes.SplitAfter(in, []byte("\n"))
	for i := 0; i < len(lines); i += 7 {
		body := bytes.Join(lines[i:min(i+7, len(lines))], nil)
		res, err := g.Ingest(context.Background(), gate.Request{Stream: "clicks", Format: gate.NDJSON, Body: body})
		if err != nil || res.Quarantined > 0 {
			t.Fatalf("ingest: %v %+v", err, res)
		}
	}
	p := planStmt(t, c.stmt, sc, c.partitions, c.disorder)
	for _, s := range []string{"out", "late"} {
		if err := l.EnsureStream(s, 1); err != nil {
			t.Fatal(err)
		}
	}
	return &env{log: l, plan: p}
}

func (e *env) task(readBytes int) *stream.Task {
	return stream.NewTask(e.plan, e.options(readBytes))
}

func (e *env) options(readBytes int) stream.Options {
	return stream.Options{Log: e.log, Meta: e.log, OutputStream: "out", LateStream: "late",
		StatePrefix: "vstate/v/", ReadBytes: readBytes, IdleTimeout: time.Hour, CheckpointChunk: 3, ChangelogLimit: 20}
}

// parallelism is what the parallel modes run a view at.
const parallelism = 2

// job returns the parallel view's tasks, restored.
func (e *env) job(t *testing.T, readBytes int) (*stream.Job, []*stream.Task) {
	t.Helper()
	p := *e.plan
	p.Parallelism = parallelism
	return restoredJob(t, &p, e.options(readBytes))
}

// runParallel runs the view as a parallel job.
//
//	parallel: the job's own goroutines (Job.RunBounded), committing often
//	parallel-crashes: its tasks stepped in turn, committing and
//	  checkpointing as in the crashes mode; every 5 rounds every task is
//	  thrown away and the job restored (the first stage's uncommitted
//	  partial aggregates are lost and read again)
func runParallel(t *testing.T, e *env, mode string) string {
	t.Helper()
	ctx := context.Background()
	var st stream.Stats
	if mode == "parallel" {
		o := e.options(256)
		o.CommitInterval = time.Millisecond
		p := *e.plan
		p.Parallelism = parallelism
		j := stream.NewJob(&p, o)
		ends := make([]int64, p.Input.Partitions)
		for i := range ends {
			end, err := e.log.End("clicks", i)
			if err != nil {
				t.Fatal(err)
			}
			ends[i] = end
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := j.RunBounded(ctx, ends); err != nil {
			t.Fatal(err)
		}
		st = j.Stats()
	} else {
		j, tasks := e.job(t, 64)
		step := func(task *stream.Task, round int) bool {
			progressed, err := task.Step()
			if err != nil {
				t.Fatal(err)
			}
			if e.plan.EmitEvery > 0 {
				task.EmitEarly()
			}
			switch {
			case round%6 == 0:
				err = task.Commit(ctx)
			case round%4 == 0:
				err = task.CheckpointChunk(ctx)
			case round%3 == 0, round%2 == 0:
				err = task.CommitOnly(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			return progressed
		}
		first, _ := j.Stages()
		for round, quiet := 1, 0; quiet < 3; round++ {
			progressed := false
			for _, task := range tasks {
				progressed = step(task, round) || progressed
			}
			if progressed {
				quiet = 0
			} else {
				quiet++
			}
			if round%5 == 0 && quiet == 0 {
				j, tasks = e.job(t, 64)
				first, _ = j.Stages()
				for _, task := range tasks {
					if task.Replaying() {
						replays++
					}
				}
			}
		}
		// The end of the input: the first stage's last markers say so,
		// then the merge tasks read them and fire everything.
		for _, task := range first {
			if err := task.Finish(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, task := range tasks[len(first):] {
			drain(t, task)
			if err := task.Finish(ctx); err != nil {
				t.Fatal(err)
			}
		}
		st = j.Stats()
	}
	return render(t, e, st)
}

// runMode processes the whole input one way and returns the view's output.
//
//	straight: one task, one commit at the end
//	checkpoints: small reads, a commit after every round
//	crashes: commits every 3 rounds (every other one without a state
//	  checkpoint), writes a 3-entry chunk of a checkpoint every 4, and
//	  every 5 rounds the task is thrown away without committing and a new
//	  one restores from the store and replays
//
// replays counts restores that had input to replay (the crashes mode must
// exercise it).
var replays int

func runMode(t *testing.T, e *env, mode string) string {
	t.Helper()
	ctx := context.Background()
	readBytes := 1 << 20
	if mode != "straight" {
		readBytes = 64
	}
	task := e.task(readBytes)
	if err := task.Restore(); err != nil {
		t.Fatal(err)
	}
	for round := 1; ; round++ {
		progressed, err := task.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !progressed {
			break
		}
		if mode != "straight" && e.plan.EmitEvery > 0 {
			task.EmitEarly() // early rows after every round: many to retract
		}
		switch {
		case mode == "checkpoints", mode == "crashes" && round%6 == 0:
			if err := task.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		case mode == "crashes" && round%3 == 0:
			// Outputs and position only: a crash after this replays from
			// the last checkpoint without emitting anything twice.
			if err := task.CommitOnly(ctx); err != nil {
				t.Fatal(err)
			}
		case mode == "crashes" && round%4 == 0:
			// One chunk of a checkpoint (3 entries): crashes land while a
			// checkpoint is half written, and its epoch must be ignored.
			if err := task.CheckpointChunk(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if mode == "crashes" && round%5 == 0 {
			task = e.task(readBytes)
			if err := task.Restore(); err != nil {
				t.Fatal(err)
			}
			if task.Replaying() {
				replays++
			}
		}
	}
	if err := task.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	return render(t, e, task.Stats())
}

// render prints the view's table, its late records and its counts.
func render(t *testing.T, e *env, st stream.Stats) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(renderTable(t, e.log, "out", e.plan.OutputColumns(), e.plan.Upsert()))
	late := renderTable(t, e.log, "late", e.plan.LateColumns(), false)
	if late != "" {
		b.WriteString("-- late records\n" + late)
	}
	fmt.Fprintf(&b, "-- counts: in=%d late_kept=%d late_dropped=%d late_updated=%d\n",
		st.Counts.In, st.Counts.LateKept, st.Counts.LateDropped, st.Counts.LateUpdated)
	return b.String()
}

// renderTable reads a one-partition stream and prints its rows, sorted;
// for an upsert stream, the latest non-retracted row of each key.
func renderTable(t *testing.T, l wlog.Log, name string, cols []schema.Column, upsert bool) string {
	t.Helper()
	var rows []string
	latest := map[string]string{}
	var order []string
	end, err := l.End(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < end; {
		batches, err := l.Read(name, 0, off, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			err := b.Records(func(_ int64, rec []byte) bool {
				vals, err := schema.DecodeRow(cols, rec, nil)
				if err != nil {
					t.Fatal(err)
				}
				visible := cols
				if upsert {
					visible = cols[:len(cols)-2]
				}
				var parts []string
				for i := range visible {
					parts = append(parts, format(cols[i].Type, vals[i]))
				}
				line := strings.Join(parts, " | ")
				if !upsert {
					rows = append(rows, line)
					return true
				}
				key := string(vals[len(cols)-2].Bytes)
				if _, err := hex.DecodeString(key); err != nil {
					t.Fatalf("row key %q is not hex", key)
				}
				if _, seen := latest[key]; !seen {
					order = append(order, key)
				}
				if vals[len(cols)-1].Int != 0 {
					latest[key] = ""
				} else {
					latest[key] = line
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			off = b.End()
		}
	}
	for _, k := range order {
		if latest[k] != "" {
			rows = append(rows, latest[k])
		}
	}
	if len(rows) == 0 {
		return ""
	}
	slices.Sort(rows)
	var names []string
	visible := cols
	if upsert {
		visible = cols[:len(cols)-2]
	}
	for _, c := range visible {
		names = append(names, c.Name)
	}
	return strings.Join(names, " | ") + "\n" + strings.Join(rows, "\n") + "\n"
}

func format(t schema.Type, v schema.Value) string {
	if v.Null {
		return "NULL"
	}
	switch t {
	case schema.String:
		return strconv.Quote(string(v.Bytes))
	case schema.Int64:
		return strconv.FormatInt(v.Int, 10)
	case schema.Float64:
		return strconv.FormatFloat(v.Float, 'f', 6, 64)
	case schema.Bool:
		return strconv.FormatBool(v.Int != 0)
	case schema.Timestamp:
		return time.UnixMicro(v.Int).UTC().Format("2006-01-02T15:04:05.000")
	}
	return "?"
}

// TestGoldenSQL runs every testdata/sql/*.sql view three ways; each must
// produce exactly the golden output (-update rewrites it from the
// straight run).
func TestGoldenSQL(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "sql", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden SQL files: %v", err)
	}
	replays = 0
	defer func() {
		if !t.Failed() && replays == 0 {
			t.Error("no crash landed between a commit and a checkpoint: the replay path was never run")
		}
		t.Logf("%d restores replayed input", replays)
	}()
	for _, f := range files {
		c := loadCase(t, f)
		if only := os.Getenv("GOLDEN_ONLY"); only != "" && c.name != only { // run one case
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			outFile := strings.TrimSuffix(f, ".sql") + ".out"
			results := map[string]string{}
			modes := []string{"straight", "checkpoints", "crashes"}
			for _, mode := range modes {
				results[mode] = runMode(t, newEnv(t, c), mode)
			}
			if e := newEnv(t, c); stream.ParallelError(e.plan) == nil {
				modes = append(modes, "parallel", "parallel-crashes")
				results["parallel"] = runParallel(t, e, "parallel")
				results["parallel-crashes"] = runParallel(t, newEnv(t, c), "parallel-crashes")
			}
			if *update {
				if err := os.WriteFile(outFile, []byte(results["straight"]), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(outFile)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			for _, mode := range modes {
				if got := results[mode]; got != string(want) {
					t.Errorf("%s run differs from %s:\n%s", mode, outFile, diff(string(want), got))
				}
			}
		})
	}
}

// diff shows the first differing lines.
func diff(want, got string) string {
	ws, gs := bufio.NewScanner(strings.NewReader(want)), bufio.NewScanner(strings.NewReader(got))
	var b strings.Builder
	for line, shown := 1, 0; shown < 8; line++ {
		w, g := ws.Scan(), gs.Scan()
		if !w && !g {
			break
		}
		if ws.Text() != gs.Text() || w != g {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", line, ws.Text(), gs.Text())
			shown++
		}
	}
	return b.String()
}
