package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	benchnexmark "github.com/weirhq/weir/bench/nexmark"
	"github.com/weirhq/weir/internal/connect/nexmark"
	"github.com/weirhq/weir/internal/node"
	"github.com/weirhq/weir/internal/sql/parse"
)

func benchCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks built into the binary",
	}
	nx := &cobra.Command{
		Use:   "nexmark",
		Short: "The Nexmark streaming benchmark: an online auction's people, auctions and bids",
	}
	var events int64
	var seed uint64
	var rate float64
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Write Nexmark events as NDJSON to stdout",
		Long: `Write Nexmark events as NDJSON, one object per line holding a "person",
"auction" or "bid" object with the standard field names (times as epoch
milliseconds). In every 50 events 1 is a person, 3 are auctions and 46 are
bids. The events depend only on the seed: the same command writes the same
bytes.`,
		Example: `  weir bench nexmark generate --events 1000000 --seed 1 > events.ndjson
  weir bench nexmark generate --events 10 | head -3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if events < 0 {
				return fmt.Errorf("--events must be 0 or more, got %d", events)
			}
			w := bufio.NewWriterSize(os.Stdout, 1<<20)
			g := nexmark.New(nexmark.Config{Seed: seed, Rate: rate})
			var e nexmark.Event
			var line []byte
			for n := int64(0); n < events; n++ {
				g.Event(n, &e)
				line = append(nexmark.AppendJSON(line[:0], &e), '\n')
				if _, err := w.Write(line); err != nil {
					return writeErr(err)
				}
			}
			return writeErr(w.Flush())
		},
	}
	gen.Flags().Int64Var(&events, "events", 1000, "number of events")
	gen.Flags().Uint64Var(&seed, "seed", 1, "seed of the stream")
	gen.Flags().Float64Var(&rate, "rate", 10_000, "events per second of event time (sets the time between events, not the speed of writing)")
	nx.AddCommand(gen, nexmarkRunCmd())
	c.AddCommand(nx)
	return c
}

// writeErr explains a failed write of the events: a reader that stopped
// reading (| head) is not an error, anything else (a full disk) is.
func writeErr(err error) error {
	if err == nil || errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return fmt.Errorf("cannot write the events to standard output: %w (check the disk space where the output goes)", err)
}

func nexmarkRunCmd() *cobra.Command {
	var query, output, results, cpuProfile, memory string
	var events int64
	var seed uint64
	var parallelism int
	c := &cobra.Command{
		Use:   "run",
		Short: "Run Nexmark queries over generated events and report their speed",
		Long: `Run Nexmark queries in process: the generator appends people, auctions and
bids to an embedded log while the query's view reads them; the view's output
is the sink. Prints events/s over the wall time, events per CPU second (the
per-core figure), the output rows and the peak RSS. The SQL of each query is
in bench/nexmark/queries/ (` + strings.Join(benchnexmark.Queries(), ", ") + `).

--parallelism N gives each stream N partitions filled by N generators, and
runs every view that can run on several tasks (all but joins, Top-N and
SESSION windows) with N: partial tasks over shares of the partitions, a
repartition stream, N merge tasks.`,
		Example: `  weir bench nexmark run --query q2 --events 10000000
  weir bench nexmark run --query q11 --events 100000 --output q11.csv
  weir bench nexmark run --query q5 --events 10000000 --parallelism 2
  weir bench nexmark run --query all --events 10000000 --results bench/nexmark/RESULTS.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallelism < 1 || parallelism > parse.MaxParallelism {
				return fmt.Errorf("--parallelism must be from 1 to %d, got %d", parse.MaxParallelism, parallelism)
			}
			budget, err := memoryBudget(memory)
			if err != nil {
				return err
			}
			node.TuneGC(budget)
			queries := strings.Split(query, ",")
			if query == "all" {
				queries = benchnexmark.Queries()
			}
			if output != "" && len(queries) != 1 {
				return fmt.Errorf("--output takes the rows of one query; --query names %d", len(queries))
			}
			if cpuProfile != "" {
				if len(queries) != 1 {
					return fmt.Errorf("--cpuprofile profiles one query; --query names %d", len(queries))
				}
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			var rows []benchnexmark.Result
			for _, q := range queries {
				opts := benchnexmark.Options{Query: q, Events: events, Seed: seed, Parallelism: parallelism}
				var f *os.File
				if output != "" {
					var err error
					if f, err = os.Create(output); err != nil {
						return err
					}
					opts.CSV = f
				}
				res, err := benchnexmark.Run(cmd.Context(), opts)
				if f != nil {
					if cerr := f.Close(); err == nil {
						err = cerr
					}
				}
				if err != nil {
					return err
				}
				rows = append(rows, res)
				lake := ""
				if res.LakeFiles > 0 {
					lake = fmt.Sprintf(" (%d rows in %d lake files)", res.LakeRows, res.LakeFiles)
				}
				fmt.Printf("%-4s %10d events in %6.2f s: %9.0f events/s, %9.0f events per CPU second, %d output rows%s, peak RSS %d MB\n",
					q, res.Events, res.Wall.Seconds(), res.EventsPerSecond(), res.EventsPerCPUSecond(), res.OutRows, lake, res.PeakRSSMB)
			}
			if results != "" {
				return writeNexmarkResults(results, rows, events, seed, parallelism, memory)
			}
			return nil
		},
	}
	c.Flags().StringVar(&query, "query", "q0", "query to run: q0, q1, …, a comma-separated list, or all")
	c.Flags().Int64Var(&events, "events", 1_000_000, "number of events")
	c.Flags().Uint64Var(&seed, "seed", 1, "seed of the event stream")
	c.Flags().StringVar(&output, "output", "", "write the query's result rows to this CSV file (header, sorted rows)")
	c.Flags().StringVar(&results, "results", "", "write a Markdown table of the figures to this file")
	c.Flags().IntVar(&parallelism, "parallelism", 1, "partitions per stream, generators, and tasks per view (see above)")
	c.Flags().StringVar(&memory, "memory-budget", "8GiB", "the Go heap's soft limit, as weir run's flag (the garbage collector runs as in a node: GOGC 400 below the limit)")
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (one query; read it with go tool pprof)")
	return c
}

// feldera are Feldera's published events/s per core (NEXMARK.md).
var feldera = map[string]int{"q0": 436_000, "q1": 412_000, "q2": 422_000, "q3": 413_000, "q4": 265_000, "q5": 412_000, "q7": 196_000, "q8": 415_000, "q9": 57_000}

func writeNexmarkResults(path string, rows []benchnexmark.Result, events int64, seed uint64, parallelism int, memory string) error {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# Nexmark results\n\nWritten by `weir bench nexmark run --query all --events %d --seed %d --parallelism %d --memory-budget %s --results %s`\n", events, seed, parallelism, memory, path)
	tasks := "One task per view, parallelism 1"
	if parallelism > 1 {
		tasks = fmt.Sprintf("Parallelism %d: %d partitions per stream and %d generators; views other than joins, Top-N and SESSION run %d partial and %d merge tasks", parallelism, parallelism, parallelism, parallelism, parallelism)
	}
	fmt.Fprintf(&b, "on %s (%s, %d CPUs), %s. %s (q4, q5, q6 and q7 are chains of views whose\n", host, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), tasks)
	b.WriteString("tasks run at once); the generator runs in the same process and appends every event (people and\n")
	b.WriteString("auctions too) to the embedded log; the last view's output stream in the log is the sink (q10: a lake\n")
	b.WriteString("table, and the run ends when it has committed every row). Events per\n")
	b.WriteString("CPU second is the per-core figure (getrusage, the whole process). Feldera's column is its published\n")
	b.WriteString("per-core figure (../shared/brief/NEXMARK.md; another machine): an order of magnitude, not a race.\n")
	b.WriteString("The garbage collector runs as in a node (GOGC 400, the heap's soft limit at --memory-budget). Peak RSS\n")
	b.WriteString("is the process's high-water mark (VmHWM) over the query's run, reset when it starts.\n\n")
	b.WriteString("| query | events | wall s | events/s | events per CPU s | Feldera per core | output rows | peak RSS MB |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		ref := "–"
		if f, ok := feldera[r.Query]; ok {
			ref = fmt.Sprintf("%dK (×%.2f)", f/1000, r.EventsPerCPUSecond()/float64(f))
		}
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.0f | %.0f | %s | %d | %d |\n", r.Query, r.Events, r.Wall.Seconds(), r.EventsPerSecond(), r.EventsPerCPUSecond(), ref, r.OutRows, r.PeakRSSMB)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
