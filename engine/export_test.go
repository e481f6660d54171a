package engine

// BaseImageSum exposes the SHA-256 of e's base image to the external tests.
func BaseImageSum(e *Engine) [32]byte { return e.base.sum }
