package engine

import (
	"sync"
	"sync/atomic"
)

// memPool keeps the memory of closed sandboxes that started as one image, put back to the
// image, for the next sandboxes restored from it. A sandbox restored into a new reservation
// takes a page fault for every page of the image it reads or writes (a few hundred for a
// Python snippet); one restored into a recycled reservation finds them mapped, and the pages
// it writes already its own. Recycling replaces the munmap of a closed sandbox's memory with
// copying back the pages it wrote (the page table says which) and zeroing what it grew.
//
// A memory keeps at most a quarter of the image's pages, and no more than 2 MiB, as its own
// (copied back) when it is recycled: a sandbox that wrote more is mapped afresh from the
// image (one mmap), so that one heavy sandbox does not leave every later one holding its
// pages. A new sandbox in a recycled reservation holds those pages on its own
// (Sandbox.ResidentBytes counts them) until it is trimmed.
//
// The reset is what keeps one sandbox from seeing another's data: every page of the image
// part that is not the image file's own page (the page table's "present and file-backed";
// the file is sealed, so such a page is the image) is copied from the image, and every page
// past the image is discarded (reads as zeros). A memory is not recycled when the page
// table cannot be read, when its mappings changed (forks, prepareFork's live file), or when
// a step of the reset fails: it is unmapped, as before.
type memPool struct {
	img  *image
	pm   *pagemap
	max  int // reservations kept at most
	keep int // bytes of private pages a reset copies back at most (see memPool)

	mu     sync.Mutex
	free   []region
	closed bool

	// reused counts the restores that took a kept reservation, remapped the resets that
	// mapped the image afresh (for tests).
	reused, remapped atomic.Int64
}

// region is a kept reservation: buf is all of it, the image mapped copy-on-write at its
// start.
type region struct {
	buf     []byte
	release func()
}

// poolMax is how many reservations a pool keeps: enough for the sandboxes two cores close
// and restore in a burst. Each holds the pages its sandboxes wrote (a few hundred KiB for a
// Python snippet) until the engine closes.
const poolMax = 8

// keepMax bounds the private pages a recycled memory keeps (see memPool).
const keepMax = 2 << 20

// newMemPool makes the pool of img's sandboxes; nil where memory cannot be recycled (no
// copy-on-write file, no page table to read).
func newMemPool(img *image, pm *pagemap) *memPool {
	if img == nil || img.cow == nil || pm == nil {
		return nil
	}
	return &memPool{img: img, pm: pm, max: poolMax, keep: min(keepMax, len(img.data)/4)}
}

// get returns a kept reservation of at least limit bytes, holding the image; ok is false
// when there is none.
func (p *memPool) get(limit uint64) (r region, ok bool) {
	if p == nil {
		return region{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.free) - 1; i >= 0; i-- {
		if uint64(len(p.free[i].buf)) >= limit {
			r = p.free[i]
			p.free = append(p.free[:i], p.free[i+1:]...)
			p.reused.Add(1)
			return r, true
		}
	}
	return region{}, false
}

// put resets m's memory to the image and keeps its reservation. false means m is not
// recyclable, the reset failed or the pool is full or closed: the caller unmaps it.
func (p *memPool) put(m *limitedMemory) bool {
	if p == nil || m.release == nil || m.pending != nil || !m.shared || m.base != p.img.cow ||
		len(m.layers) > 0 || m.live != nil || len(m.buf) < len(p.img.data) {
		return false
	}
	p.mu.Lock()
	full := p.closed || len(p.free) >= p.max
	p.mu.Unlock()
	if full || !p.reset(m.buf) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.free) >= p.max {
		return false
	}
	p.free = append(p.free, region{buf: m.buf[:cap(m.buf)], release: m.release})
	return true
}

// reset puts mem (a memory's current extent, the image mapped at its start) back to the
// image: its private pages in the image part are copied from the image, the part past the
// image is discarded.
func (p *memPool) reset(mem []byte) bool {
	data := p.img.data
	n := len(data)
	kinds, ok := p.pm.pageKinds(mem[:n])
	if !ok || len(kinds)*osPage != n {
		return false
	}
	private := 0
	for _, k := range kinds {
		if k == pagePrivate {
			private += osPage
		}
	}
	if private > p.keep {
		// Mapping the image again drops every page this memory wrote.
		p.remapped.Add(1)
		return p.img.cow.mapInto(mem[:cap(mem)]) && (len(mem) == n || zeroPages(mem[n:]))
	}
	for i := 0; i < len(kinds); {
		if kinds[i] != pagePrivate {
			i++
			continue
		}
		j := i + 1
		for j < len(kinds) && kinds[j] == pagePrivate {
			j++
		}
		copy(mem[i*osPage:j*osPage], data[i*osPage:j*osPage])
		i = j
	}
	return len(mem) == n || zeroPages(mem[n:])
}

// drop unmaps the kept reservations; with closing, later puts unmap theirs.
func (p *memPool) drop(closing bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	free := p.free
	p.free = nil
	p.closed = p.closed || closing
	p.mu.Unlock()
	for _, r := range free {
		r.release()
	}
}

// DropKeptMemory unmaps the memory the engine keeps for recycling (the reservations of
// closed sandboxes, reset to their image, for the next sandboxes restored from it: at most
// 8 per base image, each holding up to 2 MiB of pages): for a measure of what sandboxes
// hold, or to give memory back after a burst. Later sandboxes recycle again.
func (e *Engine) DropKeptMemory() {
	if e.base != nil {
		e.base.pool.drop(false)
	}
	if e.py.started.Load() && e.py.base != nil {
		e.py.base.pool.drop(false)
	}
}
