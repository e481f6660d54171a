//go:build unix

package proccpu

import (
	"syscall"
	"time"
)

// Process is the user and system CPU time this process has used so far, with false where
// the OS does not say.
func Process() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
