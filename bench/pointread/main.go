// Command pointread measures view point reads: an embedded node keeps a
// continuous aggregate per user (100k users) while -rows clicks arrive;
// then 2000 lookups `SELECT * FROM per_user WHERE user_id = '…'` run in
// process, one at a time (the first also copies the view's changelog into
// the query engine), and a pool of 64 HTTP clients sends the same lookups
// to POST /v1/query at a fixed rate (-rate, default 1000/s) for -duration.
// Latency counts from when each request was due (no coordinated
// omission); p50/p99/p999 are reported.
// Results are appended to bench/results/pointread.jsonl.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

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
    max_backlog: 100000000
`

const clicksSchema = `{"type":"object","required":["ts","user_id","amount"],"additionalProperties":false,
"properties":{"ts":{"type":["string","integer"],"format":"date-time"},"user_id":{"type":"string"},"amount":{"type":"number"}}}`

const view = `CREATE MATERIALIZED VIEW per_user AS
SELECT user_id, count(*) AS clicks, sum(amount) AS spent, max(ts) AS last_seen FROM clicks GROUP BY user_id;`

func main() {
	rows := flag.Int("rows", 2_000_000, "clicks ingested before the reads")
	users := flag.Int("users", 100_000, "distinct users (keys of the view)")
	rate := flag.Float64("rate", 1000, "point reads per second")
	dur := flag.Duration("duration", 10*time.Second, "how long to read")
	flag.Parse()
	if err := run(*rows, *users, *rate, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "bench/pointread:", err)
		os.Exit(1)
	}
}

func run(rows, users int, rate float64, dur time.Duration) error {
	dir, err := os.MkdirTemp("", "weir-bench-pointread-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pipe := filepath.Join(dir, "pipeline")
	for name, body := range map[string]string{"weir.yaml": pipeline, "schemas/clicks.json": clicksSchema, "views/v.sql": view} {
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
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	defer n.Shutdown(context.Background())
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(7, 7))
	var body []byte
	for i := 0; i < rows; i += 10000 {
		body = body[:0]
		for j := i; j < min(i+10000, rows); j++ {
			body = fmt.Appendf(body, `{"ts":%d,"user_id":"u%d","amount":%.2f}`+"\n", base.UnixMilli()+int64(j), r.IntN(users), r.Float64()*100)
		}
		for {
			_, err := n.Gate().Ingest(ctx, gate.Request{Stream: "clicks", Format: gate.NDJSON, Body: body, Source: "bench"})
			if errors.Is(err, gate.ErrBacklog) || errors.Is(err, gate.ErrOverloaded) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if err != nil {
				return err
			}
			break
		}
	}
	for {
		st := n.Status()
		if len(st.Views) == 1 && st.Views[0].Lag == 0 && st.Views[0].In == int64(rows) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, err := n.Query(ctx, "SELECT count(*) FROM per_user")
	if err != nil {
		return err
	}
	fmt.Printf("view per_user: %v keys from %d clicks\n", res.Rows[0][0], rows)

	// In process first: the engine alone, one query at a time.
	var inproc []float64
	for range 2000 {
		t := time.Now()
		if _, err := n.Query(ctx, fmt.Sprintf("SELECT * FROM per_user WHERE user_id = 'u%d'", rand.IntN(users))); err != nil {
			return err
		}
		inproc = append(inproc, float64(time.Since(t).Microseconds())/1000)
	}
	slices.Sort(inproc)
	fmt.Printf("in process: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", inproc[1000], inproc[1980], inproc[1999])
	url := "http://" + n.Addr() + "/v1/query"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
	total := int(rate * dur.Seconds())
	lat := make([]float64, total)
	var failures int
	codes := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	// A pool of clients, each with its own connection, takes requests as
	// they fall due; latency counts from the due time, so a stalled
	// server is not hidden by clients waiting to send.
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, total)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				q, _ := json.Marshal(map[string]string{"sql": fmt.Sprintf("SELECT * FROM per_user WHERE user_id = 'u%d'", rand.IntN(users))})
				resp, err := client.Post(url, "application/json", bytes.NewReader(q))
				ok := err == nil && resp.StatusCode == 200
				what := "ok"
				if err != nil {
					what = err.Error()
				} else if resp.StatusCode != 200 {
					b, _ := io.ReadAll(resp.Body)
					what = fmt.Sprintf("%d %.80s", resp.StatusCode, b)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat[j.i] = float64(time.Since(j.due).Microseconds()) / 1000
				if !ok {
					mu.Lock()
					failures++
					codes[what]++
					mu.Unlock()
				}
			}
		}()
	}
	start := time.Now()
	for i := range total {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		time.Sleep(time.Until(due))
		jobs <- job{i, due}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 { return lat[max(int(math.Ceil(p/100*float64(len(lat))))-1, 0)] }
	fmt.Printf("%d point reads in %.1f s (%.0f/s offered): p50 %.2f ms, p99 %.2f ms, p999 %.2f ms, max %.2f ms, %d failed\n",
		total, elapsed.Seconds(), rate, pct(50), pct(99), pct(99.9), lat[len(lat)-1], failures)
	for what, k := range codes {
		fmt.Printf("  %d× %s\n", k, what)
	}
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	host, _ := os.Hostname()
	os.MkdirAll("bench/results", 0o755)
	out, _ := os.OpenFile("bench/results/pointread.jsonl", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	defer out.Close()
	line, _ := json.Marshal(map[string]any{"name": "pointread", "rate": rate, "inproc_p50_ms": inproc[1000], "inproc_p99_ms": inproc[1980], "requests": total, "keys": res.Rows[0][0],
		"p50_ms": pct(50), "p99_ms": pct(99), "p999_ms": pct(99.9), "failed": failures,
		"git_rev": strings.TrimSpace(string(rev)), "machine": host, "time": time.Now().UTC().Format(time.RFC3339)})
	out.Write(append(line, '\n'))
	return nil
}
