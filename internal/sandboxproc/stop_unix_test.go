//go:build unix

package sandboxproc

import "syscall"

// stopProcess stops process pid (SIGSTOP), as a built-in that never polls sticks the
// whole process; the stop is asynchronous (waitStopped waits for it).
func stopProcess(pid int) error { return syscall.Kill(pid, syscall.SIGSTOP) }
