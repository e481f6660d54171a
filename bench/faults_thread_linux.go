package bench

import "syscall"

// threadMinorFaults is the calling thread's count of minor page faults so far, or -1
// where the OS does not say. The caller holds its OS thread (runtime.LockOSThread).
func threadMinorFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_THREAD, &ru) != nil {
		return -1
	}
	return int64(ru.Minflt)
}
