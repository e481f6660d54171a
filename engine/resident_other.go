//go:build !linux

package engine

// pagemap is Linux-only; elsewhere a sandbox's resident memory is taken to be its whole
// linear memory (an upper bound).
type pagemap struct{}

func openPagemap() *pagemap { return nil }

func (p *pagemap) close() {}

func (p *pagemap) privateBytes(b []byte) (int, bool) { return 0, false }

const (
	pageAbsent = iota
	pagePrivate
	pageShared
)

func (p *pagemap) pageKinds(b []byte) ([]byte, bool) { return nil, false }
