// Command views benchmarks streaming SQL views end to end: it starts the
// weir binary with a pipeline of views, posts NDJSON over HTTP as fast as
// acknowledgements come, and reports
//
//   - throughput: accepted events per second until every view has
//     processed them all (HTTP → gate → log → view, on this machine);
//   - freshness: at a fixed offered rate, how long after its
//     acknowledgement a probe event is visible in an early-firing view's
//     rows (EMIT EVERY), p50/p99 over many probes;
//   - the node's peak RSS.
//
// Results are appended as JSON lines to bench/results/views.jsonl.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirhq/weir/bench/internal/nodeproc"
)

const pipeline = `streams:
  clicks:
    schema: schemas/clicks.json
    key: [user_id]
    event_time: {column: ts, max_disorder: 5s}
    partitions: 4
    max_backlog: 100000000
`

const views = `
CREATE MATERIALIZED VIEW per_user_minute AS
SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS revenue
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY user_id, window_start, window_end;

CREATE MATERIALIZED VIEW per_country AS
SELECT country, count(*) AS n, max(seq) AS last FROM clicks GROUP BY country;

CREATE MATERIALIZED VIEW probe AS
SELECT window_start, window_end, max(seq) AS last
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
WHERE user_id = 'probe'
GROUP BY window_start, window_end
EMIT EVERY INTERVAL '20' MILLISECOND;
`

const clicksSchema = `{"type":"object","required":["ts","seq","user_id","url","status","country"],"additionalProperties":false,
"properties":{"ts":{"type":["string","integer"],"format":"date-time"},"seq":{"type":"integer"},"user_id":{"type":"string","minLength":1,"maxLength":128},
"url":{"type":"string","maxLength":4096},"status":{"type":"integer","minimum":100,"maximum":599},
"amount":{"type":["number","null"],"minimum":0},"country":{"type":"string","pattern":"^[A-Z]{2}$"}}}`

var (
	addr   string
	client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
)

func main() {
	bin := flag.String("bin", "bin/weir", "weir binary")
	conns := flag.Int("conns", 8, "concurrent connections")
	batch := flag.Int("batch", 500, "events per request")
	dur := flag.Duration("duration", 10*time.Second, "duration of the max-load run")
	rate := flag.Float64("rate", 100000, "offered events/s during the freshness run")
	probes := flag.Int("probes", 300, "probe events in the freshness run (one every 20 ms)")
	flag.Parse()

	node, err := nodeproc.Start(*bin, map[string]string{"weir.yaml": pipeline, "schemas/clicks.json": clicksSchema, "views/bench.sql": views})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer node.Stop()
	addr = node.Addr
	cmd := node.Cmd
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	host, _ := os.Hostname()
	os.MkdirAll("bench/results", 0o755)
	out, _ := os.OpenFile("bench/results/views.jsonl", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	defer out.Close()
	record := func(res map[string]any) {
		res["git_rev"], res["machine"], res["time"] = strings.TrimSpace(string(rev)), host, time.Now().UTC().Format(time.RFC3339)
		res["rss_peak_mb"] = nodeproc.PeakRSS(cmd.Process.Pid)
		line, _ := json.Marshal(res)
		out.Write(append(line, '\n'))
	}

	// 1. Throughput: max load for dur, then wait for every view to catch up.
	var seq atomic.Int64
	cpu0 := nodeproc.CPUSeconds(cmd.Process.Pid)
	start := time.Now()
	accepted := load(*conns, *batch, 0, *dur, &seq, nil)
	ackTime := time.Since(start)
	for !caughtUp(accepted) {
		if time.Since(start) > *dur+time.Minute {
			fmt.Fprintf(os.Stderr, "the views did not process the %d accepted events within a minute of the load; see SHOW VIEWS (last_error) on %s\n", accepted, addr)
			os.Exit(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	total := time.Since(start)
	cpu := nodeproc.CPUSeconds(cmd.Process.Pid) - cpu0
	eps := float64(accepted) / total.Seconds()
	fmt.Printf("views throughput: %d events acknowledged in %.1f s (%.0f/s), all 3 views caught up after %.1f s: %.0f events/s end to end; node CPU %.1f s = %.0f events per CPU second; node RSS peak %d MB\n",
		accepted, ackTime.Seconds(), float64(accepted)/ackTime.Seconds(), total.Seconds(), eps, cpu, float64(accepted)/cpu, nodeproc.PeakRSS(cmd.Process.Pid))
	record(map[string]any{"name": "views_throughput", "events": accepted, "events_per_s": eps, "ack_events_per_s": float64(accepted) / ackTime.Seconds(),
		"node_cpu_s": cpu, "events_per_cpu_s": float64(accepted) / cpu, "views": 3, "batch": *batch, "conns": *conns})

	// 2. Freshness: background load at a fixed rate, probes every 20 ms.
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { defer bg.Done(); load(*conns, *batch, *rate, time.Hour, &seq, stop) }()
	var lats []time.Duration
	for i := range *probes {
		time.Sleep(20 * time.Millisecond)
		s := seq.Add(1)
		body := fmt.Sprintf(`{"ts":%d,"seq":%d,"user_id":"probe","url":"/probe","status":200,"amount":1,"country":"GB"}`, time.Now().UnixMilli(), s)
		if resp, err := client.Post("http://"+addr+"/v1/streams/clicks/events", "application/x-ndjson", strings.NewReader(body)); err != nil || resp.StatusCode != 200 {
			fmt.Fprintf(os.Stderr, "probe %d: %v\n", i, err)
			continue
		} else {
			resp.Body.Close()
		}
		acked := time.Now()
		for {
			if v := queryInt(fmt.Sprintf("SELECT coalesce(max(last), -1) FROM probe WHERE last >= %d", s)); v >= s {
				break
			}
			if time.Since(acked) > 10*time.Second {
				fmt.Fprintf(os.Stderr, "probe %d not visible after 10 s\n", i)
				break
			}
			time.Sleep(time.Millisecond)
		}
		lats = append(lats, time.Since(acked))
		if os.Getenv("BENCH_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "probe %d: %v\n", i, time.Since(acked))
		}
	}
	close(stop)
	bg.Wait()
	if os.Getenv("BENCH_DEBUG") != "" {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			for _, l := range strings.Split(b.String(), "\n") {
				if strings.HasPrefix(l, "weir_query_seconds") || strings.HasPrefix(l, "weir_log_append_seconds") || strings.HasPrefix(l, "weir_view_lag") || strings.HasPrefix(l, "weir_log_group") {
					fmt.Fprintln(os.Stderr, l)
				}
			}
		}
	}
	slices.Sort(lats)
	pct := func(p float64) float64 {
		return float64(lats[min(len(lats)-1, int(p*float64(len(lats))))].Microseconds()) / 1000
	}
	fmt.Printf("views freshness at %.0f events/s offered: ack → visible in EMIT EVERY 20 ms view: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d probes)\n",
		*rate, pct(0.5), pct(0.99), pct(1), len(lats))
	record(map[string]any{"name": "views_freshness", "offered": *rate, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1), "probes": len(lats)})
}

// load posts batches from conns connections at rate events/s (0: as fast as
// acks come) until dur has passed or stop closes; it returns the events
// accepted.
func load(conns, batch int, rate float64, dur time.Duration, seq *atomic.Int64, stop <-chan struct{}) int64 {
	var accepted atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			interval := time.Duration(0)
			if rate > 0 {
				interval = time.Duration(float64(time.Second) * float64(batch) * float64(conns) / rate)
			}
			next := time.Now()
			var b bytes.Buffer
			var built time.Time
			for time.Since(start) < dur {
				select {
				case <-stop:
					return
				default:
				}
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(interval)
				}
				// The body (with event times near now) is rebuilt every 100 ms,
				// so the generator's own CPU stays small.
				if time.Since(built) > 100*time.Millisecond {
					b.Reset()
					base := seq.Add(int64(batch)) - int64(batch)
					now := time.Now().UnixMilli()
					for j := range int64(batch) {
						s := base + j
						fmt.Fprintf(&b, `{"ts":%d,"seq":%d,"user_id":"user-%06d","url":"/product/%d?ref=campaign","status":200,"amount":%d.%02d,"country":"%s"}`+"\n",
							now-j%1000, s, (s*7919)%100000, s%5000, s%300, s%100, []string{"US", "DE", "FR", "JP"}[s%4])
					}
					built = time.Now()
				}
				resp, err := client.Post("http://"+addr+"/v1/streams/clicks/events", "application/x-ndjson", bytes.NewReader(b.Bytes()))
				if err != nil {
					continue
				}
				if resp.StatusCode == 200 {
					accepted.Add(int64(batch))
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	return accepted.Load()
}

func caughtUp(accepted int64) bool {
	body, _ := json.Marshal(map[string]string{"sql": "SHOW VIEWS"})
	resp, err := client.Post("http://"+addr+"/v1/query", "application/json", bytes.NewReader(body))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var res struct {
		Columns []string
		Rows    [][]any
	}
	json.NewDecoder(resp.Body).Decode(&res)
	col := slices.Index(res.Columns, "rows_in")
	if col < 0 || len(res.Rows) == 0 {
		return false
	}
	for _, r := range res.Rows {
		if n, _ := r[col].(float64); int64(n) < accepted {
			return false
		}
	}
	return true
}

func queryInt(sql string) int64 {
	body, _ := json.Marshal(map[string]string{"sql": sql})
	resp, err := client.Post("http://"+addr+"/v1/query", "application/json", bytes.NewReader(body))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var res struct{ Rows [][]any }
	json.NewDecoder(resp.Body).Decode(&res)
	if len(res.Rows) == 0 || len(res.Rows[0]) == 0 {
		return -1
	}
	n, _ := res.Rows[0][0].(float64)
	return int64(n)
}
