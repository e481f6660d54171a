package engine

import "testing"

// FuzzWasmDescriptors feeds the reader of a module's imports and exports (which runs on
// every byte a sandbox hands to WebAssembly.Module, before the compiler) arbitrary input:
// it must answer or refuse, never panic, and list only the kinds it knows.
func FuzzWasmDescriptors(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x0b\x01\x03env\x03log\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x07\x0a\x01\x06memory\x02\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x10\x01\x03env\x06memory\x02\x01\x01\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		imports, exports, err := wasmDescriptors(b)
		if err != nil {
			return
		}
		for _, d := range imports {
			if d.Kind == "" {
				t.Fatalf("import %+v of no kind", d)
			}
		}
		for _, d := range exports {
			if d.Kind == "" {
				t.Fatalf("export %+v of no kind", d)
			}
		}
	})
}

// FuzzWasmSections feeds the readers of custom sections, function types and exported
// globals' types (which run on every module a sandbox compiles) arbitrary input: no panic,
// no section larger than its input, only known value types.
func FuzzWasmSections(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x04\x01a\x01\x02"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x03\x0aab"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\x07\x01\x60\x02\x7f\x7e\x01\x6f"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\x03\x01\x5f\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x06\x06\x01\x70\x00\xd0\x70\x0b\x07\x05\x01\x01g\x03\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		exportsFuncrefGlobal(b)
		if cs, err := wasmCustomSections(b); err == nil {
			n := 0
			for _, c := range cs {
				n += len(c.name) + len(c.data)
			}
			if n > len(b) {
				t.Fatalf("custom sections of %d bytes from %d", n, len(b))
			}
		}
		for _, ft := range wasmFuncTypes(b) {
			for _, v := range append(append([]byte(nil), ft.params...), ft.results...) {
				if wasmTypeLetters[v] == 0 {
					t.Fatalf("type %#x", v)
				}
			}
		}
	})
}

// TestWasmJSExportsFuncrefGlobal: the reader that decides whether a module's JavaScript
// imports need host modules of their own finds an exported funcref global, imported or
// defined, and answers true when it cannot tell.
func TestWasmJSExportsFuncrefGlobal(t *testing.T) {
	for _, tc := range []struct {
		name string
		bin  string
		want bool
	}{
		{"defined funcref", "\x00asm\x01\x00\x00\x00\x06\x06\x01\x70\x00\xd0\x70\x0b\x07\x05\x01\x01g\x03\x00", true},
		{"defined i32", "\x00asm\x01\x00\x00\x00\x06\x06\x01\x7f\x00\x41\x0b\x0b\x07\x05\x01\x01g\x03\x00", false},
		{"imported funcref re-exported", "\x00asm\x01\x00\x00\x00\x02\x08\x01\x01e\x01g\x03\x70\x00\x07\x05\x01\x01g\x03\x00", true},
		{"not exported", "\x00asm\x01\x00\x00\x00\x06\x06\x01\x70\x00\xd0\x70\x0b", false},
		{"unknown constant", "\x00asm\x01\x00\x00\x00\x06\x05\x01\x7f\x00\xff\x0b", true},
	} {
		if got := exportsFuncrefGlobal([]byte(tc.bin)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
