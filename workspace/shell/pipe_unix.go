//go:build unix

package shell

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// brokenPipe reports whether w is a pipe whose reading end is closed: a shell's command
// would die of SIGPIPE writing to it.
func brokenPipe(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	broken := false
	rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		if n, err := unix.Poll(fds, 0); err == nil && n > 0 && fds[0].Revents&unix.POLLERR != 0 {
			broken = true
		}
	})
	return broken
}
