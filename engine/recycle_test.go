package engine_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/isobox/isobox/engine"
)

// recycleMarker is what the first sandbox writes and the next must not see.
var recycleMarker = []byte("isobox-recycle-secret")

// A sandbox restored into memory recycled from a closed one holds nothing of what that one
// wrote: not in the image part (the pages it wrote are copied back from the image, or the
// image is mapped again when it wrote more than a recycled memory keeps), not past it (what
// it grew into reads as zeros when the new sandbox grows). The new sandbox works as one
// restored into fresh memory. JavaScript and Python, a light and a heavy writer each.
func TestRecycledMemoryHoldsNothingOfTheLast(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		py    bool
		code  string
		grows bool // grows the memory past the image
		heavy bool // writes more of the image's pages than a recycled memory keeps: the image is mapped again
	}{
		{"javascript, light", false, `globalThis.k = "isobox-recycle-secret"; k.length`, false, false},
		{"javascript, grows", false, `globalThis.a = []; for (let i = 0; i < 200000; i++) a.push("isobox-recycle-secret" + i); a.length`, true, false},
		{"javascript, heavy", false, `globalThis.a = []; for (let i = 0; i < 200000; i++) a.push("isobox-recycle-secret" + i);
			for (let r = 0; r < 3; r++) { let junk = []; for (let i = 0; i < 60000; i++) junk.push({a: [i], b: {c: i}}); junk = null }
			for (const k of Object.getOwnPropertyNames(globalThis)) { try { globalThis[k].isoboxTouched = 1 } catch {} }
			a.length`, true, true},
		{"python, light", true, `k = "isobox-recycle-secret"; len(k)`, false, false},
		{"python, grows", true, `b = bytearray(b"isobox-recycle-secret" * 600000); len(b)`, true, false},
		{"python, heavy", true, `a = ["isobox-recycle-secret%d" % i for i in range(100000)]; b = bytearray(b"isobox-recycle-secret" * 600000)
import gc; gc.collect(); len(a)`, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testEngine.DropKeptMemory()
			var a, b *engine.Sandbox
			var closeA, closeB func()
			eval := func(sb *engine.Sandbox, code string) string {
				t.Helper()
				var res *engine.Result
				var err error
				if tc.py {
					res, err = engine.PythonEval(ctx, sb, engine.Limits{}, code)
				} else {
					res, err = sb.Eval(ctx, engine.Limits{}, code)
				}
				if err != nil {
					t.Fatalf("%s: %v", code, err)
				}
				return string(res.Value)
			}
			newSB := func() (*engine.Sandbox, func()) {
				t.Helper()
				if tc.py {
					p, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{})
					if err != nil {
						t.Fatal(err)
					}
					return engine.PythonSandboxOf(p), func() { p.Close(ctx) }
				}
				sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
				if err != nil {
					t.Fatal(err)
				}
				return sb, func() { sb.Close(ctx) }
			}
			a, closeA = newSB()
			eval(a, tc.code)
			lenA := a.MemoryBytes()
			if !bytes.Contains(engine.RawMemory(a)[:lenA], recycleMarker) {
				t.Fatal("the first sandbox's memory does not hold what it wrote")
			}
			reused, remapped, _ := engine.Recycling(testEngine, tc.py)
			closeA()
			_, remapped2, kept := engine.Recycling(testEngine, tc.py)
			if kept != 1 {
				t.Fatalf("%d memories kept after the close, want 1", kept)
			}
			if got := remapped2 - remapped; (got == 1) != tc.heavy || got > 1 {
				t.Fatalf("%d resets mapped the image again; heavy writer: %v", got, tc.heavy)
			}
			b, closeB = newSB()
			defer closeB()
			if got, _, _ := engine.Recycling(testEngine, tc.py); got != reused+1 {
				t.Fatalf("the new sandbox did not take the kept memory (%d restores took one, %d before)", got, reused)
			}
			if grew := lenA > b.MemoryBytes(); grew != tc.grows {
				t.Fatalf("the first sandbox grew its memory to %d bytes, the image's is %d; want growth: %v", lenA, b.MemoryBytes(), tc.grows)
			}
			raw := engine.RawMemory(b)
			if len(raw) < lenA {
				t.Fatalf("the recycled reservation (%d bytes) is smaller than the memory it held (%d)", len(raw), lenA)
			}
			if i := bytes.Index(raw[:lenA], recycleMarker); i >= 0 {
				t.Fatalf("the new sandbox's memory holds the last one's data at %d (its size %d, the last's %d)", i, b.MemoryBytes(), lenA)
			}
			if past := raw[b.MemoryBytes():lenA]; len(past) > 0 && !bytes.Equal(past, make([]byte, len(past))) {
				t.Fatal("what the last sandbox grew into does not read as zeros")
			}
			want := "2"
			if got := eval(b, "1 + 1"); got != want {
				t.Fatalf("1 + 1 = %s in the recycled sandbox", got)
			}
		})
	}
}

// Memory is kept for at most 8 sandboxes an image: closing more unmaps the rest; a forked
// sandbox's memory (mapped from fork files) is not kept; DropKeptMemory gives it all back.
func TestKeptMemoryIsBounded(t *testing.T) {
	ctx := context.Background()
	testEngine.DropKeptMemory()
	var sbs []*engine.Sandbox
	for range 10 {
		sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			t.Fatal(err)
		}
		sbs = append(sbs, sb)
	}
	for _, sb := range sbs {
		sb.Close(ctx)
	}
	if _, _, kept := engine.Recycling(testEngine, false); kept != 8 {
		t.Fatalf("%d memories kept after closing 10 sandboxes, want 8", kept)
	}
	testEngine.DropKeptMemory()
	if _, _, kept := engine.Recycling(testEngine, false); kept != 0 {
		t.Fatalf("%d memories kept after DropKeptMemory", kept)
	}
	parent := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, parent, "globalThis.n = 41; n", "41")
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustEval(t, child, "n + 1", "42")
	child.Close(ctx)
	parent.Close(ctx)
	if _, _, kept := engine.Recycling(testEngine, false); kept != 0 {
		t.Fatalf("%d memories kept after closing a fork and its parent, want 0", kept)
	}
}
