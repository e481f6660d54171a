package engine

// BaseImageDeadStack is the span of e's base image that snapshots skip.
func BaseImageDeadStack(e *Engine) (off, n uint32) { return e.deadStack.off, e.deadStack.n }

// EncodeBaseImage is a base image file holding data with the given SHA-256 and dead stack,
// its checksum right: for the tests of what a checked file may still say.
func EncodeBaseImage(data []byte, sum [32]byte, deadOff, deadN uint32) []byte {
	img := &image{data: data, sum: sum}
	return append(append([]byte(nil), data...), encodeTrailer(img, span{off: deadOff, n: deadN})...)
}

// CheckBaseImage reports whether a base image file's bytes pass the checks that a file
// read from the cache directory must pass before it is used.
func CheckBaseImage(file []byte) bool {
	_, _, _, ok := checkBaseImage(file)
	return ok
}
