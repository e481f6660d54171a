package engine_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
)

// Linking instances through tables, function references and reference-typed globals
// (engine/wasmjs_funcref.go, wasmjs_tables.go): the shape emscripten's dynamic linking and
// wasm-bindgen use.

func sig(params, results []byte) []byte {
	return append(append([]byte{0x60}, vec(bytesOf(params)...)...), vec(bytesOf(results)...)...)
}

func code(body ...byte) []byte {
	b := append(append(vec(), body...), 0x0b)
	return append(uleb(uint64(len(b))), b...)
}

func exp(name string, kind, idx byte) []byte { return append(wasmName(name), kind, idx) }

const tFuncref, tExternref = 0x70, 0x6f

// linkLibWasm exports a funcref table "tbl" (2 elements, at most 10, f1 at 0), f1 () -> 1,
// f2 (i32) -> 2x, id (funcref) -> funcref, isnull (funcref) -> i32.
func linkLibWasm() []byte {
	types := vec(sig(nil, []byte{tI32}), sig([]byte{tI32}, []byte{tI32}), sig([]byte{tFuncref}, []byte{tFuncref}), sig([]byte{tFuncref}, []byte{tI32}))
	return wasmModule([]byte{1}, types, []byte{3}, vec([]byte{0}, []byte{1}, []byte{2}, []byte{3}),
		[]byte{4}, vec([]byte{tFuncref, 1, 2, 10}),
		[]byte{7}, vec(exp("f1", 0, 0), exp("f2", 0, 1), exp("id", 0, 2), exp("isnull", 0, 3), exp("tbl", 1, 0)),
		[]byte{9}, vec([]byte{0, 0x41, 0, 0x0b, 1, 0}),
		[]byte{10}, vec(code(0x41, 1), code(0x20, 0, 0x41, 2, 0x6c), code(0x20, 0), code(0x20, 0, 0xd1)))
}

// linkUserWasm imports env.tbl (a funcref table of at least 1, at most 10 elements) and
// exports g () -> 7, call0 () -> i32 (calls element 0), calli (index, x) -> i32 (calls an
// (i32) -> i32 element), put (index) storing g there.
func linkUserWasm() []byte {
	types := vec(sig(nil, []byte{tI32}), sig([]byte{tI32, tI32}, []byte{tI32}), sig([]byte{tI32}, nil), sig([]byte{tI32}, []byte{tI32}))
	imports := vec(append(append(wasmName("env"), wasmName("tbl")...), 1, tFuncref, 1, 1, 10))
	return wasmModule([]byte{1}, types, []byte{2}, imports, []byte{3}, vec([]byte{0}, []byte{0}, []byte{1}, []byte{2}),
		[]byte{7}, vec(exp("g", 0, 0), exp("call0", 0, 1), exp("calli", 0, 2), exp("put", 0, 3)),
		[]byte{10}, vec(code(0x41, 7), code(0x41, 0, 0x11, 0, 0), code(0x20, 1, 0x20, 0, 0x11, 3, 0), code(0x20, 0, 0xd2, 0, 0x26, 0)))
}

func b64(bin []byte) string {
	return `Uint8Array.fromBase64("` + base64.StdEncoding.EncodeToString(bin) + `")`
}

// TestWasmJSTableImport: an instance's exported table imported by another, and a Table
// made in JavaScript imported by two instances: get/set/grow from JavaScript and table.set
// and call_indirect from wasm are seen by every holder; elements keep their identity.
func TestWasmJSTableImport(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, `
		const lib = new WebAssembly.Module(`+b64(linkLibWasm())+`), user = new WebAssembly.Module(`+b64(linkUserWasm())+`);
		const err = (f) => { try { f(); return "ok"; } catch (e) { return e.constructor.name; } };
		const out = {};
		const A = new WebAssembly.Instance(lib).exports;
		// An instance's table imported by another instance.
		const B = new WebAssembly.Instance(user, { env: { tbl: A.tbl } }).exports;
		A.tbl.set(1, A.f2);
		B.put(0); // B stores its g at 0 of A's table
		out.shared = [B.call0(), A.tbl.get(0) === B.g, A.tbl.get(1) === A.f2, B.calli(1, 21), A.tbl.get(0)()];
		out.grow = [A.tbl.grow(2, A.f1), A.tbl.length, B.calli(1, 5), err(() => B.calli(3, 1)), A.tbl.get(3) === A.f1];
		// A Table made in JavaScript, imported by two instances.
		const t = new WebAssembly.Table({ element: "anyfunc", initial: 2, maximum: 4 }, A.f1);
		const B1 = new WebAssembly.Instance(user, { env: { tbl: t } }).exports;
		const B2 = new WebAssembly.Instance(user, { env: { tbl: t } }).exports;
		out.cell = [B1.call0(), B2.call0()];
		B1.put(0);
		out.cell.push(B2.call0(), t.get(0) === B1.g, t.get(1) === A.f1, t.length, t.grow(1), t.length, err(() => B2.calli(2, 1)));
		t.set(2, A.f2);
		out.cell.push(B1.calli(2, 4), B2.calli(2, 8));
		// Errors: the spec's classes.
		t.set(1, null);
		out.errors = [err(() => t.grow(2)), err(() => t.get(9)), err(() => t.set(9, null)), err(() => t.set(0, () => 1)),
			err(() => t.set(0, {})), err(() => B1.calli(1, 1)), err(() => B1.calli(0, 1)), err(() => B1.calli(7, 1)),
			err(() => new WebAssembly.Table({ element: "anyfunc", initial: 1 }, () => 1)), B2.call0(),
			err(() => new WebAssembly.Instance(user, { env: { tbl: new WebAssembly.Table({ element: "externref", initial: 1, maximum: 2 }) } })),
			err(() => new WebAssembly.Instance(user, { env: { tbl: new WebAssembly.Table({ element: "anyfunc", initial: 0, maximum: 2 }) } })),
			err(() => new WebAssembly.Instance(user, { env: { tbl: {} } }))];
		out;
	`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"shared":[7,true,true,42,7],"grow":[2,4,10,"RuntimeError",true],` +
		`"cell":[1,1,7,true,true,2,2,3,"RuntimeError",8,16],` +
		`"errors":["RangeError","RangeError","RangeError","TypeError","TypeError","RuntimeError","RuntimeError","RuntimeError","TypeError",7,"LinkError","LinkError","LinkError"]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// linkCallbackWasm imports env.take (funcref) -> () and env.give () -> funcref, and exports
// h () -> 9 (function 2) and run () -> i32: take(h), then whether give() is null.
func linkCallbackWasm() []byte {
	types := vec(sig([]byte{tFuncref}, nil), sig(nil, []byte{tFuncref}), sig(nil, []byte{tI32}))
	imports := vec(append(append(wasmName("env"), wasmName("take")...), 0, 0), append(append(wasmName("env"), wasmName("give")...), 0, 1))
	return wasmModule([]byte{1}, types, []byte{2}, imports, []byte{3}, vec([]byte{2}, []byte{2}),
		[]byte{7}, vec(exp("h", 0, 2), exp("run", 0, 3)),
		[]byte{10}, vec(code(0x41, 9), code(0xd2, 2, 0x10, 0, 0x10, 1, 0xd1)))
}

// linkHiddenWasm exports a funcref table "t" (1 element, at most 1) holding a function it
// does not export: (i32) -> x + 50.
func linkHiddenWasm() []byte {
	return wasmModule([]byte{1}, vec(sig([]byte{tI32}, []byte{tI32})), []byte{3}, vec([]byte{0}),
		[]byte{4}, vec([]byte{tFuncref, 1, 1, 1}), []byte{7}, vec(exp("t", 1, 0)),
		[]byte{9}, vec([]byte{0, 0x41, 0, 0x0b, 1, 0}), []byte{10}, vec(code(0x20, 0, 0x41, 50, 0x6a)))
}

// linkGlobalsWasm imports env.ext (mutable externref), env.fn (mutable funcref) and env.ext0
// (immutable externref), and exports getExt, setExt, getFn and getExt0.
func linkGlobalsWasm() []byte {
	types := vec(sig(nil, []byte{tExternref}), sig([]byte{tExternref}, nil), sig(nil, []byte{tFuncref}))
	g := func(name string, vt, mut byte) []byte {
		return append(append(wasmName("env"), wasmName(name)...), 3, vt, mut)
	}
	return wasmModule([]byte{1}, types, []byte{2}, vec(g("ext", tExternref, 1), g("fn", tFuncref, 1), g("ext0", tExternref, 0)),
		[]byte{3}, vec([]byte{0}, []byte{1}, []byte{2}, []byte{0}),
		[]byte{7}, vec(exp("getExt", 0, 0), exp("setExt", 0, 1), exp("getFn", 0, 2), exp("getExt0", 0, 3)),
		[]byte{10}, vec(code(0x23, 0), code(0x20, 0, 0x24, 0), code(0x23, 1), code(0x23, 2)))
}

// TestWasmJSFuncrefs: funcref values cross the boundary as the functions themselves (null or
// an exported wasm function, the same object each time; a JavaScript function is a
// TypeError, as in the spec), through parameters, results, imports, tables and globals;
// exported functions are named by their index.
func TestWasmJSFuncrefs(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, `
		const lib = new WebAssembly.Module(`+b64(linkLibWasm())+`), user = new WebAssembly.Module(`+b64(linkUserWasm())+`);
		const err = (f) => { try { f(); return "ok"; } catch (e) { return e.constructor.name; } };
		const A = new WebAssembly.Instance(lib).exports;
		const B = new WebAssembly.Instance(user, { env: { tbl: A.tbl } }).exports;
		const out = {};
		out.params = [A.id(A.f1) === A.f1, A.id(null), A.isnull(null), A.isnull(A.f2), A.id(B.g) === B.g, A.id(A.id(B.g))(),
			err(() => A.id(() => 1)), err(() => A.id({})), err(() => A.id(undefined))];
		out.names = [A.f1.name, A.f2.name, A.tbl.get(0).name, B.g.name, B.put.name];
		// A function the instance does not export, taken from its table: callable, stored elsewhere.
		const D = new WebAssembly.Instance(new WebAssembly.Module(`+b64(linkHiddenWasm())+`)).exports;
		const hidden = D.t.get(0);
		A.tbl.set(1, hidden);
		out.hidden = [hidden(1), hidden === D.t.get(0), A.tbl.get(1) === hidden, B.calli(1, 2), A.id(hidden) === hidden, err(() => hidden(1n))];
		// JavaScript imports taking and answering funcref.
		let took, give = null;
		const C = new WebAssembly.Instance(new WebAssembly.Module(`+b64(linkCallbackWasm())+`),
			{ env: { take: (f) => { took = f; }, give: () => give } }).exports;
		out.imports = [C.run(), took === C.h, C.h.name];
		give = A.f2;
		out.imports.push(C.run());
		give = () => 1;
		out.imports.push(err(() => C.run()));
		// Reference-typed globals: a mutable externref and funcref Global shared with the instance.
		const obj = { k: 1 };
		const ext = new WebAssembly.Global({ value: "externref", mutable: true }, obj);
		const fn = new WebAssembly.Global({ value: "anyfunc", mutable: true }, A.f1);
		const gm = new WebAssembly.Module(`+b64(linkGlobalsWasm())+`);
		const G = new WebAssembly.Instance(gm, { env: { ext, fn, ext0: null } }).exports;
		out.globals = [G.getExt() === obj, G.getFn() === A.f1, G.getExt0()];
		G.setExt("s");
		fn.value = hidden;
		out.globals.push(ext.value, G.getFn() === hidden, fn.value === hidden,
			err(() => new WebAssembly.Instance(gm, { env: { ext, fn, ext0: obj } })),
			err(() => new WebAssembly.Instance(gm, { env: { ext: obj, fn, ext0: null } })),
			err(() => new WebAssembly.Global({ value: "anyfunc" }, () => 1)), err(() => { fn.value = () => 1; }), String(new WebAssembly.Global({ value: "anyfunc" }).value));
		out;
	`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"params":[true,null,1,0,true,7,"TypeError","TypeError","TypeError"],"names":["0","1","0","0","3"],` +
		`"hidden":[51,true,true,52,true,"TypeError"],"imports":[1,true,"2",0,"TypeError"],` +
		`"globals":[true,true,null,"s",true,true,"LinkError","LinkError","TypeError","TypeError","null"]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestWasmJSLinkHostile: what a hostile or careless guest can do with shared tables and
// function references stays contained: an instance whose function is held elsewhere
// outlives the guest's handle on it (its function still runs, never a crash), such pinned
// instances count against the cap of instances (RangeError), a table imported without a
// maximum stops at the sandbox's cap of elements (RangeError); v128 values are the spec's
// TypeError; a module using exception handling (tags) is a CompileError saying why.
func TestWasmJSLinkHostile(t *testing.T) {
	v128 := wasmModule([]byte{1}, vec(sig([]byte{0x7b}, nil), sig(nil, []byte{0x7b})), []byte{3}, vec([]byte{0}, []byte{1}),
		[]byte{7}, vec(exp("v", 0, 0), exp("r", 0, 1)),
		[]byte{10}, vec(code(), code(append([]byte{0xfd, 12}, make([]byte, 16)...)...)))
	tag := wasmModule([]byte{1}, vec(sig([]byte{tI32}, nil)), []byte{13}, vec([]byte{0, 0}))
	tagImport := wasmModule([]byte{1}, vec(sig([]byte{tI32}, nil)), []byte{2}, vec(append(append(wasmName("env"), wasmName("e")...), 4, 0, 0)))
	unbounded := wasmModule([]byte{2}, vec(append(append(wasmName("env"), wasmName("tbl")...), 1, tFuncref, 0, 0)))
	sb := newSandbox(t, engine.SandboxConfig{Memory: 64 << 20})
	got, err := wasmEval(t, sb, engine.Limits{}, `
		const lib = new WebAssembly.Module(`+b64(linkLibWasm())+`), user = new WebAssembly.Module(`+b64(linkUserWasm())+`);
		const err = (f) => { try { f(); return "ok"; } catch (e) { return e.constructor.name + ": " + e.message; } };
		const out = {};
		const t = new WebAssembly.Table({ element: "anyfunc", initial: 1, maximum: 1 });
		const B = new WebAssembly.Instance(user, { env: { tbl: t } }).exports;
		(() => { t.set(0, new WebAssembly.Instance(lib).exports.f2); })(); // the instance is dropped at once
		(() => { // a cycle: B1 holds A1's table, which holds B1's function; both dropped
			const A1 = new WebAssembly.Instance(lib).exports;
			new WebAssembly.Instance(user, { env: { tbl: A1.tbl } }).exports.put(1);
		})();
		let n = 0;
		for (let i = 0; i < 150; i++) n += new WebAssembly.Instance(lib).exports.f1(); // sweeps dropped instances
		out.pinned = [n, B.calli(0, 21), t.get(0)(4)];
		// A table without a maximum stops at the cap of elements.
		const big = new WebAssembly.Table({ element: "anyfunc", initial: 0 });
		new WebAssembly.Instance(new WebAssembly.Module(`+b64(unbounded)+`), { env: { tbl: big } });
		out.big = [big.grow((1 << 20) - 1), err(() => big.grow(2)), big.length];
		const V = new WebAssembly.Instance(new WebAssembly.Module(`+b64(v128)+`)).exports;
		out.v128 = [err(() => V.v(1)), err(() => V.r())];
		out.tags = [WebAssembly.validate(`+b64(tag)+`), err(() => new WebAssembly.Module(`+b64(tag)+`)), err(() => new WebAssembly.Module(`+b64(tagImport)+`))];
		// Pinned instances count against the cap.
		const keep = new WebAssembly.Table({ element: "anyfunc", initial: 1, maximum: 1 });
		new WebAssembly.Instance(user, { env: { tbl: keep } }); // now shared: what it holds is pinned
		let made = 0, stop = "";
		try { for (; made < 100; made++) keep.set(0, new WebAssembly.Instance(lib).exports.f1); } catch (e) { stop = e.constructor.name + ": " + e.message; }
		out.cap = [made < 64, stop];
		out;
	`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"pinned":[150,42,8]`, `"cap":[true,"RangeError: too many WebAssembly instances`,
		`"big":[0,"RangeError: WebAssembly.Table.grow(): growing by 2 elements is past the table's maximum",1048575]`,
		`"v128":["TypeError: WebAssembly: a v128 value cannot cross to or from JavaScript","TypeError: WebAssembly: a v128 value cannot cross to or from JavaScript"]`,
		`"tags":[false,"CompileError: `, `exception-handling`} {
		if !strings.Contains(got, want) {
			t.Fatalf("got %s\nwant it to contain %s", got, want)
		}
	}
	t.Log(got)
}

// TestWasmJSMemoryShared: one WebAssembly.Memory imported by two instances, and an
// instance's exported memory imported by another, is one memory: what one instance writes
// the other reads, and JavaScript's buffer follows both (the copy is the memory's, kept in
// step around the calls of either).
func TestWasmJSMemoryShared(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, `
		const mm = new WebAssembly.Module(`+b64(memImportWasm())+`);
		const mem = new WebAssembly.Memory({ initial: 1, maximum: 4 });
		const P = new WebAssembly.Instance(mm, { env: { memory: mem } }).exports;
		const view = new Uint8Array(mem.buffer);
		view[200] = 7;
		const Q = new WebAssembly.Instance(mm, { env: { memory: mem } }).exports;
		const out = {};
		P.poke(100, 42);
		out.js = [Q.memory === mem, P.memory === mem, Q.peek(100), P.peek(200), Q.peek(200), Q.peek(0)];
		Q.poke(300, 9);
		view[301] = 10;
		out.both = [view[300], P.peek(300), P.peek(301), Q.peek(301), mem.buffer === view.buffer];
		out.grow = [mem.grow(1), P.peek(65536 + 5), (Q.poke(65536 + 6, 3), "poked"), new Uint8Array(mem.buffer)[65536 + 6], P.peek(65536 + 6)];
		// An instance's own exported memory imported by another.
		const L = new WebAssembly.Instance(new WebAssembly.Module(`+b64(libWasm())+`)).exports;
		const R = new WebAssembly.Instance(mm, { env: { memory: L.memory } }).exports;
		L.fill(500, 5);
		out.exported = [R.peek(500), R.memory === L.memory, new Uint8Array(L.memory.buffer)[0], L.sum(0, 1)];
		const err = (f) => { try { f(); return "ok"; } catch (e) { return e.constructor.name; } };
		const tight = new WebAssembly.Module(`+b64(memImportTightWasm())+`);
		out.errors = [err(() => new WebAssembly.Instance(tight, { env: { memory: L.memory } }))];
		out;
	`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"js":[true,true,42,7,7,104],"both":[9,9,10,10,true],"grow":[1,0,"poked",3,3],"exported":[5,true,104,104],"errors":["LinkError"]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// memImportTightWasm imports env.memory with a maximum of 1 page.
func memImportTightWasm() []byte {
	return wasmModule([]byte{2}, vec(append(append(wasmName("env"), wasmName("memory")...), 2, 1, 1, 1)))
}

// linkJSTableWasm imports env.js () -> i32 and exports a funcref table "t" holding it.
func linkJSTableWasm() []byte {
	imports := vec(append(append(wasmName("env"), wasmName("js")...), 0, 0))
	return wasmModule([]byte{1}, vec(sig(nil, []byte{tI32})), []byte{2}, imports,
		[]byte{4}, vec([]byte{tFuncref, 1, 1, 1}), []byte{7}, vec(exp("t", 1, 0)),
		[]byte{9}, vec([]byte{0, 0x41, 0, 0x0b, 1, 0}))
}

// TestWasmJSImportedFunctionsShared: a JavaScript function an instance imports, put in a
// table and called from another instance through call_indirect, is that instance's import
// (wazero names the calling module to a host function: the host module knows its own).
func TestWasmJSImportedFunctionsShared(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, `
		const jm = new WebAssembly.Module(`+b64(linkJSTableWasm())+`), user = new WebAssembly.Module(`+b64(linkUserWasm())+`);
		const J1 = new WebAssembly.Instance(jm, { env: { js: () => 1 } }).exports;
		const J2 = new WebAssembly.Instance(jm, { env: { js: () => { throw new Error("from J2"); } } }).exports;
		const tt = new WebAssembly.Table({ element: "anyfunc", initial: 1, maximum: 1 });
		const B = new WebAssembly.Instance(user, { env: { tbl: tt } }).exports;
		const f1 = J1.t.get(0), f2 = J2.t.get(0);
		tt.set(0, f1);
		const out = [B.call0(), f1(), f1 === J1.t.get(0), f1 === f2];
		tt.set(0, f2);
		try { B.call0(); } catch (e) { out.push(e.message); }
		out;
	`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[1,1,true,false,"from J2"]`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestWasmJSImmutableFuncrefGlobal: an immutable funcref global import takes null or an
// exported function (given directly or in a WebAssembly.Global); a function that is no
// export cannot be linked that way (LinkError, not yet).
func TestWasmJSImmutableFuncrefGlobal(t *testing.T) {
	bin := wasmModule([]byte{1}, vec(sig(nil, []byte{tFuncref})), []byte{2}, vec(append(append(wasmName("env"), wasmName("fnc")...), 3, tFuncref, 0)),
		[]byte{3}, vec([]byte{0}), []byte{7}, vec(exp("getF", 0, 0)), []byte{10}, vec(code(0x23, 0)))
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, `
		const A = new WebAssembly.Instance(new WebAssembly.Module(`+b64(linkLibWasm())+`)).exports;
		const hidden = new WebAssembly.Instance(new WebAssembly.Module(`+b64(linkHiddenWasm())+`)).exports.t.get(0);
		const gm = new WebAssembly.Module(`+b64(bin)+`);
		const get = (fnc) => { try { return new WebAssembly.Instance(gm, { env: { fnc } }).exports.getF(); } catch (e) { return e.constructor.name; } };
		[get(A.f1) === A.f1, get(new WebAssembly.Global({ value: "anyfunc" }, A.f2)) === A.f2, get(null), get(hidden), get(() => 1), get(A.f1)()];
	`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[true,true,null,"LinkError","TypeError",1]`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestWasmJSExternrefTableImport: an externref Table made in JavaScript, imported, keeps its
// values and is then one table for JavaScript and the instance.
func TestWasmJSExternrefTableImport(t *testing.T) {
	bin := wasmModule([]byte{1}, vec(sig([]byte{tI32}, []byte{tExternref}), sig([]byte{tI32, tExternref}, nil)),
		[]byte{2}, vec(append(append(wasmName("env"), wasmName("rt")...), 1, tExternref, 1, 1, 4)),
		[]byte{3}, vec([]byte{0}, []byte{1}), []byte{7}, vec(exp("rget", 0, 0), exp("rset", 0, 1)),
		[]byte{10}, vec(code(0x20, 0, 0x25, 0), code(0x20, 0, 0x20, 1, 0x26, 0)))
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, `
		const obj = { k: 1 };
		const rt = new WebAssembly.Table({ element: "externref", initial: 2, maximum: 4 }, "x");
		rt.set(1, obj);
		const R = new WebAssembly.Instance(new WebAssembly.Module(`+b64(bin)+`), { env: { rt } }).exports;
		const out = [R.rget(0), R.rget(1) === obj, rt.get(1) === obj, rt.length];
		rt.set(0, 5);
		R.rset(1, "w");
		out.push(R.rget(0), rt.get(1), rt.grow(1, null), R.rget(2), rt.length);
		out;
	`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `["x",true,true,2,5,"w",2,null,3]`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestWasmJSMemorySharedNested: with the buffer in use, an instance's import calls the other
// instance sharing its memory, and JavaScript writes the buffer in between: every write
// reaches the memory and the buffer.
func TestWasmJSMemorySharedNested(t *testing.T) {
	imports := vec(append(append(wasmName("env"), wasmName("memory")...), 2, 0, 1), append(append(wasmName("env"), wasmName("cb")...), 0, 0))
	bin := wasmModule([]byte{1}, vec(sig(nil, nil), sig([]byte{tI32}, []byte{tI32}), sig([]byte{tI32, tI32}, nil)), []byte{2}, imports,
		[]byte{3}, vec([]byte{1}, []byte{2}), []byte{7}, vec(exp("run", 0, 1), exp("poke", 0, 2)),
		[]byte{10}, vec(code(0x10, 0, 0x20, 0, 0x2d, 0, 0), code(0x20, 0, 0x20, 1, 0x3a, 0, 0)))
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, `
		const m = new WebAssembly.Module(`+b64(bin)+`);
		const memory = new WebAssembly.Memory({ initial: 1 });
		let Q;
		const P = new WebAssembly.Instance(m, { env: { memory, cb: () => { Q.poke(700, 11); new Uint8Array(memory.buffer)[701] = 12; } } }).exports;
		Q = new WebAssembly.Instance(m, { env: { memory, cb: () => { P.poke(702, 13); } } }).exports;
		const view = new Uint8Array(memory.buffer);
		view[703] = 14;
		[P.run(700), P.run(701), Q.run(702), Q.run(703), view[700], view[701], view[702], memory.buffer === view.buffer];
	`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[11,12,13,14,11,12,13,true]`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
