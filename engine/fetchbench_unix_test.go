//go:build unix

package engine_test

import "syscall"

// minorFaults is the process's count of minor page faults so far (pages mapped on first
// touch, copies made on write), with false where the OS does not say.
func minorFaults() (int64, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return int64(ru.Minflt), true
}
