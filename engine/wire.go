package engine

import (
	"time"

	"github.com/isobox/isobox/api"
)

// The engine speaks the wire's types where its data crosses the API unchanged. api is a
// leaf package (the standard library and isoerr), so importing it keeps the engine free of
// feature packages.

// Log is one line of console output captured from a sandbox (api.LogLine).
type Log = api.LogLine

// ModuleType is the kind of a module in a worker's module map, as in the Worker Loader
// (api.ModuleType).
type ModuleType = api.ModuleType

// WireLimits converts the wire's limits (whole milliseconds and MiB; nil or zero fields:
// unset) to engine limits.
func WireLimits(l *api.Limits) Limits {
	if l == nil {
		return Limits{}
	}
	return Limits{
		CPU:         time.Duration(l.CPUMs) * time.Millisecond,
		Wall:        time.Duration(l.WallMs) * time.Millisecond,
		Memory:      uint64(l.MemoryMB) << 20,
		SubRequests: l.SubRequests,
	}
}
