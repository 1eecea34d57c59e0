package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestCrashAtFailpoints is T1's targeted part: the node kills itself at a
// named point of a commit protocol (internal/failpoint), is restarted
// without it, and the client's retried batches must end up exactly once.
//   - log-after-commit: records durable but the client never got its answer;
//     the retry must get the stored answer (idempotency) and add nothing.
//   - lake-before-commit: Parquet files written, snapshot not committed; the
//     files must be discarded and the records re-read from the log.
//   - lake-after-commit: snapshot committed, the writer never learned it;
//     it must resume after the committed offsets, not rewrite them.
func TestCrashAtFailpoints(t *testing.T) {
	bin := weirBin(t)
	for _, point := range []string{"log-after-commit", "lake-before-commit", "lake-after-commit"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			pipeline := filepath.Join(dir, "pipeline")
			os.MkdirAll(filepath.Join(pipeline, "schemas"), 0o755)
			os.WriteFile(filepath.Join(pipeline, "weir.yaml"), []byte(pipelineYAML), 0o644)
			os.WriteFile(filepath.Join(pipeline, "schemas", "clicks.json"), []byte(clicksSchema), 0o644)
			data := filepath.Join(dir, "data")
			logf, _ := os.Create(filepath.Join(dir, "weir.log"))
			defer logf.Close()
			addr := freeAddr(t)

			const batches, eventsPer = 60, 200
			p := start(t, bin, pipeline, data, addr, logf, "WEIR_FAILPOINTS="+point)
			defer func() { p.cmd.Process.Kill(); p.cmd.Wait() }()
			type answer struct{ acc, quar int }
			done := make(chan answer, 1)
			errc := make(chan error, 1)
			go func() {
				acc, quar, err := runClient(addr, batches, eventsPer)
				errc <- err
				done <- answer{acc, quar}
			}()
			exited := make(chan error, 1)
			go func() { exited <- p.cmd.Wait() }()
			select {
			case err := <-exited:
				ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
				if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("the node ended without hitting %s: %v", point, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("failpoint %s was never hit", point)
			}
			p = start(t, bin, pipeline, data, addr, logf) // no failpoint now
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			a := <-done

			n := batches * eventsPer
			var wantAcc, wantSum int
			for seq := range n {
				if seq%37 != 0 {
					wantAcc++
					wantSum += seq
				}
			}
			if a.acc != wantAcc || a.quar != n-wantAcc {
				t.Fatalf("answers: accepted %d quarantined %d, oracle %d and %d", a.acc, a.quar, wantAcc, n-wantAcc)
			}
			want := fmt.Sprint([]any{wantAcc, wantAcc, wantSum})
			if got := fmt.Sprint(query(t, addr, "SELECT count(*), count(DISTINCT seq), sum(seq) FROM clicks")); got != want {
				t.Fatalf("table: %s, oracle %s", got, want)
			}
			p.cmd.Process.Signal(syscall.SIGTERM)
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("no clean exit on SIGTERM: %v", err)
			}
			p = start(t, bin, pipeline, data, addr, logf)
			lake := filepath.Join(data, "lake", "weir", "clicks", "data")
			if got := fmt.Sprint(query(t, addr, fmt.Sprintf("SELECT count(*), count(DISTINCT seq), sum(seq) FROM read_parquet('%s/*/*.parquet')", lake))); got != want {
				t.Fatalf("lake files: %s, oracle %s", got, want)
			}
		})
	}
}
