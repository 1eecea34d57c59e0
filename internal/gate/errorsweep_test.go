package gate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

// TestErrorSweep is T3 of the test plan: a small ingest run whose log fails
// filesystem operation #N, for N across the whole run, with the error
// alternating between EIO, ENOSPC and a plain injected error. Each run is a
// child process, because Pebble stops the process on a failed WAL write
// (pebblelog's Fatalf); the parent then reopens the log without faults and
// checks it against what the child was told:
//
//   - the child finishes, or stops on the storage failure (pebblelog's
//     message, or Pebble's own panic where it stops the process itself:
//     creating a WAL, moving the MANIFEST marker); never a hang, never a
//     panic of ours;
//   - every request acknowledged is there whole (no silent success after a
//     failed write or sync); every request is whole or absent; offsets are
//     dense; the log takes new writes after the reopen.
//
// WEIR_T3_RUNS sets how many values of N are tried, spread over the run
// (default 60; 0 means every N, about 280 runs, as make stress does).
func TestErrorSweep(t *testing.T) {
	if spec := os.Getenv("WEIR_T3_CHILD"); spec != "" {
		sweepChild(spec)
		return
	}
	runs := 60
	if s := os.Getenv("WEIR_T3_RUNS"); s != "" {
		var err error
		if runs, err = strconv.Atoi(s); err != nil {
			t.Fatalf("WEIR_T3_RUNS=%q: %v", s, err)
		}
	}
	// A run without faults counts the operations.
	total, _ := sweepRun(t, -1)
	if total < 50 {
		t.Fatalf("a fault-free run made only %d filesystem operations", total)
	}
	step := 1
	if runs > 0 {
		step = max(1, total/runs)
	}
	stopped := 0
	for n := 0; n < total; n += step {
		if _, fatal := sweepRun(t, n); fatal {
			stopped++
		}
	}
	t.Logf("%d operations per run; %d runs with a fault, %d of them stopped by a storage failure", total, (total+step-1)/step, stopped)
}

const sweepRequests = 30

// sweepRun runs the child with a fault at operation n (none if n < 0),
// checks the log it leaves, and returns the number of operations the child
// made and whether it stopped on a storage failure.
func sweepRun(t *testing.T, n int) (ops int, fatal bool) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestErrorSweep$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("WEIR_T3_CHILD=%s:%d", dir, n))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("fault at op %d: the run hung (killed after 60 s); stderr:\n%s", n, tail(stderr.String()))
	}
	if err != nil {
		// Pebble stops the process itself on some failures (creating a
		// new WAL, moving the MANIFEST marker), with its own panic.
		pebbleStop := n >= 0 && strings.Contains(stderr.String(), "panic") && strings.Contains(stderr.String(), "github.com/cockroachdb/pebble/v2.")
		if !strings.Contains(stderr.String(), "the log's storage failed") && !pebbleStop {
			t.Fatalf("fault at op %d: the run failed, but not on a storage failure: %v\nstderr:\n%s", n, err, tail(stderr.String()))
		}
		fatal = true
	}
	acked := map[int]int{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "ack":
			r, _ := strconv.Atoi(f[1])
			k, _ := strconv.Atoi(f[2])
			acked[r] = k
		case len(f) == 2 && f[0] == "ops":
			ops, _ = strconv.Atoi(f[1])
		}
	}
	if n < 0 && (fatal || len(acked) != sweepRequests) {
		t.Fatalf("the fault-free run acknowledged %d of %d requests (stopped: %v); stderr:\n%s", len(acked), sweepRequests, fatal, tail(stderr.String()))
	}
	checkSweptLog(t, n, dir, acked)
	return ops, fatal
}

// checkSweptLog reopens the log without faults and checks it against the
// acknowledged requests (request number -> events).
func checkSweptLog(t *testing.T, n int, dir string, acked map[int]int) {
	t.Helper()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		t.Fatalf("fault at op %d: the log does not reopen: %v", n, err)
	}
	defer l.Close()
	g, sc := sweepGate(t, l)
	found := requestsInLog(t, l, sc, 2, fmt.Sprintf("fault at op %d", n))
	for r, k := range acked {
		if got := found[fmt.Sprint("r", r)]; got != k {
			t.Fatalf("fault at op %d: request %d was acknowledged with %d events; %d are in the log", n, r, k, got)
		}
	}
	for key, k := range found {
		r, err := strconv.Atoi(key[1:])
		if err != nil || k != sweepEvents(r) {
			t.Fatalf("fault at op %d: request %s is in the log with %d of its %d events", n, key, k, sweepEvents(r))
		}
	}
	if _, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: NDJSON, Body: sweepBody(sweepRequests)}); err != nil {
		t.Fatalf("fault at op %d: the reopened log refuses a write: %v", n, err)
	}
}

func sweepGate(t testing.TB, l *pebblelog.Log) (*Gate, *schema.Schema) {
	sc, err := schema.Compile([]byte(clicksSchema))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(l, l, []Stream{{Name: "clicks", Schema: sc, Version: 1, KeyCols: []int{1}, Partitions: 2}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g, sc
}

// sweepEvents is the size of request r: with 32 KiB memtables, the run
// flushes a few times, so faults hit flushes and blob files too.
func sweepEvents(r int) int { return 200 + r%7*50 }

func sweepBody(r int) []byte {
	var b bytes.Buffer
	for e := range sweepEvents(r) {
		fmt.Fprintf(&b, `{"ts":%d,"user_id":"r%d-e%d","status":200}`+"\n", 1_790_000_000_000+int64(r), r, e)
	}
	return b.Bytes()
}

// sweepChild is the child process: it ingests sweepRequests requests into a
// log whose filesystem fails operation n, printing "ack R K" for each
// acknowledged request and, at the end, "ops T".
func sweepChild(spec string) {
	i := strings.LastIndex(spec, ":")
	dir := spec[:i]
	n, _ := strconv.Atoi(spec[i+1:])
	var count atomic.Int64
	faults := []error{syscall.EIO, syscall.ENOSPC, errorfs.ErrInjected}
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(errorfs.Op) error {
		if int(count.Add(1)-1) == n {
			return &os.PathError{Op: "injected", Path: "op " + strconv.Itoa(n), Err: faults[n%len(faults)]}
		}
		return nil
	}))
	defer func() { fmt.Printf("ops %d\n", count.Load()) }()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{FS: fs, MemTableSize: 32 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return
	}
	sc, err := schema.Compile([]byte(clicksSchema))
	if err != nil {
		panic(err)
	}
	g, err := New(l, l, []Stream{{Name: "clicks", Schema: sc, Version: 1, KeyCols: []int{1}, Partitions: 2}}, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gate:", err)
		l.Close()
		return
	}
	for r := range sweepRequests {
		res, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: NDJSON, Body: sweepBody(r), IdempotencyKey: fmt.Sprint("k", r)})
		if err != nil {
			if !errors.Is(err, ErrUnavailable) {
				fmt.Fprintln(os.Stderr, "ingest:", err)
			}
			continue
		}
		fmt.Printf("ack %d %d\n", r, res.Accepted)
	}
	if err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}
