//go:build unix

package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes an exclusive lock on dir/isobox.lock for as long as the server runs,
// or fails when another server holds it. The lock goes with the process: a server that
// crashed leaves nothing to clean up.
func lockDataDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "isobox.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("server: data directory %s is in use by another isobox server (it holds %s)", dir, path)
		}
		return nil, fmt.Errorf("server: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
