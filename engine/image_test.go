package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// testCacheDir is the compilation cache the test packages share (internal/enginetest's
// CacheDir, which this package's own tests cannot import): an engine made here loads
// QuickJS's compiled code instead of compiling it again.
func testCacheDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("isobox-test-cache-%d", os.Getuid()))
}

// Both ways of starting from an image work: the copy-on-write mapping of a memfd (Linux)
// and the plain copy used elsewhere.
func TestImageRestorePaths(t *testing.T) {
	ctx := context.Background()
	// The suite's margin (internal/enginetest.Defaults): 20x the default CPU limit, so that a
	// busy one-core machine does not trip it.
	e, err := New(ctx, Config{CacheDir: testCacheDir(), Defaults: Limits{CPU: 20 * DefaultLimits().CPU}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	copied := &image{data: e.base.data} // no cow file: restore copies
	for _, tc := range []struct {
		name      string
		img       *image
		wantShare bool
	}{{"copy-on-write", e.base, e.base.cow != nil}, {"copy", copied, false}} {
		t.Run(tc.name, func(t *testing.T) {
			sb, err := e.restore(ctx, tc.img, DefaultLimits().Memory)
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close(ctx)
			if sb.mem.shared != tc.wantShare {
				t.Fatalf("shared = %v, want %v", sb.mem.shared, tc.wantShare)
			}
			res, err := sb.Eval(ctx, Limits{}, "let o = {n: 1}; for (let i = 0; i < 1e4; i++) o = {n: o.n + 1, s: 'x'.repeat(10)}; o.n")
			if err != nil || string(res.Value) != "10001" {
				t.Fatalf("%s %v", res.Value, err)
			}
		})
	}
	if e.base.cow == nil {
		t.Log("no memfd on this platform: only the copy path ran for real")
	}
	// Writing in a restored sandbox never changes the image.
	before := append([]byte(nil), e.base.data...)
	sb, err := e.restore(ctx, e.base, DefaultLimits().Memory)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Eval(ctx, Limits{}, "globalThis.big = new Uint8Array(1 << 20).fill(7); 1"); err != nil {
		t.Fatal(err)
	}
	sb.Close(ctx)
	sb2, err := e.restore(ctx, e.base, DefaultLimits().Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer sb2.Close(ctx)
	if res, err := sb2.Eval(ctx, Limits{}, "typeof big"); err != nil || string(res.Value) != `"undefined"` {
		t.Fatalf("state leaked through the image: %s %v", res.Value, err)
	}
	if string(before) != string(e.base.data) {
		t.Fatal("the image's bytes changed")
	}
}
