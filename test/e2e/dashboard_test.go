package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dashboardYAML is examples/clickstream without its generator: the test
// decides what arrives.
const dashboardYAML = `streams:
  clicks:
    schema: schemas/clicks.json
    key: [user_id]
    event_time: {column: ts, max_disorder: 5s}
    partitions: 4
sinks:
  lake:
    type: lake
    stream: clicks
    table: clicks
    roll: {interval: 1s}
  minutes:
    type: lake
    view: clicks_per_minute
    roll: {interval: 1m}
`

// TestDashboard drives the dashboard in Chromium (test/browser/dashboard.mjs,
// Playwright): the page loads, counts rise after an ingest, the pipeline
// graph and a live view chart show, a quarantined record opens, the SQL
// console answers; then, after a schema fix and a restart, quarantined
// records are replayed from the page, and the API confirms each entered
// the stream once. Screenshots: $WEIR_ARTIFACTS/dashboard (default
// bin/artifacts/dashboard).
func TestDashboard(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js is needed to drive the browser: install it (apt-get install nodejs), then run make test")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is needed at %s: run `make browser` (apt-get install chromium), or set CHROMIUM", chromium)
	}
	script, _ := filepath.Abs("../browser/dashboard.mjs")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core is not installed: run `make browser` (npm ci in test/browser)")
	}
	artifacts := os.Getenv("WEIR_ARTIFACTS")
	if artifacts == "" {
		artifacts, _ = filepath.Abs("../../bin/artifacts")
	}
	artifacts = filepath.Join(artifacts, "dashboard")
	os.RemoveAll(artifacts)

	dir := t.TempDir()
	pipeline := filepath.Join(dir, "pipeline")
	example := "../../examples/clickstream"
	schema, err := os.ReadFile(filepath.Join(example, "schemas", "clicks.json"))
	must(t, err)
	must(t, os.MkdirAll(filepath.Join(pipeline, "schemas"), 0o755))
	must(t, os.MkdirAll(filepath.Join(pipeline, "views"), 0o755))
	must(t, os.WriteFile(filepath.Join(pipeline, "weir.yaml"), []byte(dashboardYAML), 0o644))
	must(t, os.WriteFile(filepath.Join(pipeline, "schemas", "clicks.json"), schema, 0o644))
	for _, v := range []string{"clicks_per_minute.sql", "clicks_live.sql"} {
		b, err := os.ReadFile(filepath.Join(example, "views", v))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(pipeline, "views", v), b, 0o644))
	}
	// A view over a view: the graph draws it a column further right.
	must(t, os.WriteFile(filepath.Join(pipeline, "views", "busy_minutes.sql"), []byte(
		"CREATE MATERIALIZED VIEW busy_minutes AS SELECT window_end, country, clicks FROM clicks_per_minute WHERE clicks >= 1;\n"), 0o644))
	logf, err := os.Create(filepath.Join(dir, "weir.log"))
	must(t, err)
	defer logf.Close()
	bin, data, addr := weirBin(t), filepath.Join(dir, "data"), freeAddr(t)
	p := start(t, bin, pipeline, data, addr, logf)
	defer func() { p.cmd.Process.Kill(); p.cmd.Wait() }()
	base := "http://" + addr

	// 200 good clicks and 3 whose country ("usa") the schema refuses.
	var body bytes.Buffer
	now := time.Now().UTC()
	for i := range 200 {
		fmt.Fprintf(&body, `{"ts":%q,"user_id":"u%d","url":"/","status":200,"amount":2,"country":%q}`+"\n",
			now.Add(time.Duration(i-200)*10*time.Millisecond).Format(time.RFC3339Nano), i%13, []string{"US", "DE", "FR", "JP"}[i%4])
	}
	for i := range 3 {
		fmt.Fprintf(&body, `{"ts":%q,"user_id":"bad%d","url":"/","status":200,"country":"usa"}`+"\n", now.Format(time.RFC3339Nano), i)
	}
	resp, err := http.Post(base+"/v1/streams/clicks/events", "application/x-ndjson", &body)
	must(t, err)
	var res ingestResult
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if res.Accepted != 200 || res.Quarantined != 3 {
		t.Fatalf("ingest: %+v", res)
	}

	browse := func(args ...string) {
		t.Helper()
		cmd := exec.Command(nodeBin, append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatalf("the browser check %q failed (%v); screenshots in %s, node log %s", args[0], err, artifacts, logf.Name())
		}
	}
	browse("live", base, artifacts, "200") // it ingests 300 more itself

	// The schema fix: three-letter country codes become valid.
	fixed := strings.Replace(string(schema), `"pattern": "^[A-Z]{2}$"`, `"pattern": "^[A-Za-z]{2,3}$"`, 1)
	if fixed == string(schema) {
		t.Fatal("the example's country pattern changed; update this test's schema fix")
	}
	must(t, os.WriteFile(filepath.Join(pipeline, "schemas", "clicks.json"), []byte(fixed), 0o644))
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
	p = start(t, bin, pipeline, data, addr, logf)
	browse("replay", base, artifacts)

	// Each replayed record is in the stream once: 500 + 3.
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := query(t, addr, "SELECT count(*), count(*) FILTER (WHERE country = 'usa') FROM clicks")
		if fmt.Sprint(got) == "[503 3]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clicks holds %v (all, usa) after the replay, want [503 3]", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err = http.Get(base + "/metrics")
	must(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`weir_quarantine_replayed_total{stream="clicks"} 3`)) {
		t.Fatalf("metrics lack weir_quarantine_replayed_total 3")
	}
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if len(shots) != 5 {
		t.Fatalf("screenshots %v, want 5", shots)
	}
	t.Logf("dashboard screenshots: %s", artifacts)
}
