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

// FuzzWasmSections feeds the readers of custom sections and function types (which run on
// every module a sandbox compiles) arbitrary input: no panic, no section larger than its
// input, only known value types.
func FuzzWasmSections(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x04\x01a\x01\x02"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x03\x0aab"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\x07\x01\x60\x02\x7f\x7e\x01\x6f"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\x03\x01\x5f\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
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
