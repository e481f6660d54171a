package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// customSection is a custom section's encoding (id 0, its name, its contents).
func customSection(name string, data ...byte) []byte {
	body := append(wasmName(name), data...)
	return append(append([]byte{0}, uleb(uint64(len(body)))...), body...)
}

func TestWasmJSCustomSections(t *testing.T) {
	bin := libWasm()
	bin = append(bin, customSection("a", 1, 2, 3)...)
	bin = append(bin, customSection("b")...)
	bin = append(bin, customSection("a", 4)...)
	bin = append(bin, customSection("é\u0000x", 9)...)
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(bin, `
		const m = new WebAssembly.Module(bytes);
		const list = (name) => WebAssembly.Module.customSections(m, name).map((b) => (b instanceof ArrayBuffer ? "" : "!") + [...new Uint8Array(b)].join("."));
		const out = { a: list("a"), b: list("b"), none: list("c"), odd: list("é\u0000x") };
		// each call answers fresh buffers: changing one changes nothing the next call sees
		new Uint8Array(WebAssembly.Module.customSections(m, "a")[0])[0] = 99;
		out.again = list("a");
		try { WebAssembly.Module.customSections({}, "a"); } catch (e) { out.notModule = e.constructor.name; }
		try { WebAssembly.Module.customSections(m); } catch (e) { out.noName = e.constructor.name; }
		out;
	`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":["1.2.3","4"],"b":[""],"none":[],"odd":["9"],"again":["1.2.3","4"],"notModule":"TypeError","noName":"TypeError"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// A custom section whose name runs past its end is a CompileError, and the sandbox goes on.
	bad := append(libWasm(), 0, 3, 10, 'a', 'b')
	got, err = wasmEval(t, newSandbox(t, engine.SandboxConfig{}), engine.Limits{}, withBytes(bad, `
		let r; try { new WebAssembly.Module(bytes); r = "compiled"; } catch (e) { r = e.constructor.name; }
		[r, WebAssembly.validate(bytes)];
	`))
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	if err := json.Unmarshal([]byte(got), &out); err != nil || out[0] != "CompileError" || out[1] != false {
		t.Fatalf("a bad custom section: %s (%v)", got, err)
	}
}

// globalsWasm imports a function and four globals from "env" (g: i32, big: i64, m: mutable
// i32, fl: f64) and exports functions reading them, one bumping m, and m itself.
func globalsWasm() []byte {
	fn := func(params, results []byte) []byte {
		return append(append([]byte{0x60}, vec(bytesOf(params)...)...), vec(bytesOf(results)...)...)
	}
	types := vec(fn([]byte{tI32}, []byte{tI32}), fn(nil, []byte{tI32}), fn(nil, []byte{tI64}), fn(nil, []byte{0x7c}))
	imp := func(name string, desc ...byte) []byte {
		return append(append(wasmName("env"), wasmName(name)...), desc...)
	}
	imports := vec(imp("f", 0, 0), imp("g", 3, tI32, 0), imp("big", 3, tI64, 0), imp("m", 3, tI32, 1), imp("fl", 3, 0x7c, 0))
	funcs := vec([]byte{1}, []byte{2}, []byte{1}, []byte{0}, []byte{3})
	body := func(code ...byte) []byte {
		b := append(append(vec(), code...), 0x0b)
		return append(uleb(uint64(len(b))), b...)
	}
	code := vec(body(0x23, 0), body(0x23, 1), body(0x23, 2, 0x41, 1, 0x6a, 0x24, 2, 0x23, 2), body(0x20, 0, 0x10, 0), body(0x23, 3))
	exp := func(name string, kind, idx byte) []byte { return append(wasmName(name), kind, idx) }
	exports := vec(exp("g", 0, 1), exp("big", 0, 2), exp("bump", 0, 3), exp("callf", 0, 4), exp("fl", 0, 5), exp("m", 3, 2))
	return wasmModule([]byte{1}, types, []byte{2}, imports, []byte{3}, funcs, []byte{7}, exports, []byte{10}, code)
}

func TestWasmJSGlobalImports(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(globalsWasm(), `
		const module = new WebAssembly.Module(bytes);
		const out = {};
		out.imports = WebAssembly.Module.imports(module).map((i) => i.name + ":" + i.kind).join(",");
		const mg = new WebAssembly.Global({ value: "i32", mutable: true }, 10);
		const env = { f: (x) => x * 2, g: 7, big: 5n, m: mg, fl: 1.5 };
		const a = new WebAssembly.Instance(module, { env }).exports;
		out.a = [a.g(), String(a.big()), a.fl(), a.callf(21), a.bump(), mg.value];
		mg.value = 100; // JavaScript and the instance share the global
		out.shared = [a.bump(), mg.value, a.m.value];
		const b = new WebAssembly.Instance(module, { env: { ...env, g: new WebAssembly.Global({ value: "i32" }, 9) } }).exports;
		out.b = [b.g(), b.bump(), a.bump(), mg.value]; // two instances, one global
		const c = new WebAssembly.Instance(module, { env: { ...env, m: a.m } }).exports; // an instance's exported global
		out.c = [c.bump(), mg.value];
		a.m.value = 500;
		out.c.push(c.bump(), b.bump());
		const link = (over) => {
			try { new WebAssembly.Instance(module, { env: { ...env, ...over } }); return "linked"; } catch (e) { return e.constructor.name; }
		};
		out.errors = [
			link({ g: "7" }), link({ big: 5 }), link({ g: 5n }), link({ m: 5 }),
			link({ m: new WebAssembly.Global({ value: "i64", mutable: true }, 1n) }),
			link({ m: new WebAssembly.Global({ value: "i32" }, 1) }),
			link({ g: new WebAssembly.Global({ value: "i32", mutable: true }, 1) }),
		];
		out.after = [a.bump(), mg.value];
		out;
	`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"imports":"f:function,g:global,big:global,m:global,fl:global","a":[7,"5",1.5,42,11,11],"shared":[101,101,101],` +
		`"b":[9,102,103,103],"c":[104,104,501,502],"errors":["LinkError","LinkError","LinkError","LinkError","LinkError","LinkError","LinkError"],"after":[503,503]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// externrefWasm imports env.cb (externref) -> externref and exports id, isnull, viaImport,
// a mutable externref global gr and getg reading it.
func externrefWasm() []byte {
	const tRef = 0x6f
	fn := func(params, results []byte) []byte {
		return append(append([]byte{0x60}, vec(bytesOf(params)...)...), vec(bytesOf(results)...)...)
	}
	types := vec(fn([]byte{tRef}, []byte{tRef}), fn([]byte{tRef}, []byte{tI32}), fn(nil, []byte{tRef}))
	imports := vec(append(append(wasmName("env"), wasmName("cb")...), 0, 0))
	funcs := vec([]byte{0}, []byte{1}, []byte{0}, []byte{2})
	body := func(code ...byte) []byte {
		b := append(append(vec(), code...), 0x0b)
		return append(uleb(uint64(len(b))), b...)
	}
	code := vec(body(0x20, 0), body(0x20, 0, 0xd1), body(0x20, 0, 0x10, 0), body(0x23, 0))
	globals := vec([]byte{tRef, 1, 0xd0, tRef, 0x0b})
	exp := func(name string, kind, idx byte) []byte { return append(wasmName(name), kind, idx) }
	exports := vec(exp("id", 0, 1), exp("isnull", 0, 2), exp("viaImport", 0, 3), exp("getg", 0, 4), exp("gr", 3, 0))
	return wasmModule([]byte{1}, types, []byte{2}, imports, []byte{3}, funcs, []byte{6}, globals, []byte{7}, exports, []byte{10}, code)
}

func TestWasmJSExternref(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(externrefWasm(), `
		const seen = [];
		const { instance } = await WebAssembly.instantiate(bytes, { env: { cb: (v) => { seen.push(v); return { wrapped: v }; } } });
		const x = instance.exports;
		const obj = { a: 1 };
		const fn = () => 5;
		const out = {};
		out.same = [x.id(obj) === obj, x.id(fn) === fn, x.id(null), x.id(undefined) === undefined, x.id(0) === 0, x.id("s"), x.id(2n) === 2n];
		out.isnull = [x.isnull(null), x.isnull(undefined), x.isnull(obj), x.isnull(0)];
		const r = x.viaImport(obj);
		out.import = [seen[0] === obj, r.wrapped === obj];
		out.global = [x.gr.value, x.getg()];
		x.gr.value = obj;
		out.global.push(x.gr.value === obj, x.getg() === obj);
		out;
	`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"same":[true,true,null,true,true,"s",true],"isnull":[1,0,0,0],"import":[true,true],"global":[null,null,true,true]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// tablesWasm exports an externref table "refs" (2 elements, at most 10), a funcref table
// "funcs" (3 elements, at most 4: null, add, dbl), tget reading refs, add (i32, i32) -> i32
// and dbl (i64) -> i64, which also writes 7 at memory byte 0.
func tablesWasm() []byte {
	fn := func(params, results []byte) []byte {
		return append(append([]byte{0x60}, vec(bytesOf(params)...)...), vec(bytesOf(results)...)...)
	}
	types := vec(fn([]byte{tI32}, []byte{0x6f}), fn([]byte{tI32, tI32}, []byte{tI32}), fn([]byte{tI64}, []byte{tI64}))
	funcs := vec([]byte{0}, []byte{1}, []byte{2})
	tables := vec([]byte{0x6f, 1, 2, 10}, []byte{0x70, 1, 3, 4})
	exp := func(name string, kind, idx byte) []byte { return append(wasmName(name), kind, idx) }
	exports := vec(exp("tget", 0, 0), exp("refs", 1, 0), exp("funcs", 1, 1), exp("memory", 2, 0), exp("add", 0, 1))
	elems := vec([]byte{2, 1, 0x41, 1, 0x0b, 0, 2, 1, 2}) // table 1, offset 1, funcref: functions 1 and 2
	body := func(code ...byte) []byte {
		b := append(append(vec(), code...), 0x0b)
		return append(uleb(uint64(len(b))), b...)
	}
	code := vec(body(0x20, 0, 0x25, 0), body(0x20, 0, 0x20, 1, 0x6a),
		body(0x41, 0, 0x41, 7, 0x3a, 0, 0, 0x20, 0, 0x20, 0, 0x7c))
	return wasmModule([]byte{1}, types, []byte{3}, funcs, []byte{4}, tables, []byte{5}, vec([]byte{0, 1}), []byte{7}, exports, []byte{9}, elems, []byte{10}, code)
}

func TestWasmJSExportedTables(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(tablesWasm(), `
		const x = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
		const obj = { k: 1 };
		const out = {};
		const refs = x.refs, funcs = x.funcs;
		out.refs = [refs instanceof WebAssembly.Table, refs.length, refs.get(0), x.tget(0)];
		refs.set(1, obj);
		out.refs.push(refs.get(1) === obj, x.tget(1) === obj);
		out.refs.push(refs.grow(3, "fill"), refs.length, refs.get(4), x.tget(3));
		refs.set(4); // a missing value is undefined, as the spec says
		out.refs.push(refs.get(4) === undefined);
		const err = (f) => { try { f(); return "ok"; } catch (e) { return e.constructor.name; } };
		out.refErrors = [err(() => refs.get(5)), err(() => refs.set(99, 1)), err(() => refs.grow(6))];
		const mem = new Uint8Array(x.memory.buffer);
		mem[0] = 1;
		const add = funcs.get(1), dbl = funcs.get(2);
		out.calls = [add(2, 3), add("4", 1.9), add(5), add(1, 2, 3), String(dbl(21n)), mem[0], new Uint8Array(x.memory.buffer)[0],
			err(() => dbl(1)), err(() => add(1n, 2)), add(2, 3)];
		out.funcs = [funcs.length, funcs.get(0), typeof funcs.get(1) + (funcs.get(1) === funcs.get(1)), funcs.grow(1), funcs.length];
		funcs.set(0, dbl); // an element of the same table
		funcs.set(3, x.add); // an export of the same instance
		out.stored = [String(funcs.get(0)(4n)), funcs.get(3)(40, 2), err(() => funcs.set(1, () => 1)), err(() => funcs.set(1, {}))];
		funcs.set(1, null);
		out.funcs.push(funcs.get(1), err(() => funcs.set(0, x.tget)), err(() => funcs.grow(1)), err(() => funcs.get(4)));
		out;
	`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"refs":[true,2,null,null,true,true,2,5,"fill","fill",true],"refErrors":["RangeError","RangeError","RangeError"],` +
		`"calls":[5,5,5,3,"42",7,7,"TypeError","TypeError",5],"funcs":[3,null,"functiontrue",3,4,null,"ok","RangeError","RangeError"],` +
		`"stored":["8",42,"TypeError","TypeError"]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// BenchmarkWasmJSLinks measures the new paths: instantiating with global imports (a link
// module compiled per instantiation), a call through a funcref table, externref round trips.
func BenchmarkWasmJSLinks(b *testing.B) {
	genv := `globalThis.g = new WebAssembly.Global({ value: "i32", mutable: true }, 1); globalThis.env = { f: (x) => x, g: 7, big: 5n, m: g, fl: 1.5 };`
	for _, bc := range []struct {
		name, setup, op string
		bin             []byte
	}{
		{"instantiate with 4 global imports", genv, `new WebAssembly.Instance(m, { env })`, globalsWasm()},
		{"call through a funcref table", `globalThis.x = new WebAssembly.Instance(m).exports; globalThis.add = x.funcs.get(1)`, `add(i, 1)`, tablesWasm()},
		{"call_indirect through an imported table", `globalThis.A = new WebAssembly.Instance(m).exports; A.tbl.set(1, A.f2);
			globalThis.B = new WebAssembly.Instance(new WebAssembly.Module(` + b64(linkUserWasm()) + `), { env: { tbl: A.tbl } }).exports`, `B.calli(1, i)`, linkLibWasm()},
		{"funcref round trip", `globalThis.A = new WebAssembly.Instance(m).exports`, `A.id(A.f1)`, linkLibWasm()},
		{"call a table element that is no export", `globalThis.h = new WebAssembly.Instance(m).exports.t.get(0)`, `h(i)`, linkHiddenWasm()},
		{"externref table set+get", `globalThis.x = new WebAssembly.Instance(m).exports; globalThis.o = {}`, `x.refs.set(0, o), x.refs.get(0)`, tablesWasm()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sb, err := testEngine.NewSandbox(context.Background(), engine.SandboxConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close(context.Background())
			lim := engine.Limits{CPU: 30 * time.Second, Wall: 30 * time.Second}
			if _, err := sb.Eval(context.Background(), lim, withBytes(bc.bin, `globalThis.m = new WebAssembly.Module(bytes);`+bc.setup)); err != nil {
				b.Fatal(err)
			}
			code := fmt.Sprintf(`for (let i = 0; i < %d; i++) %s; 1`, b.N, bc.op)
			b.ResetTimer()
			res, err := sb.Eval(context.Background(), lim, code)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.CPU.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestWasmJSTableCallLimits: a function called through a table runs under the invocation's
// limits like an export (an infinite loop ends it with cpu_limit_exceeded); arguments that
// fit no type are a TypeError and run nothing; odd export names work.
func TestWasmJSTableCallLimits(t *testing.T) {
	fn := vec([]byte{0x60, 1, tI32, 0})                            // (i32) -> ()
	body := append(append(vec(), 0x03, 0x40, 0x0c, 0, 0x0b), 0x0b) // loop br 0 end
	exp := func(name string, kind, idx byte) []byte { return append(wasmName(name), kind, idx) }
	bin := wasmModule([]byte{1}, fn, []byte{3}, vec([]byte{0}), []byte{4}, vec([]byte{0x70, 1, 1, 1}),
		[]byte{7}, vec(exp("t\x00é", 1, 0)), []byte{9}, vec([]byte{0, 0x41, 0, 0x0b, 1, 0}),
		[]byte{10}, vec(append(uleb(uint64(len(body))), body...)))
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(bin, `
		globalThis.t = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports["t\u0000é"];
		let bad; try { t.get(0)(1n); } catch (e) { bad = e.constructor.name; } // a BigInt fits no i32; nothing runs
		bad;
	`))
	if err != nil || got != `"TypeError"` {
		t.Fatalf("a BigInt argument: %s %v", got, err)
	}
	_, err = wasmEval(t, sb, engine.Limits{CPU: 100 * time.Millisecond}, `t.get(0)(1)`) // spins
	wantCode(t, err, isoerr.CPULimitExceeded, "")
	// As after any limit, the sandbox is broken with the limit's error.
	if _, err := wasmEval(t, sb, engine.Limits{}, "1"); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("after the limit: %v, want the sandbox broken with cpu_limit_exceeded", err)
	}
}

// memImportWasm imports env.memory (at least 1 page), writes "h" at 0 with a data segment,
// exports it again and peek (i32) -> i32 and poke (i32, i32).
func memImportWasm() []byte {
	fn := func(params, results []byte) []byte {
		return append(append([]byte{0x60}, vec(bytesOf(params)...)...), vec(bytesOf(results)...)...)
	}
	types := vec(fn([]byte{tI32}, []byte{tI32}), fn([]byte{tI32, tI32}, nil))
	imports := vec(append(append(wasmName("env"), wasmName("memory")...), 2, 0, 1))
	body := func(code ...byte) []byte {
		b := append(append(vec(), code...), 0x0b)
		return append(uleb(uint64(len(b))), b...)
	}
	code := vec(body(0x20, 0, 0x2d, 0, 0), body(0x20, 0, 0x20, 1, 0x3a, 0, 0))
	exp := func(name string, kind, idx byte) []byte { return append(wasmName(name), kind, idx) }
	exports := vec(exp("peek", 0, 0), exp("poke", 0, 1), exp("memory", 2, 0))
	data := vec([]byte{0, 0x41, 0, 0x0b, 1, 'h'})
	return wasmModule([]byte{1}, types, []byte{2}, imports, []byte{3}, vec([]byte{0}, []byte{1}), []byte{7}, exports, []byte{10}, code, []byte{11}, data)
}

func TestWasmJSMemoryImport(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(memImportWasm(), `
		const module = new WebAssembly.Module(bytes);
		const mem = new WebAssembly.Memory({ initial: 1, maximum: 3 });
		const view = new Uint8Array(mem.buffer);
		view[100] = 42;
		view[0] = 9; // the data segment writes over it
		const x = new WebAssembly.Instance(module, { env: { memory: mem } }).exports;
		const out = {};
		out.start = [x.memory === mem, x.peek(100), x.peek(0), view[0], mem.buffer === view.buffer];
		x.poke(5, 77);
		view[6] = 78;
		out.shared = [view[5], x.peek(6)];
		out.grow = [mem.grow(1), mem.buffer.byteLength / 65536, x.peek(6), view.byteLength];
		const link = (memory) => { try { new WebAssembly.Instance(module, { env: { memory } }); return "linked"; } catch (e) { return e.constructor.name; } };
		// link(mem): now shared with a second instance (TestWasmJSMemoryShared)
		out.errors = [link(mem), link(1), link(undefined), link(new WebAssembly.Memory({ initial: 0 })), link(new WebAssembly.Memory({ initial: 1, maximum: 1 }))];
		out.grown = (() => { try { mem.grow(5); return "grew"; } catch (e) { return e.constructor.name; } })();
		out;
	`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"start":[true,42,104,104,true],"shared":[77,78],"grow":[1,2,78,0],"errors":["linked","LinkError","LinkError","LinkError","linked"],"grown":"RangeError"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
