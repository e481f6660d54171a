//go:build !unix

package sandboxproc

import (
	"runtime"

	"github.com/isobox/isobox/isoerr"
)

// socketpair: sandbox processes need Unix sockets and confinement, which this platform
// lacks (isobox serve's --sandbox-processes is 0 here).
func socketpair() ([2]int, error) {
	return [2]int{-1, -1}, isoerr.New(isoerr.NotImplemented, "sandbox processes are not implemented on %s", runtime.GOOS)
}
