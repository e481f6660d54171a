//go:build linux || darwin || freebsd

package engine

import "syscall"

// newLimitedMemory reserves the whole limit as one private anonymous mapping. Pages cost
// nothing until the guest touches them, the mapping never moves (no copy on growth), and it
// is returned to the OS in one munmap when the sandbox closes.
func newLimitedMemory(limit uint64) *limitedMemory {
	m := &limitedMemory{limit: limit}
	b, err := syscall.Mmap(-1, 0, int(limit), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|mapNoReserve)
	if err != nil {
		return m // fall back to Go-allocated memory
	}
	m.buf = b[:0]
	m.release = func() { _ = syscall.Munmap(b) }
	return m
}
