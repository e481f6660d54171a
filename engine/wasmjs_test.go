package engine_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// The WebAssembly global of JavaScript sandboxes (engine/wasmjs.go, runtime/js/47_wasm.js).
// The modules are assembled here from their binary encoding (wasmModule, wasmworker_test.go).

// wasmFunc is one function of a test module.
type wasmFunc struct {
	export          string
	params, results []byte // value types: 0x7f i32, 0x7e i64, 0x7d f32, 0x7c f64
	locals          []byte // one i32 local each
	body            []byte // without the final end
}

func vec(items ...[]byte) []byte {
	b := uleb(uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

// buildWasm assembles a module of funcs (each with its own type) and extra sections (id,
// content pairs, put in id order with the others).
func buildWasm(funcs []wasmFunc, extra map[byte][]byte) []byte {
	return buildWasmImports(nil, funcs, extra)
}

// buildWasmImports is buildWasm with imported functions (their export field is
// "module.name"), which take the first function indices.
func buildWasmImports(imports, funcs []wasmFunc, extra map[byte][]byte) []byte {
	var types, fidx, code, exports, imps [][]byte
	for i, f := range imports {
		types = append(types, append(append([]byte{0x60}, vec(bytesOf(f.params)...)...), vec(bytesOf(f.results)...)...))
		mod, name, _ := strings.Cut(f.export, ".")
		imps = append(imps, append(append(append(wasmName(mod), wasmName(name)...), 0), uleb(uint64(i))...))
	}
	if len(imports) > 0 {
		extra[2] = vec(imps...)
	}
	for j, f := range funcs {
		i := len(imports) + j
		types = append(types, append(append([]byte{0x60}, vec(bytesOf(f.params)...)...), vec(bytesOf(f.results)...)...))
		fidx = append(fidx, uleb(uint64(i))) // its type
		body := vec()
		if len(f.locals) > 0 {
			body = vec(append(uleb(uint64(len(f.locals))), 0x7f))
		}
		body = append(append(body, f.body...), 0x0b)
		code = append(code, append(uleb(uint64(len(body))), body...))
		if f.export != "" {
			exports = append(exports, append(append(wasmName(f.export), 0), uleb(uint64(i))...))
		}
	}
	exportSec := vec(exports...)
	if x, ok := extra[7]; ok { // more exports: their count is added to ours
		n := len(exports) + int(x[0])
		exportSec = append(append(uleb(uint64(n)), exportSec[len(uleb(uint64(len(exports)))):]...), x[1:]...)
	}
	sections := map[byte][]byte{1: vec(types...), 3: vec(fidx...), 7: exportSec, 10: vec(code...)}
	for id, s := range extra {
		if id != 7 {
			sections[id] = s
		}
	}
	var args [][]byte
	for _, id := range []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11} {
		if s, ok := sections[id]; ok {
			args = append(args, []byte{id}, s)
		}
	}
	return wasmModule(args...)
}

func bytesOf(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i, c := range b {
		out[i] = []byte{c}
	}
	return out
}

const (
	tI32, tI64, tF64 = 0x7f, 0x7e, 0x7c
)

// libWasm is the module of the functional tests: arithmetic in every number type, a
// memory with "hello" at 16, a mutable global, traps and loops.
func libWasm() []byte {
	two := make([]byte, 8)
	binary.LittleEndian.PutUint64(two, math.Float64bits(2))
	funcs := []wasmFunc{
		{export: "add", params: []byte{tI32, tI32}, results: []byte{tI32}, body: []byte{0x20, 0, 0x20, 1, 0x6a}},
		{export: "sum", params: []byte{tI32, tI32}, results: []byte{tI32}, locals: []byte{tI32}, body: []byte{
			0x02, 0x40, 0x03, 0x40, 0x20, 1, 0x45, 0x0d, 1,
			0x20, 2, 0x20, 0, 0x2d, 0, 0, 0x6a, 0x21, 2,
			0x20, 0, 0x41, 1, 0x6a, 0x21, 0,
			0x20, 1, 0x41, 1, 0x6b, 0x21, 1,
			0x0c, 0, 0x0b, 0x0b, 0x20, 2}},
		{export: "fill", params: []byte{tI32, tI32}, body: []byte{0x20, 0, 0x20, 1, 0x3a, 0, 0}},
		{export: "mul64", params: []byte{tI64, tI64}, results: []byte{tI64}, body: []byte{0x20, 0, 0x20, 1, 0x7e}},
		{export: "half", params: []byte{tF64}, results: []byte{tF64}, body: append(append([]byte{0x20, 0, 0x44}, two...), 0xa3)},
		{export: "grow", params: []byte{tI32}, results: []byte{tI32}, body: []byte{0x20, 0, 0x40, 0}},
		{export: "incr", results: []byte{tI32}, body: []byte{0x23, 0, 0x41, 1, 0x6a, 0x24, 0, 0x23, 0}},
		{export: "trap", body: []byte{0x00}},
		{export: "spin", body: []byte{0x03, 0x40, 0x0c, 0, 0x0b}},
		{export: "recurse", body: []byte{0x10, 9}},
		{export: "bomb", body: []byte{0x03, 0x40, 0x41, 16, 0x40, 0, 0x41, 0x7f, 0x47, 0x0d, 0, 0x0b, 0x00}},
		{export: "pair", results: []byte{tI32, tI64}, body: []byte{0x41, 7, 0x42, 0x7f}},
	}
	more := append([]byte{2}, append(append(append(wasmName("memory"), 2, 0), wasmName("counter")...), 3, 0)...)
	return buildWasm(funcs, map[byte][]byte{
		5:  vec([]byte{0, 1}),                                            // memory: 1 page, no maximum
		6:  vec([]byte{tI32, 1, 0x41, 0, 0x0b}),                          // global counter: mut i32 = 0
		7:  more,                                                         // export memory and counter
		11: vec(append([]byte{0, 0x41, 16, 0x0b}, wasmName("hello")...)), // "hello" at 16
	})
}

func wasmEval(t *testing.T, sb *engine.Sandbox, lim engine.Limits, code string) (string, error) {
	t.Helper()
	res, err := sb.Eval(context.Background(), lim, code)
	if err != nil {
		return "", err
	}
	return string(res.Value), nil
}

// withBytes prefixes code with `const bytes = <bin>`.
func withBytes(bin []byte, code string) string {
	return `const bytes = Uint8Array.fromBase64("` + base64.StdEncoding.EncodeToString(bin) + `");` + "\n" + code
}

func TestWasmJSInstanceExports(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(libWasm(), `
		const out = {};
		out.validate = [WebAssembly.validate(bytes), WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1]))];
		const { module, instance } = await WebAssembly.instantiate(bytes);
		out.kinds = [module instanceof WebAssembly.Module, instance instanceof WebAssembly.Instance];
		out.exports = WebAssembly.Module.exports(module).map((e) => e.name + ":" + e.kind).join(",");
		out.imports = WebAssembly.Module.imports(module).length;
		const x = instance.exports;
		out.add = [x.add(2, 3), x.add(2 ** 31, 1), x.add("7", 1.9), x.add.length, typeof x.add.name];
		out.mul64 = String(x.mul64(3n, -4n)) + "," + String(x.mul64(2n ** 62n, 4n));
		try { x.mul64(1, 2); } catch (e) { out.i64number = e.constructor.name; }
		out.half = x.half(3);
		out.pair = String(x.pair());
		out.counter = [x.counter.value, x.incr(), x.incr(), x.counter.value];
		x.counter.value = 41;
		out.counter.push(x.incr());
		try { x.trap(); } catch (e) { out.trap = [e instanceof WebAssembly.RuntimeError, e.name, e.message]; }
		// a second instance of the same module shares nothing
		const other = new WebAssembly.Instance(module);
		out.other = other.exports.incr();
		out.frozen = Object.isFrozen(x);
		out.tag = String(WebAssembly);
		const again = await WebAssembly.instantiate(module);
		const streamed = await WebAssembly.instantiateStreaming(new Response(bytes, { headers: { "content-type": "application/wasm" } }));
		out.forms = [again instanceof WebAssembly.Instance, streamed.instance.exports.add(1, 1),
			(await WebAssembly.compileStreaming(Promise.resolve(new Response(bytes)))) instanceof WebAssembly.Module];
		out;
	`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Validate []bool
		Kinds    []bool
		Exports  string
		Imports  int
		Add      []any
		Mul64    string
		I64num   string `json:"i64number"`
		Half     float64
		Pair     string
		Counter  []int
		Trap     []any
		Other    int
		Frozen   bool
		Tag      string
		Forms    []any
	}
	if err := json.Unmarshal([]byte(got), &out); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if want := "add:function,sum:function,fill:function,mul64:function,half:function,grow:function,incr:function,trap:function,spin:function,recurse:function,bomb:function,pair:function,memory:memory,counter:global"; out.Exports != want {
		t.Errorf("exports %q, want %q", out.Exports, want)
	}
	check := func(what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s = %s, want %s", what, g, w)
		}
	}
	check("validate", out.Validate, []bool{true, false})
	check("kinds", out.Kinds, []bool{true, true})
	check("imports", out.Imports, 0)
	check("add", out.Add, []any{5, -2147483647, 8, 2, "string"})
	check("mul64", out.Mul64, "-12,0")
	check("i64 from a Number", out.I64num, "TypeError")
	check("half", out.Half, 1.5)
	check("pair", out.Pair, "7,-1")
	check("counter", out.Counter, []int{0, 1, 2, 2, 42})
	check("trap", out.Trap, []any{true, "RuntimeError", "unreachable"})
	check("other instance", out.Other, 1)
	check("frozen", out.Frozen, true)
	check("tag", out.Tag, "[object WebAssembly]")
	check("instantiate(Module), the streaming forms", out.Forms, []any{true, 2, true})
}

// An exported memory's buffer is a copy kept in step around calls: JavaScript's writes
// reach the next call, the call's writes are in the buffer when it returns, and a growth
// detaches the old buffer.
func TestWasmJSMemoryBuffer(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(libWasm(), `
		const { instance } = await WebAssembly.instantiate(bytes);
		const x = instance.exports, out = {};
		const buf = x.memory.buffer;
		out.size = buf.byteLength;
		out.hello = new TextDecoder().decode(new Uint8Array(buf, 16, 5));
		out.same = x.memory.buffer === buf;
		new Uint8Array(buf).set([1, 2, 3, 4], 1000);
		out.sum = x.sum(1000, 4);
		x.fill(2000, 99);
		out.filled = new Uint8Array(buf)[2000];
		out.grownByWasm = x.grow(2);
		out.oldDetached = buf.byteLength;
		const buf2 = x.memory.buffer;
		out.size2 = buf2.byteLength;
		out.kept = new Uint8Array(buf2)[2000];
		new Uint8Array(buf2)[3000] = 5;
		out.grownByJS = x.memory.grow(1);
		out.size3 = x.memory.buffer.byteLength;
		out.keptJS = x.sum(3000, 1);
		const view = new Uint8Array(x.memory.buffer);
		x.fill(262143, 3); // the last byte of the grown memory: a change in a page JavaScript never saw
		out.lastByte = [view[262143], view[3000], view[16]];
		try { x.memory.grow(70000); } catch (e) { out.tooMuch = e.name; }
		const m = new WebAssembly.Memory({ initial: 1, maximum: 2 });
		new Uint8Array(m.buffer)[7] = 9;
		out.local = [m.grow(1), m.buffer.byteLength, new Uint8Array(m.buffer)[7]];
		try { m.grow(1); } catch (e) { out.localMax = e.name; }
		const g = new WebAssembly.Global({ value: "i64", mutable: true }, 5n);
		g.value = 2n ** 64n + 3n;
		out.global = String(g.value);
		const tb = new WebAssembly.Table({ element: "anyfunc", initial: 2 });
		out.table = [tb.length, tb.grow(3), tb.length, tb.get(4)];
		out;
	`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"size":65536,"hello":"hello","same":true,"sum":10,"filled":99,"grownByWasm":1,"oldDetached":0,"size2":196608,"kept":99,"grownByJS":3,"size3":262144,"keptJS":5,"lastByte":[3,5,104],"tooMuch":"RangeError","local":[1,131072,9],"localMax":"RangeError","global":"3","table":[2,2,5,null]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// import mod from "./lib.wasm" gives a WebAssembly.Module, as on Workers.
func TestWasmJSModuleImport(t *testing.T) {
	mods := engine.ModuleMap{
		"main.js": {Type: engine.ModuleJS, Content: []byte(`import mod from "./lib.wasm";
import three from "./req.cjs"; // require() of a wasm module gives the same
const { exports } = new WebAssembly.Instance(mod);
export default { fetch() { return new Response(String(mod instanceof WebAssembly.Module) + " " + exports.add(40, 2) + " " + exports.incr() + exports.incr() + " " + three); } };`)},
		"lib.wasm": {Type: engine.ModuleWasm, Content: libWasm()},
		"req.cjs":  {Type: engine.ModuleCJS, Content: []byte(`module.exports = new WebAssembly.Instance(require("./lib.wasm")).exports.add(1, 2);`)},
	}
	if err := testEngine.Compile(context.Background(), engine.Limits{}, mods, "main.js"); err != nil {
		t.Fatalf("Compile: %v", err)
	}
	// A wasm module that does not compile fails the compile check (PUT), not the first import.
	bad := engine.ModuleMap{"main.js": mods["main.js"], "lib.wasm": {Type: engine.ModuleWasm, Content: []byte("\x00asm\x01\x00\x00\x00\x01")}}
	wantCode(t, testEngine.Compile(context.Background(), engine.Limits{}, bad, "main.js"), isoerr.InvalidWorkerCode, `module "lib.wasm" is not a valid WebAssembly module`)
	sb := newSandbox(t, engine.SandboxConfig{Modules: mods})
	if _, err := sb.Load(context.Background(), engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"true 42 12 3", "true 42 34 3"} { // the instance lives as long as the sandbox
		res, err := sb.Fetch(context.Background(), engine.Limits{}, "", &engine.Request{Method: "GET", URL: "https://w.example/"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Body) != want {
			t.Fatalf("body %q, want %q", res.Body, want)
		}
	}
	// Its instances live outside the sandbox's memory, and forks carry them
	// (wasmjs_snapshot.go): parent and child go on from the same state, each on its own.
	child, err := sb.Fork(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close(context.Background())
	for _, s := range []*engine.Sandbox{sb, child} {
		res, err := s.Fetch(context.Background(), engine.Limits{}, "", &engine.Request{Method: "GET", URL: "https://w.example/"}, nil)
		if err != nil || string(res.Body) != "true 42 56 3" {
			t.Fatalf("after the fork: %q %v", res.Body, err)
		}
	}
}

// Bad and hostile modules end with typed errors, and a sandbox whose limit tripped inside
// wasm is broken as any other.
func TestWasmJSHostileModules(t *testing.T) {
	lib := libWasm()
	table := func(limits ...byte) []byte { return vec(append([]byte{0x70}, limits...)) }
	importing := wasmModule([]byte{1}, vec([]byte{0x60, 0, 0}), []byte{2}, vec(append(append(wasmName("env"), wasmName("log")...), 0, 0)))
	startSpin := buildWasm([]wasmFunc{{body: []byte{0x03, 0x40, 0x0c, 0, 0x0b}}}, map[byte][]byte{8: uleb(0)})
	bigMemory := buildWasm(nil, map[byte][]byte{5: vec(append([]byte{0}, uleb(1024)...))}) // 64 MiB
	for _, tc := range []struct {
		name string
		bin  []byte
		code string
		cfg  engine.SandboxConfig
		// Either the eval's value or its error code.
		want     string
		wantCode isoerr.Code
		contains string
	}{
		{name: "invalid bytes", bin: []byte("not wasm at all"), code: `try { new WebAssembly.Module(bytes) } catch (e) { [e instanceof WebAssembly.CompileError, e.message].join(" ") }`,
			want: `"true invalid WebAssembly module: it does not start with \\0asm"`},
		{name: "truncated", bin: lib[:len(lib)-3], code: `WebAssembly.compile(bytes).then(() => "compiled", (e) => e.name + " " + WebAssembly.validate(bytes))`,
			want: `"CompileError false"`},
		{name: "table without maximum", bin: buildWasm(nil, map[byte][]byte{4: table(0, 1)}), code: `try { new WebAssembly.Module(bytes) } catch (e) { e.name + ": " + e.message }`,
			want: `"CompileError: module \"<bytes>\" has a table without a maximum size (it starts at 1 elements): tables live outside the memory limit, so each must declare a maximum (at most 1048576 elements in all)"`},
		{name: "huge table", bin: buildWasm(nil, map[byte][]byte{4: table(append([]byte{1, 1}, uleb(1<<21)...)...)}), code: `try { new WebAssembly.Module(bytes) } catch (e) { e.name }`,
			want: `"CompileError"`},
		{name: "imports missing", bin: importing, code: `const m = new WebAssembly.Module(bytes);
			const d = JSON.stringify(WebAssembly.Module.imports(m));
			try { new WebAssembly.Instance(m, { env: {} }) } catch (e) { d + " " + (e instanceof WebAssembly.LinkError) + " " + e.message }`,
			want: `"[{\"module\":\"env\",\"name\":\"log\",\"kind\":\"function\"}] true WebAssembly.Instance: import env.log must be a function"`},
		{name: "table import", bin: wasmModule([]byte{2}, vec(append(append(wasmName("env"), wasmName("table")...), 1, 0x70, 1, 0, 1))), code: `
			try { new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { table: new WebAssembly.Table({ element: "anyfunc", initial: 1 }) } }) } catch (e) { e.name + ": " + e.message }`,
			// The import wants a maximum of 1; a Table without one does not fit (the spec's LinkError).
			want: `"LinkError: WebAssembly.Instance: import table[env.table]: maximum size mismatch: 1 < 1048576"`},
		{name: "infinite loop", bin: lib, code: `const { instance } = await WebAssembly.instantiate(bytes); try { instance.exports.spin() } catch (e) { "caught " + e }`,
			wantCode: isoerr.CPULimitExceeded, contains: "CPU limit of 100ms"},
		{name: "infinite start function", bin: startSpin, code: `try { new WebAssembly.Instance(new WebAssembly.Module(bytes)) } catch (e) { "caught " + e }`,
			wantCode: isoerr.CPULimitExceeded},
		{name: "memory.grow bomb", bin: lib, cfg: engine.SandboxConfig{Memory: 32 << 20},
			code:     `const { instance } = await WebAssembly.instantiate(bytes); try { instance.exports.bomb() } catch (e) { "caught " + e }`,
			wantCode: isoerr.MemoryLimitExceeded, contains: "32 MiB"},
		{name: "initial memory over the limit", bin: bigMemory, cfg: engine.SandboxConfig{Memory: 32 << 20},
			code: `try { new WebAssembly.Instance(new WebAssembly.Module(bytes)) } catch (e) { "caught " + e }`, wantCode: isoerr.MemoryLimitExceeded},
		{name: "module over 16 MiB", code: `try { new WebAssembly.Module(new Uint8Array(16 * 1024 * 1024 + 1)) } catch (e) { e.name + ": " + e.message }`,
			want: `"CompileError: the module is 16777217 bytes; a sandbox compiles modules of at most 16 MiB"`},
		{name: "too many instances", bin: lib, code: `const m = new WebAssembly.Module(bytes), keep = [];
			try { for (;;) keep.push(new WebAssembly.Instance(m)) } catch (e) { e.name + " " + keep.length }`,
			want: `"RangeError 64"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := newSandbox(t, tc.cfg)
			lim := engine.Limits{}
			if tc.wantCode != "" {
				lim.CPU = 100 * time.Millisecond // the loops never end: a limit that trips
			}
			got, err := wasmEval(t, sb, lim, withBytes(tc.bin, tc.code))
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, tc.contains)
				if _, err2 := wasmEval(t, sb, engine.Limits{}, "1"); isoerr.CodeOf(err2) != tc.wantCode {
					t.Fatalf("after the limit: %v, want the sandbox broken with %s", err2, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Deep recursion in wasm ends either as a stack overflow the guest can catch or at the CPU
// limit, never as a crash. (wazero grows the wasm stack in host memory up to 400 MB before
// it overflows: a CPU limit of 20 ms keeps the test's share of that small.)
func TestWasmJSDeepRecursion(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{CPU: 20 * time.Millisecond}, withBytes(libWasm(), `const { instance } = await WebAssembly.instantiate(bytes);
		try { instance.exports.recurse(); "returned" } catch (e) { e.name }`))
	t.Logf("deep recursion: %s %v", got, err)
	if err != nil {
		wantCode(t, err, isoerr.CPULimitExceeded, "")
		return
	}
	if got != `"RangeError"` {
		t.Fatalf("got %s, want RangeError or cpu_limit_exceeded", got)
	}
}

// Instances the guest no longer reaches are given back (FinalizationRegistry), so a worker
// that instantiates per request does not run into the limit of instances held at once.
func TestWasmJSInstancesAreReleased(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{Memory: 32 << 20})
	code := withBytes(libWasm(), `(() => { const m = new WebAssembly.Module(bytes); let n = 0;
		for (let i = 0; i < 200; i++) { const x = new WebAssembly.Instance(m).exports; n += x.add(i, 1); }
		return n })()`)
	code = "{" + code + "}"
	for i := 0; i < 2; i++ {
		got, err := wasmEval(t, sb, engine.Limits{}, code)
		if err != nil {
			t.Fatal(err)
		}
		if got != "20100" {
			t.Fatalf("got %s", got)
		}
	}
}

// BenchmarkWasmJS measures the WebAssembly global from inside a sandbox: each op is one
// iteration of a loop in JavaScript (one Eval per benchmark run), so the Eval's own cost is
// spread over b.N.
//
//	go test ./engine -run '^$' -bench BenchmarkWasmJS -benchtime=2000x -count=3 -cpu 1
func BenchmarkWasmJS(b *testing.B) {
	env := `globalThis.env = { log() {}, inc: (v) => v + 1, boom() {}, big: (v) => v };`
	for _, bc := range []struct {
		name, setup, op string
		bin             []byte
	}{
		{"instantiate", ``, `new WebAssembly.Instance(m)`, libWasm()},
		{"compile cached", ``, `new WebAssembly.Module(bytes)`, libWasm()},
		{"call", `globalThis.x = new WebAssembly.Instance(m).exports`, `x.add(i, 1)`, libWasm()},
		{"call synced 64KiB memory", `globalThis.x = new WebAssembly.Instance(m).exports; x.memory.buffer`, `x.add(i, 1)`, libWasm()},
		{"call synced 1MiB memory", `globalThis.x = new WebAssembly.Instance(m).exports; x.grow(15); x.memory.buffer`, `x.add(i, 1)`, libWasm()},
		{"call synced 1MiB memory writing 1 byte", `globalThis.x = new WebAssembly.Instance(m).exports; x.grow(15); x.memory.buffer`, `x.fill(i, 1)`, libWasm()},
		{"instantiate with 4 imports", env, `new WebAssembly.Instance(m, { env })`, importsWasm()},
		{"call making 2 import calls", env + `globalThis.x = new WebAssembly.Instance(m, { env }).exports`, `x.twice(i)`, importsWasm()},
		{"call making 2 import calls synced 64KiB memory", env + `globalThis.x = new WebAssembly.Instance(m, { env }).exports; x.memory.buffer`, `x.twice(i)`, importsWasm()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sb, err := testEngine.NewSandbox(context.Background(), engine.SandboxConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close(context.Background())
			lim := engine.Limits{CPU: 30 * time.Second, Wall: 30 * time.Second}
			if _, err := sb.Eval(context.Background(), lim, withBytes(bc.bin, `globalThis.bytes = bytes; globalThis.m = new WebAssembly.Module(bytes);`+bc.setup)); err != nil {
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

// importsWasm imports env.log(ptr, len), env.inc(i32) -> i32, env.boom() and
// env.big(i64) -> i64, and calls them from its exports; its start function calls inc(100).
func importsWasm() []byte {
	imports := []wasmFunc{
		{export: "env.log", params: []byte{tI32, tI32}},
		{export: "env.inc", params: []byte{tI32}, results: []byte{tI32}},
		{export: "env.boom"},
		{export: "env.big", params: []byte{tI64}, results: []byte{tI64}},
	}
	funcs := []wasmFunc{
		{export: "hello", body: []byte{0x41, 16, 0x41, 5, 0x10, 0}},
		{export: "twice", params: []byte{tI32}, results: []byte{tI32}, body: []byte{0x20, 0, 0x10, 1, 0x10, 1}},
		{export: "boom", body: []byte{0x10, 2}},
		{export: "big", params: []byte{tI64}, results: []byte{tI64}, body: []byte{0x20, 0, 0x10, 3}},
		{body: []byte{0x41, 0xe4, 0x00, 0x10, 1, 0x1a}}, // start: inc(100), dropped
	}
	more := append([]byte{1}, append(wasmName("memory"), 2, 0)...)
	return buildWasmImports(imports, funcs, map[byte][]byte{
		5:  vec([]byte{0, 1}),
		7:  more,
		8:  uleb(8), // the start function: 4 imports + its index 4
		11: vec(append([]byte{0, 0x41, 16, 0x0b}, wasmName("hello")...)),
	})
}

// JavaScript functions as imports: the wasm calls back into the sandbox, re-entrantly,
// with its memory in step, its exceptions passed through and its limits applying.
func TestWasmJSImports(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(importsWasm(), `
		const out = { logs: [], incs: [] };
		let inst, upper = false;
		const imports = { env: {
			log: (p, n) => {
				const s = new TextDecoder().decode(new Uint8Array(inst.exports.memory.buffer, p, n));
				out.logs.push(s);
				if (upper) new Uint8Array(inst.exports.memory.buffer).set(new TextEncoder().encode(s.toUpperCase()), p);
			},
			inc: (x) => { out.incs.push(x); return x < 3 ? inst.exports.twice(x + 1) : x + 1; },
			boom: () => { throw new SyntaxError("from JS"); },
			big: (v) => v * 2n,
		} };
		out.imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes)).map((i) => i.module + "." + i.name).join(",");
		({ instance: inst } = await WebAssembly.instantiate(bytes, imports));
		inst.exports.hello(); // the import reads the buffer first, mid-call
		upper = true;
		inst.exports.hello(); // a synced call: the import writes into the memory
		inst.exports.hello(); // ... which the wasm's memory has, and the next import sees
		out.memory = new TextDecoder().decode(new Uint8Array(inst.exports.memory.buffer, 16, 5));
		out.twice = inst.exports.twice(0);
		try { inst.exports.boom(); } catch (e) { out.boom = [e instanceof SyntaxError, e.message]; }
		out.big = String(inst.exports.big(2n ** 40n));
		try { new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { ...imports.env, log: 5 } }); } catch (e) { out.notCallable = e.name; }
		// wasm -> JavaScript -> wasm -> ... without end stops at a bounded depth
		let deep;
		deep = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { ...imports.env, inc: (x) => (x === 100 || x > 1000 ? x : deep.exports.twice(x + 1)) } });
		try { deep.exports.twice(0); } catch (e) { out.deep = [e.name, e.message]; }
		out;
	`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"logs":["hello","hello","HELLO"],"incs":[100,0,1,2,3,4,5,6,7],"imports":"env.log,env.inc,env.boom,env.big","memory":"HELLO","twice":8,"boom":[true,"from JS"],"big":"2199023255552","notCallable":"LinkError","deep":["RangeError","maximum call stack size exceeded: JavaScript imports nested more than 16 deep"]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// An import that never returns is stopped by the CPU limit like any JavaScript.
	_, err = wasmEval(t, sb, engine.Limits{CPU: 100 * time.Millisecond}, "{"+withBytes(importsWasm(), `
		const env = { log() {}, inc: (x) => x, big: (v) => v, boom() { for (;;) {} } };
		try { new WebAssembly.Instance(new WebAssembly.Module(bytes), { env }).exports.boom() } catch (e) { "caught " + e }
	`)+"}")
	wantCode(t, err, isoerr.CPULimitExceeded, "")
}

// An import may grow the memory while the wasm that called it is on the stack (Emscripten's
// heap growth does): the wasm then uses the new pages, and the buffer shows them.
func TestWasmJSImportGrowsMemory(t *testing.T) {
	addr := []byte{0x88, 0x80, 0x04} // 65544, in the second page
	body := append(append([]byte{0x10, 0, 0x41}, addr...), 0x41, 0xcd, 0x00, 0x36, 2, 0)
	body = append(append(append(body, 0x41), addr...), 0x28, 2, 0)
	bin := buildWasmImports([]wasmFunc{{export: "env.grow"}},
		[]wasmFunc{{export: "f", results: []byte{tI32}, body: body}},
		map[byte][]byte{5: vec([]byte{0, 1}), 7: append([]byte{1}, append(wasmName("memory"), 2, 0)...)})
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{}, withBytes(bin, `
		let x;
		x = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { grow: () => x.memory.grow(1) } }).exports;
		const before = x.memory.buffer;
		const v = x.f();
		[v, before.byteLength, x.memory.buffer.byteLength, new DataView(x.memory.buffer).getInt32(65544, true)];
	`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[77,0,131072,77]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
