package engine

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The serialized form of a wasmImage (inside Image.Marshal's, deflated): little-endian
// u32 counts and handles, u64 values, and byte strings as a u32 length and the bytes:
//
//	next
//	sources:   count, then each name, sum (32 bytes), flags (1: from the module map, no bytes follow), bytes
//	modules:   count, then each handle, source
//	cells:     count, then each handle, type letter (1 byte), bits
//	instances: count, then each handle, source, global links (count, then each kind byte
//	           0 bits / 1 cell / 2 instance, and bits, cell, or instance and name), memory
//	           link (flag byte; pages, maximum flag byte, maximum), memory (flag byte, bytes),
//	           globals (count, bits each), externref tables (count, then each count and bits),
//	           flags (1 byte: wasmInstPinned, wasmInstReleased)
//	funcref table operations: count, then each instance handle, wasm_table payload
//	function handles: count, then each owner instance handle, export name, table, index
//
// Everything read is bounded before it is allocated; what it names is checked again when
// the image is restored (restoreWasmJS).

// maxWasmImageBytes bounds a wasmImage decompressed: its instances' memories (at most the
// sandbox's memory limit, MaxMemory) and its modules compiled from bytes (maxWasmJSKeptBytes).
const maxWasmImageBytes = MaxMemory + maxWasmJSKeptBytes + 1<<20

type wasmImageWriter struct{ b bytes.Buffer }

func (w *wasmImageWriter) u32(v int) { _ = binary.Write(&w.b, binary.LittleEndian, uint32(v)) }
func (w *wasmImageWriter) u64(v uint64) {
	_ = binary.Write(&w.b, binary.LittleEndian, v)
}
func (w *wasmImageWriter) bytes(b []byte) { w.u32(len(b)); w.b.Write(b) }

// marshal writes wi deflated.
func (wi *wasmImage) marshal() ([]byte, error) {
	raw, err := wi.raw()
	if err != nil {
		return nil, err
	}
	return deflateWasmImage(raw)
}

func deflateWasmImage(raw []byte) ([]byte, error) {
	var out bytes.Buffer
	zw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(zw)
	zw.Reset(&out)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// raw is wi serialized, before deflating.
func (wi *wasmImage) raw() ([]byte, error) {
	var w wasmImageWriter
	w.u32(wi.next)
	w.u32(len(wi.srcs))
	for _, s := range wi.srcs {
		w.bytes([]byte(s.name))
		w.b.Write(s.sum[:])
		if s.fromMap {
			w.b.WriteByte(1)
		} else {
			w.b.WriteByte(0)
			w.bytes(s.bin)
		}
	}
	w.u32(len(wi.mods))
	for _, m := range wi.mods {
		w.u32(m.handle)
		w.u32(m.src)
	}
	w.u32(len(wi.cells))
	for _, c := range wi.cells {
		w.u32(c.handle)
		w.b.WriteByte(c.letter)
		w.u64(c.bits)
	}
	w.u32(len(wi.insts))
	for _, in := range wi.insts {
		w.u32(in.handle)
		w.u32(in.src)
		w.u32(len(in.globals))
		for _, l := range in.globals {
			switch {
			case l.Bits != nil:
				v, err := strconv.ParseUint(*l.Bits, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("global import value %q: %w", *l.Bits, err)
				}
				w.b.WriteByte(0)
				w.u64(v)
			case l.Cell != 0:
				w.b.WriteByte(1)
				w.u32(l.Cell)
			default:
				w.b.WriteByte(2)
				w.u32(l.Instance)
				w.bytes([]byte(l.Name))
			}
		}
		if in.memLink == nil {
			w.b.WriteByte(0)
		} else {
			w.b.WriteByte(1)
			w.u32(int(in.memLink.Pages))
			if in.memLink.Maximum == nil {
				w.b.WriteByte(0)
				w.u32(0)
			} else {
				w.b.WriteByte(1)
				w.u32(int(*in.memLink.Maximum))
			}
		}
		if in.mem == nil {
			w.b.WriteByte(0)
		} else {
			w.b.WriteByte(1)
			w.bytes(in.mem)
		}
		w.u32(len(in.gvals))
		for _, v := range in.gvals {
			w.u64(v)
		}
		w.u32(len(in.tables))
		for _, t := range in.tables {
			w.u32(len(t))
			for _, v := range t {
				w.u64(v)
			}
		}
		w.b.WriteByte(in.flags)
	}
	w.u32(len(wi.tables))
	for _, op := range wi.tables {
		w.u32(op.handle)
		w.bytes(op.payload)
	}
	w.u32(len(wi.frefs))
	for _, f := range wi.frefs {
		w.u32(f.owner)
		w.bytes([]byte(f.export))
		w.u32(int(f.table))
		w.u32(int(f.index))
	}
	return w.b.Bytes(), nil
}

type wasmImageReader struct {
	b   []byte
	err error
}

var errWasmImageShort = errors.New("truncated")

func (r *wasmImageReader) take(n uint64) []byte {
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errWasmImageShort
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *wasmImageReader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *wasmImageReader) u32() int {
	if b := r.take(4); b != nil {
		return int(binary.LittleEndian.Uint32(b))
	}
	return 0
}

func (r *wasmImageReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *wasmImageReader) bytes(max int) []byte {
	n := r.u32()
	if n > max {
		r.fail("a string of %d bytes, more than %d", n, max)
		return nil
	}
	return r.take(uint64(n))
}

// count reads a count of items of at least each bytes, at most max of them.
func (r *wasmImageReader) count(max, each int) int {
	n := r.u32()
	if n > max || uint64(n)*uint64(each) > uint64(len(r.b)) {
		r.fail("a count of %d", n)
		return 0
	}
	return n
}

func (r *wasmImageReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// unmarshalWasmImage reads what marshal wrote; the handles are checked to be in range and
// distinct, the references between its parts to point at earlier parts.
func unmarshalWasmImage(z []byte) (*wasmImage, error) {
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), maxWasmImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("does not decompress: %v", err)
	}
	if len(raw) > maxWasmImageBytes {
		return nil, fmt.Errorf("decompresses to more than %d MiB", maxWasmImageBytes>>20)
	}
	r := &wasmImageReader{b: raw}
	wi := &wasmImage{next: r.u32()}
	if wi.next > 1<<30 {
		return nil, fmt.Errorf("handle counter %d out of range", wi.next)
	}
	seen := map[int]byte{} // handle -> kind: 'm', 'c', 'i'
	handle := func(kind byte) int {
		h := r.u32()
		if h <= 0 || h > wi.next || seen[h] != 0 {
			r.fail("handle %d out of range or used twice", h)
			return 0
		}
		seen[h] = kind
		return h
	}
	src := func() int {
		i := r.u32()
		if i >= len(wi.srcs) {
			r.fail("source %d out of range", i)
		}
		return i
	}
	for n := r.count(maxWasmJSModules+maxWasmJSInstances, 37); n > 0 && r.err == nil; n-- {
		s := wasmSourceImage{name: string(r.bytes(1 << 10))}
		copy(s.sum[:], r.take(32))
		switch r.byte() {
		case 1:
			s.fromMap = true
		case 0:
			s.bin = r.bytes(maxWasmJSModuleBytes)
			if r.err == nil && sha256.Sum256(s.bin) != s.sum {
				r.fail("module %q's bytes do not match their hash", s.name)
			}
		default:
			r.fail("bad source flags")
		}
		wi.srcs = append(wi.srcs, s)
	}
	for n := r.count(maxWasmJSModules, 8); n > 0 && r.err == nil; n-- {
		wi.mods = append(wi.mods, wasmModImage{handle: handle('m'), src: src()})
	}
	for n := r.count(maxWasmJSCells, 13); n > 0 && r.err == nil; n-- {
		c := wasmCellImage{handle: handle('c'), letter: r.byte(), bits: r.u64()}
		if _, ok := wasmValTypes[c.letter]; !ok || c.letter == 'a' { // an anyfunc's bits are a reference
			r.fail("a global of type %q", c.letter)
		}
		wi.cells = append(wi.cells, c)
	}
	last := 0
	for n := r.count(maxWasmJSInstances, 19); n > 0 && r.err == nil; n-- {
		in := wasmInstImage{handle: handle('i'), src: src()}
		if in.handle <= last {
			r.fail("instances out of order")
		}
		last = in.handle
		for k := r.count(1<<16, 5); k > 0 && r.err == nil; k-- {
			var l wasmGlobalLink
			switch r.byte() {
			case 0:
				s := strconv.FormatUint(r.u64(), 10)
				l.Bits = &s
			case 1:
				if l.Cell = r.u32(); seen[l.Cell] != 'c' {
					r.fail("a link to %d, not a global", l.Cell)
				}
			case 2:
				if l.Instance = r.u32(); seen[l.Instance] != 'i' || l.Instance >= in.handle {
					r.fail("a link to %d, not an earlier instance", l.Instance)
				}
				l.Name = string(r.bytes(1 << 16))
			default:
				r.fail("bad global link")
			}
			in.globals = append(in.globals, l)
		}
		switch r.byte() {
		case 0:
		case 1:
			ml := &wasmMemoryLink{Pages: uint32(r.u32())}
			hasMax, mx := r.byte(), uint32(r.u32())
			if hasMax == 1 {
				ml.Maximum = &mx
			}
			if uint64(ml.Pages)*wasmPage > MaxMemory {
				r.fail("a memory import of %d pages", ml.Pages)
			}
			in.memLink = ml
		default:
			r.fail("bad memory link")
		}
		switch r.byte() {
		case 0:
		case 1:
			in.mem = r.bytes(MaxMemory)
			if in.mem == nil {
				in.mem = []byte{}
			}
		default:
			r.fail("bad memory flag")
		}
		for k := r.count(1<<20, 8); k > 0 && r.err == nil; k-- {
			in.gvals = append(in.gvals, r.u64())
		}
		for k := r.count(1<<10, 4); k > 0 && r.err == nil; k-- {
			t := make([]uint64, r.count(maxWasmTableElements, 8))
			for i := range t {
				t[i] = r.u64()
			}
			in.tables = append(in.tables, t)
		}
		if in.flags = r.byte(); in.flags&^(wasmInstPinned|wasmInstReleased) != 0 {
			r.fail("bad instance flags %#x", in.flags)
		}
		wi.insts = append(wi.insts, in)
	}
	for n := r.count(maxWasmTableOps, 8); n > 0 && r.err == nil; n-- {
		op := wasmTableOp{handle: r.u32(), payload: r.bytes(maxWasmTableOpBytes)}
		if seen[op.handle] != 'i' {
			r.fail("a table operation on %d, not an instance", op.handle)
		}
		wi.tables = append(wi.tables, op)
	}
	for n := r.count(maxWasmFuncRefs, 16); n > 0 && r.err == nil; n-- {
		f := wasmFuncRefImage{owner: r.u32(), export: string(r.bytes(1 << 16)), table: uint32(r.u32()), index: uint32(r.u32())}
		if seen[f.owner] != 'i' {
			r.fail("a function handle of %d, not an instance", f.owner)
		}
		wi.frefs = append(wi.frefs, f)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the end", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return wi, nil
}
