package engine_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/isobox/isobox/engine"
)

// A sandbox restored from an image maps the image's pages copy-on-write (Linux) instead of
// copying them: it holds only what it writes, and no write of one sandbox shows in the
// image, in another sandbox restored from it, or in the sandbox the image was taken from.
// The sandboxes outlive the image, and a restored sandbox snapshots, forks and trims
// like any other.
func TestRestoreSharesTheImagesPages(t *testing.T) {
	ctx := context.Background()
	parent := newSandbox(t, engine.SandboxConfig{Memory: 64 << 20})
	mustEval(t, parent, forkState, "1")
	img, err := parent.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restore := func(img *engine.Image) *engine.Sandbox {
		t.Helper()
		r, err := testEngine.Restore(ctx, img, engine.SandboxConfig{Memory: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(ctx) })
		return r
	}
	r1, r2 := restore(img), restore(img)
	if runtime.GOOS == "linux" {
		if engine.ForkLayers(r1) == 0 {
			t.Fatal("a restored sandbox maps no layer of its image: its pages were copied")
		}
		// The image holds 3 MiB of arrays; a restored sandbox that only read them holds
		// what its restore and the read wrote.
		mustEval(t, r1, "sum(a) + sum(z)", "4096")
		if n := r1.ResidentBytes(); n > 1<<20 {
			t.Fatalf("a restored sandbox that read its state holds %d KiB; want under 1 MiB (the image's pages shared)", n>>10)
		}
	}

	mustEval(t, r1, "[setAll(a, 5), setAll(z, 6), who = 'r1']", `[20480,12288,"r1"]`)
	mustEval(t, r2, "[sum(a), sum(z), who]", `[4096,0,"parent"]`)
	mustEval(t, parent, "[setAll(a, 2), who = 'parent!']", `[8192,"parent!"]`)
	mustEval(t, r1, "[sum(a), sum(z), who]", `[20480,12288,"r1"]`)
	mustEval(t, r2, "[setAll(z, 3), sum(a), who]", `[6144,4096,"parent"]`)

	// A restored sandbox's own snapshot and fork carry its state, not the image's.
	img1, err := r1.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	mustEval(t, restore(img1), "[sum(a), sum(z), who]", `[20480,12288,"r1"]`)
	child, err := r1.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Close(ctx) })
	mustEval(t, child, "[setAll(a, 7), who = 'child']", `[28672,"child"]`)
	mustEval(t, r1, "[sum(a), who]", `[20480,"r1"]`)
	r1.Trim()
	mustEval(t, r1, "[sum(a), sum(z), who]", `[20480,12288,"r1"]`)

	// The image survives its restores: a third, and one through its serialized form.
	mustEval(t, restore(img), "[sum(a), sum(z), who]", `[4096,0,"parent"]`)
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := testEngine.UnmarshalImage(b)
	if err != nil {
		t.Fatal(err)
	}
	r3 := restore(again)

	// The sandboxes outlive their images: once the images are collected, the sandboxes
	// still read and write their memory.
	img, img1, again = nil, nil, nil
	runtime.GC()
	runtime.GC()
	mustEval(t, r3, "[setAll(a, 9), sum(z), who]", `[36864,0,"parent"]`)
	mustEval(t, r2, "[sum(a), sum(z), who]", `[4096,6144,"parent"]`)
	mustEval(t, child, "[sum(a), who]", `[28672,"child"]`)
}

// Trim gives back the pages of a memory mapped from layers (a restored image, a fork's
// child) whose bytes equal what is beneath them, the layer's, and keeps every other: a
// sandbox that only read its objects (QuickJS raises and lowers their reference counts,
// which copies their pages) returns to sharing them, and its state and its later writes
// are intact.
func TestTrimLayeredMemory(t *testing.T) {
	ctx := context.Background()
	const state = `globalThis.objs = Array.from({length: 20000}, (_, i) => ({i, s: "v" + i}));
		globalThis.total = () => { let n = 0; for (const o of objs) n += o.i + o.s.length; return n }; 1`
	const want = "200098890" // the sum of i (199990000) and of the lengths of "v0".."v19999" (108890)
	parent := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, parent, state, "1")
	img, err := parent.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := testEngine.Restore(ctx, img, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restored.Close(ctx) })
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Close(ctx) })
	for name, sb := range map[string]*engine.Sandbox{"restored": restored, "fork child": child} {
		mustEval(t, sb, "total()", want)
		before := sb.ResidentBytes()
		released := sb.Trim()
		after := sb.ResidentBytes()
		t.Logf("%s: %d KiB resident after reading its objects, %d KiB after Trim (%d KiB released)", name, before>>10, after>>10, released>>10)
		if runtime.GOOS == "linux" && (engine.ForkLayers(sb) == 0 || after > before/2) {
			t.Fatalf("%s: %d layers; Trim left %d of %d KiB resident", name, engine.ForkLayers(sb), after>>10, before>>10)
		}
		mustEval(t, sb, "total()", want)
		mustEval(t, sb, "objs[7].i = 1e6; objs.push({i: 5, s: 'x'}); total()", "201098889")
		sb.Trim()
		mustEval(t, sb, "[objs[7].i, objs.length, total()]", "[1000000,20001,201098889]")
	}
	mustEval(t, parent, "[objs[7].i, objs.length, total()]", "[7,20000,"+want+"]")
	again, err := testEngine.Restore(ctx, img, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctx)
	mustEval(t, again, "[objs[7].i, objs.length, total()]", "[7,20000,"+want+"]")
}
