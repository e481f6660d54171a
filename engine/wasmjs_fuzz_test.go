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
