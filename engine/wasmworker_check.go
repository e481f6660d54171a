package engine

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/isobox/isobox/isoerr"
)

// checkWasmBinary reads what wazero's API does not show before a module is instantiated:
// its tables, which live in host memory outside the memory limit and may grow to 2^32
// elements unless they declare a maximum. Every table must declare one, and all together at most maxWasmTableElements.
// Anything it cannot read is left to wazero's compiler to report.
//
// It returns the initial size of the module's memory in bytes (0 without one), which
// instantiation compares with the sandbox's memory limit.
func checkWasmBinary(name string, b []byte) (uint64, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return 0, isoerr.New(isoerr.InvalidWorkerCode, "module %q is not a WebAssembly module (it does not start with \\0asm)", name)
	}
	if v := binary.LittleEndian.Uint32(b[4:8]); v != 1 {
		return 0, isoerr.New(isoerr.InvalidWorkerCode, "module %q is WebAssembly binary version %#x; only core modules (version 1) run, not components", name, v)
	}
	r := &wasmReader{b: b[8:]}
	tables, memMin := uint64(0), uint64(0)
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)) {
			return memMin, nil
		}
		sec := &wasmReader{b: r.b[:size]}
		r.b = r.b[size:]
		switch id {
		case 5: // memories
			if n := sec.u32(); n > 0 {
				if flags := sec.byte(); flags <= 3 && sec.err == nil { // 2 and 3: shared
					memMin = uint64(sec.u32()) << 16
				}
			}
		case 4: // tables
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				sec.byte() // reference type
				flags := sec.byte()
				min := sec.u32()
				if sec.err != nil {
					return memMin, nil
				}
				switch flags {
				case 0:
					return 0, isoerr.New(isoerr.InvalidWorkerCode, "module %q has a table without a maximum size (it starts at %d elements): tables live outside the memory limit, so each must declare a maximum (at most %d elements in all)",
						name, min, maxWasmTableElements)
				case 1:
					tables += uint64(sec.u32())
				default:
					return memMin, nil // not a limits form this reader knows: wazero judges
				}
				if tables > maxWasmTableElements {
					return 0, isoerr.New(isoerr.InvalidWorkerCode, "module %q declares tables of up to %d elements; a WebAssembly worker may have at most %d in all (tables live outside the memory limit)",
						name, tables, maxWasmTableElements)
				}
			}
		}
	}
	return memMin, nil
}

// wasmReader reads the binary format's primitives; the first error sticks.
type wasmReader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *wasmReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *wasmReader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("bad LEB128")
	return 0
}

func (r *wasmReader) name() string {
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.b)) {
		r.err = errShort
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
