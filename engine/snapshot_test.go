package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

func mustEval(t *testing.T, sb *engine.Sandbox, code, want string) {
	t.Helper()
	res, err := sb.Eval(context.Background(), engine.Limits{CPU: time.Second}, code)
	if err != nil {
		t.Fatalf("eval %q: %v", code, err)
	}
	if string(res.Value) != want {
		t.Fatalf("eval %q = %s, want %s", code, res.Value, want)
	}
}

// marshalImage snapshots sb and returns the image's serialized form (what a hibernation
// writes to disk).
func marshalImage(t *testing.T, sb *engine.Sandbox) []byte {
	t.Helper()
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// restoreFromBytes snapshots sb, takes the image through its serialized form (what a
// hibernation writes to disk) and restores it with cfg; the test's end closes it.
func restoreFromBytes(t *testing.T, sb *engine.Sandbox, cfg engine.SandboxConfig) *engine.Sandbox {
	t.Helper()
	b := marshalImage(t, sb)
	img2, err := testEngine.UnmarshalImage(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := testEngine.Restore(context.Background(), img2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func TestSnapshotRestoreKeepsState(t *testing.T) {
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, sb, "let counter = 41; const big = new Array(1000).fill('state'); counter", "41")
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r, err := testEngine.Restore(ctx, img, engine.SandboxConfig{})
		if err != nil {
			t.Fatal(err)
		}
		mustEval(t, r, "counter += 1; [counter, big.length]", "[42,1000]")
		r.Close(ctx)
	}
	// The original carries on independently.
	mustEval(t, sb, "counter", "41")
}

func TestForkIsIndependent(t *testing.T) {
	ctx := context.Background()
	parent := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, parent, "globalThis.log = ['start']; let n = 1; n", "1")
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close(ctx)
	mustEval(t, child, "log.push('child'); n = 100; [n, log]", `[100,["start","child"]]`)
	mustEval(t, parent, "log.push('parent'); [n, log]", `[1,["start","parent"]]`)
	mustEval(t, child, "[n, log]", `[100,["start","child"]]`)
}

func TestImageMarshalRoundTrip(t *testing.T) {
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, sb, "var hibernated = {calls: 7}; hibernated.calls", "7")
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image: %d KiB of pages in memory, %d KiB serialized", img.Size()>>10, len(b)>>10)
	img2, err := testEngine.UnmarshalImage(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := testEngine.Restore(ctx, img2, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	mustEval(t, r, "++hibernated.calls", "8")

	bad := map[string][]byte{
		"empty":     nil,
		"truncated": b[:len(b)/2],
		"flipped":   flip(b, len(b)/2),
		"header":    flip(b, 3),
	}
	for name, data := range bad {
		if _, err := testEngine.UnmarshalImage(data); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("%s image: got %v, want invalid_request", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x5a
	return c
}

// Limits hold in restored and forked sandboxes: the memory cap and the CPU limit.
func TestLimitsHoldAfterRestore(t *testing.T) {
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{Memory: 32 << 20})
	mustEval(t, sb, "globalThis.keep = 'x'; 1", "1")
	fork, err := sb.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer fork.Close(ctx)
	if _, err := fork.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, "const a = []; for (;;) a.push(new Uint8Array(1 << 20))"); isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Fatalf("fork memory: %v", err)
	}
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := testEngine.Restore(ctx, img, engine.SandboxConfig{Memory: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if _, err := r.Eval(ctx, engine.Limits{CPU: 30 * time.Millisecond}, "while (true) {}"); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("restored cpu: %v", err)
	}
	// A broken sandbox cannot be snapshotted or forked.
	if _, err := r.Snapshot(); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("snapshot of a broken sandbox: %v", err)
	}
	// An image bigger than the new sandbox's memory limit is refused.
	big := newSandbox(t, engine.SandboxConfig{Memory: 64 << 20})
	mustEval(t, big, "globalThis.b = new Uint8Array(40 << 20).fill(1); 1", "1")
	bigImg, err := big.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testEngine.Restore(ctx, bigImg, engine.SandboxConfig{Memory: 16 << 20}); isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Fatalf("restore over the limit: %v", err)
	}
}
