package engine

import (
	"errors"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// Limits bound what one invocation (and, for Memory, one sandbox) may use. A zero field means
// "the default"; see DefaultLimits. Limits is not a wire type: its durations are
// nanoseconds, and it refuses to be marshalled to JSON. The wire form is api.Limits (whole
// milliseconds and MiB), which the loader converts.
type Limits struct {
	// CPU is the guest CPU time one invocation may use (default 50 ms, at most 30 s).
	CPU time.Duration
	// Wall is the wall-clock time one invocation may take, waits included (default 30 s).
	Wall time.Duration
	// Memory is the most linear memory a sandbox may hold (default 128 MiB).
	Memory uint64
	// SubRequests is the number of fetch() calls one invocation may make (default 50).
	SubRequests int
	// Output caps a response body or RPC result, in bytes (default 10 MiB).
	Output int
	// Logs caps the console output captured per invocation, in bytes (default 1 MiB).
	Logs int
}

// errNotWire is what marshalling Limits gives.
var errNotWire = errors.New("engine.Limits has no JSON form (its durations are nanoseconds): send api.Limits")

// MarshalJSON refuses: Limits is not a wire type (see api.Limits).
func (Limits) MarshalJSON() ([]byte, error) { return nil, errNotWire }

// Bounds on the limits a caller may ask for.
const (
	MaxCPU         = 30 * time.Second
	MaxWall        = 15 * time.Minute
	MinMemory      = 16 << 20
	MaxMemory      = 4 << 30
	MaxSubRequests = 10000
	MaxOutput      = 256 << 20
)

// DefaultLimits returns the limits used where none are given.
func DefaultLimits() Limits {
	return Limits{
		CPU:         50 * time.Millisecond,
		Wall:        30 * time.Second,
		Memory:      128 << 20,
		SubRequests: 50,
		Output:      10 << 20,
		Logs:        1 << 20,
	}
}

// Or returns l with every zero field taken from d.
func (l Limits) Or(d Limits) Limits {
	if l.CPU == 0 {
		l.CPU = d.CPU
	}
	if l.Wall == 0 {
		l.Wall = d.Wall
	}
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.SubRequests == 0 {
		l.SubRequests = d.SubRequests
	}
	if l.Output == 0 {
		l.Output = d.Output
	}
	if l.Logs == 0 {
		l.Logs = d.Logs
	}
	return l
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	return l.Or(DefaultLimits())
}

// Validate reports the first limit that is out of range, as an invalid_request error that
// names it.
func (l Limits) Validate() error {
	switch {
	case l.CPU < 0 || l.CPU > MaxCPU:
		return isoerr.New(isoerr.InvalidRequest, "limits.cpuMs must be between 1 and %d, got %d", MaxCPU.Milliseconds(), l.CPU.Milliseconds())
	case l.Wall < 0 || l.Wall > MaxWall:
		return isoerr.New(isoerr.InvalidRequest, "limits.wallMs must be between 1 and %d, got %d", MaxWall.Milliseconds(), l.Wall.Milliseconds())
	case l.Memory != 0 && (l.Memory < MinMemory || l.Memory > MaxMemory):
		return isoerr.New(isoerr.InvalidRequest, "limits.memory must be between %d and %d MiB, got %d bytes", MinMemory>>20, MaxMemory>>20, l.Memory)
	case l.SubRequests < 0 || l.SubRequests > MaxSubRequests:
		return isoerr.New(isoerr.InvalidRequest, "limits.subRequests must be between 0 and %d, got %d", MaxSubRequests, l.SubRequests)
	case l.Output < 0 || l.Output > MaxOutput:
		return isoerr.New(isoerr.InvalidRequest, "limits.outputBytes must be between 0 and %d, got %d", MaxOutput, l.Output)
	case l.Logs < 0 || l.Logs > MaxOutput:
		return isoerr.New(isoerr.InvalidRequest, "limits.logBytes must be between 0 and %d, got %d", MaxOutput, l.Logs)
	}
	return nil
}

// Min returns the tighter of two limit sets, field by field (the lower value wins, as in
// Dynamic Workers when both WorkerCode and getEntrypoint set a limit). Zero means unset.
func (l Limits) Min(o Limits) Limits {
	pick := func(a, b int64) int64 {
		if a == 0 || (b != 0 && b < a) {
			return b
		}
		return a
	}
	return Limits{
		CPU:         time.Duration(pick(int64(l.CPU), int64(o.CPU))),
		Wall:        time.Duration(pick(int64(l.Wall), int64(o.Wall))),
		Memory:      uint64(pick(int64(l.Memory), int64(o.Memory))),
		SubRequests: int(pick(int64(l.SubRequests), int64(o.SubRequests))),
		Output:      int(pick(int64(l.Output), int64(o.Output))),
		Logs:        int(pick(int64(l.Logs), int64(o.Logs))),
	}
}
