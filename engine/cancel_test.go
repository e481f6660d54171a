package engine_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// spinAfterTool calls the tool "go" (which tells the test the guest runs), then spins.
const spinAfterTool = `await globalThis.__isobox_internal.callTool("go", {}); while (true) {}`

// cancelSpinning starts an invocation that spins under a 20 s CPU limit, cancels its
// context once the guest spins, and returns how long the invocation took to end after the
// cancel, and its error.
func cancelSpinning(tb testing.TB, sb func(engine.ToolFunc) *engine.Sandbox) (time.Duration, error) {
	running := make(chan struct{}, 1)
	s := sb(func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
		running <- struct{}{}
		return json.RawMessage("null"), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ended struct {
		at  time.Time
		err error
	}
	done := make(chan ended, 1)
	go func() {
		_, err := s.Eval(ctx, engine.Limits{CPU: 20 * time.Second}, spinAfterTool)
		done <- ended{time.Now(), err}
	}()
	<-running
	time.Sleep(5 * time.Millisecond) // the tool's answer reaches the guest, which spins
	at := time.Now()
	cancel()
	e := <-done
	return e.at.Sub(at), e.err
}

// A canceled context stops a spinning guest at its next interrupt poll, long before its
// CPU limit, with the canceled error.
func TestCancelStopsSpinningGuest(t *testing.T) {
	d, err := cancelSpinning(t, func(tools engine.ToolFunc) *engine.Sandbox {
		return newSandbox(t, engine.SandboxConfig{Tools: tools})
	})
	if isoerr.CodeOf(err) != isoerr.Canceled {
		t.Fatalf("got %v, want canceled", err)
	}
	t.Logf("stopped %v after the cancel", d)
}

// BenchmarkCancelLatency measures the time from canceling a spinning guest's context to
// its invocation's end (issue 10 asks for 10 ms); it reports the median and the worst.
func BenchmarkCancelLatency(b *testing.B) {
	var lat []time.Duration
	for b.Loop() {
		d, err := cancelSpinning(b, func(tools engine.ToolFunc) *engine.Sandbox {
			sb, err := testEngine.NewSandbox(context.Background(), engine.SandboxConfig{Tools: tools})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { sb.Close(context.Background()) })
			return sb
		})
		if isoerr.CodeOf(err) != isoerr.Canceled {
			b.Fatalf("got %v, want canceled", err)
		}
		lat = append(lat, d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-cancel-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-cancel-ms")
}

// A call whose context is canceled before it starts runs nothing and leaves the sandbox
// usable: a canceled caller does not cost a warm sandbox.
func TestCanceledBeforeStartKeepsTheSandbox(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	if _, err := eval(t, sb, engine.Limits{}, "globalThis.n = 1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sb.Eval(ctx, engine.Limits{}, "globalThis.n++"); isoerr.CodeOf(err) != isoerr.Canceled {
		t.Fatalf("got %v, want canceled", err)
	}
	if err := sb.Broken(); err != nil {
		t.Fatalf("the sandbox broke: %v", err)
	}
	res, err := eval(t, sb, engine.Limits{}, "n")
	if err != nil || string(res.Value) != "1" {
		t.Fatalf("after the canceled call: %s %v, want 1 (the canceled call ran nothing)", res.Value, err)
	}
}
