//go:build unix

package bench

import (
	"syscall"
	"time"
)

// minorFaults is the process's count of minor page faults so far (pages mapped on first
// touch, copies made on write), or -1 where the OS does not say.
func minorFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return int64(ru.Minflt)
}

// processCPU is the process's user and system CPU time so far, or -1 where the OS does
// not say.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
