package engine

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
