//go:build !linux

package sandboxproc

import (
	"errors"
	"time"
)

// pinThread: without per-thread CPU clocks the watchdog uses the wall-time limit only.
func pinThread() (tid int, cpu time.Duration, unpin func()) { return 0, 0, func() {} }

func threadCPU(pid, tid int) (time.Duration, error) {
	return 0, errors.New("per-thread CPU time is not available on this system")
}

func blockingSocket(int) bool { return false }
