// Package e2e holds process-level tests: they run the real weir binary,
// talk to it over HTTP, SIGKILL it, and check its answers and files against
// an oracle computed here.
package e2e

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCrashRecoveryExactlyOnce is T1 at CI size: a client ingests batches
// with Idempotency-Key and retries through SIGKILLs at seeded random
// moments, each while the client is still sending; afterwards every table
// count and sum equals the oracle, an independent Iceberg reader agrees, and
// after a clean stop every accepted record is in exactly one committed file.
func TestCrashRecoveryExactlyOnce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("WEIR_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (rerun with WEIR_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	// The client is paced (~90 batches/s) so that the kills, 1–7 s in all,
	// land while it is sending, and the quarantine stays under the listing
	// limit of 10000 records (maxBatches × 200 / 37 ≈ 8100).
	const eventsPer, kills, maxBatches, pause = 200, 5, 1500, 10 * time.Millisecond
	n := newTestNode(t)
	stop := make(chan struct{})
	done := startClient(n.addr, eventsPer, maxBatches, pause, stop)
	for k := range kills {
		time.Sleep(time.Duration(200+rng.IntN(1200)) * time.Millisecond)
		select {
		case r := <-done:
			t.Fatalf("the client ended (%d batches, err %v) before kill %d: every kill must land mid-ingest; raise maxBatches", r.sent, r.err, k+1)
		default:
		}
		n.p.cmd.Process.Signal(syscall.SIGKILL)
		n.p.cmd.Wait()
		t.Logf("kill %d done", k+1)
		n.restart()
	}
	close(stop)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	o := oracleFor(r.sent, eventsPer)
	t.Logf("%d batches, %d events", r.sent, r.sent*eventsPer)
	if r.accepted != o.accepted || r.quarantined != o.quarantined {
		t.Fatalf("answers: accepted %d quarantined %d, oracle %d and %d", r.accepted, r.quarantined, o.accepted, o.quarantined)
	}
	n.checkTable(o, "after kills")
	n.checkViews(o, "after kills")

	resp, err := http.Get("http://" + n.addr + "/v1/quarantine?stream=clicks&limit=10000")
	must(t, err)
	var q struct{ Records []json.RawMessage }
	json.NewDecoder(resp.Body).Decode(&q)
	resp.Body.Close()
	if len(q.Records) != o.quarantined {
		t.Fatalf("quarantine holds %d records, oracle %d", len(q.Records), o.quarantined)
	}

	n.stop()
	// Another engine reads the same table and finds the same rows.
	out, err := exec.Command("python3", "../interop/read_iceberg.py", filepath.Join(n.data, "lake", "weir", "clicks")).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("pyiceberg could not read the table (make test installs it: pip install pyiceberg pyarrow): %v\n%s", err, stderr)
	}
	var ice struct {
		Rows        int   `json:"rows"`
		DistinctSeq int   `json:"distinct_seq"`
		SumSeq      int   `json:"sum_seq"`
		Offsets     []int `json:"offsets"`
	}
	if err := json.Unmarshal(out, &ice); err != nil {
		t.Fatalf("pyiceberg output %q: %v", out, err)
	}
	offSum := 0
	for _, off := range ice.Offsets {
		offSum += off
	}
	if ice.Rows != o.accepted || ice.DistinctSeq != o.accepted || ice.SumSeq != o.sumSeq || offSum != o.accepted {
		// Seen once (2026-12-02, seed 1796195352975853533, not reproduced):
		// the table stopped at 20100 of 64800 rows while SQL (lake + tail)
		// was exact. Say what the lake did, for the next time.
		metas, _ := filepath.Glob(filepath.Join(n.data, "lake", "weir", "clicks", "metadata", "*"))
		logb, _ := os.ReadFile(n.logf.Name())
		var lakeLines []string
		for _, l := range strings.Split(string(logb), "\n") {
			if strings.Contains(l, "lake") || strings.Contains(l, "commit") {
				lakeLines = append(lakeLines, l)
			}
		}
		if len(lakeLines) > 30 {
			lakeLines = lakeLines[len(lakeLines)-30:]
		}
		t.Fatalf("pyiceberg sees %+v, oracle rows %d sum %d\nmetadata files: %v\nlake log lines:\n%s",
			ice, o.accepted, o.sumSeq, metas, strings.Join(lakeLines, "\n"))
	}

	n.restart()
	n.checkTable(o, "after restart")
	n.checkViews(o, "after restart")
	n.checkLakeFiles(o)
}
