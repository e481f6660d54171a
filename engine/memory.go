package engine

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// limitedMemory backs one sandbox's wasm linear memory (wazero's experimental
// MemoryAllocator). It refuses to grow past the sandbox's memory limit: the guest's malloc
// then fails, QuickJS throws "out of memory", and the host reports memory_limit_exceeded.
type limitedMemory struct {
	limit   uint64
	others  *uint64 // memory charged to the same limit elsewhere (a JavaScript sandbox's wasm instances, wasmjs.go)
	buf     []byte  // reserved region (mmap) or nil
	refused atomic.Bool
	release func()
	shared  bool // starts as a copy-on-write mapping of an image
	// base is the image file mapped at the start of buf (when shared); layers are the fork
	// files mapped over it since, in mapping order (see planFork).
	base   *cowFile
	layers []layer

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
	if size > m.limit || m.others != nil && size+*m.others > m.limit {
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
	m.setLayers(nil) // after the munmap: no mapping of them is left here
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
		m.shared, m.base = true, img.cow
		return
	}
	if m.release == nil { // no reservation: a Go slice
		m.buf = make([]byte, 0, max(uint64(len(img.data)), 1<<20))
	}
	copy(m.buf[:len(img.data)], img.data)
}

// A copy-on-write fork (Linux): the child starts from the base image like any sandbox, then
// maps over it, privately, the same files the parent's memory is made of: the base image,
// then the fork files written at the parent's earlier forks, then a new fork file holding the
// pages the parent wrote since (its private pages, found in the page table). The parent moves
// onto that new file too, so the pages it wrote are written out once: a later fork writes
// only what the parent changed since, and a fork of an idle parent writes nothing.

// layer is a run of pages of a fork file mapped at memOff.
type layer struct {
	f                  *forkFile
	memOff, fileOff, n int
}

// pageRun is a run of whole pages of linear memory.
type pageRun struct{ off, n int }

const (
	// forkRuns bounds the runs of written pages one fork maps (more are merged across
	// their smallest gaps): each is an mmap in the parent and in every later child.
	forkRuns = 8
	// forkLayers bounds a memory's layers (the mappings a fork of it replays); past it a
	// fork compacts them (see planFork).
	forkLayers = 32
)

// forkPlan is the mappings a child gets: layers over the base image, of which layers[fresh:]
// are new and mapped over the parent too. f is the new fork file, if any, whose first
// reference the plan holds until done.
type forkPlan struct {
	layers []layer
	fresh  int
	f      *forkFile
}

func (p forkPlan) done() {
	if p.f != nil {
		p.f.release()
	}
}

// planFork writes the pages m wrote since its last fork (or since it was mapped from the
// image) into a new fork file. ok is false where memory cannot be shared this way (no
// reservation, no memfd, no page table to read): the caller copies instead.
func (m *limitedMemory) planFork(pm *pagemap) (p forkPlan, ok bool) {
	if m.release == nil || m.pending != nil || m.base == nil {
		return forkPlan{}, false
	}
	runs, ok := pm.privateRuns(m.buf, forkRuns)
	if !ok {
		return forkPlan{}, false
	}
	p = forkPlan{layers: slices.Clip(m.layers), fresh: len(m.layers)}
	if len(runs) == 0 {
		return p, true
	}
	if len(m.layers)+len(runs) > forkLayers {
		// Compact: the first fork's layers (usually most of the state) stay; the pages
		// every later layer covers are written again, with the new ones, as fresh layers.
		keep := 0
		for keep < len(m.layers) && m.layers[keep].f == m.layers[0].f {
			keep++
		}
		for _, l := range m.layers[keep:] {
			runs = append(runs, pageRun{l.memOff, l.n})
		}
		runs = mergeRuns(unionRuns(runs), forkRuns)
		p.layers, p.fresh = slices.Clip(m.layers[:keep]), keep
	}
	f, fresh := newForkFile(m.buf, runs)
	if f == nil {
		return forkPlan{}, false
	}
	p.layers = append(p.layers, fresh...)
	p.f = f
	return p, true
}

// mountFork maps the image and p's layers over a new child's memory, which must already
// have the parent's size. Mapping the image again drops what the child's own start wrote.
func (m *limitedMemory) mountFork(p forkPlan) bool {
	if m.release == nil || m.pending != nil || m.base == nil || !m.base.mapInto(m.buf[:cap(m.buf)]) {
		return false
	}
	for _, l := range p.layers {
		if l.memOff+l.n > len(m.buf) || !mapLayer(m.buf[:cap(m.buf)], l) {
			return false
		}
	}
	m.setLayers(p.layers)
	return true
}

// adoptFork moves the parent onto p's new layers. false means a mapping failed: the memory
// may have lost pages and must not be used again.
func (m *limitedMemory) adoptFork(p forkPlan) bool {
	for _, l := range p.layers[p.fresh:] {
		if !mapLayer(m.buf[:cap(m.buf)], l) {
			return false
		}
	}
	m.setLayers(p.layers)
	return true
}

func (m *limitedMemory) setLayers(ls []layer) {
	for _, l := range ls {
		l.f.acquire()
	}
	for _, l := range m.layers {
		l.f.release()
	}
	m.layers = ls
}

// unionRuns sorts runs and joins those that overlap or touch.
func unionRuns(runs []pageRun) []pageRun {
	slices.SortFunc(runs, func(a, b pageRun) int { return a.off - b.off })
	var out []pageRun
	for _, r := range runs {
		if k := len(out) - 1; k >= 0 && r.off <= out[k].off+out[k].n {
			out[k].n = max(out[k].n, r.off+r.n-out[k].off)
			continue
		}
		out = append(out, r)
	}
	return out
}

// mergeRuns joins runs across their smallest gaps until at most max remain: each run costs
// a mapping in every fork, a gap's pages cost a copy once.
func mergeRuns(runs []pageRun, max int) []pageRun {
	if len(runs) <= max || max < 1 {
		return runs
	}
	gaps := make([]int, len(runs)-1) // gap i lies between runs i and i+1
	for i := range gaps {
		gaps[i] = i
	}
	size := func(i int) int { return runs[i+1].off - (runs[i].off + runs[i].n) }
	sort.Slice(gaps, func(a, b int) bool { return size(gaps[a]) > size(gaps[b]) })
	keep := make([]bool, len(runs)-1)
	for _, g := range gaps[:max-1] {
		keep[g] = true
	}
	out := []pageRun{runs[0]}
	for i := 1; i < len(runs); i++ {
		if keep[i-1] {
			out = append(out, runs[i])
			continue
		}
		last := &out[len(out)-1]
		last.n = runs[i].off + runs[i].n - last.off
	}
	return out
}
