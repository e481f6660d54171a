//go:build !linux

package engine

// populate does nothing where the pages of a memory cannot be told apart (no pagemap):
// no hot pages are learned there.
func populate(m *limitedMemory, runs []pageRun) {}
