//go:build !unix

package lineartest

import (
	"runtime"
	"testing"
	"time"
)

// threadCPU needs a per-thread CPU clock, which this package reads on Unix only: a
// linearity check fails here rather than compare wall times.
func threadCPU(t *testing.T) time.Duration {
	t.Helper()
	t.Fatalf("thread CPU clock: not available on %s", runtime.GOOS)
	return 0
}
