// Package lineartest checks, in tests, that work grows linearly with its input: each shape
// of input is run at n and 16n bytes in the same test, timed in the calling thread's CPU
// time, and the two times are compared. Linear work takes ~16x as long, quadratic ~256x; a
// ratio, not a time, so the check holds on a slow or shared machine (the 4x margin absorbs
// a busy one's noise).
package lineartest

import (
	"runtime"
	"testing"
	"time"
)

// MaxRatio is the largest time ratio between 16n and n that Check accepts.
const MaxRatio = 64

// Check runs run on every shape's input of n and of 16n bytes, best of three each, and
// fails t for a shape whose larger input takes more than MaxRatio times as long. A shape
// whose larger input takes under a millisecond is not judged: too short to divide, and
// not quadratic at any size a test uses.
func Check(t *testing.T, n int, shapes map[string]func(n int) string, run func(in string)) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fastest := func(in string) time.Duration {
		best := time.Duration(1<<63 - 1)
		for range 3 {
			runtime.GC()
			start := threadCPU(t)
			run(in)
			best = min(best, threadCPU(t)-start)
		}
		return best
	}
	for name, shape := range shapes {
		small, large := fastest(shape(n)), fastest(shape(16*n))
		if large < time.Millisecond {
			continue
		}
		ratio := float64(large) / float64(max(small, time.Microsecond))
		t.Logf("%s: %v, 16x: %v (%.1fx)", name, small, large, ratio)
		if ratio > MaxRatio {
			t.Errorf("%s: %v for %d bytes, %v for 16x as many (%.0fx): not linear", name, small, n, large, ratio)
		}
	}
}
