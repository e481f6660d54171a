package engine_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// Images of sandboxes that hold WebAssembly instances (engine/wasmjs_snapshot.go).

// stateWasm is a module whose state lives outside JavaScript: a memory (exported), a
// mutable global that is not exported, a start function that adds 100 to it (so a restore
// that ran it again would show), and a funcref table its element segment fills.
func stateWasm() []byte {
	funcs := []wasmFunc{
		{export: "bump", results: []byte{tI32}, body: []byte{0x23, 0, 0x41, 1, 0x6a, 0x24, 0, 0x23, 0}},
		{export: "poke", params: []byte{tI32, tI32}, body: []byte{0x20, 0, 0x20, 1, 0x3a, 0, 0}},
		{export: "peek", params: []byte{tI32}, results: []byte{tI32}, body: []byte{0x20, 0, 0x2d, 0, 0}},
		{body: []byte{0x23, 0, 0x41, 0xe4, 0x00, 0x6a, 0x24, 0}}, // start: global += 100
		{export: "seven", results: []byte{tI32}, body: []byte{0x41, 7}},
		{export: "viaTable", params: []byte{tI32}, results: []byte{tI32}, body: []byte{0x20, 0, 0x11, 4, 0}},
	}
	return buildWasm(funcs, map[byte][]byte{
		4: vec([]byte{0x70, 1, 1, 1}),                             // table: funcref, 1..1
		5: vec([]byte{0, 1}),                                      // memory: 1 page
		6: vec([]byte{tI32, 1, 0x41, 0, 0x0b}),                    // global: mut i32 = 0, not exported
		7: append([]byte{1}, append(wasmName("memory"), 2, 0)...), // export the memory
		8: uleb(3),                                                // start: function 3
		9: vec(append([]byte{0, 0x41, 0, 0x0b}, vec(uleb(4))...)), // table[0] = seven
	})
}

func TestWasmJSForkKeepsInstanceState(t *testing.T) {
	ctx := context.Background()
	parent := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, parent, withBytes(stateWasm(), `
		const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
		globalThis.x = instance.exports;
		x.poke(10, 42);
		[x.bump(), x.peek(10), x.viaTable(0), new Uint8Array(x.memory.buffer)[10]]`), "[101,42,7,42]")
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close(ctx)
	// Each sees the state at the fork, then only its own writes.
	mustEval(t, child, "x.poke(10, 5); [x.bump(), x.bump(), x.peek(10), x.viaTable(0)]", "[102,103,5,7]")
	mustEval(t, parent, "[x.bump(), x.peek(10), new Uint8Array(x.memory.buffer)[10]]", "[102,42,42]")
	mustEval(t, parent, "x.poke(11, 9); [x.bump(), x.peek(11)]", "[103,9]")
	mustEval(t, child, "[x.bump(), x.peek(10), x.peek(11), new Uint8Array(x.memory.buffer)[10]]", "[104,5,0,5]")

	// A snapshot restores as many independent sandboxes.
	img, err := child.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r, err := testEngine.Restore(ctx, img, engine.SandboxConfig{})
		if err != nil {
			t.Fatal(err)
		}
		mustEval(t, r, "[x.bump(), x.peek(10), x.viaTable(0)]", "[105,5,7]")
		r.Close(ctx)
	}
}

func TestWasmJSImageMarshalRoundTrip(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, sb, withBytes(stateWasm(), `
		globalThis.x = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
		x.poke(300, 77); x.memory.grow(1); x.poke(70000, 3);
		[x.bump(), x.peek(300), x.peek(70000)]`), "[101,77,3]")
	r := restoreFromBytes(t, sb, engine.SandboxConfig{})
	mustEval(t, r, "[x.bump(), x.peek(300), x.peek(70000), x.memory.buffer.byteLength]", "[102,77,3,131072]")
}

// A funcref table the module's code may change cannot be captured: the image is refused
// with not_implemented, and the sandbox goes on.
func TestWasmJSSnapshotRefusesChangedFuncTable(t *testing.T) {
	funcs := []wasmFunc{
		{export: "seven", results: []byte{tI32}, body: []byte{0x41, 7}},
		{export: "clear", body: []byte{0x41, 0, 0xd0, 0x70, 0x26, 0}}, // table.set 0 null
	}
	bin := buildWasm(funcs, map[byte][]byte{4: vec([]byte{0x70, 1, 1, 1})})
	sb := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, sb, withBytes(bin, `globalThis.x = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports; x.seven()`), "7")
	if _, err := sb.Snapshot(); isoerr.CodeOf(err) != isoerr.NotImplemented {
		t.Fatalf("Snapshot: %v, want not_implemented", err)
	}
	if _, err := sb.Fork(context.Background()); isoerr.CodeOf(err) != isoerr.NotImplemented {
		t.Fatalf("Fork: %v, want not_implemented", err)
	}
	mustEval(t, sb, "x.seven()", "7")
}

// What JavaScript stores into a funcref table (an element of the table, an export of the
// instance, null, a growth) is replayed on the instance made again.
func TestWasmJSImageReplaysFuncTableStores(t *testing.T) {
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, sb, withBytes(tablesWasm(), `globalThis.t = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
		const f = t.funcs;
		f.set(0, f.get(2)); f.grow(1); f.set(3, t.add); f.set(1, null); f.length`), "4")
	const check = `[t.funcs.length, String(t.funcs.get(0)(4n)), t.funcs.get(1), String(t.funcs.get(2)(5n)), t.funcs.get(3)(40, 2)]`
	const want = `[4,"8",null,"10",42]`
	mustEval(t, sb, check, want)
	b := marshalImage(t, sb)
	img2, err := testEngine.UnmarshalImage(b)
	if err != nil {
		t.Fatal(err)
	}
	fork := mustFork(t, sb)
	defer fork.Close(ctx)
	mustEval(t, fork, check, want)
	r, err := testEngine.Restore(ctx, img2, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	mustEval(t, r, check, want)
	// The restored sandbox goes on recording: its own image has both changes.
	mustEval(t, r, "t.funcs.set(2, null); t.funcs.get(2)", "null")
	img3, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := testEngine.Restore(ctx, img3, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close(ctx)
	mustEval(t, r2, "[t.funcs.get(2), t.funcs.get(3)(1, 2)]", "[null,3]")
	mustEval(t, sb, "String(t.funcs.get(2)(5n))", `"10"`) // the parent is untouched
}

// linksSetup makes instances joined in every way the WebAssembly global allows: JavaScript
// function imports (and a start function calling one: a restore must not call it again),
// immutable global imports by value, a mutable WebAssembly.Global held in the host, an
// instance's exported global imported by another, an externref global and table holding
// JavaScript objects, a funcref table filled by an element segment, and an imported memory.
func linksSetup() string {
	set := func(bin []byte, name string) string {
		return "{" + withBytes(bin, "globalThis."+name+" = bytes;") + "}\n"
	}
	return set(globalsWasm(), "gBytes") + set(importsWasm(), "iBytes") + set(externrefWasm(), "rBytes") +
		set(tablesWasm(), "tBytes") + set(memImportWasm(), "mBytes") + `
		globalThis.calls = [];
		const gm = new WebAssembly.Module(gBytes);
		globalThis.mg = new WebAssembly.Global({ value: "i32", mutable: true }, 10);
		const env = { f: (x) => x * 3, g: 7, big: 5n, m: mg, fl: 1.5 };
		globalThis.a = new WebAssembly.Instance(gm, { env }).exports;
		globalThis.c = new WebAssembly.Instance(gm, { env: { ...env, m: a.m } }).exports;
		a.bump(); c.bump(); mg.value += 5;
		globalThis.imp = new WebAssembly.Instance(new WebAssembly.Module(iBytes), { env: {
			log() {}, inc: (x) => { calls.push(x); return x + 1; }, boom() {}, big: (v) => v } }).exports;
		imp.twice(1);
		globalThis.obj = { tag: "kept" };
		globalThis.r = new WebAssembly.Instance(new WebAssembly.Module(rBytes), { env: { cb: (v) => v } }).exports;
		r.gr.value = obj;
		globalThis.t = new WebAssembly.Instance(new WebAssembly.Module(tBytes)).exports;
		t.refs.set(1, obj); t.refs.grow(2, "grown");
		globalThis.mem = new WebAssembly.Memory({ initial: 1, maximum: 3 });
		globalThis.mi = new WebAssembly.Instance(new WebAssembly.Module(mBytes), { env: { memory: mem } }).exports;
		mi.poke(9, 99); mem.grow(1); mi.poke(70000, 4);
		1`
}

// linksCheck reads every piece of state linksSetup made, then changes it.
const linksCheck = `[a.g(), String(a.big()), a.fl(), a.callf(5), a.bump(), c.bump(), mg.value, a.m.value,
	imp.twice(3), calls.join(" "), r.getg() === obj, r.gr.value.tag, r.id(obj) === obj,
	t.refs.length, t.tget(1) === obj, t.tget(3), t.funcs.get(1)(2, 3), String(t.funcs.get(2)(4n)),
	mi.peek(9), mi.peek(70000), mem.buffer.byteLength, mi.memory === mem]`

func TestWasmJSImageKeepsLinks(t *testing.T) {
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, sb, linksSetup(), "1")
	b := marshalImage(t, sb)
	const want = `[7,"5",1.5,15,18,19,19,19,5,"100 1 2 3 4",true,"kept",true,4,true,"grown",5,"8",99,4,131072,true]`
	fork, err := sb.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer fork.Close(ctx)
	mustEval(t, sb, linksCheck, want)
	mustEval(t, fork, linksCheck, want)
	img2, err := testEngine.UnmarshalImage(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := testEngine.Restore(ctx, img2, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	mustEval(t, r, linksCheck, want)
}

// Every byte of an image is an attacker's: a forged WebAssembly state (one that passes the
// checksum) is rejected with invalid_request or restores a working sandbox; it never
// panics and never reaches memory outside the sandbox.
func TestWasmJSForgedImages(t *testing.T) {
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, sb, linksSetup(), "1")
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := engine.WasmStateRaw(img)
	if err != nil {
		t.Fatal(err)
	}
	try := func(name string, forged []byte) {
		t.Helper()
		bb, err := engine.ReplaceWasmState(b, forged)
		if err != nil {
			t.Fatal(err)
		}
		img, err := testEngine.UnmarshalImage(bb)
		if err != nil {
			if isoerr.CodeOf(err) != isoerr.InvalidRequest {
				t.Errorf("%s: UnmarshalImage: %v, want invalid_request", name, err)
			}
			return
		}
		r, err := testEngine.Restore(ctx, img, engine.SandboxConfig{Memory: 64 << 20})
		if err != nil {
			if c := isoerr.CodeOf(err); c != isoerr.InvalidRequest && c != isoerr.MemoryLimitExceeded {
				t.Errorf("%s: Restore: %v, want invalid_request or memory_limit_exceeded", name, err)
			}
			return
		}
		defer r.Close(ctx)
		if _, err := r.Eval(ctx, engine.Limits{}, "try { "+linksCheck+" } catch (e) { 0 }"); err != nil && isoerr.CodeOf(err) == isoerr.Internal {
			t.Errorf("%s: the restored sandbox fails: %v", name, err)
		}
	}
	try("unchanged", raw)
	try("empty", nil)
	try("truncated", raw[:len(raw)/2])
	try("one byte more", append(append([]byte(nil), raw...), 0))
	for _, at := range []int{0, 4, 8, 40, 80} { // counts and handles near the start
		for _, v := range []uint32{0, 1, 3, 0xffff, 0xffffffff} {
			f := append([]byte(nil), raw...)
			binary.LittleEndian.PutUint32(f[at:], v)
			try(fmt.Sprintf("u32 %d at %d", v, at), f)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		f := append([]byte(nil), raw...)
		for range 1 + rng.IntN(4) {
			f[rng.IntN(len(f))] ^= byte(1 + rng.IntN(255))
		}
		try(fmt.Sprintf("mutation %d", i), f)
	}
}

// BenchmarkWasmJSFork measures a fork and a restore of a sandbox holding an instance with
// 1 MiB of memory, beside the same sandbox without it.
func BenchmarkWasmJSFork(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct{ name, setup string }{
		{"no wasm", `globalThis.x = new Uint8Array(1 << 20).fill(1); 1`},
		{"instance with 64KiB memory", `globalThis.x = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports; 1`},
		{"instance with 1MiB memory", `globalThis.x = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
			x.memory.grow(15); for (let i = 0; i < 1 << 20; i += 4096) x.poke(i, 1); 1`},
	} {
		sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sb.Eval(ctx, engine.Limits{}, withBytes(stateWasm(), bc.setup)); err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/fork", func(b *testing.B) {
			for b.Loop() {
				child, err := sb.Fork(ctx)
				if err != nil {
					b.Fatal(err)
				}
				child.Close(ctx)
			}
		})
		img, err := sb.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		blob, err := img.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/restore", func(b *testing.B) {
			b.ReportMetric(float64(img.Size()), "image-bytes")
			b.ReportMetric(float64(len(blob)), "marshaled-bytes")
			for b.Loop() {
				r, err := testEngine.Restore(ctx, img, engine.SandboxConfig{})
				if err != nil {
					b.Fatal(err)
				}
				r.Close(ctx)
			}
		})
		sb.Close(ctx)
	}
}
