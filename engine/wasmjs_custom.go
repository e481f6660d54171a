package engine

import (
	"encoding/binary"
	"errors"
)

// WebAssembly.Module.customSections: a module's custom sections (id 0) are read when it is
// compiled and kept, copied, with its handle (their bytes are part of the module's, which
// are at most maxWasmJSModuleBytes).

// wasmCustom is one custom section of a module: its name and contents.
type wasmCustom struct {
	name string
	data []byte
}

// wasmCustomSections reads a module's custom sections in their order. A custom section
// whose name runs past its end is a CompileError, as the spec's decoder says.
func wasmCustomSections(b []byte) ([]wasmCustom, error) {
	if len(b) < 8 {
		return nil, errShort
	}
	var out []wasmCustom
	r := &wasmReader{b: b[8:]}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)) {
			return nil, errors.New("a section runs past the end")
		}
		sec := &wasmReader{b: r.b[:size]}
		r.b = r.b[size:]
		if id != 0 {
			continue
		}
		name := sec.name()
		if sec.err != nil {
			return nil, errors.New("a custom section's name runs past its end")
		}
		out = append(out, wasmCustom{name: name, data: append([]byte(nil), sec.b...)})
	}
	return out, r.err
}

func (sb *Sandbox) opWasmCustomSections(in []byte) ([]byte, error) {
	var a struct {
		Module int
		Name   string
	}
	if err := decode("wasm_custom_sections", in, &a); err != nil {
		return nil, err
	}
	m := sb.wasmJSState().modules[a.Module]
	if m == nil {
		return nil, typeError("WebAssembly.Module.customSections: not a module of this sandbox")
	}
	var out []byte
	n := 0
	for _, c := range m.custom {
		if c.name == a.Name {
			n++
		}
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(n))
	for _, c := range m.custom {
		if c.name == a.Name {
			out = binary.LittleEndian.AppendUint32(out, uint32(len(c.data)))
			out = append(out, c.data...)
		}
	}
	return out, nil
}
