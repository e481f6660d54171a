package engine_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
)

// baseImageFile returns the one base image file in dir.
func baseImageFile(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "base-*.img"))
	if len(files) != 1 {
		t.Fatalf("want one base image file in the cache, got %v", files)
	}
	return files[0]
}

// newCachedEngine makes an engine on dir and checks that its sandboxes have the runtime and
// start from the same base image as want (when want is not zero).
func newCachedEngine(t *testing.T, dir string, want [32]byte) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	if got := engine.BaseImageSum(e); want != ([32]byte{}) && got != want {
		t.Fatalf("base image %x, want %x", got[:8], want[:8])
	}
	sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	if res, err := sb.Eval(ctx, engine.Limits{}, "typeof URL + typeof setTimeout"); err != nil || string(res.Value) != `"functionfunction"` {
		t.Fatalf("runtime from the base image: %s %v", res.Value, err)
	}
	return e
}

// The base image is kept in the cache directory by the first engine and mapped by the
// next: the same image, sandboxes that write their own copies of its pages (never the
// file, never each other's) and draw their own random numbers.
func TestBaseImageKeptOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := enginetest.FreshCacheDir(t)
	e1 := newCachedEngine(t, dir, [32]byte{})
	sum := engine.BaseImageSum(e1)
	off1, n1 := engine.BaseImageDeadStack(e1)
	path := baseImageFile(t, dir)
	kept, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	e2 := newCachedEngine(t, dir, sum)
	if off2, n2 := engine.BaseImageDeadStack(e2); off2 != off1 || n2 != n1 {
		t.Fatalf("dead stack %d+%d from the file, want %d+%d", off2, n2, off1, n1)
	}
	a, err := e2.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	b, err := e2.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	ra, err := a.Eval(ctx, engine.Limits{}, "globalThis.mine = 'a'; globalThis.big = 'x'.repeat(1 << 20); Math.random()")
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Eval(ctx, engine.Limits{}, "typeof globalThis.mine + ':' + Math.random()")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(rb.Value, []byte(`"string`)) {
		t.Fatalf("a sandbox saw another's global: %s", rb.Value)
	}
	if bytes.Contains(rb.Value, ra.Value) {
		t.Fatalf("two sandboxes drew the same random number %s", ra.Value)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, kept) {
		t.Fatal("a sandbox's writes reached the base image file")
	}
}

// A damaged or truncated base image file is never used: the engine makes the image again
// (the same one) and keeps a good file.
func TestBaseImageDamagedIsRemade(t *testing.T) {
	dir := enginetest.FreshCacheDir(t)
	sum := engine.BaseImageSum(newCachedEngine(t, dir, [32]byte{}))
	path := baseImageFile(t, dir)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"a byte of memory", func(b []byte) []byte { b[len(b)/3] ^= 0x40; return b }},
		{"a byte of the trailer", func(b []byte) []byte { b[len(b)-20] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"empty", func([]byte) []byte { return nil }},
	} {
		if err := os.WriteFile(path, c.damage(bytes.Clone(good)), 0o644); err != nil {
			t.Fatal(err)
		}
		newCachedEngine(t, dir, sum)
		if now, _ := os.ReadFile(path); !bytes.Equal(now, good) {
			t.Errorf("%s: the file was not made again (%d bytes)", c.name, len(now))
		}
	}
}

// What a base image file says is checked before it is used: a file whose checksum is right
// but whose dead stack lies outside the memory, or whose memory is not whole wasm pages, is
// refused like a damaged one.
func TestBaseImageFileChecks(t *testing.T) {
	const page = 65536
	mem := make([]byte, 2*page)
	for _, c := range []struct {
		name string
		file []byte
		ok   bool
	}{
		{"good", engine.EncodeBaseImage(mem, [32]byte{1}, page, page-4096), true},
		{"dead stack past the end", engine.EncodeBaseImage(mem, [32]byte{1}, page, page+1), false},
		{"dead stack overflowing", engine.EncodeBaseImage(mem, [32]byte{1}, 1<<32-1, 2), false},
		{"not whole pages", engine.EncodeBaseImage(mem[:page+1], [32]byte{1}, 0, 0), false},
		{"no memory", engine.EncodeBaseImage(nil, [32]byte{1}, 0, 0), false},
		{"trailer only, short", []byte("isobimg1"), false},
	} {
		if got := engine.CheckBaseImage(c.file); got != c.ok {
			t.Errorf("%s: CheckBaseImage = %v, want %v", c.name, got, c.ok)
		}
	}
}
