//go:build !linux

package engine

import "time"

// threadCPU reports that this OS gives no per-thread CPU clock here: guest slices are
// measured in wall time (which counts time spent waiting for a core).
func threadCPU() (time.Duration, bool) { return 0, false }
