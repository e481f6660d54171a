package engine

import "sync/atomic"

// limitedMemory backs one sandbox's wasm linear memory (wazero's experimental
// MemoryAllocator). It refuses to grow past the sandbox's memory limit: the guest's malloc
// then fails, QuickJS throws "out of memory", and the host reports memory_limit_exceeded.
type limitedMemory struct {
	limit   uint64
	buf     []byte // reserved region (mmap) or nil
	refused atomic.Bool
	release func()
	shared  bool // starts as a copy-on-write mapping of an image
}

// Reallocate implements experimental.LinearMemory.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.refused.Store(true)
		return nil
	}
	if uint64(cap(m.buf)) >= size {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Fallback (no reservation): grow by copying, as wazero itself does.
	nb := make([]byte, size, max(size, uint64(cap(m.buf))*2, 1<<20))
	copy(nb, m.buf)
	m.buf = nb
	return nb
}

// Free implements experimental.LinearMemory.
func (m *limitedMemory) Free() {
	if m.release != nil {
		m.release()
		m.release = nil
	}
	m.buf = nil
}

// Len returns the current size of the linear memory in bytes.
func (m *limitedMemory) Len() int { return len(m.buf) }

// newImageMemory makes a sandbox memory that starts as img: mapped copy-on-write where the
// platform allows it, copied otherwise.
func newImageMemory(limit uint64, img *image) *limitedMemory {
	m := newLimitedMemory(limit)
	if m.release != nil && img.cow != nil && img.cow.mapInto(m.buf[:cap(m.buf)]) {
		m.shared = true
		return m
	}
	if m.release == nil { // no reservation: a Go slice
		m.buf = make([]byte, 0, max(uint64(len(img.data)), 1<<20))
	}
	copy(m.buf[:len(img.data)], img.data)
	return m
}
