package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// TestURLPatternCatastrophicGroupStops: a regexp group the guest writes runs as written, so
// an exponentially backtracking one is the guest's own loop; the CPU limit must stop it
// with the typed error (the sandbox is then broken, as after any limit), and a new sandbox
// of the same engine must still answer.
func TestURLPatternCatastrophicGroupStops(t *testing.T) {
	ctx := context.Background()
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	_, err = sb.Eval(ctx, engine.Limits{CPU: 100 * time.Millisecond, Wall: 30 * time.Second},
		`new URLPattern({pathname: "/:x((?:a+)+b)"}).test("https://example.com/" + "a".repeat(64))`)
	if isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("catastrophic group: err = %v, want %s", err, isoerr.CPULimitExceeded)
	}
	sb2, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb2.Close(ctx)
	res, err := sb2.Eval(ctx, engine.Limits{CPU: 5 * time.Second, Wall: 30 * time.Second},
		`new URLPattern({pathname: "/:id(\\d+)"}).test("https://example.com/42")`)
	if err != nil || string(res.Value) != "true" {
		t.Fatalf("next call: %s, %v", res.Value, err)
	}
}

// TestTimeOriginAfterRestore: performance.timeOrigin is Unix-epoch milliseconds in a new
// sandbox and in one restored from a snapshot 50 ms later: timeOrigin + now() is Date.now()
// (to Date.now's millisecond, with a 5 ms margin). QuickJS's own timeOrigin, on the engine's
// monotonic clock, fails both.
func TestTimeOriginAfterRestore(t *testing.T) {
	ctx := context.Background()
	lim := engine.Limits{CPU: 5 * time.Second, Wall: 30 * time.Second}
	const check = `Math.abs(performance.timeOrigin + performance.now() - Date.now()) < 5`
	parent, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close(ctx)
	res, err := parent.Eval(ctx, lim, check)
	if err != nil || string(res.Value) != "true" {
		t.Fatalf("parent: %s, %v", res.Value, err)
	}
	img, err := parent.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	child, err := testEngine.Restore(ctx, img, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close(ctx)
	res, err = child.Eval(ctx, lim, check)
	if err != nil || string(res.Value) != "true" {
		t.Fatalf("restored: %s, %v", res.Value, err)
	}
}
