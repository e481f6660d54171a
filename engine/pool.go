package engine

import (
	"context"
	"slices"
	"sync"
)

// A blank pool keeps JavaScript sandboxes restored from the base image ready, made in the
// background, so that a new sandbox on the request path is taken rather than made
// (Engine.KeepBlank, NewSandbox). An entry is blank: it is the base image and nothing else
// (no guest code has run in it, no worker, tenant, module or capability is in it; its
// Math.random seed is its own), so entries need no tenant of their own. Each is handed out
// once and never comes back: a sandbox that served anyone is closed, not pooled again.
//
// The same pool keeps sandboxes restored from a snapshot (Engine.KeepRestored): the
// dependency image that every app using the same packages starts from. Such an entry is
// that image and nothing else, as a restore of it is, with a seed of its own.
//
// A restore maps the image copy-on-write, so every page a worker's load and first
// response write is copied on a write fault (~2–4 µs each on the machines measured, about
// a hundred per cold load from the base image and ~270 for a Hono app from its dependency
// image). The pool copies the pages that workers usually write while the entry waits:
// which pages those are is learned from the first sandboxes' first invocations after
// their load (hotSamples of them; a page at least half of them wrote), bounded to the
// image and the first hotPastImage pages past it (where the heap grows: zero pages) and to
// maxHotPages. Copying a page leaves its content as it was, so an entry stays
// the image byte for byte; Trim gives the copies back once a worker is idle.
//
// An entry's native stack is grown while it waits too (Sandbox.growStack). A pool of
// restored sandboxes grows it to the depth the same first sandboxes showed their load and
// first invocation need (stackDepth); the blank pool, whose first sandboxes may be any
// tenant's, keeps the fixed depth, so that no tenant's first workers decide what every
// later entry costs.
type blankPool struct {
	e *Engine
	// src restores an entry with the hot pages copied; pages is the extent, in pages,
	// whose writes are learned.
	src   func(context.Context, []pageRun) (*Sandbox, error)
	pages int

	mu     sync.Mutex
	want   int        // entries to keep ready (KeepBlank)
	ready  []*Sandbox // blank, made by fill
	taken  int        // entries handed out (for tests)
	closed bool
	hot    hotPages
	stack  stackDepth
	kick   chan struct{} // wakes fill (buffered: a kick is never lost)
	done   chan struct{} // closed when fill returns; nil while fill never started
}

// hotPages learns which pages of the base image a worker's load and first invocation
// write. Guarded by blankPool.mu.
type hotPages struct {
	votes   []uint8   // per page of the image and past it: samples that wrote it
	samples int       // samples taken
	runs    []pageRun // pages to copy into an entry, once hotSamples were taken
}

// stackDepth learns how deep a pool grows its entries' native stacks. Guarded by
// blankPool.mu.
type stackDepth struct {
	learn  bool   // the pool learns the depth (KeepRestored's); else growStackCalls
	sizes  []int  // the learning sandboxes' native stack sizes after their first invocation
	target int    // the size at least half of them reached; 0 until hotSamples were taken
	calls  uint32 // the depth entries are grown to (growStackCalls until learned)
}

const (
	// maxBlank bounds KeepBlank: each entry holds an instance (~30 KiB of Go heap) and its
	// copied pages (~0.4 MiB for the anchor's worker).
	maxBlank = 16
	// hotSamples is how many sandboxes' first invocations decide the hot pages.
	hotSamples = 8
	// maxHotPages bounds the pages copied into each entry (2 MiB), whatever workers wrote.
	maxHotPages = 512
	// hotPastImage is how far past the image's end (in pages: 512 KiB) hot pages may lie:
	// the heap grows there, onto zero pages a worker's first allocations fault in.
	hotPastImage = 128
)

// KeepBlank keeps up to n blank JavaScript sandboxes ready for NewSandbox (a sandbox of
// the default memory limit, from the base image), made in the background, so that the
// request path takes one instead of making it. The largest n asked for wins (at most 16);
// 0, the default, keeps none. An engine without the base image (Config.NoImage) keeps
// none.
func (e *Engine) KeepBlank(n int) {
	if e.base == nil || n <= 0 {
		return
	}
	limit := DefaultLimits().Memory
	e.pool.keep(e, n, len(e.base.data)/osPage+hotPastImage, false, func(ctx context.Context, hot []pageRun) (*Sandbox, error) {
		return e.restoreHot(ctx, e.base, limit, hot)
	})
}

// keep starts p (entries made by src, whose writes are learned over pages, and whose
// stack depth is learned with learnStack) or raises its size to n.
func (p *blankPool) keep(e *Engine, n, pages int, learnStack bool, src func(context.Context, []pageRun) (*Sandbox, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.want = max(p.want, min(n, maxBlank))
	if p.done == nil {
		p.e, p.src, p.pages, p.stack.learn = e, src, pages, learnStack
		p.kick = make(chan struct{}, 1)
		p.done = make(chan struct{})
		go p.fill()
	}
	p.wake()
}

// wake asks fill to top the pool up. Called with p.mu held, before close.
func (p *blankPool) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// take hands out a blank sandbox, or nil when none is ready. It never blocks on fill.
func (p *blankPool) take() *Sandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.want == 0 || p.closed {
		return nil
	}
	p.wake()
	n := len(p.ready)
	if n == 0 {
		return nil
	}
	sb := p.ready[n-1]
	p.ready[n-1] = nil
	p.ready = p.ready[:n-1]
	p.taken++
	return sb
}

// fill makes entries until the pool holds want, then waits for a kick.
func (p *blankPool) fill() {
	defer close(p.done)
	ctx := context.Background()
	for range p.kick {
		for {
			p.mu.Lock()
			need := !p.closed && len(p.ready) < p.want
			runs := p.hot.runs
			p.mu.Unlock()
			if !need {
				break
			}
			sb, err := p.src(ctx, runs)
			if err != nil {
				break // tried again at the next take
			}
			p.grow(sb)
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				sb.Close(ctx)
				return
			}
			p.ready = append(p.ready, sb)
			p.mu.Unlock()
		}
	}
}

// close stops fill and frees the entries. Called by Engine.Close.
func (p *blankPool) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	ready := p.ready
	p.ready = nil
	done := p.done
	if done != nil {
		close(p.kick)
	}
	p.mu.Unlock()
	if done != nil {
		<-done
	}
	for _, sb := range ready {
		sb.Close(ctx)
	}
}

// grow grows sb's native stack, an entry's, to the learned depth: growStackCalls, doubled
// while sb's stack is short of what the learning sandboxes needed, up to maxStackCalls.
// The depth found is kept, so later entries grow once. A stack wazero grew for a call is
// twice the one before and more, so sb's is enough once the learned size is less than 1.5
// times its own: the learners' stacks grew from other sizes and land on other multiples.
func (p *blankPool) grow(sb *Sandbox) {
	p.mu.Lock()
	calls, target := max(p.stack.calls, growStackCalls), p.stack.target
	p.mu.Unlock()
	sb.growStack(calls)
	for target > 0 && calls < maxStackCalls {
		if n := nativeStackLen(sb.entry); n < 0 || 2*target < 3*n {
			break
		}
		calls = min(2*calls, maxStackCalls)
		sb.growStack(calls)
	}
	p.mu.Lock()
	p.stack.calls = max(p.stack.calls, calls)
	p.mu.Unlock()
}

// learning reports whether the hot pages are still being learned.
func (p *blankPool) learning() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.want > 0 && p.hot.samples < hotSamples
}

// learn counts the pages of the image that sb wrote (its load and first invocation), and
// decides the hot pages at the last sample. sb must not be running.
func (p *blankPool) learn(sb *Sandbox) {
	n := p.pages
	kinds, ok := p.e.pagemap.pageKinds(sb.mem.buf[:min(len(sb.mem.buf), n*osPage)])
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h := &p.hot
	if h.samples >= hotSamples {
		return
	}
	if h.votes == nil {
		h.votes = make([]uint8, n)
	}
	for i, k := range kinds {
		if k == pagePrivate {
			h.votes[i]++
		}
	}
	if n := nativeStackLen(sb.entry); n > 0 && p.stack.learn {
		p.stack.sizes = append(p.stack.sizes, n)
	}
	if h.samples++; h.samples < hotSamples {
		return
	}
	if s := p.stack.sizes; len(s) > 0 {
		slices.Sort(s)
		p.stack.target, p.stack.sizes = s[len(s)/2], nil
	}
	pages := 0
	for i, v := range h.votes {
		if 2*int(v) < hotSamples || pages == maxHotPages {
			continue
		}
		pages++
		if k := len(h.runs) - 1; k >= 0 && h.runs[k].off+h.runs[k].n == i*osPage {
			h.runs[k].n += osPage
		} else {
			h.runs = append(h.runs, pageRun{off: i * osPage, n: osPage})
		}
	}
	h.votes = nil
}

// hotPageCount is the number of pages an entry gets copied (for tests and the bench).
func (p *blankPool) hotPageCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.hot.runs {
		n += r.n / osPage
	}
	return n
}
