package engine_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// recurseWasm exports f(n) = n == 0 ? 0 : f(n-1) + 1.
func recurseWasm() []byte {
	return buildWasm([]wasmFunc{{export: "f", params: []byte{tI32}, results: []byte{tI32}, body: []byte{
		0x20, 0, 0x45, 0x04, tI32, 0x41, 0, 0x05, 0x20, 0, 0x41, 1, 0x6b, 0x10, 0, 0x41, 1, 0x6a, 0x0b}}}, map[byte][]byte{})
}

// allocated answers the Go memory run allocated: wazero's call stack is Go memory, grown
// by doubling, so a recursion that reached wazero's 400 MB ceiling allocated ~800 MB.
func allocated(run func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A WebAssembly worker recursing without end stops at the depth limit with the stack
// overflow error, having taken a few MiB of host memory rather than wazero's 400 MB;
// recursion within the limit works.
func TestWasmDepthWorker(t *testing.T) {
	sb := wasmWorker(t, recurseWasm(), "")
	res, err := sb.Call(context.Background(), engine.Limits{}, "", "f", json.RawMessage("[10000]"), nil)
	if err != nil || string(res.Value) != "10000" {
		t.Fatalf("f(10000) = %v, %v", res, err)
	}
	lim := engine.Limits{CPU: 30 * time.Second, Wall: time.Minute} // generous: the limit that must stop it is the depth
	n := allocated(func() {
		_, err = sb.Call(context.Background(), lim, "", "f", json.RawMessage("[50000000]"), nil)
	})
	wantCode(t, err, isoerr.WorkerException, "stack overflow")
	t.Logf("the call allocated %d KiB", n>>10)
	if n > 64<<20 {
		t.Fatalf("the call allocated %d MiB of host memory", n>>20)
	}
}

// From JavaScript the depth limit is a catchable RangeError, as V8's stack overflow; the
// instance stays usable, and a module the rewrite cannot read is a CompileError.
func TestWasmDepthJS(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	code := withBytes(recurseWasm(), `const { instance } = await WebAssembly.instantiate(bytes);
		let deep; try { instance.exports.f(50000000); deep = "returned" } catch (e) { deep = e.name + ": " + e.message }
		const again = instance.exports.f(10000);
		const bad = bytes.slice(); // f's body starts with try (0x06): an instruction wazero does not enable
		bad[bad.length - 19] = 0x06;
		let compile; try { new WebAssembly.Module(bad); compile = "compiled" } catch (e) { compile = e.name }
		JSON.stringify([deep, again, compile])`)
	var got string
	var err error
	n := allocated(func() {
		got, err = wasmEval(t, sb, engine.Limits{CPU: 30 * time.Second, Wall: time.Minute}, code)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; the evaluation allocated %d KiB", got, n>>10)
	if !strings.HasPrefix(got, `"[\"RangeError: Maximum call stack size exceeded`) || !strings.HasSuffix(got, `,10000,\"CompileError\"]"`) {
		t.Fatalf("got %s", got)
	}
	if n > 64<<20 {
		t.Fatalf("the evaluation allocated %d MiB of host memory", n>>20)
	}
}

// A depth overflow inside a JavaScript import, caught there, leaves the outer call's count
// as it was: the outer export goes on recursing within the limit and returns, and so does
// the instance after.
func TestWasmDepthNestedJS(t *testing.T) {
	bin := buildWasmImports([]wasmFunc{{export: "env.cb"}}, []wasmFunc{
		{export: "outer", results: []byte{tI32}, body: []byte{0x10, 0, 0x41, 0xe8, 0x07, 0x10, 2, 0x1a, 0x41, 7}}, // cb(); f(1000); 7
		{export: "f", params: []byte{tI32}, results: []byte{tI32}, body: []byte{
			0x20, 0, 0x45, 0x04, tI32, 0x41, 0, 0x05, 0x20, 0, 0x41, 1, 0x6b, 0x10, 2, 0x41, 1, 0x6a, 0x0b}},
	}, map[byte][]byte{})
	sb := newSandbox(t, engine.SandboxConfig{})
	got, err := wasmEval(t, sb, engine.Limits{CPU: 30 * time.Second, Wall: time.Minute}, withBytes(bin, `const caught = [];
		const { instance } = await WebAssembly.instantiate(bytes, { env: { cb() {
			try { instance.exports.f(50000000) } catch (e) { caught.push(e.name) } } } });
		const outer = instance.exports.outer();
		JSON.stringify([caught, outer, instance.exports.f(20000)])`))
	if err != nil {
		t.Fatal(err)
	}
	if got != `"[[\"RangeError\"],7,20000]"` {
		t.Fatalf("got %s", got)
	}
}
