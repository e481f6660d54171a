package engine

import (
	"strings"

	"github.com/isobox/isobox/isoerr"
)

// signals are everything an invocation observed that can make it fail. The code that
// observes one records it here and asks verdict for the invocation's error; nothing else
// decides which failure wins or whether the sandbox is broken.
type signals struct {
	// stopped is the first reason the host stopped the guest, at an interrupt poll or in
	// the event loop's wait: the caller canceled, the CPU or wall-time limit, or memory.
	stopped *isoerr.Error
	// memRefused: the linear memory refused to grow (Sandbox.mem.refused), or an
	// allocation the host made in the guest failed.
	memRefused bool
	// trap is a wasm-level failure (a trap, or the stack running out).
	trap error
	// exception is the glue's record of a JS exception that escaped to it (JSON), and
	// uncatchable says it was one the guest could not catch (QuickJS's own out of memory
	// or an interrupt: the runtime did not get to answer).
	exception   []byte
	uncatchable bool
	// overflow: the response body was over the output limit ("body").
	overflow *isoerr.Error
	// noResponse: the guest's promise can never settle (nothing left to wait for).
	noResponse *isoerr.Error
	// protocol: the completion could not be read (the worker broke the runtime).
	protocol *isoerr.Error
	// answer is the failure the runtime reported in its completion (worker_exception,
	// invalid_worker_code, method_not_found), and tooLarge a result over the output limit.
	answer, tooLarge *isoerr.Error
}

// verdict decides the error an invocation ends with from all its signals, and whether it
// leaves the sandbox broken (every later call fails with the same error). The first that
// applies wins:
//
//  1. stopped: the host stopped the guest (canceled, cpu_limit_exceeded,
//     wall_time_exceeded, memory_limit_exceeded). It is the cause of whatever followed it (an
//     uncatchable error, a trap while unwinding, a rejection the guest made of the interrupt).
//     Within one interrupt poll: memory, then CPU, then wall time, then the caller's cancel.
//     Breaks.
//  2. memRefused: memory_limit_exceeded. A refused allocation explains QuickJS's
//     out-of-memory errors and traps that follow it, even when the guest caught them. Breaks.
//  3. trap: a stack overflow is the worker's RangeError (worker_exception), anything else
//     internal_error. The instance stopped mid-instruction. Breaks.
//  4. uncatchable exception: internal_error. QuickJS's state is not the runtime's. Breaks.
//  5. overflow: output_limit_exceeded. The guest saw a RangeError; the runtime is intact.
//  6. exception: the guest's exception reached the glue (worker_exception).
//  7. noResponse: no_response.
//  8. protocol: worker_exception; the runtime is broken, so the sandbox is too. Breaks.
//  9. answer: the failure the worker's code reported.
//  10. tooLarge: output_limit_exceeded.
//
// RATIONALE.md ("The host-call contract, failure precedence, cancellation") says why.
func verdict(s *signals, memLimit uint64) (err *isoerr.Error, breaks bool) {
	switch {
	case s.stopped != nil:
		return s.stopped, true
	case s.memRefused:
		return memoryError(memLimit), true
	case s.trap != nil:
		if strings.Contains(s.trap.Error(), "stack overflow") {
			return isoerr.New(isoerr.WorkerException, "RangeError: Maximum call stack size exceeded"), true
		}
		return isoerr.New(isoerr.Internal, "sandbox trapped: %v", s.trap), true
	case s.exception != nil && s.uncatchable:
		return errorFromJSON(isoerr.Internal, s.exception), true
	case s.overflow != nil:
		return s.overflow, false
	case s.exception != nil:
		return errorFromJSON(isoerr.WorkerException, s.exception), false
	case s.noResponse != nil:
		return s.noResponse, false
	case s.protocol != nil:
		return s.protocol, true
	case s.answer != nil:
		return s.answer, false
	case s.tooLarge != nil:
		return s.tooLarge, false
	}
	return nil, false
}

func memoryError(limit uint64) *isoerr.Error {
	return isoerr.New(isoerr.MemoryLimitExceeded, "the sandbox tried to use more than its memory limit of %d MiB", limit>>20)
}

// fail returns the invocation's error as verdict decides it from the signals recorded so
// far (nil when there is none), and marks the sandbox broken when the verdict says so. It
// is the only place that breaks a sandbox.
func (sb *Sandbox) fail() *isoerr.Error {
	s := &sb.inv.sig
	if sb.mem.refused.Load() {
		s.memRefused = true
	}
	err, breaks := verdict(s, sb.mem.limit)
	if breaks && sb.broken == nil {
		sb.broken = err
	}
	return err
}
