package engine

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time the calling OS thread has used, and false where the OS
// cannot tell. The guest slice that reads it holds its thread (runtime.LockOSThread), so
// two reads bracket the CPU the guest used: time the thread waited for a core under
// contention does not count.
func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
