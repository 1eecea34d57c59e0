// Command ingest is the HTTP ingest benchmark: it starts the weir binary on a
// temporary pipeline, posts NDJSON batches of ~200-byte click events from
// several connections to durable acknowledgement, and reports events/s,
// MB/s, ack latency percentiles at fixed offered rates and at max load, and
// the node's CPU per event and peak RSS. Results are appended as JSON lines to
// bench/results/ingest.jsonl.
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
`

const lakeSink = `sinks:
  lake: {type: lake, stream: clicks}
`

const clicksSchema = `{"type":"object","required":["ts","user_id","url","status","country"],"additionalProperties":false,
"properties":{"ts":{"type":["string","integer"],"format":"date-time"},"user_id":{"type":"string","minLength":1,"maxLength":128},
"url":{"type":"string","maxLength":4096},"status":{"type":"integer","minimum":100,"maximum":599},
"amount":{"type":["number","null"],"minimum":0},"country":{"type":"string","pattern":"^[A-Z]{2}$"}}}`

func main() {
	bin := flag.String("bin", "bin/weir", "weir binary")
	conns := flag.Int("conns", 8, "concurrent connections")
	batch := flag.Int("batch", 500, "events per request")
	dur := flag.Duration("duration", 10*time.Second, "duration of each run")
	rates := flag.String("rates", "10000,100000,max", "offered rates in events/s (max = as fast as acks come)")
	lake := flag.Bool("lake", true, "write the stream to the lake (false: the log only, to measure the ingest path alone)")
	flag.Parse()

	p := pipeline
	if *lake {
		p += lakeSink
	}
	node, err := nodeproc.Start(*bin, map[string]string{"weir.yaml": p, "schemas/clicks.json": clicksSchema})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer node.Stop()
	addr, cmd := node.Addr, node.Cmd

	bodies := make([][]byte, 64)
	for i := range bodies {
		var b bytes.Buffer
		for j := range *batch {
			fmt.Fprintf(&b, `{"ts":"2026-11-22T16:%02d:%02d.%03dZ","user_id":"user-%06d","url":"/product/%d?ref=campaign-%d","status":%d,"amount":%d.%02d,"country":"%s"}`+"\n",
				j%60, (i+j)%60, j%1000, (i*7919+j*31)%100000, j%5000, i%50, []int{200, 200, 301, 404}[j%4], j%300, j%100, []string{"US", "DE", "FR", "JP"}[j%4])
		}
		bodies[i] = b.Bytes()
	}
	evBytes := float64(len(bodies[0])) / float64(*batch)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns * 2}}
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	host, _ := os.Hostname()
	os.MkdirAll("bench/results", 0o755)
	out, _ := os.OpenFile("bench/results/ingest.jsonl", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	defer out.Close()

	for _, rs := range strings.Split(*rates, ",") {
		var rate float64 // events/s; 0 = max
		if rs != "max" {
			fmt.Sscan(rs, &rate)
		}
		var sent atomic.Int64
		var mu sync.Mutex
		var lats []time.Duration
		errs := atomic.Int64{}
		cpu0 := nodeproc.CPUSeconds(cmd.Process.Pid)
		start := time.Now()
		var wg sync.WaitGroup
		for c := range *conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				interval := time.Duration(0)
				if rate > 0 {
					interval = time.Duration(float64(time.Second) * float64(*batch) * float64(*conns) / rate)
				}
				next := time.Now()
				for i := c; time.Since(start) < *dur; i += *conns {
					if interval > 0 {
						if d := time.Until(next); d > 0 {
							time.Sleep(d)
						}
						next = next.Add(interval)
					}
					t0 := time.Now()
					resp, err := client.Post("http://"+addr+"/v1/streams/clicks/events", "application/x-ndjson", bytes.NewReader(bodies[i%len(bodies)]))
					if err != nil || resp.StatusCode != 200 {
						errs.Add(1)
						if resp != nil {
							resp.Body.Close()
						}
						continue
					}
					resp.Body.Close()
					lat := time.Since(t0)
					sent.Add(int64(*batch))
					mu.Lock()
					lats = append(lats, lat)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		el := time.Since(start).Seconds()
		cpu := nodeproc.CPUSeconds(cmd.Process.Pid) - cpu0
		slices.Sort(lats)
		pct := func(p float64) float64 {
			if len(lats) == 0 {
				return 0
			}
			return float64(lats[min(len(lats)-1, int(p*float64(len(lats))))].Microseconds()) / 1000
		}
		eps := float64(sent.Load()) / el
		res := map[string]any{
			"name": "ingest", "offered": rs, "events_per_s": eps, "mb_per_s": eps * evBytes / 1e6,
			"p50_ms": pct(0.50), "p99_ms": pct(0.99), "p999_ms": pct(0.999), "errors": errs.Load(),
			"node_cpu_s": cpu, "events_per_node_cpu_s": float64(sent.Load()) / cpu,
			"rss_peak_mb": nodeproc.PeakRSS(cmd.Process.Pid), "batch": *batch, "conns": *conns, "lake": *lake, "event_bytes": evBytes,
			"git_rev": strings.TrimSpace(string(rev)), "machine": host, "time": time.Now().UTC().Format(time.RFC3339),
		}
		line, _ := json.Marshal(res)
		out.Write(append(line, '\n'))
		fmt.Printf("ingest offered=%-7s %9.0f events/s %6.1f MB/s  ack p50 %6.2f ms  p99 %6.2f ms  p999 %6.2f ms  errors %d  node %.2f cores, %.0f events per CPU second, RSS peak %d MB\n",
			rs, eps, eps*evBytes/1e6, pct(0.5), pct(0.99), pct(0.999), errs.Load(), cpu/el, float64(sent.Load())/cpu, res["rss_peak_mb"])
	}
}
