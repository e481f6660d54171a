package engine

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// The memory side of the WebAssembly global (wasmjs.go): an instance's linear memory,
// charged to the sandbox's memory limit, and the copy of it that JavaScript holds as an
// exported memory's buffer, kept in step around calls and imports by sending only the runs
// that differ.

// maxWasmJSSpares bounds the cleared memories a sandbox keeps for its next instances.
const maxWasmJSSpares = 4

// memoryDiffChunk is the granularity of appendMemoryDiff.
const memoryDiffChunk = 4096

// pull appends what JavaScript's copy of the memory lacks: the memory's size (u32) and the
// runs that differ from what JavaScript holds (all of it when that is not known), and with
// keep records that JavaScript now holds the memory as it is (a call still runs).
func (inst *jsWasmInstance) pull(out []byte, keep bool) []byte {
	cur, _ := inst.mod.Memory().Read(0, inst.mod.Memory().Size())
	out = binary.LittleEndian.AppendUint32(out, uint32(len(cur)))
	if !inst.known {
		out = binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(out, 0), uint32(len(cur)))
		out = append(out, cur...)
	} else {
		out = appendMemoryDiff(out, inst.agreed, cur)
	}
	if keep {
		inst.agreed, inst.known = append(inst.agreed[:0:0], cur...), true
	}
	return out
}

// memHolder is the instance whose memory inst uses: itself, or the instance whose memory it
// imported (the bookkeeping of JavaScript's copy is the memory's, kept there).
func (inst *jsWasmInstance) memHolder() *jsWasmInstance {
	if inst.memOwner != nil {
		return inst.memOwner
	}
	return inst
}

// opWasmMemoryPull is an import's entry with the memory in use: JavaScript's copy catches
// up with what the running call changed.
func (sb *Sandbox) opWasmMemoryPull(in []byte) ([]byte, error) {
	h, _ := strconv.Atoi(string(in))
	inst, err := sb.instance(uint32(h))
	if err != nil {
		return nil, err
	}
	if inst.mod.Memory() == nil {
		return nil, typeError("the instance has no memory")
	}
	inst = inst.memHolder()
	return inst.pull(nil, inst.active > 0), nil
}

// opWasmMemoryPush is an import's return with the memory in use: what JavaScript changed in
// its copy goes into the memory of the instance whose import it is.
func (sb *Sandbox) opWasmMemoryPush(in []byte) ([]byte, error) {
	w := sb.wasmJSState()
	inst := w.importing
	if inst == nil || inst.dead != nil || inst.mod.Memory() == nil {
		return nil, typeError("wasm_memory_push outside a JavaScript import")
	}
	inst = inst.memHolder()
	mem := inst.mod.Memory()
	in = in[:min(uint64(len(in)), uint64(mem.Size()))]
	cur, _ := mem.Read(0, uint32(len(in)))
	for off := 0; off < len(in); off += memoryDiffChunk {
		end := min(off+memoryDiffChunk, len(in))
		if !inst.known || end > len(inst.agreed) || !bytes.Equal(in[off:end], inst.agreed[off:end]) {
			copy(cur[off:end], in[off:end])
		}
	}
	if inst.active > 0 {
		inst.agreed, inst.known = append(inst.agreed[:0:0], in...), true
	}
	return nil, nil
}

// appendMemoryDiff appends to out the runs of cur that differ from prev (bytes past prev
// compare with zeros, what a growth adds), each as u32 offset, u32 length, the bytes: the
// copy-out of a call sends what the call changed, not the whole memory.
func appendMemoryDiff(out, prev, cur []byte) []byte {
	var zero [memoryDiffChunk]byte
	le := binary.LittleEndian
	start := -1
	flush := func(end int) {
		out = le.AppendUint32(le.AppendUint32(out, uint32(start)), uint32(end-start))
		out = append(out, cur[start:end]...)
		start = -1
	}
	for off := 0; off < len(cur); off += memoryDiffChunk {
		end := min(off+memoryDiffChunk, len(cur))
		p := min(end, max(off, len(prev))) // cur[off:p] has a counterpart in prev, cur[p:end] none
		same := bytes.Equal(prev[min(off, len(prev)):min(p, len(prev))], cur[off:p]) && bytes.Equal(cur[p:end], zero[:end-p])
		switch {
		case !same && start < 0:
			start = off
		case same && start >= 0:
			flush(off)
		}
	}
	if start >= 0 {
		flush(len(cur))
	}
	return out
}

func (sb *Sandbox) opWasmMemoryRead(in []byte) ([]byte, error) {
	h, _ := strconv.Atoi(string(in))
	inst, err := sb.instance(uint32(h))
	if err != nil {
		return nil, err
	}
	mem := inst.mod.Memory()
	if mem == nil {
		return nil, nil
	}
	b, _ := mem.Read(0, mem.Size())
	b = append([]byte(nil), b...)
	inst = inst.memHolder()
	if inst.active > 0 { // JavaScript's new copy, mid-call (an import read the buffer)
		inst.agreed, inst.known = b, true
	}
	return b, nil
}

func (sb *Sandbox) opWasmMemoryWrite(in []byte) ([]byte, error) {
	if len(in) < 4 {
		return nil, typeError("wasm_memory_write: short payload")
	}
	inst, err := sb.instance(binary.LittleEndian.Uint32(in))
	if err != nil {
		return nil, err
	}
	if mem := inst.mod.Memory(); mem != nil {
		mem.Write(0, in[4:][:min(uint64(len(in)-4), uint64(mem.Size()))])
	}
	inst.memHolder().known = false // JavaScript drops its copy (a growth follows)
	return nil, nil
}

func (sb *Sandbox) opWasmMemoryGrow(in []byte) ([]byte, error) {
	var a struct{ Instance, Delta uint32 }
	if err := decode("wasm_memory_grow", in, &a); err != nil {
		return nil, err
	}
	inst, err := sb.instance(a.Instance)
	if err != nil {
		return nil, err
	}
	mem := inst.mod.Memory()
	if mem == nil {
		return nil, typeError("the instance has no memory")
	}
	inst = inst.memHolder()
	prev, ok := mem.Grow(a.Delta)
	inst.mem.refused.Store(false)
	inst.known = false
	if !ok {
		return nil, wasmError("RangeError", "WebAssembly.Memory.grow(): growing by %d pages is past the memory's maximum or the sandbox's memory limit of %d MiB", a.Delta, sb.mem.limit>>20)
	}
	return []byte(strconv.FormatUint(uint64(prev), 10)), nil
}

// jsWasmMemory is an instance's linear memory: its own reservation, charged (with the
// other instances' memories and QuickJS's) against the sandbox's memory limit.
type jsWasmMemory struct {
	*limitedMemory
	w     *wasmJS
	sb    *Sandbox
	size  uint64 // bytes charged to w.used
	freed bool   // Free ran (an imported memory's owner and a failed instantiation may both free it)
}

// Reallocate implements experimental.LinearMemory.
func (m *jsWasmMemory) Reallocate(size uint64) []byte {
	if size > m.size && uint64(m.sb.mem.Len())+m.w.used-m.size+size > m.sb.mem.limit {
		m.refused.Store(true)
		return nil
	}
	b := m.limitedMemory.Reallocate(size)
	if b != nil {
		m.w.used += size - m.size
		m.size = size
	}
	return b
}

// Free implements experimental.LinearMemory: a small memory is cleared and kept for the
// sandbox's next instance (unmapping and faulting in a reservation was a tenth of an
// instantiation's cost); a large one is given back.
func (m *jsWasmMemory) Free() {
	if m.freed {
		return
	}
	m.freed = true
	w := m.w
	w.used -= m.size
	m.size = 0
	if lm := m.limitedMemory; lm.release != nil && !lm.refused.Load() && lm.Len() <= maxSpareMemory && len(w.spares) < maxWasmJSSpares {
		clear(lm.buf)
		lm.buf = lm.buf[:0]
		w.spares = append(w.spares, lm)
		return
	}
	m.limitedMemory.Free()
}

// takeSpare returns a memory kept by Free, or a new one.
func (w *wasmJS) takeSpare(limit uint64) *limitedMemory {
	if n := len(w.spares); n > 0 {
		m := w.spares[n-1]
		w.spares = w.spares[:n-1]
		return m
	}
	return newLimitedMemory(limit)
}

// opWasmMemoryStage keeps the bytes of the WebAssembly.Memory the next instantiation imports.
func (sb *Sandbox) opWasmMemoryStage(in []byte) ([]byte, error) {
	w := sb.wasmJSState()
	if uint64(len(in))+uint64(sb.mem.Len())+w.used > sb.mem.limit {
		return nil, wasmError("RangeError", "WebAssembly.Instance: out of memory")
	}
	w.stagedMem = bytes.Clone(in)
	return nil, nil
}
