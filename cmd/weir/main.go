// Command weir runs and talks to a Weir node. It only parses flags, builds a
// node or an HTTP client, and prints; the work happens in internal/.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirhq/weir/examples"
	"github.com/weirhq/weir/internal/api"
	"github.com/weirhq/weir/internal/config"
	_ "github.com/weirhq/weir/internal/connect/all" // every connector registers itself
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/node"
	"github.com/weirhq/weir/internal/observe"
	"github.com/weirhq/weir/internal/serve"
)

const defaultServer = "http://127.0.0.1:8080"

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "weir:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "weir",
		Short: "Weir: ingest, validate, store and query event streams — one binary",
		Long: `Weir takes events in over HTTP, validates them against versioned JSON Schemas
(rejected ones go to a quarantine with the reason), keeps them in a durable log,
writes them to an Apache Iceberg table of Parquet files, and answers SQL over
the lake plus the freshest events.

Start with:  weir demo           (a synthetic clickstream, nothing to set up)
Then:        weir query "SELECT country, count(*) FROM clicks GROUP BY 1"`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCmd(), demoCmd(), queryCmd(), quarantineCmd(), benchCmd())
	return root
}

type nodeFlags struct {
	dataDir, listen, pgListen, tlsCert, tlsKey, logLevel, pprof, memory string
}

func (f *nodeFlags) add(c *cobra.Command, defData string) {
	c.Flags().StringVar(&f.dataDir, "data-dir", defData, "directory for the log, the lake and the catalog")
	c.Flags().StringVar(&f.listen, "listen", "127.0.0.1:8080", "HOST:PORT of the HTTP API")
	c.Flags().StringVar(&f.pgListen, "pg-listen", "127.0.0.1:5433", "HOST:PORT of the Postgres wire protocol (psql, pgx, Grafana); empty turns it off. "+
		"Set $WEIR_PG_PASSWORD to require a password")
	c.Flags().StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate (chain) file: the HTTP API serves HTTPS and Postgres clients may use sslmode=require")
	c.Flags().StringVar(&f.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	c.Flags().StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	c.Flags().StringVar(&f.pprof, "pprof", "", "HOST:PORT to serve Go's /debug/pprof profiles on (off by default; keep it on loopback)")
	c.Flags().StringVar(&f.memory, "memory-budget", "2GiB", "heap size past which ingest answers 429 (the query engine has its own 1 GB limit)")
}

// tls loads --tls-cert and --tls-key (nil when neither is given).
func (f *nodeFlags) tls() (*tls.Config, error) {
	if f.tlsCert == "" && f.tlsKey == "" {
		return nil, nil
	}
	if f.tlsCert == "" || f.tlsKey == "" {
		return nil, errors.New("--tls-cert and --tls-key go together: give both files, or neither")
	}
	cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("cannot load --tls-cert %q with --tls-key %q: %w (both must be PEM files, the key matching the certificate)", f.tlsCert, f.tlsKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func (f *nodeFlags) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	return observe.NewLogger(os.Stderr, lvl)
}

func runCmd() *cobra.Command {
	var f nodeFlags
	c := &cobra.Command{
		Use:   "run [flags] PIPELINE_DIR",
		Short: "Run a node for the pipeline in PIPELINE_DIR (weir.yaml, schemas/, views/)",
		Long: `Run a node: the HTTP API, the sources and sinks of PIPELINE_DIR/weir.yaml.

SIGTERM or Ctrl-C stops it cleanly: it stops accepting requests, finishes the
ones in flight, commits what the lake writers buffered, and exits 0. After a
crash (kill -9, power loss) it recovers on the next start: every acknowledged
event is kept, none is duplicated.`,
		Example: "  weir run --data-dir /var/lib/weir examples/clickstream",
		Args:    exactArgs(1, "PIPELINE_DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := config.Load(args[0])
			if err != nil {
				return err
			}
			return serveUntilSignal(p, f, nil)
		},
	}
	f.add(c, "weir-data")
	return c
}

func demoCmd() *cobra.Command {
	var f nodeFlags
	var rate float64
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the clickstream example with a synthetic event generator",
		Long: `Run examples/clickstream (built into the binary): a generator posts synthetic
click events (1% of them invalid, to fill the quarantine), the node validates
them, writes the Iceberg table "clicks", and answers SQL. Ctrl-C stops it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := filepath.Join(f.dataDir, "pipeline-demo")
			sub, _ := fs.Sub(examples.Clickstream, "clickstream")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := os.CopyFS(dir, sub); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("cannot unpack the example pipeline: %w", err)
			}
			p, err := config.Load(dir)
			if err != nil {
				return err
			}
			for _, s := range p.Sources {
				if rate > 0 && s.Type == "generator" {
					s.Settings["rate"] = rate
				}
			}
			return serveUntilSignal(p, f, func(n *node.Node) {
				base := "http://" + n.Addr()
				pg := "(off)"
				if a := n.PGAddr(); a != "" {
					host, port, _ := net.SplitHostPort(a)
					pg = fmt.Sprintf("psql -h %s -p %s -U weir weir -c \"SELECT country, count(*) FROM clicks GROUP BY 1\"", host, port)
				}
				fmt.Printf(`
Weir demo is running: a synthetic clickstream flows into stream "clicks".

  Dashboard:   %s/
  Ingest:      curl -s -H 'Content-Type: application/x-ndjson' --data-binary \
                 '{"ts":"%s","user_id":"me","url":"/","status":200,"country":"US"}' \
                 %s/v1/streams/clicks/events
  Query:       weir query --server %s "SELECT country, count(*) AS n FROM clicks GROUP BY 1 ORDER BY n DESC"
               curl -s %s/v1/query -d '{"sql":"SELECT count(*) FROM clicks"}'
  Views:       weir query --server %s "SHOW VIEWS"
               weir query --server %s "SELECT * FROM clicks_per_minute ORDER BY window_start DESC, clicks DESC LIMIT 8"
               (a minute's rows appear once the watermark, newest event time - 5 s, passes its end)
  Postgres:    %s
  Quarantine:  %s/v1/quarantine?stream=clicks&limit=5
  Metrics:     %s/metrics
  Lake:        %s (Iceberg tables weir.clicks and weir.clicks_per_minute)

Ctrl-C to stop.
`, base, time.Now().UTC().Format(time.RFC3339), base, base, base, base, base, pg, base, base, filepath.Join(f.dataDir, "lake"))
			})
		},
	}
	f.add(c, "weir-demo-data")
	c.Flags().Float64Var(&rate, "rate", 0, "generator events per second (default: the example's 2000)")
	return c
}

// memoryBudget reads a --memory-budget flag: a size of at least 64MiB.
func memoryBudget(flag string) (int64, error) {
	budget, err := config.ParseSize(flag)
	if err != nil || budget < 64<<20 {
		return 0, fmt.Errorf("--memory-budget %q: give a size of at least 64MiB, like 512MiB or 4GiB", flag)
	}
	return budget, nil
}

func serveUntilSignal(p *config.Pipeline, f nodeFlags, onReady func(*node.Node)) error {
	log := f.logger()
	if f.pprof != "" {
		ln, err := net.Listen("tcp", f.pprof)
		if err != nil {
			return fmt.Errorf("cannot listen on --pprof %s: %w", f.pprof, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go http.Serve(ln, mux)
		log.Info("profiles served", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	}
	budget, err := memoryBudget(f.memory)
	if err != nil {
		return err
	}
	tlsConfig, err := f.tls()
	if err != nil {
		return err
	}
	n, err := node.Start(node.Config{Pipeline: p, DataDir: f.dataDir, Listen: f.listen, Logger: log, MemoryBudget: budget,
		PGListen: f.pgListen, PGPassword: os.Getenv("WEIR_PG_PASSWORD"), TLS: tlsConfig})
	if err != nil {
		return err
	}
	if onReady != nil {
		onReady(n)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var runErr error
	select {
	case s := <-sig:
		log.Info("stopping", "signal", s.String())
	case runErr = <-n.Errors():
		log.Error("stopping after a failure", "err", runErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %s (got %d arguments); see %s --help", cmd.CommandPath(), names, len(args), cmd.CommandPath())
		}
		return nil
	}
}

type clientFlags struct {
	server, dataDir, format string
}

func (f *clientFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.server, "server", "", "URL of a running node (default $WEIR_SERVER or "+defaultServer+")")
	c.Flags().StringVar(&f.dataDir, "data-dir", "", "query a stopped node's data directory instead of a server")
	c.Flags().StringVar(&f.format, "format", "table", "output format: table, csv or json")
}

func (f *clientFlags) serverURL() string {
	if f.server != "" {
		return strings.TrimRight(f.server, "/")
	}
	if s := os.Getenv("WEIR_SERVER"); s != "" {
		return strings.TrimRight(s, "/")
	}
	return defaultServer
}

// offline opens a stopped node's data directory with the pipeline it saved,
// as a node that runs neither sources nor sinks, lake writing, compaction
// nor retention (node.Config.Offline).
func (f *clientFlags) offline() (*node.Node, error) {
	if _, err := os.Stat(node.PipelineDir(f.dataDir)); err != nil {
		return nil, fmt.Errorf("%q is not a Weir data directory (it has no pipeline/ inside): pass the --data-dir a node ran with, "+
			"or query a running node with --server URL", f.dataDir)
	}
	p, err := config.Load(node.PipelineDir(f.dataDir))
	if err != nil {
		return nil, fmt.Errorf("the pipeline saved in data directory %q does not load: %w", f.dataDir, err)
	}
	return node.Start(node.Config{Pipeline: p, DataDir: f.dataDir, Listen: "127.0.0.1:0", Offline: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func queryCmd() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   `query [flags] "SQL"`,
		Short: "Run a SQL query (DuckDB dialect) over the lake and the freshest events",
		Long: `Run a read-only SQL query. Every stream is a table: its committed Parquet
files plus the events accepted since, so results include events acknowledged a
moment ago.`,
		Example: `  weir query "SELECT count(*) FROM clicks"
  weir query --format csv "SELECT * FROM clicks ORDER BY ts DESC LIMIT 10"
  weir query --data-dir weir-data "SELECT status, count(*) FROM clicks GROUP BY 1"`,
		Args: exactArgs(1, `one SQL statement (quote it)`),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res *serve.Result
			if f.dataDir != "" {
				n, err := f.offline()
				if err != nil {
					return err
				}
				res, err = n.Query(context.Background(), args[0])
				n.Shutdown(context.Background())
				if err != nil {
					return err
				}
			} else {
				body, _ := json.Marshal(map[string]string{"sql": args[0]})
				if err := call(f.serverURL(), http.MethodPost, "/v1/query", body, &res); err != nil {
					return err
				}
			}
			return printResult(os.Stdout, f.format, res.Columns, res.Rows, res.Truncated)
		},
	}
	f.add(c)
	return c
}

func quarantineCmd() *cobra.Command {
	c := &cobra.Command{Use: "quarantine", Short: "Inspect records that failed validation"}
	var f clientFlags
	var stream string
	var limit int
	list := &cobra.Command{
		Use:     "list [flags]",
		Short:   "List the newest quarantined records with their reasons",
		Example: "  weir quarantine list --stream clicks --limit 20",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var recs []api.QuarantineEntry
			if f.dataDir != "" {
				n, err := f.offline()
				if err != nil {
					return err
				}
				defer n.Shutdown(context.Background())
				streams := n.Gate().Streams()
				if stream != "" {
					streams = []string{stream}
				}
				for _, s := range streams {
					qs, err := n.Gate().ListQuarantine(s, limit)
					if err != nil {
						return err
					}
					for _, q := range qs {
						recs = append(recs, api.ToEntry(q))
					}
				}
			} else {
				q := url.Values{"limit": {fmt.Sprint(limit)}}
				if stream != "" {
					q.Set("stream", stream)
				}
				var out struct {
					Records []api.QuarantineEntry `json:"records"`
				}
				if err := call(f.serverURL(), http.MethodGet, "/v1/quarantine?"+q.Encode(), nil, &out); err != nil {
					return err
				}
				recs = out.Records
			}
			rows := make([][]any, len(recs))
			for i, r := range recs {
				rows[i] = []any{r.Offset, r.ReceivedAt.Format(time.RFC3339), r.Stream, r.SchemaVersion, r.Source, r.Origin, r.Reason, r.Replayed, r.Raw}
			}
			return printResult(os.Stdout, f.format, []string{"offset", "received_at", "stream", "schema_version", "source", "origin", "reason", "replayed", "raw"}, rows, false)
		},
	}
	f.add(list)
	list.Flags().StringVar(&stream, "stream", "", "only this stream")
	list.Flags().IntVar(&limit, "limit", 20, "newest records per stream")
	c.AddCommand(list, quarantineReplayCmd())
	return c
}

func quarantineReplayCmd() *cobra.Command {
	var f clientFlags
	var stream string
	var all bool
	var offsets []int64
	c := &cobra.Command{
		Use:   "replay --stream S (--all | --offsets N,N,...)",
		Short: "Validate quarantined records again and let those that pass into their stream",
		Long: `Validate quarantined records again against the stream's current schema (fix
the schema file and restart the node first). Records that pass enter the
stream exactly once, however often they are replayed; those that fail stay
quarantined. The offsets are those 'weir quarantine list' prints.`,
		Example: "  weir quarantine replay --stream clicks --all\n  weir quarantine replay --stream clicks --offsets 17,18",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if stream == "" || all == (len(offsets) > 0) {
				return errors.New("name a stream with --stream, and either --all or --offsets")
			}
			var res gate.ReplayResult
			if f.dataDir != "" {
				n, err := f.offline()
				if err != nil {
					return err
				}
				defer n.Shutdown(context.Background())
				if all {
					offsets = nil
				}
				if res, err = n.Gate().Replay(cmd.Context(), stream, offsets); err != nil {
					return err
				}
			} else {
				body, _ := json.Marshal(map[string]any{"stream": stream, "offsets": offsets, "all": all})
				if err := call(f.serverURL(), http.MethodPost, "/v1/quarantine/replay", body, &res); err != nil {
					return err
				}
			}
			fmt.Printf("accepted %d, still rejected %d, already replayed %d, not found %d\n",
				res.Accepted, len(res.Rejected), res.AlreadyReplayed, len(res.NotFound))
			for i, r := range res.Rejected {
				if i == 10 {
					fmt.Printf("  ... and %d more\n", len(res.Rejected)-10)
					break
				}
				fmt.Printf("  offset %d: %s\n", r.Offset, r.Reason)
			}
			return nil
		},
	}
	f.add(c)
	c.Flags().StringVar(&stream, "stream", "", "the stream whose quarantine to replay")
	c.Flags().BoolVar(&all, "all", false, "every record not yet replayed (up to 100,000 a call)")
	c.Flags().Int64SliceVar(&offsets, "offsets", nil, "these records (offsets from 'weir quarantine list')")
	return c
}

// call does one API request and decodes the JSON answer into out.
func call(server, method, path string, body []byte, out any) error {
	req, err := http.NewRequest(method, server+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach a Weir node at %s: %w (start one with `weir run` or `weir demo`, or use --data-dir)", server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message, Hint string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			msg := e.Error.Message
			if e.Error.Hint != "" {
				msg += " (" + e.Error.Hint + ")"
			}
			return errors.New(msg)
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	return json.Unmarshal(data, out)
}

func printResult(w io.Writer, format string, cols []string, rows [][]any, truncated bool) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		for _, r := range rows {
			obj := make(map[string]any, len(cols))
			for i, c := range cols {
				obj[c] = r[i]
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(cols)
		for _, r := range rows {
			rec := make([]string, len(r))
			for i, v := range r {
				rec[i] = cell(v)
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
		seps := make([]string, len(cols))
		for i, c := range cols {
			seps[i] = strings.Repeat("-", max(len(c), 3))
		}
		fmt.Fprintln(tw, strings.Join(seps, "\t"))
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, v := range r {
				cells[i] = strings.ReplaceAll(cell(v), "\n", `\n`)
				if len(cells[i]) > 120 {
					cells[i] = cells[i][:117] + "..."
				}
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		tw.Flush()
		fmt.Fprintf(w, "(%d rows)\n", len(rows))
	default:
		return fmt.Errorf("unknown --format %q: use table, csv or json", format)
	}
	if truncated {
		fmt.Fprintln(os.Stderr, "weir: the result was cut at the row limit; add a LIMIT or aggregate")
	}
	return nil
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return fmt.Sprintf("%d", int64(x))
		}
		if a := math.Abs(x); a >= 1e-4 && a < 1e15 {
			return strconv.FormatFloat(x, 'f', -1, 64) // 2476621.13, not 2.47662113e+06
		}
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
