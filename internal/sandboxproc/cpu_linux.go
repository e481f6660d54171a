package sandboxproc

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// pinThread locks the calling goroutine to its OS thread for the duration of a call and
// returns the thread id and its CPU time so far: the supervisor then reads that thread's
// CPU time from /proc to tell a call that burns CPU without polling from one that waits.
// The caller runs unpin when the call ends.
func pinThread() (tid int, cpu time.Duration, unpin func()) {
	runtime.LockOSThread()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		runtime.UnlockOSThread()
		return 0, 0, func() {}
	}
	return unix.Gettid(), time.Duration(ts.Nano()), runtime.UnlockOSThread
}

// threadCPU reads the CPU time of thread tid of process pid (the first field of its
// schedstat, in nanoseconds: the same clock as CLOCK_THREAD_CPUTIME_ID).
func threadCPU(pid, tid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/schedstat", pid, tid))
	if err != nil {
		return 0, err
	}
	f, _, _ := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(f, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("schedstat of thread %d: %w", tid, err)
	}
	return time.Duration(n), nil
}

// blockingSocket reports whether fd is a socket in blocking mode (the supervisor's
// socket pair is made without O_NONBLOCK), which the worker process then reads with
// blocking system calls.
func blockingSocket(fd int) bool {
	if st, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || st&unix.O_NONBLOCK != 0 {
		return false
	}
	var s unix.Stat_t
	return unix.Fstat(fd, &s) == nil && s.Mode&unix.S_IFMT == unix.S_IFSOCK
}

// socketpair makes the supervisor's socket pair, close-on-exec.
func socketpair() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}
