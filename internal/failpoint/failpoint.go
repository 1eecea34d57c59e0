// Package failpoint lets crash tests kill the process at a named point of a
// commit protocol, to check recovery from exactly there. Points are enabled
// with the environment variable WEIR_FAILPOINTS (comma-separated names); when
// it is unset, Hit costs a map lookup on an empty map.
//
// This package imports nothing of Weir and is imported by the packages that
// own commit protocols (gate, lake).
package failpoint

import (
	"os"
	"strings"
	"syscall"
)

// Named points.
const (
	LogAfterCommit   = "log-after-commit"   // a request's records durable in the log, its writer not yet answered
	LakeBeforeCommit = "lake-before-commit" // Parquet files written and synced, no snapshot yet
	LakeAfterCommit  = "lake-after-commit"  // snapshot committed, before syncfs and before the writer knows
)

var enabled = parse(os.Getenv("WEIR_FAILPOINTS"))

func parse(s string) map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			m[n] = true
		}
	}
	return m
}

// Hit kills the process with SIGKILL, as a crash would, if point is enabled.
func Hit(point string) {
	if enabled[point] {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not deliverable to a handler; wait for it
	}
}
