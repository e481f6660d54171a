package engine_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// heap10MiB is the state `isobox bench` forks: 10 MiB of typed arrays and 20,000 objects.
const heap10MiB = `
	globalThis.heap = [];
	for (let i = 0; i < 160; i++) heap.push(new Uint8Array(64 << 10).fill(i));
	globalThis.objs = Array.from({length: 20000}, (_, i) => ({i, s: "v" + i}));
	1`

// BenchmarkFork10MiB is Fork of a sandbox holding 10 MiB of live heap, plus closing the
// child. "again" forks a parent that did not run since its last fork; "after-write" has the
// parent write one byte between forks (outside the timed part), so every fork must capture
// a changed memory; "first" is the first fork of a new parent each time; "first-prepared"
// the same with the parent prepared (PrepareFork) when new, before it wrote its heap, and
// "first-prepared-idle" with the parent prepared after it wrote it (untimed: idle time).
func BenchmarkFork10MiB(b *testing.B) {
	for _, mode := range []string{"again", "after-write", "first", "first-prepared", "first-prepared-idle"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			parent := func() *engine.Sandbox {
				sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
				if err != nil {
					b.Fatal(err)
				}
				if mode == "first-prepared" {
					if err := sb.PrepareFork(); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := sb.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, heap10MiB); err != nil {
					b.Fatal(err)
				}
				if mode == "first-prepared-idle" {
					if err := sb.PrepareFork(); err != nil {
						b.Fatal(err)
					}
				}
				return sb
			}
			sb := parent()
			defer func() { sb.Close(ctx) }()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				switch mode {
				case "after-write":
					b.StopTimer()
					if _, err := sb.Eval(ctx, engine.Limits{CPU: time.Second}, "heap[3][7] = 1; 1"); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				case "first", "first-prepared", "first-prepared-idle":
					b.StopTimer()
					sb.Close(ctx)
					sb = parent()
					b.StartTimer()
				}
				child, err := sb.Fork(ctx)
				if err != nil {
					b.Fatal(err)
				}
				child.Close(ctx)
			}
		})
	}
}

// BenchmarkPrepareFork is what PrepareFork costs: a new sandbox writing 10 MiB of heap
// ("plain", or "prepared" first, so that its heap grows into a shared file), and
// PrepareFork of a sandbox that wrote it ("idle": the copy a first fork would make).
func BenchmarkPrepareFork(b *testing.B) {
	for _, mode := range []string{"plain", "prepared", "idle"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
				if err != nil {
					b.Fatal(err)
				}
				if mode == "prepared" {
					if err := sb.PrepareFork(); err != nil {
						b.Fatal(err)
					}
				}
				if mode == "idle" {
					b.StopTimer()
				}
				if _, err := sb.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, heap10MiB); err != nil {
					b.Fatal(err)
				}
				if mode == "idle" {
					b.StartTimer()
					if err := sb.PrepareFork(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				sb.Close(ctx)
				b.StartTimer()
			}
		})
	}
}

// forkState gives a sandbox memory of every kind a fork must keep apart: pages written
// before the fork past the image (a, 2 MiB of typed array), pages allocated and never
// written (z, zeros), and helpers that read one byte of every 512.
const forkState = `
	globalThis.a = new Uint8Array(2 << 20).fill(1);
	globalThis.z = new Uint8Array(1 << 20);
	globalThis.sum = x => { let s = 0; for (let i = 0; i < x.length; i += 512) s += x[i]; return s };
	globalThis.setAll = (x, v) => { for (let i = 0; i < x.length; i += 512) x[i] = v; return sum(x) };
	globalThis.who = 'parent';
	1`

func mustFork(t *testing.T, sb *engine.Sandbox) *engine.Sandbox {
	t.Helper()
	c, err := sb.Fork(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// prepareModes are the ways a parent reaches its first fork: plainly (the fork copies what
// it wrote), prepared before it wrote (its growth lives in a file already: PrepareFork),
// prepared after (PrepareFork copied it out first).
var prepareModes = []string{"plain", "prepared-new", "prepared-after"}

// forkParent makes a sandbox holding forkState, prepared for forks as mode says.
func forkParent(t *testing.T, mode string, cfg engine.SandboxConfig) *engine.Sandbox {
	t.Helper()
	sb := newSandbox(t, cfg)
	prepare := func() {
		if err := sb.PrepareFork(); runtime.GOOS == "linux" && err != nil {
			t.Fatal(err)
		}
	}
	if mode == "prepared-new" {
		prepare()
	}
	mustEval(t, sb, forkState, "1")
	if mode == "prepared-after" {
		prepare()
		if runtime.GOOS == "linux" && engine.ForkLayers(sb) == 0 {
			t.Fatal("PrepareFork moved no written page into a fork file")
		}
	}
	if mode == "prepared-new" && runtime.GOOS == "linux" && engine.LiveBytes(sb) < 2<<20 {
		t.Fatalf("a prepared sandbox grew %d bytes into its live file; want its 2 MiB array there", engine.LiveBytes(sb))
	}
	return sb
}

// After a fork, writes on either side never show on the other: pages written before the
// fork, pages never written, memory grown after the fork on each side, and the JavaScript
// heap itself; a fork of the fork is independent of both. For every prepareMode.
func TestForkWritesStayPrivate(t *testing.T) {
	for _, mode := range prepareModes {
		t.Run(mode, func(t *testing.T) {
			parent := forkParent(t, mode, engine.SandboxConfig{Memory: 64 << 20})
			child := mustFork(t, parent)
			if runtime.GOOS == "linux" && (engine.ForkLayers(child) == 0 || engine.ForkLayers(parent) != engine.ForkLayers(child)) {
				t.Fatalf("fork layers: parent %d, child %d; want the same, > 0 (copy-on-write)", engine.ForkLayers(parent), engine.ForkLayers(child))
			}
			if engine.LiveBytes(parent) != 0 {
				t.Fatalf("the fork left %d bytes of the parent's live file unfrozen", engine.LiveBytes(parent))
			}

			// 4096 samples of a (2 MiB / 512): one byte in every eighth of every page.
			mustEval(t, parent, "[setAll(a, 2), setAll(z, 3), who = 'parent!']", `[8192,6144,"parent!"]`)
			mustEval(t, child, "[sum(a), sum(z), who]", `[4096,0,"parent"]`)
			mustEval(t, child, "[setAll(a, 5), setAll(z, 6), who = 'child']", `[20480,12288,"child"]`)
			mustEval(t, parent, "[sum(a), sum(z), who]", `[8192,6144,"parent!"]`)

			// Memory grown after the fork, on each side (the parent's into its live file
			// when prepared).
			mustEval(t, parent, "globalThis.g = new Uint8Array(8 << 20); setAll(g, 7)", "114688")
			mustEval(t, child, "globalThis.g = new Uint8Array(8 << 20); setAll(g, 9)", "147456")
			mustEval(t, parent, "[sum(g), sum(a)]", "[114688,8192]")
			mustEval(t, child, "[sum(g), sum(a)]", "[147456,20480]")

			// A fork of the fork has the child's state; the three go their own ways.
			grand := mustFork(t, child)
			mustEval(t, grand, "[sum(a), sum(z), sum(g), who]", `[20480,12288,147456,"child"]`)
			mustEval(t, child, "[setAll(a, 1), setAll(g, 1), who = 'child!']", `[4096,16384,"child!"]`)
			mustEval(t, grand, "[sum(a), sum(g), who, setAll(z, 4)]", `[20480,147456,"child",8192]`)
			mustEval(t, child, "[sum(a), sum(z), sum(g), who]", `[4096,12288,16384,"child!"]`)
			mustEval(t, parent, "[sum(a), sum(z), sum(g), who]", `[8192,6144,114688,"parent!"]`)

			// A second fork of the parent: what it grew and wrote since the first.
			second := mustFork(t, parent)
			mustEval(t, parent, "[setAll(g, 0), setAll(a, 0)]", "[0,0]")
			mustEval(t, second, "[sum(a), sum(z), sum(g), who]", `[8192,6144,114688,"parent!"]`)
		})
	}
}

// A prepared sandbox's memory in its live file counts as its own (ResidentBytes), and a
// snapshot neither loses it nor reads the parts never written (which would give them
// pages); the image restores the state.
func TestPrepareForkResidentAndSnapshot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("PrepareFork shares pages through memfd (Linux)")
	}
	ctx := context.Background()
	sb := forkParent(t, "prepared-new", engine.SandboxConfig{Memory: 64 << 20})
	// a: 2 MiB written; z: 1 MiB allocated, never written, a hole of the live file.
	before := sb.ResidentBytes()
	if before < 2<<20 || before > 3<<20+512<<10 {
		t.Fatalf("resident %d KiB; want the 2 MiB written and not the 1 MiB hole", before>>10)
	}
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if after := sb.ResidentBytes(); after > before+256<<10 {
		t.Fatalf("snapshot grew the sandbox from %d to %d KiB: it read the holes", before>>10, after>>10)
	}
	r, err := testEngine.Restore(ctx, img, engine.SandboxConfig{Memory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	mustEval(t, r, "[sum(a), sum(z), who]", `[4096,0,"parent"]`)
	// Preparing again copies what was written since; the sandbox keeps its state.
	mustEval(t, sb, "setAll(z, 2)", "4096")
	if err := sb.PrepareFork(); err != nil {
		t.Fatal(err)
	}
	mustEval(t, sb, "[sum(a), sum(z), who]", `[4096,4096,"parent"]`)
	mustEval(t, mustFork(t, sb), "[sum(a), sum(z), who]", `[4096,4096,"parent"]`)
}

// PrepareFork refuses what Fork refuses: a WebAssembly worker, a sandbox that ran out of
// memory (broken), with typed errors, and leaves them as they were.
func TestPrepareForkRefuses(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{Memory: 16 << 20})
	if _, err := sb.Eval(context.Background(), engine.Limits{CPU: 10 * time.Second}, "const l = []; for (;;) l.push(new Uint8Array(1 << 20).fill(1))"); isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Fatalf("hog: %v", err)
	}
	if err := sb.PrepareFork(); isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Fatalf("PrepareFork of a broken sandbox: %v, want its memory_limit_exceeded", err)
	}
}

// One parent forked 100 times, running between some of the forks (so that its forks stack
// up layers and compact them), closed while its children run: every child keeps exactly
// the state it was forked with.
func TestForkManyChildren(t *testing.T) {
	for _, mode := range []string{"plain", "prepared-new"} {
		t.Run(mode, func(t *testing.T) { forkManyChildren(t, mode) })
	}
}

// forkManyChildren is TestForkManyChildren for one prepareMode. A prepared parent also
// grows into its live file before some forks, so that live layers stack up and compact.
func forkManyChildren(t *testing.T, mode string) {
	ctx := context.Background()
	parent, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if mode == "prepared-new" {
		if err := parent.PrepareFork(); runtime.GOOS == "linux" && err != nil {
			t.Fatal(err)
		}
	}
	mustEval(t, parent, forkState, "1")
	mustEval(t, parent, "globalThis.grown = []; 1", "1")
	mustEval(t, parent, "globalThis.gen = 0; 1", "1")
	const n = 100
	children := make([]*engine.Sandbox, n)
	gens := make([]int, n)
	gen := 0
	for i := range children {
		if i%3 == 0 { // the parent changes: a new generation, written in many places
			gen++
			mustEval(t, parent, fmt.Sprintf("gen = %d; a[%d] = gen; setAll(z, gen); gen", gen, i*4096+1), fmt.Sprint(gen))
			if mode == "prepared-new" && gen%2 == 0 { // grows by 128 KiB, written
				mustEval(t, parent, "grown.push(new Uint8Array(128 << 10).fill(gen)); grown.length", fmt.Sprint(gen/2))
			}
		}
		children[i] = mustFork(t, parent)
		gens[i] = gen
		if l := engine.ForkLayers(parent); l > 32 {
			t.Fatalf("parent has %d fork layers after fork %d; the bound is 32", l, i+1)
		}
	}
	// 34 generations of new pages were layered; the layers stay bounded (compacted).
	if l := engine.ForkLayers(parent); l > 32 {
		t.Fatalf("parent has %d fork layers after %d forks", l, n)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Eval(ctx, engine.Limits{CPU: 10 * time.Second},
				fmt.Sprintf("const was = [gen, sum(z), grown.length, grown.reduce((s, g) => s + sum(g), 0)]; setAll(z, %d); a.fill(%d, 0, 4096); [was, sum(z), a[0]]", 100+i, i))
			grown, gsum := 0, 0
			if mode == "prepared-new" {
				grown = gens[i] / 2
				for g := 1; g <= grown; g++ {
					gsum += 2 * g * 256 // 256 samples of a 128 KiB array, each 2g
				}
			}
			want := fmt.Sprintf("[[%d,%d,%d,%d],%d,%d]", gens[i], gens[i]*2048, grown, gsum, (100+i)*2048, i)
			if err != nil || string(res.Value) != want {
				errs <- fmt.Errorf("child %d: %s %v, want %s", i, res.Value, err, want)
			}
		}()
	}
	parent.Close(ctx) // while the children run
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, c := range children[:10] {
		mustEval(t, c, "[sum(z), a[0], gen]", fmt.Sprintf("[%d,%d,%d]", (100+i)*2048, i, gens[i]))
	}
}

// A fork can be snapshotted and restored, and can be trimmed, and keeps its state.
func TestForkSnapshotAndTrim(t *testing.T) {
	ctx := context.Background()
	parent := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, parent, forkState, "1")
	child := mustFork(t, parent)
	mustEval(t, child, "setAll(a, 3); who = 'child'; 1", "1")
	img, err := child.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	mustEval(t, child, "setAll(a, 4)", "16384")
	r, err := testEngine.Restore(ctx, img, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	mustEval(t, r, "[sum(a), who]", `[12288,"child"]`)
	child.Trim()
	parent.Trim()
	mustEval(t, child, "[sum(a), who]", `[16384,"child"]`)
	mustEval(t, parent, "[sum(a), who]", `[4096,"parent"]`)
}

// Memory limits hold on both sides of a fork, on memory grown after it (into a prepared
// parent's live file too); and a fork does not draw the parent's random numbers.
func TestForkLimitsAndRandom(t *testing.T) {
	const hog = "const l = []; for (;;) l.push(new Uint8Array(1 << 20).fill(1))"
	for _, mode := range []string{"plain", "prepared-new"} {
		parent := forkParent(t, mode, engine.SandboxConfig{Memory: 32 << 20})
		child := mustFork(t, parent)
		for name, sb := range map[string]*engine.Sandbox{"parent": parent, "child": child} {
			if _, err := sb.Eval(context.Background(), engine.Limits{CPU: 10 * time.Second}, hog); isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
				t.Fatalf("%s: %s over its limit: %v", mode, name, err)
			}
		}
	}
	p := newSandbox(t, engine.SandboxConfig{})
	c := mustFork(t, p)
	draw := "Array.from({length: 4}, Math.random).join()"
	a, err1 := p.Eval(context.Background(), engine.Limits{}, draw)
	b, err2 := c.Eval(context.Background(), engine.Limits{}, draw)
	if err1 != nil || err2 != nil || string(a.Value) == string(b.Value) {
		t.Fatalf("parent and fork drew %s and %s (%v %v)", a.Value, b.Value, err1, err2)
	}
}

// A prepared Python sandbox forks like a JavaScript one: the state it grew into its live
// file (a 4 MiB bytearray) is the child's, and neither sees the other's later writes.
func TestPythonPrepareFork(t *testing.T) {
	ctx := context.Background()
	parent := newPySandbox(t, engine.SandboxConfig{Memory: 64 << 20})
	if err := parent.PrepareFork(); runtime.GOOS == "linux" && err != nil {
		t.Fatal(err)
	}
	mustPyEval(t, parent, "b = bytearray(b'\\x01' * (4 << 20))\nsum(b[::4096])", "1024")
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close(ctx)
	mustPyEval(t, parent, "b[::4096] = b'\\x02' * 1024\nsum(b[::4096])", "2048")
	mustPyEval(t, child, "sum(b[::4096])", "1024")
	mustPyEval(t, child, "b[::4096] = b'\\x03' * 1024\nsum(b[::4096])", "3072")
	mustPyEval(t, parent, "sum(b[::4096])", "2048")
}
