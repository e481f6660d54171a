package engine

import "context"

// BaseImageSum exposes the SHA-256 of e's base image to the external tests.
func BaseImageSum(e *Engine) [32]byte { return e.base.sum }

// PythonDeadStack is the span of Python's stack that snapshots skip (zero before the
// first Python sandbox).
func PythonDeadStack(e *Engine) (off, n uint32) { return e.py.deadStack.off, e.py.deadStack.n }

// ForkLayers is how many fork-file layers sb's memory is mapped from (0: none, as on an
// OS without memfd, or a fork that fell back to copying).
func ForkLayers(sb *Sandbox) int { return len(sb.mem.layers) }

// LiveBytes is how much of sb's memory lies in its live file (PrepareFork) and no fork
// froze yet.
func LiveBytes(sb *Sandbox) int {
	if sb.mem.live == nil {
		return 0
	}
	return len(sb.mem.buf) - sb.mem.liveOff
}

// BlankTaken is the number of blank sandboxes e's pool has handed out.
func BlankTaken(e *Engine) int {
	e.pool.mu.Lock()
	defer e.pool.mu.Unlock()
	return e.pool.taken
}

// BlankReady is the number of blank sandboxes e's pool holds now.
func BlankReady(e *Engine) int {
	e.pool.mu.Lock()
	defer e.pool.mu.Unlock()
	return len(e.pool.ready)
}

// HotPages is the number of pages each blank sandbox of e gets copied in advance (0 while
// they are being learned).
func HotPages(e *Engine) int { return e.pool.hotPageCount() }

// BaseImageDiff counts the bytes of sb's memory, within the base image's size and outside
// the stack, that differ from the base image.
func BaseImageDiff(sb *Sandbox) int {
	base, dead := sb.baseImage()
	buf := sb.mem.buf
	n := 0
	for i := 0; i < len(base.data) && i < len(buf); i++ {
		if uint32(i) >= dead.off && uint32(i) < dead.off+dead.n+2*osPage {
			continue
		}
		if buf[i] != base.data[i] {
			n++
		}
	}
	return n
}

// Recycling reports, for e's JavaScript (py false) or Python base image, how many restores
// took a kept memory, how many resets mapped the image afresh, and how many memories are
// kept now.
func Recycling(e *Engine, py bool) (reused, remapped int64, kept int) {
	img := e.base
	if py {
		img = e.py.base
	}
	p := img.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reused.Load(), p.remapped.Load(), len(p.free)
}

// RawMemory is sb's whole memory reservation (past its current size too, where the guest
// cannot read until it grows).
func RawMemory(sb *Sandbox) []byte { return sb.mem.buf[:cap(sb.mem.buf)] }

// PythonSandboxOf is p's Sandbox.
func PythonSandboxOf(p *PythonSandbox) *Sandbox { return p.sb }

// PythonEval runs a snippet in sb, a Python snippets' sandbox (PythonSandbox.Eval).
func PythonEval(ctx context.Context, sb *Sandbox, lim Limits, code string) (*Result, error) {
	return sb.pythonEval(ctx, lim, code)
}

// RestoredPool is the state of img's pool of restored sandboxes (KeepRestored): entries
// ready, handed out, and pages each entry gets copied; ok is false when img has none.
func RestoredPool(img *Image) (ready, taken, hot int, ok bool) {
	p := img.pool.Load()
	if p == nil {
		return 0, 0, 0, false
	}
	hot = p.hotPageCount()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready), p.taken, hot, true
}

// GrowStack is Sandbox.growStack to a pool's first depth, for tests.
func GrowStack(sb *Sandbox) { sb.growStack(growStackCalls) }

// NativeStackLen is the size of sb's native stack (nativeStackLen), -1 when it has none
// bound (trimmed).
func NativeStackLen(sb *Sandbox) int {
	if sb.entry == nil {
		return -1
	}
	return nativeStackLen(sb.entry)
}

// RestoredStack is what img's pool learned of its entries' native stacks: the size its
// learning sandboxes reached and the depth its entries are grown to.
func RestoredStack(img *Image) (target int, calls uint32) {
	p := img.pool.Load()
	if p == nil {
		return 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stack.target, p.stack.calls
}

// ImagePagesCopied is how many pages of the memory img holds (the base image's and its
// own) sb, restored from img, has written (made its private copy of), out of how many; ok
// is false where pages cannot be told apart.
func ImagePagesCopied(sb *Sandbox, img *Image) (copied, of int, ok bool) {
	kinds, ok := sb.e.pagemap.pageKinds(sb.mem.buf[:min(len(sb.mem.buf), int(img.size))])
	if !ok {
		return 0, 0, false
	}
	for _, k := range kinds {
		if k == pagePrivate {
			copied++
		}
	}
	return copied, len(kinds), true
}
