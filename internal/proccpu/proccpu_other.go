//go:build !unix && !windows

package proccpu

import "time"

// Process is the CPU time this process has used so far: 0 and false here, where the OS
// does not say.
func Process() (time.Duration, bool) { return 0, false }
