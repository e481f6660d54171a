package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// Images of what wasm-link made possible (function handles by identity, other instances'
// functions in tables, table cells and imports, funcref globals, shared memories, pinned
// instances; RATIONALE §52): each is restored exactly (a fork, and an image through its
// bytes on disk, answer as the parent does) or refused with not_implemented naming the case,
// the parent going on as before.

// linkDispatchWasm exports a funcref table "tbl" (2 elements, at most 10) holding at 0 a
// function it does not export, (i32) -> x + 100, and calli (index, x) -> i32, calling an
// (i32) -> i32 element through call_indirect.
func linkDispatchWasm() []byte {
	types := vec(sig([]byte{tI32}, []byte{tI32}), sig([]byte{tI32, tI32}, []byte{tI32}))
	return wasmModule([]byte{1}, types, []byte{3}, vec([]byte{0}, []byte{1}),
		[]byte{4}, vec([]byte{tFuncref, 1, 2, 10}),
		[]byte{7}, vec(exp("calli", 0, 1), exp("tbl", 1, 0)),
		[]byte{9}, vec([]byte{0, 0x41, 0, 0x0b, 1, 0}),
		[]byte{10}, vec(code(0x20, 0, 0x41, 0xe4, 0x00, 0x6a), code(0x20, 1, 0x20, 0, 0x11, 0, 0)))
}

func TestWasmJSImagesOfLinks(t *testing.T) {
	funcrefGlobal := wasmModule([]byte{1}, vec(sig(nil, []byte{tFuncref})), []byte{2}, vec(append(append(wasmName("env"), wasmName("fnc")...), 3, tFuncref, 0)),
		[]byte{3}, vec([]byte{0}), []byte{7}, vec(exp("getF", 0, 0)), []byte{10}, vec(code(0x23, 0)))
	mutableFuncref := wasmModule([]byte{1}, vec(sig(nil, []byte{tFuncref})), []byte{3}, vec([]byte{0}),
		[]byte{6}, vec([]byte{tFuncref, 1, 0xd0, tFuncref, 0x0b}), []byte{7}, vec(exp("get", 0, 0)), []byte{10}, vec(code(0x23, 0)))
	prelude := `
		const lib = new WebAssembly.Module(` + b64(linkLibWasm()) + `), user = new WebAssembly.Module(` + b64(linkUserWasm()) + `);
		const disp = new WebAssembly.Module(` + b64(linkDispatchWasm()) + `);
		globalThis.A = new WebAssembly.Instance(lib).exports;
		globalThis.C = new WebAssembly.Instance(lib).exports;
		globalThis.D = new WebAssembly.Instance(disp).exports;
	`
	for _, tc := range []struct {
		name, setup, check, want string
		refused                  string // not "": Snapshot and Fork are not_implemented, saying this
		released                 int    // instances pinned and released by the guest, before and after
	}{
		{name: "exported functions held by JavaScript keep their identity",
			setup: `globalThis.f1 = A.tbl.get(0); A.tbl.set(1, A.f2); globalThis.g = A.id(A.f2);`,
			check: `[f1 === A.f1, A.tbl.get(1) === A.f2, A.tbl.get(1)(21), g === A.f2, A.id(A.f1) === f1, A.isnull(f1), A.isnull(null)]`,
			want:  `[true,true,42,true,true,0,1]`},
		{name: "another instance's function in a funcref table",
			setup: `D.tbl.set(1, C.f2);`,
			check: `[D.calli(1, 21), D.calli(0, 1), D.tbl.get(1) === C.f2, D.tbl.get(1) === A.f2, C.f2(3)]`,
			want:  `[42,101,true,false,6]`},
		{name: "a function that is not an export, held by JavaScript and stored elsewhere",
			setup: `globalThis.h = D.tbl.get(0); D.tbl.set(1, h); A.tbl.set(1, h);`,
			check: `[D.calli(1, 5), D.tbl.get(1) === h, D.tbl.get(0) === h, A.tbl.get(1) === h, h(1), typeof D.tbl.get(0)]`,
			want:  `[105,true,true,true,101,"function"]`},
		{name: "a grown funcref table",
			setup: `D.tbl.grow(3, C.f2); D.tbl.set(0, A.f2);`,
			check: `[D.tbl.length, D.calli(4, 5), D.calli(0, 5), D.tbl.get(3) === C.f2, D.tbl.get(0) === A.f2]`,
			want:  `[5,10,10,true,true]`},
		{name: "an immutable funcref global given an exported function",
			setup: `globalThis.G = new WebAssembly.Instance(new WebAssembly.Module(` + b64(funcrefGlobal) + `), { env: { fnc: C.f2 } }).exports;
				globalThis.G0 = new WebAssembly.Instance(new WebAssembly.Module(` + b64(funcrefGlobal) + `), { env: { fnc: null } }).exports;`,
			check: `[G.getF() === C.f2, G.getF()(4), G0.getF()]`,
			want:  `[true,8,null]`},
		{name: "a pinned instance the guest released",
			setup: `(() => { D.tbl.set(1, new WebAssembly.Instance(lib).exports.f2); })();
				(() => { new WebAssembly.Instance(new WebAssembly.Module(` + b64(funcrefGlobal) + `), { env: { fnc: C.f2 } }); })(); // pinned: it imports a funcref
				for (let i = 0; i < 150; i++) new WebAssembly.Instance(lib).exports.f1();`,
			check:    `[D.calli(1, 21), D.tbl.get(1)(2)]`,
			want:     `[42,4]`,
			released: 1},
		{name: "a function that is not an export, its place overwritten",
			setup:   `globalThis.h = D.tbl.get(0); D.tbl.set(0, null);`,
			check:   `[h(1), D.tbl.get(0)]`,
			want:    `[101,null]`,
			refused: "neither one of its exports"},
		{name: "a Table made in JavaScript, imported",
			setup:   `globalThis.T = new WebAssembly.Table({ element: "anyfunc", initial: 2, maximum: 4 }, A.f1); globalThis.B = new WebAssembly.Instance(user, { env: { tbl: T } }).exports;`,
			check:   `[B.call0(), T.get(0) === A.f1]`,
			want:    `[1,true]`,
			refused: "WebAssembly.Table made in JavaScript"},
		{name: "an instance's table imported by another",
			setup:   `globalThis.B = new WebAssembly.Instance(user, { env: { tbl: A.tbl } }).exports; B.put(1);`,
			check:   `[B.call0(), A.tbl.get(1) === B.g, A.tbl.get(1)()]`,
			want:    `[1,true,7]`,
			refused: "imports a table"},
		{name: "a mutable anyfunc Global made in JavaScript",
			setup: `globalThis.X = new WebAssembly.Global({ value: "externref", mutable: true }, 1);
				globalThis.FG = new WebAssembly.Global({ value: "anyfunc", mutable: true }, A.f1);
				globalThis.L = new WebAssembly.Instance(new WebAssembly.Module(` + b64(linkGlobalsWasm()) + `), { env: { ext: X, fn: FG, ext0: null } }).exports;`,
			check:   `[L.getFn() === A.f1, L.getExt()]`,
			want:    `[true,1]`,
			refused: "type anyfunc"},
		{name: "a mutable funcref global of a module",
			setup:   `globalThis.M = new WebAssembly.Instance(new WebAssembly.Module(` + b64(mutableFuncref) + `)).exports;`,
			check:   `M.get()`,
			want:    `null`,
			refused: "a mutable global of type 0x70"},
		{name: "one Memory in two instances",
			setup: `const mm = new WebAssembly.Module(` + b64(memImportWasm()) + `), mem = new WebAssembly.Memory({ initial: 1, maximum: 2 });
				globalThis.P = new WebAssembly.Instance(mm, { env: { memory: mem } }).exports;
				globalThis.Q = new WebAssembly.Instance(mm, { env: { memory: mem } }).exports; P.poke(100, 42);`,
			check:   `[Q.peek(100), P.memory === Q.memory]`,
			want:    `[42,true]`,
			refused: "shares the memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			sb := newSandbox(t, engine.SandboxConfig{Memory: 64 << 20})
			mustEval(t, sb, prelude+tc.setup+"; 0", "0")
			mustEval(t, sb, tc.check, tc.want)
			released := func(sb *engine.Sandbox) {
				t.Helper()
				if _, n := engine.WasmJSPinned(sb); n != tc.released {
					t.Fatalf("%d instances pinned and released, want %d", n, tc.released)
				}
			}
			released(sb)
			if tc.refused != "" {
				_, err := sb.Snapshot()
				if isoerr.CodeOf(err) != isoerr.NotImplemented || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("Snapshot: %v, want not_implemented saying %q", err, tc.refused)
				}
				if _, err := sb.Fork(ctx); isoerr.CodeOf(err) != isoerr.NotImplemented || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("Fork: %v, want not_implemented saying %q", err, tc.refused)
				}
				mustEval(t, sb, tc.check, tc.want) // the sandbox goes on
				return
			}
			fork := mustFork(t, sb)
			mustEval(t, fork, tc.check, tc.want)
			released(fork)
			r := restoreFromBytes(t, sb, engine.SandboxConfig{Memory: 64 << 20})
			mustEval(t, r, tc.check, tc.want)
			released(r)
			// An image of the restored sandbox restores the same again.
			img3, err := r.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			r2, err := testEngine.Restore(ctx, img3, engine.SandboxConfig{Memory: 64 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close(ctx)
			mustEval(t, r2, tc.check, tc.want)
			mustEval(t, sb, tc.check, tc.want)
		})
	}
}

// A forged image naming function handles that do not fit its instances (a handle of a
// module, an export its instance lacks, an element past a table's end or null, a table
// that is not a funcref table, fewer handles than its table operations and globals use)
// or a WebAssembly.Global of type anyfunc (its bits would be a reference) is
// invalid_request, never a sandbox holding a wrong reference.
func TestWasmJSForgedFuncRefs(t *testing.T) {
	ctx := context.Background()
	funcrefGlobal := wasmModule([]byte{1}, vec(sig(nil, []byte{tFuncref})), []byte{2}, vec(append(append(wasmName("env"), wasmName("fnc")...), 3, tFuncref, 0)),
		[]byte{3}, vec([]byte{0}), []byte{7}, vec(exp("getF", 0, 0)), []byte{10}, vec(code(0x23, 0)))
	sb := newSandbox(t, engine.SandboxConfig{})
	const check = `[D.calli(1, 21), D.tbl.get(1) === A.f2, h(1), D.tbl.get(0) === h, G.getF() === A.f2]`
	mustEval(t, sb, `
		globalThis.A = new WebAssembly.Instance(new WebAssembly.Module(`+b64(linkLibWasm())+`)).exports; // handles 1, 2
		globalThis.D = new WebAssembly.Instance(new WebAssembly.Module(`+b64(linkDispatchWasm())+`)).exports; // 3, 4
		globalThis.h = D.tbl.get(0);
		D.tbl.set(1, A.f2);
		globalThis.G = new WebAssembly.Instance(new WebAssembly.Module(`+b64(funcrefGlobal)+`), { env: { fnc: A.f2 } }).exports;
		`+check, `[42,true,101,true,true]`)
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	good := []engine.ForgedFuncRef{{Owner: 4, Table: 0, Index: 0}, {Owner: 2, Export: "f2"}}
	for _, tc := range []struct {
		name    string
		frefs   []engine.ForgedFuncRef
		anyfunc uint64
		ok      bool
	}{
		{name: "as taken", frefs: good, ok: true},
		{name: "a module's handle", frefs: []engine.ForgedFuncRef{{Owner: 3, Table: 0, Index: 0}, good[1]}},
		{name: "an export its instance lacks", frefs: []engine.ForgedFuncRef{good[0], {Owner: 2, Export: "nope"}}},
		{name: "an element past the table's end", frefs: []engine.ForgedFuncRef{{Owner: 4, Table: 0, Index: 2}, good[1]}},
		{name: "a null element", frefs: []engine.ForgedFuncRef{{Owner: 4, Table: 0, Index: 1}, good[1]}},
		{name: "no such table", frefs: []engine.ForgedFuncRef{{Owner: 4, Table: 7, Index: 0}, good[1]}},
		{name: "an instance without tables", frefs: []engine.ForgedFuncRef{{Owner: 6, Table: 0, Index: 0}, good[1]}},
		{name: "fewer handles than used", frefs: good[:1]},
		{name: "an anyfunc Global", frefs: good, anyfunc: 0xdeadbeef},
	} {
		raw, err := engine.WasmStateForged(img, tc.frefs, tc.anyfunc)
		if err != nil {
			t.Fatal(err)
		}
		bb, err := engine.ReplaceWasmState(b, raw)
		if err != nil {
			t.Fatal(err)
		}
		im, err := testEngine.UnmarshalImage(bb)
		var r *engine.Sandbox
		if err == nil {
			r, err = testEngine.Restore(ctx, im, engine.SandboxConfig{})
		}
		if tc.ok {
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			mustEval(t, r, check, `[42,true,101,true,true]`)
			r.Close(ctx)
			continue
		}
		if isoerr.CodeOf(err) != isoerr.InvalidRequest {
			if r != nil {
				r.Close(ctx)
			}
			t.Fatalf("%s: %v, want invalid_request", tc.name, err)
		}
	}
	mustEval(t, sb, check, `[42,true,101,true,true]`)
}

// An instance restored from an image can share its memory afterwards: a new instance
// importing its WebAssembly.Memory (made in JavaScript) or its exported memory is one
// memory with it, as before the image.
func TestWasmJSRestoredMemoryShares(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, sb, `globalThis.mm = new WebAssembly.Module(`+b64(memImportWasm())+`);
		globalThis.P = new WebAssembly.Instance(mm, { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 2 }) } }).exports;
		globalThis.L = new WebAssembly.Instance(new WebAssembly.Module(`+b64(libWasm())+`)).exports;
		P.poke(100, 42); L.fill(500, 5); 1`, "1")
	r := restoreFromBytes(t, sb, engine.SandboxConfig{})
	const share = `const Q = new WebAssembly.Instance(mm, { env: { memory: P.memory } }).exports;
		const R = new WebAssembly.Instance(mm, { env: { memory: L.memory } }).exports;
		Q.poke(101, 7); R.poke(501, 6);
		[Q.peek(100), P.peek(101), Q.memory === P.memory, R.peek(500), L.sum(500, 2), R.memory === L.memory]`
	const want = `[42,7,true,5,11,true]`
	mustEval(t, r, share, want)
	mustEval(t, sb, share, want)
	// Now shared: their images are refused, and the sandbox goes on.
	if _, err := r.Snapshot(); isoerr.CodeOf(err) != isoerr.NotImplemented {
		t.Fatalf("Snapshot: %v, want not_implemented", err)
	}
	mustEval(t, r, "[P.peek(101), L.sum(500, 2)]", "[7,11]")
}
