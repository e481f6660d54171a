//go:build unix && !linux

package sandboxproc

import "syscall"

// socketpair makes the supervisor's socket pair, close-on-exec: without SOCK_CLOEXEC the
// flag is set under ForkLock, so no process started meanwhile inherits the pair.
func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	return fds, nil
}
