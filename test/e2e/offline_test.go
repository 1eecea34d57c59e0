package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOfflineCLI: the clickstream example runs, stops on SIGTERM, and its
// data directory answers weir query and weir quarantine list with
// --data-dir, twice: with the events it had, and without changing them.
func TestOfflineCLI(t *testing.T) {
	bin := weirBin(t)
	data := filepath.Join(t.TempDir(), "data")
	logf, err := os.Create(filepath.Join(t.TempDir(), "weir.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p := start(t, bin, filepath.Join("..", "..", "examples", "clickstream"), data, freeAddr(t), logf)
	time.Sleep(time.Second) // the generator source sends events meanwhile
	online, _ := strconv.Atoi(query(t, p.addr, "SELECT count(*) FROM clicks")[0].(interface{ String() string }).String())
	if online == 0 {
		t.Fatal("no events from the generator after a second")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("weir run after SIGTERM: %v (log %s)", err, logf.Name())
	}
	cli := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("weir %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var counts []int
	for range 2 {
		out := cli("query", "--data-dir", data, "--format", "csv", "SELECT count(*) AS n FROM clicks")
		lines := strings.Fields(out)
		if len(lines) != 2 || lines[0] != "n" {
			t.Fatalf("weir query --data-dir printed %q, want a header and a count", out)
		}
		n, _ := strconv.Atoi(lines[1])
		counts = append(counts, n)
	}
	if counts[0] < online || counts[1] != counts[0] {
		t.Fatalf("offline counts %v; want both equal and at least the %d seen online", counts, online)
	}
	out := cli("quarantine", "list", "--data-dir", data, "--stream", "clicks", "--limit", "1", "--format", "csv")
	if !strings.HasPrefix(out, "offset,received_at,stream,schema_version,source,origin,reason,replayed,raw\n") || !strings.Contains(out, "clicks") {
		t.Fatalf("weir quarantine list --data-dir printed %q, want the header and a record of stream clicks", out)
	}
}
