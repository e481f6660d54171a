//go:build !unix

package sandboxproc

import "errors"

// stopProcess fails here: the platform has no SIGSTOP (nor sandbox processes to stop).
func stopProcess(int) error { return errors.ErrUnsupported }
