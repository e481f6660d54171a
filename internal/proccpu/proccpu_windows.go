package proccpu

import (
	"time"

	"golang.org/x/sys/windows"
)

// Process is the user and kernel CPU time this process has used so far, with false where
// the OS does not say.
func Process() (time.Duration, bool) {
	var creation, exit, kernel, user windows.Filetime
	if windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &user) != nil {
		return 0, false
	}
	return ticks(kernel) + ticks(user), true
}

// ticks is the span a Filetime holds as a duration (it counts 100 ns; Filetime.Nanoseconds
// would take it for a date and subtract the 1601 epoch).
func ticks(f windows.Filetime) time.Duration {
	return time.Duration(uint64(f.HighDateTime)<<32|uint64(f.LowDateTime)) * 100
}
