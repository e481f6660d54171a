package engine

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/isobox/isobox/engine/js"
)

// WasmStateRaw is the WebAssembly state of img as Marshal writes it, before deflating.
func WasmStateRaw(img *Image) ([]byte, error) {
	if img.worker != nil {
		z, err := img.worker.marshal()
		if err != nil {
			return nil, err
		}
		return io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	}
	return img.wasm.raw()
}

// ReplaceWasmState returns the marshaled image b with its WebAssembly state replaced by
// raw (deflated) and its checksum made again: a forged image that passes the checksum.
func ReplaceWasmState(b, raw []byte) ([]byte, error) {
	p := len(imageMagic) + 1 + len(js.BuildID()) + 32
	if len(b) < p+12 {
		return nil, fmt.Errorf("short image")
	}
	n := int(binary.LittleEndian.Uint32(b[p+8:]))
	p += 12 + 4*n
	p += 4 + int(binary.LittleEndian.Uint32(b[p:]))
	nw := int(binary.LittleEndian.Uint32(b[p:]))
	z, err := deflateWasmImage(raw)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), b[:p]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(z)))
	out = append(out, z...)
	out = append(out, b[p+4+nw:len(b)-sha256.Size]...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...), nil
}

// WasmJSPinned counts sb's instances that are pinned, and those of them the guest released.
func WasmJSPinned(sb *Sandbox) (pinned, released int) {
	if sb.wjs == nil {
		return 0, 0
	}
	for _, in := range sb.wjs.insts {
		if in.pinned {
			pinned++
		}
		if in.released {
			released++
		}
	}
	return pinned, released
}

// ForgedFuncRef is a function handle a forged image names (WasmStateForged).
type ForgedFuncRef struct {
	Owner        int
	Export       string
	Table, Index uint32
}

// WasmStateForged is img's WebAssembly state as WasmStateRaw writes it, with frefs for its
// function handles (nil: its own) and, when anyfunc is not 0, one more WebAssembly.Global
// cell of type anyfunc holding those bits.
func WasmStateForged(img *Image, frefs []ForgedFuncRef, anyfunc uint64) ([]byte, error) {
	wi := *img.wasm
	if frefs != nil {
		wi.frefs = nil
		for _, f := range frefs {
			wi.frefs = append(wi.frefs, wasmFuncRefImage{owner: f.Owner, export: f.Export, table: f.Table, index: f.Index})
		}
	}
	if anyfunc != 0 {
		wi.next++
		wi.cells = append(slices.Clone(wi.cells), wasmCellImage{handle: wi.next, letter: 'a', bits: anyfunc})
	}
	return wi.raw()
}
