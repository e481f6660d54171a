package engine

import (
	"sync"
	"sync/atomic"
)

// limitedMemory backs one sandbox's wasm linear memory (wazero's experimental
// MemoryAllocator). It refuses to grow past the sandbox's memory limit: the guest's malloc
// then fails, QuickJS throws "out of memory", and the host reports memory_limit_exceeded.
type limitedMemory struct {
	limit   uint64
	buf     []byte // reserved region (mmap) or nil
	refused atomic.Bool
	release func()
	shared  bool // starts as a copy-on-write mapping of an image

	// While an image is pending, instantiation writes the module's data segments into a
	// scratch buffer; the first growth switches to the image (see newImageMemory).
	pending *image
	scratch []byte
}

// scratchPool recycles the buffers instantiation writes data segments into on the way to
// an image: their content is never read.
var scratchPool sync.Pool

// Reallocate implements experimental.LinearMemory.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.refused.Store(true)
		return nil
	}
	if img := m.pending; img != nil {
		if m.scratch == nil { // the initial size, at instantiation
			if b, ok := scratchPool.Get().(*[]byte); ok && uint64(cap(*b)) >= size {
				m.scratch = (*b)[:size]
			} else {
				m.scratch = make([]byte, size)
			}
			return m.scratch
		}
		// The first growth: the memory moves to the image; the scratch buffer goes back.
		m.pending = nil
		s := m.scratch[:0]
		scratchPool.Put(&s)
		m.scratch = nil
		if size < uint64(len(img.data)) {
			return nil
		}
		m.mountImage(img)
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
	m.pending, m.scratch = nil, nil
	if m.release != nil {
		m.release()
		m.release = nil
	}
	m.buf = nil
}

// Len returns the current size of the linear memory in bytes.
func (m *limitedMemory) Len() int { return len(m.buf) }

// newImageMemory makes a sandbox memory that becomes img on its first growth: instantiation
// writes the module's data segments into a scratch buffer (the image already holds their
// state), then restore grows the memory to the image's size and it moves onto the image,
// mapped copy-on-write where the platform allows it, copied otherwise. So the pages of the
// data segments stay shared with the image instead of being rewritten in every sandbox.
func newImageMemory(limit uint64, img *image) *limitedMemory {
	m := newLimitedMemory(limit)
	m.pending = img
	return m
}

func (m *limitedMemory) mountImage(img *image) {
	if m.release != nil && img.cow != nil && img.cow.mapInto(m.buf[:cap(m.buf)]) {
		m.shared = true
		return
	}
	if m.release == nil { // no reservation: a Go slice
		m.buf = make([]byte, 0, max(uint64(len(img.data)), 1<<20))
	}
	copy(m.buf[:len(img.data)], img.data)
}
