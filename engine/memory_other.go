//go:build !(linux || darwin || freebsd)

package engine

func newLimitedMemory(limit uint64) *limitedMemory { return &limitedMemory{limit: limit} }
