package engine_test

import (
	"context"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/isobox/isobox/engine"
)

// A guest's CPU time is the CPU its thread used, not the time it waited for a core: on a
// busy machine a tenant is not charged (nor stopped by its CPU limit) for its neighbours'
// work. Two spinning processes share the core the guest runs on, so its wall time is a
// multiple of its CPU time; the CPU it is charged must not exceed what its thread used.
func TestCPUIsThreadTimeUnderContention(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		t.Fatal(err)
	}
	cpu := -1
	for i := 0; i < 1024 && cpu < 0; i++ {
		if allowed.IsSet(i) {
			cpu = i
		}
	}
	var one unix.CPUSet
	one.Set(cpu)
	if err := unix.SchedSetaffinity(0, &one); err != nil { // this thread only
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &allowed)
	for range 2 {
		hog := exec.Command("sh", "-c", "while :; do :; done")
		if err := hog.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = hog.Process.Kill(); _ = hog.Wait() })
		if err := unix.SchedSetaffinity(hog.Process.Pid, &one); err != nil {
			t.Fatal(err)
		}
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		t.Fatal(err)
	}
	cpu0, wall0 := time.Duration(ts.Nano()), time.Now()
	res, err := sb.Eval(context.Background(), engine.Limits{CPU: 30 * time.Second, Wall: 5 * time.Minute},
		"let x = 0; for (let i = 0; i < 3e6; i++) x = (x + i * i) % 1000003; x")
	wall := time.Since(wall0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		t.Fatal(err)
	}
	used := time.Duration(ts.Nano()) - cpu0
	t.Logf("thread CPU %v, wall %v, charged %v", used, wall, res.CPU)
	if wall < used*3/2 {
		t.Fatalf("the spinning processes did not share the core: wall %v for %v of CPU", wall, used)
	}
	if res.CPU > used {
		t.Fatalf("charged %v of CPU, more than the thread used (%v): waiting for the core was counted", res.CPU, used)
	}
	if res.CPU < used/4 {
		t.Fatalf("charged %v of CPU, a fraction of the thread's %v: the guest's work was not counted", res.CPU, used)
	}
}
