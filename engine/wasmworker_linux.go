package engine

import (
	"time"

	"golang.org/x/sys/unix"
)

// currentThreadClock returns a reader of the calling OS thread's CPU time that works from
// any goroutine (the watchdog of a WebAssembly worker reads the clock of the thread the
// guest runs on). The caller holds its thread (runtime.LockOSThread) while it is used.
func currentThreadClock() func() (time.Duration, bool) {
	// The kernel's clock id for one thread's CPU time (MAKE_THREAD_CPUCLOCK in
	// linux/posix-timers.h: CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD_MASK).
	id := int32(^uint32(unix.Gettid())<<3 | 6)
	return func() (time.Duration, bool) {
		var ts unix.Timespec
		if err := unix.ClockGettime(id, &ts); err != nil {
			return 0, false
		}
		return time.Duration(ts.Nano()), true
	}
}
