package proccpu

import (
	"runtime"
	"testing"
)

// The reading grows while the process computes: it is the process's own CPU time, not a
// constant. Only the work done is bounded, never the wall-clock time (a loaded machine may
// take long to give the loop a core).
func TestProcessGrowsWithWork(t *testing.T) {
	before, ok := Process()
	if !ok {
		if runtime.GOOS == "linux" {
			t.Fatal("no CPU time on linux")
		}
		t.Skipf("%s does not say the CPU time", runtime.GOOS)
	}
	if before < 0 {
		t.Fatalf("CPU time %v", before)
	}
	// The OS may count CPU time in clock ticks (4 ms at 250 Hz): burn in rounds until the
	// reading moves, up to far more work than a tick takes.
	x := uint64(1)
	for round := 0; round < 1<<12; round++ {
		for range 1 << 20 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		after, ok := Process()
		if !ok {
			t.Fatal("the second reading failed")
		}
		if after < before {
			t.Fatalf("CPU time went back from %v to %v", before, after)
		}
		if after > before {
			t.Logf("%v -> %v after %d rounds (xorshift state %x)", before, after, round+1, x)
			return
		}
	}
	t.Fatalf("CPU time stuck at %v after 2^32 xorshift steps (state %x)", before, x)
}
