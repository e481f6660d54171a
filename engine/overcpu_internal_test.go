package engine

import (
	"runtime"
	"testing"
	"time"
)

// overCPU reads the thread clock only once the slice's wall time could reach the limit,
// and then the thread clock decides: time spent waiting for a core is not charged.
func TestOverCPU(t *testing.T) {
	// The thread clock is this thread's: every case runs on it (no subtests, whose
	// goroutines may run on other threads).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	now := time.Now()
	cpuNow, threadOK := threadCPU()
	for _, c := range []struct {
		name    string
		cpu     time.Duration // charged before this slice
		running time.Time     // the slice's start (zero: between slices)
		thread  bool          // the slice began with the thread clock reading cpuNow
		want    bool
	}{
		{"between slices, under", 40 * time.Millisecond, time.Time{}, false, false},
		{"between slices, over", 60 * time.Millisecond, time.Time{}, false, true},
		{"short slice", 0, now.Add(-time.Millisecond), false, false},
		{"short slice after earlier ones", 49 * time.Millisecond, now.Add(-500 * time.Microsecond), false, false},
		{"long slice, no thread clock: wall time", 0, now.Add(-time.Second), false, true},
		// (where there is no thread clock, wall time is all there is)
		{"long slice spent waiting for a core", 0, now.Add(-time.Second), threadOK, !threadOK},
	} {
		inv := &invocation{limits: Limits{CPU: 50 * time.Millisecond}, cpu: c.cpu, running: c.running, threadOK: c.thread, runCPU: cpuNow}
		if got := inv.overCPU(now); got != c.want {
			t.Errorf("%s: overCPU = %v, want %v", c.name, got, c.want)
		}
	}
}
