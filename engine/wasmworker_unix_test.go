//go:build unix

package engine_test

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU reports the process's CPU time per op (cpu-µs/op) when the returned function
// runs: on a loaded machine it is steadier than ns/op, which counts waiting for a core.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
