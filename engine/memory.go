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
