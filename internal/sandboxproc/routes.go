package sandboxproc

import (
	"strconv"
	"strings"
)

// mayUse reports whether process pr may send fetch() requests through route name: a
// process is untrusted (it runs strangers' code), so it may use only the transports of the
// sandboxes it holds. A stored worker's route (its loader id) belongs to the processes
// that were sent a call of that worker (all of its tenant's: place.go); a one-shot call's ("call:<id>") to the process running that call,
// while it runs; a session's ("session:<128 random bits>") only to a process that was told
// it. Without this check a compromised process could name another tenant's worker and
// have the gateway inject that worker's secrets into a request of its choosing.
func (pr *proc) mayUse(name string) bool {
	switch {
	case strings.HasPrefix(name, "session:"):
		return true // unguessable, and sent only to the process holding the session
	case strings.HasPrefix(name, "call:"):
		id, err := strconv.ParseUint(strings.TrimPrefix(name, "call:"), 10, 64)
		if err != nil {
			return false
		}
		pr.mu.Lock()
		defer pr.mu.Unlock()
		return pr.calls[id] != nil
	default:
		// A stored worker's: the process was sent a call of that worker (so its tenant's).
		pr.mu.Lock()
		defer pr.mu.Unlock()
		_, ok := pr.held[name]
		return ok
	}
}
