//go:build !linux

package engine

import "time"

// currentThreadClock reports that this OS gives no per-thread CPU clock here: a
// WebAssembly worker's CPU time is measured in wall time.
func currentThreadClock() func() (time.Duration, bool) {
	return func() (time.Duration, bool) { return 0, false }
}
