// Command query benchmarks dashboard-style SQL over a clickstream lake.
//
// It starts an embedded node in process, ingests -rows synthetic clicks
// spread over seven days of event time through the gate (the lake sink
// rolls every 50k rows, so each event hour gets several files), and then
// compares, query by query and in alternation:
//
//   - weir: the node's query engine (result cache off) over the table after
//     compaction: one file per closed hour, sorted by event time;
//   - naive: plain DuckDB (same version, same threads) over the same rows
//     copied into ~1 MB Parquet files in random order, read with
//     read_parquet (what a user gets by pointing DuckDB at a directory of
//     small files as written).
//
// It reports p50/p95 per query and engine, the ratio, and the freshness of
// SELECT count(*) after an acknowledged ingest. Results are appended as JSON
// lines to bench/results/query.jsonl.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/weirhq/weir/internal/config"
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/node"
)

const pipeline = `streams:
  clicks:
    schema: schemas/clicks.json
    key: [user_id]
    event_time: {column: ts, max_disorder: 5s}
    partitions: 4
    max_backlog: 1000000000
sinks:
  lake:
    type: lake
    stream: clicks
    roll: {max_rows: 50000, interval: 10s}
`

const clicksSchema = `{"type":"object","required":["ts","user_id","url","status","country"],"additionalProperties":false,
"properties":{"ts":{"type":["string","integer"],"format":"date-time"},"user_id":{"type":"string","minLength":1,"maxLength":128},
"url":{"type":"string","maxLength":4096},"status":{"type":"integer","minimum":100,"maximum":599},
"amount":{"type":["number","null"],"minimum":0},"country":{"type":"string","pattern":"^[A-Z]{2}$"}}}`

// The data spans [start, start+7 days).
var start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

const span = 7 * 24 * time.Hour

func ts(d time.Duration) string {
	return "TIMESTAMPTZ '" + start.Add(d).Format("2006-01-02 15:04:05") + "+00'"
}

// queries are what a dashboard asks: the last hour, the last day, top-N,
// distinct counts, one past window, and one scan of everything.
var queries = []struct{ name, sql string }{
	{"count_last_hour", "SELECT count(*) FROM clicks WHERE ts >= " + ts(span-time.Hour)},
	{"per_minute_last_hour", "SELECT date_trunc('minute', ts) AS m, count(*), sum(amount) FROM clicks WHERE ts >= " + ts(span-time.Hour) + " GROUP BY m ORDER BY m"},
	{"top_urls_6h", "SELECT url, count(*) AS n FROM clicks WHERE ts >= " + ts(span-6*time.Hour) + " GROUP BY url ORDER BY n DESC LIMIT 10"},
	{"users_per_country_24h", "SELECT country, count(DISTINCT user_id) FROM clicks WHERE ts >= " + ts(span-24*time.Hour) + " GROUP BY country ORDER BY 2 DESC"},
	{"revenue_one_past_hour", "SELECT country, sum(amount), count(*) FROM clicks WHERE ts >= " + ts(72*time.Hour) + " AND ts < " + ts(73*time.Hour) + " GROUP BY country ORDER BY 2 DESC"},
	{"errors_per_hour_24h", "SELECT date_trunc('hour', ts) AS h, status, count(*) FROM clicks WHERE status >= 500 AND ts >= " + ts(span-24*time.Hour) + " GROUP BY h, status ORDER BY h, status"},
	{"p95_amount_6h", "SELECT country, approx_quantile(amount, 0.95) FROM clicks WHERE ts >= " + ts(span-6*time.Hour) + " GROUP BY country ORDER BY country"},
	{"top_spenders_24h", "SELECT user_id, sum(amount) AS spent FROM clicks WHERE ts >= " + ts(span-24*time.Hour) + " GROUP BY user_id ORDER BY spent DESC LIMIT 10"},
	{"status_15min_window", "SELECT status, count(*) FROM clicks WHERE ts >= " + ts(100*time.Hour) + " AND ts < " + ts(100*time.Hour+15*time.Minute) + " GROUP BY status ORDER BY status"},
	{"daily_active_users_all", "SELECT date_trunc('day', ts) AS d, count(DISTINCT user_id) FROM clicks GROUP BY d ORDER BY d"},
}

var countries = []string{"US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "ES", "IT", "NL", "SE", "PL", "MX", "AU", "KR", "CH", "AT", "BE", "NO"}

// event appends the i-th click of n to b (deterministic from seed and i).
func event(b []byte, r *rand.Rand, i, n int64) []byte {
	t := start.Add(time.Duration(float64(span) * float64(i) / float64(n))).Add(time.Duration(r.IntN(4000)-2000) * time.Millisecond)
	if t.Before(start) {
		t = start
	}
	user := int(math.Pow(r.Float64(), 2) * 200000) // skewed: a few users click a lot
	status := 200
	switch p := r.IntN(100); {
	case p < 2:
		status = 500 + r.IntN(4)
	case p < 5:
		status = 404
	}
	b = append(b, `{"ts":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = fmt.Appendf(b, `","user_id":"u%d","url":"/p/%d","status":%d,"country":"%s","amount":`, user, r.IntN(500), status, countries[int(math.Pow(r.Float64(), 1.5)*float64(len(countries)))])
	if r.IntN(10) < 3 {
		b = append(b, "null"...)
	} else {
		b = fmt.Appendf(b, "%.2f", math.Exp(r.NormFloat64()+3))
	}
	return append(b, "}\n"...)
}

func main() {
	rows := flag.Int64("rows", 50_000_000, "clicks to ingest")
	reps := flag.Int("reps", 10, "timed runs of each query per engine (after one warm-up)")
	dir := flag.String("dir", "", "work directory (default: a temp dir, removed at the end)")
	flag.Parse()
	if err := run(*rows, *reps, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench/query:", err)
		os.Exit(1)
	}
}

func run(rows int64, reps int, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "weir-bench-query-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	pipe := filepath.Join(dir, "pipeline")
	for name, body := range map[string]string{"weir.yaml": pipeline, "schemas/clicks.json": clicksSchema} {
		os.MkdirAll(filepath.Dir(filepath.Join(pipe, name)), 0o755)
		if err := os.WriteFile(filepath.Join(pipe, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	p, err := config.Load(pipe)
	if err != nil {
		return err
	}
	n, err := node.Start(node.Config{Pipeline: p, DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", NoSources: true,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		CompactInterval: -1, QueryCacheBytes: -1, MemoryBudget: 4 << 30})
	if err != nil {
		return err
	}
	defer n.Shutdown(context.Background())
	ctx := context.Background()

	// 1. Ingest, four producers, 10k events a request.
	t0 := time.Now()
	const per = 10000
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(42, uint64(w)))
			var body []byte
			for first := int64(w) * per; first < rows; first += 4 * per {
				body = body[:0]
				for i := first; i < min(first+per, rows); i++ {
					body = event(body, r, i, rows)
				}
				for {
					_, err := n.Gate().Ingest(ctx, gate.Request{Stream: "clicks", Format: gate.NDJSON, Body: body, Source: "bench"})
					if errors.Is(err, gate.ErrBacklog) || errors.Is(err, gate.ErrOverloaded) {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					if err != nil {
						errc <- err
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	ingested := time.Since(t0)
	for {
		st := n.Status()
		if st.Sinks[0].Lag == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	lakeDone := time.Since(t0)
	before := n.Status().Sinks[0]
	fmt.Printf("ingested %d clicks in %.1f s (%.0f/s); lake caught up after %.1f s: %d files\n",
		rows, ingested.Seconds(), float64(rows)/ingested.Seconds(), lakeDone.Seconds(), before.Files)

	// 2. The naive copy, from the files as written (before compaction).
	lake := filepath.Join(dir, "data", "lake")
	files, err := filepath.Glob(filepath.Join(lake, "weir", "clicks", "data", "*", "*.parquet"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no lake files under %s: %v", lake, err)
	}
	naiveDir := filepath.Join(dir, "naive")
	naive, err := openDuckDB(filepath.Join(dir, "duckdb-tmp"))
	if err != nil {
		return err
	}
	defer naive.Close()
	t1 := time.Now()
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + f + "'"
	}
	copySQL := fmt.Sprintf("COPY (SELECT * FROM read_parquet([%s]) ORDER BY hash(user_id, ts)) TO '%s' (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '1MB', ROW_GROUP_SIZE 50000)",
		strings.Join(quoted, ","), naiveDir)
	if _, err := naive.ExecContext(ctx, copySQL); err != nil {
		return fmt.Errorf("naive copy: %w", err)
	}
	naiveFiles, _ := filepath.Glob(filepath.Join(naiveDir, "*.parquet"))
	if _, err := naive.ExecContext(ctx, fmt.Sprintf("CREATE VIEW clicks AS SELECT * FROM read_parquet('%s/*.parquet')", naiveDir)); err != nil {
		return err
	}
	fmt.Printf("naive copy: %d files in %.1f s\n", len(naiveFiles), time.Since(t1).Seconds())

	// 3. Compaction.
	t2 := time.Now()
	res, err := n.Compact(ctx)
	if err != nil {
		return err
	}
	after := n.Status().Sinks[0]
	fmt.Printf("compaction: %d hours, %d files into %d, %d rows in %.1f s; table now %d files\n",
		res.Hours, res.FilesIn, res.FilesOut, res.Rows, time.Since(t2).Seconds(), after.Files)

	// 4. Queries, alternating engines; answers must agree.
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	host, _ := os.Hostname()
	os.MkdirAll("bench/results", 0o755)
	out, _ := os.OpenFile("bench/results/query.jsonl", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	defer out.Close()
	record := func(m map[string]any) {
		m["git_rev"], m["machine"], m["time"], m["rows"] = strings.TrimSpace(string(rev)), host, time.Now().UTC().Format(time.RFC3339), rows
		line, _ := json.Marshal(m)
		out.Write(append(line, '\n'))
	}
	fmt.Printf("\n%-24s %10s %10s %10s %10s %8s\n", "query", "weir p50", "weir p95", "naive p50", "naive p95", "ratio")
	var ratios []float64
	for _, q := range queries {
		var tw, tn []float64
		var aw, an int
		for i := 0; i <= reps; i++ {
			s := time.Now()
			r, err := n.Query(ctx, q.sql)
			if err != nil {
				return fmt.Errorf("weir %s: %w", q.name, err)
			}
			if i > 0 {
				tw = append(tw, ms(time.Since(s)))
			}
			aw = len(r.Rows)
			s = time.Now()
			got, err := duckRows(ctx, naive, q.sql)
			if err != nil {
				return fmt.Errorf("naive %s: %w", q.name, err)
			}
			if i > 0 {
				tn = append(tn, ms(time.Since(s)))
			}
			an = got
		}
		if aw != an {
			return fmt.Errorf("%s: the engines disagree: weir %d rows, naive %d", q.name, aw, an)
		}
		wp50, wp95, np50, np95 := pct(tw, 50), pct(tw, 95), pct(tn, 50), pct(tn, 95)
		ratios = append(ratios, np50/wp50)
		fmt.Printf("%-24s %8.1fms %8.1fms %8.1fms %8.1fms %7.2fx\n", q.name, wp50, wp95, np50, np95, np50/wp50)
		record(map[string]any{"name": "query", "query": q.name, "weir_p50_ms": wp50, "weir_p95_ms": wp95, "naive_p50_ms": np50, "naive_p95_ms": np95,
			"ratio_p50": np50 / wp50, "weir_files": after.Files, "naive_files": len(naiveFiles)})
	}
	gm := 1.0
	for _, r := range ratios {
		gm *= r
	}
	gm = math.Pow(gm, 1/float64(len(ratios)))
	fmt.Printf("geometric mean of naive/weir p50: %.2fx\n", gm)

	// 5. Freshness: an acknowledged event in SELECT count(*) at once?
	var fresh []float64
	for k := range 20 {
		body := fmt.Appendf(nil, `{"ts":"%s","user_id":"probe-%d","url":"/","status":200,"country":"US"}`, start.Add(span-time.Second).Format(time.RFC3339), k)
		if _, err := n.Gate().Ingest(ctx, gate.Request{Stream: "clicks", Format: gate.NDJSON, Body: body, Source: "bench"}); err != nil {
			return err
		}
		acked := time.Now()
		for {
			r, err := n.Query(ctx, fmt.Sprintf("SELECT count(*) FROM clicks WHERE user_id = 'probe-%d'", k))
			if err != nil {
				return err
			}
			if fmt.Sprint(r.Rows[0][0]) == "1" {
				break
			}
		}
		fresh = append(fresh, ms(time.Since(acked)))
	}
	fmt.Printf("freshness (ack → visible in SELECT count(*)): p50 %.1f ms, p99 %.1f ms\n", pct(fresh, 50), pct(fresh, 99))
	record(map[string]any{"name": "query_summary", "geomean_ratio_p50": gm, "freshness_p50_ms": pct(fresh, 50), "freshness_p99_ms": pct(fresh, 99),
		"ingest_events_per_s": float64(rows) / ingested.Seconds(), "files_before_compaction": before.Files, "files_after": after.Files,
		"naive_files": len(naiveFiles)})
	return nil
}

func openDuckDB(tmp string) (*sql.DB, error) {
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	for _, q := range []string{"SET threads = 2", "SET memory_limit = '4GB'", "SET TimeZone = 'UTC'", "SET temp_directory = '" + tmp + "'"} {
		if _, err := db.Exec(q); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// duckRows runs q, reads every value (as the node's engine does) and
// returns the number of rows.
func duckRows(ctx context.Context, db *sql.DB, q string) (int, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var all [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		all = append(all, vals)
	}
	return len(all), rows.Err()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}
