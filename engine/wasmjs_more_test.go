package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/isobox/isobox/engine"
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
