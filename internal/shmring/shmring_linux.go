//go:build linux

package shmring

import (
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// memfd makes an anonymous file of n bytes (close-on-exec: the creator passes it to its
// child explicitly, as one of exec.Cmd.ExtraFiles).
func memfd(n int) (*os.File, error) {
	fd, err := unix.MemfdCreate("isobox-ring", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("shmring: memfd: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(n)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("shmring: size the memfd: %w", err)
	}
	return os.NewFile(uintptr(fd), "isobox-ring"), nil
}

// mapShared maps n bytes of f, shared with every other process that maps it.
func mapShared(f *os.File, n int) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shmring: map the rings: %w", err)
	}
	return b, nil
}

// The futex operations (linux/futex.h), shared (not FUTEX_PRIVATE_FLAG).
const (
	futexWaitOp = 0
	futexWakeOp = 1
)

func unmap(b []byte) { _ = unix.Munmap(b) }

// futexWait sleeps while *word == val, for at most d. The futex is a shared one (not
// FUTEX_PRIVATE): the word lives in memory two processes map.
func futexWait(word *uint32, val uint32, d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWaitOp, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWake wakes one sleeper on word, in whichever process it sleeps.
func futexWake(word *uint32) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWakeOp, 1, 0, 0, 0)
}
