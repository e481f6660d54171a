package bench

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// threadMinorFaults is the calling thread's count of minor page faults so far, or -1
// where the OS does not say. The caller holds its OS thread (runtime.LockOSThread).
func threadMinorFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_THREAD, &ru) != nil {
		return -1
	}
	return int64(ru.Minflt)
}

// threadCPU is the calling thread's CPU time so far in nanoseconds, or -1 where the OS
// does not say. The caller holds its OS thread (runtime.LockOSThread).
func threadCPU() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return -1
	}
	return ts.Nano()
}
