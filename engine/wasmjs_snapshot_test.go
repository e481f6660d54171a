package engine_test

import (
	"context"
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
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{})
	mustEval(t, sb, withBytes(stateWasm(), `
		globalThis.x = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
		x.poke(300, 77); x.memory.grow(1); x.poke(70000, 3);
		[x.bump(), x.peek(300), x.peek(70000)]`), "[101,77,3]")
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	img2, err := testEngine.UnmarshalImage(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := testEngine.Restore(ctx, img2, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
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
