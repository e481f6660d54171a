package engine

// BaseImageSum exposes the SHA-256 of e's base image to the external tests.
func BaseImageSum(e *Engine) [32]byte { return e.base.sum }

// PythonDeadStack is the span of Python's stack that snapshots skip (zero before the
// first Python sandbox).
func PythonDeadStack(e *Engine) (off, n uint32) { return e.py.deadStack.off, e.py.deadStack.n }
