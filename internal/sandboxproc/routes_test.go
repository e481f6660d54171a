package sandboxproc

import (
	"testing"
)

// A process may send requests only through the transports of the sandboxes it holds: a
// compromised process naming another process's worker, or a call that is not its own (or
// is over), gets no transport, so no other tenant's secrets.
func TestProcessMayUseOnlyItsOwnRoutes(t *testing.T) {
	p := &Pool{procs: make([]*proc, 2), routes: map[string]route{}}
	onMine, onOther, sameTenant := "acme~w@v1", "other~w@v1", "acme~x@v1"
	mine := &proc{p: p, idx: 0, calls: map[uint64]*call{7: {id: 7}}, held: map[string]struct{}{onMine: {}}}
	other := &proc{p: p, idx: 1, calls: map[uint64]*call{8: {id: 8}}, held: map[string]struct{}{onOther: {}, sameTenant: {}}}
	p.procs[0], p.procs[1] = mine, other
	for _, tt := range []struct {
		route string
		want  bool
	}{
		{onMine, true},
		{onOther, false},    // another tenant's worker, held by another process
		{sameTenant, false}, // a worker of its tenant that it was never sent a call of
		{"call:7", true},
		{"call:8", false},  // a call of the other process
		{"call:9", false},  // no such call (or it is over)
		{"call:x", false},  // not a call id
		{"call:-1", false}, // not a call id
		{"session:0123456789abcdef0123456789abcdef", true},
	} {
		if got := mine.mayUse(tt.route); got != tt.want {
			t.Errorf("mayUse(%q) = %v, want %v", tt.route, got, tt.want)
		}
	}
}
