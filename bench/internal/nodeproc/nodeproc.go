// Package procstat reads a process's resource use from /proc, for the
// benchmarks that run the weir binary as a separate process.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

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
