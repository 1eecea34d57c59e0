package e2e

import (
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
	for _, point := range []string{"log-after-commit", "lake-before-commit", "lake-after-commit"} {
		t.Run(point, func(t *testing.T) {
			const batches, eventsPer = 60, 200
			n := newTestNode(t, "WEIR_FAILPOINTS="+point)
			done := startClient(n.addr, eventsPer, batches, 0, nil)
			exited := make(chan error, 1)
			go func() { exited <- n.p.cmd.Wait() }()
			select {
			case err := <-exited:
				ws, _ := n.p.cmd.ProcessState.Sys().(syscall.WaitStatus)
				if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("the node ended without hitting %s: %v", point, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("failpoint %s was never hit", point)
			}
			n.restart() // no failpoint now
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			o := oracleFor(batches, eventsPer)
			if r.accepted != o.accepted || r.quarantined != o.quarantined {
				t.Fatalf("answers: accepted %d quarantined %d, oracle %d and %d", r.accepted, r.quarantined, o.accepted, o.quarantined)
			}
			n.checkTable(o, "after the crash")
			n.stop()
			n.restart()
			n.checkLakeFiles(o)
		})
	}
}
