package engine

import (
	"context"
	"testing"
	"time"
)

// Waiting (time.sleep, op_wait) is not CPU time, and is never a CPU credit: where the
// guest's slice is measured with the thread's CPU clock the wait never counted, so nothing
// is taken out (taking it out would let the guest spend the time slept as CPU past its
// limit); where the slice is measured in wall time, the wait is taken out.
func TestWaitingIsNotCPUTime(t *testing.T) {
	for _, threadClock := range []bool{true, false} {
		for name, wait := range map[string]func(sb *Sandbox){
			"sleep":   func(sb *Sandbox) { sb.sleep(int64(20 * time.Millisecond)) },
			"op_wait": func(sb *Sandbox) { _, _ = sb.opWait([]byte(`{"timeoutMs": 20}`)) },
		} {
			sb := &Sandbox{}
			inv := sb.begin(context.Background(), Limits{Wall: time.Minute}.WithDefaults())
			inv.cpu, inv.threadOK = 5*time.Millisecond, threadClock
			wait(sb)
			got := inv.cpu
			sb.end()
			switch {
			case threadClock && got != 5*time.Millisecond:
				t.Errorf("%s with a thread clock: CPU %v, want the 5ms it was (no credit)", name, got)
			case !threadClock && got > -15*time.Millisecond:
				t.Errorf("%s without a thread clock: CPU %v, want the 20ms wait taken out", name, got)
			}
		}
	}
}
