//go:build !linux

package engine

// cowFile is Linux-only (memfd); elsewhere images are copied into each sandbox.
type cowFile struct{ size int }

func newCOWFile(data []byte) *cowFile { return nil }

func (c *cowFile) close() {}

func (c *cowFile) mapInto(region []byte) bool { return false }

func discard(b []byte) {}
