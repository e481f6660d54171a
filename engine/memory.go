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
	// keep is how many of layers the memory's first fork made (its whole state then): a
	// compaction keeps them and rewrites the later ones (see planFork).
	keep int
	// live backs the memory from liveBase up, mapped shared, once the sandbox was readied
	// for forks (prepareFork): the pages it grows into are then in a file already, and a
	// fork maps them instead of copying them. [liveOff, len) is the part no fork froze yet.
	live              *forkFile
	liveBase, liveOff int

	// While an image is pending, instantiation writes the module's data segments into a
	// scratch buffer; the first growth switches to the image (see newImageMemory).
	pending *image
	scratch []byte
	// pool takes the reservation back when the memory is freed (recycle.go); mapped says
	// the reservation came from it, the image already mapped and clean at its start.
	pool   *memPool
	mapped bool
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
	if m.pool != nil && m.pool.put(m) {
		m.release = nil // the pool holds the reservation now
	}
	m.pending, m.scratch = nil, nil
	if m.release != nil {
		m.release()
		m.release = nil
	}
	m.buf = nil
	m.setLayers(nil) // after the munmap: no mapping of them is left here
	if m.live != nil {
		m.live.release()
		m.live = nil
	}
}

// Len returns the current size of the linear memory in bytes.
func (m *limitedMemory) Len() int { return len(m.buf) }

// newImageMemory makes a sandbox memory that becomes img on its first growth: instantiation
// writes the module's data segments into a scratch buffer (the image already holds their
// state), then restore grows the memory to the image's size and it moves onto the image,
// mapped copy-on-write where the platform allows it, copied otherwise. So the pages of the
// data segments stay shared with the image instead of being rewritten in every sandbox.
func newImageMemory(limit uint64, img *image) *limitedMemory {
	var m *limitedMemory
	if r, ok := img.pool.get(limit); ok {
		m = &limitedMemory{limit: limit, buf: r.buf[:0], release: r.release, mapped: true}
	} else {
		m = newLimitedMemory(limit)
	}
	m.pending, m.pool = img, img.pool
	return m
}

func (m *limitedMemory) mountImage(img *image) {
	if m.mapped { // a recycled reservation: the image is mapped there, as it was
		m.shared, m.base = true, img.cow
		return
	}
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

// layer is a run of pages of a fork file mapped at memOff. A live layer is a part of a
// live file (see prepareFork): the memory grown between two forks, above every page of the
// layers before it.
type layer struct {
	f                  *forkFile
	memOff, fileOff, n int
	live               bool
}

// pageRun is a run of whole pages of linear memory.
type pageRun struct{ off, n int }

const (
	// forkRuns bounds the runs of written pages one fork maps (more are merged across
	// their smallest gaps): each is an mmap in the parent and in every later child.
	forkRuns = 16
	// fillGap is the widest gap between two runs of written pages that a fork copies
	// rather than maps around: a mapping (in the parent, and in each child) costs about as
	// much as copying a few pages into the fork file.
	fillGap = 4
	// forkLayers bounds a memory's layers (the mappings a fork of it replays); past it a
	// fork compacts them (see planFork).
	forkLayers = 32
)

// forkPlan is the mappings a child gets: layers over the base image, of which layers[fresh:]
// are new and mapped over the parent too. f is the new fork file, if any, whose first
// reference the plan holds until done. keep is the memory's keep after the fork; liveEnd,
// when not 0, is where the live part it freezes ends.
type forkPlan struct {
	layers      []layer
	fresh, keep int
	f           *forkFile
	liveEnd     int
}

func (p forkPlan) done() {
	if p.f != nil {
		p.f.release()
	}
}

// planFork writes the pages m wrote since its last fork (or since it was mapped from the
// image) into a new fork file; the part of a live file m grew into since is mapped as it
// is. ok is false where memory cannot be shared this way (no reservation, no memfd, no page
// table to read): the caller copies instead.
func (m *limitedMemory) planFork(pm *pagemap) (p forkPlan, ok bool) {
	if m.release == nil || m.pending != nil || m.base == nil {
		return forkPlan{}, false
	}
	frozen := m.buf // the pages below the live part: anonymous where written
	if m.live != nil {
		frozen = m.buf[:m.liveOff]
	}
	runs, ok := pm.privateRuns(frozen, forkRuns)
	if !ok {
		return forkPlan{}, false
	}
	p = forkPlan{layers: slices.Clip(m.layers), fresh: len(m.layers), keep: m.keep}
	var live []layer
	if m.live != nil && len(m.buf) > m.liveOff {
		live = []layer{{f: m.live, memOff: m.liveOff, fileOff: m.liveOff - m.liveBase, n: len(m.buf) - m.liveOff, live: true}}
		p.liveEnd = len(m.buf)
	}
	if len(runs) == 0 && len(live) == 0 {
		return p, true
	}
	if len(m.layers)+len(runs)+len(live) > forkLayers {
		// Compact: the first fork's layers (usually most of the state) stay, and so do
		// later live layers, up to half the bound (no layer before one touches its pages,
		// so it can move below the others, which are rewritten above it); the pages every
		// other later layer covers are written again, with the new ones, as fresh layers.
		kept := slices.Clone(m.layers[:m.keep])
		for _, l := range m.layers[m.keep:] {
			if l.live && len(kept) < forkLayers/2 {
				kept = append(kept, l)
				continue
			}
			runs = append(runs, pageRun{l.memOff, l.n})
		}
		// The fresh runs fill what the bound leaves (the first fork's layers may be
		// forkRuns and a live one).
		runs = mergeRuns(unionRuns(runs), max(1, min(forkRuns, forkLayers-len(kept)-len(live))))
		p.layers, p.fresh = slices.Clip(kept), len(kept)
	}
	if len(runs) > 0 {
		f, fresh := newForkFile(m.buf, runs)
		if f == nil {
			return forkPlan{}, false
		}
		p.layers = append(p.layers, fresh...)
		p.f = f
	}
	// The live part lies above every other layer's pages: it goes last.
	p.layers = append(p.layers, live...)
	if p.keep == 0 {
		p.keep = len(p.layers)
	}
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
	m.keep = p.keep
	return true
}

// canMountLayers reports whether m is a mapping of the base image with nothing over it,
// which mountLayers can map an image's layers onto.
func (m *limitedMemory) canMountLayers() bool {
	return m.release != nil && m.pending == nil && m.base != nil && m.live == nil && len(m.layers) == 0
}

// mountLayers maps an image's layers (Image.imageLayers) over a memory just restored from
// the base image and grown to the image's size (canMountLayers). false means a mapping
// failed: the memory may hold part of the layers and must not be used.
func (m *limitedMemory) mountLayers(ls []layer) bool {
	for _, l := range ls {
		if l.memOff+l.n > len(m.buf) || !mapLayer(m.buf[:cap(m.buf)], l) {
			return false
		}
	}
	m.setLayers(ls)
	m.keep = len(ls)
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
	m.keep = p.keep
	if p.liveEnd != 0 {
		m.liveOff = p.liveEnd // the live file below it is mapped privately now: frozen
	}
	return true
}

// prepareFork readies m to be forked without copying: the pages it wrote so far go into a
// fork file that m moves onto (the copy its first fork would make), and the rest of its
// reservation, where it grows from now on, is mapped shared from a live file of its own.
// ok is false where the OS cannot share pages (m is unchanged) or when a mapping failed
// (then broken says whether m may have lost pages and must not be used again).
func (m *limitedMemory) prepareFork(pm *pagemap) (ok, broken bool) {
	p, ok := m.planFork(pm)
	if !ok {
		return false, false
	}
	defer p.done()
	if len(p.layers) > p.fresh && !m.adoptFork(p) {
		return false, true
	}
	if m.live != nil {
		return true, false
	}
	at := len(m.buf)
	if at == cap(m.buf) {
		return true, false // nothing left to grow into
	}
	f, ok := newLiveFile(m.buf[at:cap(m.buf)])
	if f == nil {
		return false, !ok
	}
	m.live, m.liveBase, m.liveOff = f, at, at
	return true, false
}

// privateBytes counts the bytes of m's pages that it alone holds: its anonymous pages
// below the live part (pagemap.privateBytes) and the pages of the live part's file.
func (m *limitedMemory) privateBytes(pm *pagemap) (n int, ok bool) {
	end := len(m.buf)
	if m.live != nil {
		end = min(end, m.liveOff)
	}
	n, ok = pm.privateBytes(m.buf[:end])
	for _, r := range m.liveData() {
		n += r.n
	}
	return n, ok
}

// liveData returns the runs of the live part that hold pages of its file (written, or
// read: a shared file's hole is not backed by the zero page). The rest reads as zeros and
// holds no memory; snapshots skip it rather than read it, which would give it pages.
func (m *limitedMemory) liveData() []pageRun {
	if m.live == nil || m.liveOff >= len(m.buf) {
		return nil
	}
	runs := m.live.dataRuns(m.liveOff-m.liveBase, len(m.buf)-m.liveBase)
	for i := range runs {
		runs[i].off += m.liveBase
	}
	return runs
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

// mergeRuns joins runs across gaps of at most fillGap pages, then across their smallest
// gaps until at most max remain: each run costs a mapping in every fork, a gap's pages cost
// a copy once.
func mergeRuns(runs []pageRun, max int) []pageRun {
	if len(runs) > 1 {
		out := append(make([]pageRun, 0, len(runs)), runs[0])
		for _, r := range runs[1:] {
			if last := &out[len(out)-1]; r.off-(last.off+last.n) <= fillGap*osPage {
				last.n = r.off + r.n - last.off
				continue
			}
			out = append(out, r)
		}
		runs = out
	}
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
