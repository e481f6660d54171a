//go:build !linux

package shmring

import (
	"errors"
	"os"
	"time"
)

var errNotLinux = errors.New("shmring: not implemented on this system (shared-memory rings need Linux futexes)")

func memfd(int) (*os.File, error)              { return nil, errNotLinux }
func mapShared(*os.File, int) ([]byte, error)  { return nil, errNotLinux }
func unmap([]byte)                             {}
func futexWait(*uint32, uint32, time.Duration) {}
func futexWake(*uint32)                        {}
