// Package nodeproc runs the weir binary as a separate process for the
// benchmarks in bench/, and reads its resource use from /proc.
package nodeproc

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Node is a running `weir run` on a temporary pipeline and data directory.
type Node struct {
	Addr string // host:port of its HTTP API
	Cmd  *exec.Cmd
	dir  string
}

// Start writes files (path in the pipeline directory → content, e.g.
// "weir.yaml", "schemas/x.json", "views/v.sql") to a temporary pipeline
// and runs `bin run` on it, until /readyz answers 200. $WEIR_PPROF, when
// set (e.g. 127.0.0.1:6060), is passed as --pprof to profile the node under
// the benchmark's load.
func Start(bin string, files map[string]string) (*Node, error) {
	dir, err := os.MkdirTemp("", "weir-bench-")
	if err != nil {
		return nil, err
	}
	n := &Node{dir: dir}
	for name, body := range files {
		path := filepath.Join(dir, "p", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			n.Stop()
			return nil, err
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			n.Stop()
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.Stop()
		return nil, err
	}
	n.Addr = ln.Addr().String()
	ln.Close()
	args := []string{"run", "--log-level", "warn", "--data-dir", filepath.Join(dir, "d"), "--listen", n.Addr}
	if p := os.Getenv("WEIR_PPROF"); p != "" {
		args = append(args, "--pprof", p)
	}
	n.Cmd = exec.Command(bin, append(args, filepath.Join(dir, "p"))...)
	n.Cmd.Stderr = os.Stderr
	if err := n.Cmd.Start(); err != nil {
		n.Stop()
		return nil, fmt.Errorf("cannot start %s (build it with make build): %w", bin, err)
	}
	for range 300 {
		if r, err := http.Get("http://" + n.Addr + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return n, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.Stop()
	return nil, fmt.Errorf("%s did not become ready on %s within 15 s (its log is on stderr above)", bin, n.Addr)
}

// Stop kills the node and removes its directory.
func (n *Node) Stop() {
	if n.Cmd != nil && n.Cmd.Process != nil {
		n.Cmd.Process.Kill()
		n.Cmd.Wait()
	}
	os.RemoveAll(n.dir)
}

// PeakRSS is the process's peak resident set size (VmHWM), in MB, or -1.
func PeakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(rest, "kB")), &kb)
			return kb / 1024
		}
	}
	return -1
}

// ResetPeakRSS sets the process's peak resident set (VmHWM) back to its
// current size (Linux 4.0+: writing 5 to /proc/PID/clear_refs), so that a
// later PeakRSS measures from now.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// CPUSeconds is the process's user + system CPU time so far.
func CPUSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (in parentheses): utime is the
	// 12th, stime the 13th, in clock ticks (100 per second).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	var ut, st float64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return (ut + st) / 100
}
