package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
)

// The image plan of a module (wasmjs_snapshot.go): what of its instances an image
// captures, read once per engine from its bytes, and the rewrite of its bytes that exports
// its mutable globals and tables under reserved names, with or without its start section.

// wasmStatePlan is what of a module's instances an image captures, read from its bytes.
type wasmStatePlan struct {
	globals []wasmPlanGlobal // the mutable globals it defines
	tables  []wasmPlanTable  // the tables it defines
	start   bool             // it has a start section
	refuse  string           // why its instances cannot be captured ("" when they can)
	sums    [2][32]byte      // the SHA-256 of rewrite(bin, false) and rewrite(bin, true)
}

// maxWasmPlans bounds the plans the engine keeps (a few hundred bytes each).
const maxWasmPlans = 1024

// wasmPlan returns the plan of bin, whose SHA-256 is sum, from the engine's table: a
// module's analysis and the hashes of its rewrites are made once per engine, so that a
// sandbox compiling a module the engine has compiled before pays one SHA-256 of its bytes,
// as before images (BenchmarkWasmStatePlan: the analysis reads ~100 MB/s).
func (e *Engine) wasmPlan(bin []byte, sum [32]byte) *wasmStatePlan {
	w := &e.wasm
	w.mu.Lock()
	p := w.plans[sum]
	w.mu.Unlock()
	if p != nil {
		return p
	}
	p = analyzeWasmState(bin)
	p.sums[0], p.sums[1] = sum, sum
	if live := p.rewrite(bin, false); !bytes.Equal(live, bin) {
		p.sums[0] = sha256.Sum256(live)
	}
	if p.start {
		p.sums[1] = sha256.Sum256(p.rewrite(bin, true))
	} else {
		p.sums[1] = p.sums[0]
	}
	w.mu.Lock()
	if w.plans == nil || len(w.plans) >= maxWasmPlans {
		w.plans = map[[32]byte]*wasmStatePlan{}
	}
	w.plans[sum] = p
	w.mu.Unlock()
	return p
}

// wasmCompileJSModule compiles the rewrite of bin (restore: without its start section),
// making it only when the engine's table lacks it.
func (e *Engine) wasmCompileJSModule(ctx context.Context, name string, p *wasmStatePlan, bin []byte, restore bool) (*wasmCode, error) {
	k := 0
	if restore {
		k = 1
	}
	return e.wasmCompileSum(ctx, name, p.sums[k], func() []byte { return p.rewrite(bin, restore) })
}

type wasmPlanGlobal struct {
	index uint32 // in the global index space
	vt    byte
}

type wasmPlanTable struct {
	index   uint32 // in the table index space
	rt      byte   // 0x70 funcref, 0x6f externref
	changed bool   // funcref: the code may change it (table.set/grow/fill/copy/init)
}

func (p *wasmStatePlan) globalName(g wasmPlanGlobal) string {
	return wasmStatePrefix + "g" + strconv.Itoa(int(g.index))
}

func (p *wasmStatePlan) tableName(t wasmPlanTable) string {
	return wasmStatePrefix + "t" + strconv.Itoa(int(t.index))
}

// wasmSectionRank orders the known sections (custom sections go anywhere).
var wasmSectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// analyzeWasmState reads the plan of a module's bytes. Bytes it cannot read get a plan
// that refuses (the compiler judges them).
func analyzeWasmState(bin []byte) *wasmStatePlan {
	p := &wasmStatePlan{}
	refuse := func(format string, args ...any) *wasmStatePlan {
		return &wasmStatePlan{refuse: fmt.Sprintf(format, args...)}
	}
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return refuse("not a module")
	}
	r := &wasmReader{b: bin[8:]}
	var nglobals, ntables uint32
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)) {
			return refuse("a section runs past the end")
		}
		sec := &wasmReader{b: r.b[:size]}
		r.b = r.b[size:]
		switch id {
		case 2: // imports
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				sec.name()
				sec.name()
				switch sec.byte() {
				case 0:
					sec.u32()
				case 1:
					return refuse("it imports a table")
				case 2:
					sec.limits()
				case 3:
					sec.byte()
					sec.byte()
					nglobals++
				case 4:
					sec.byte()
					sec.u32()
				default:
					return refuse("an import of unknown kind")
				}
			}
		case 4: // tables
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				rt := sec.byte()
				if rt != 0x70 && rt != 0x6f {
					return refuse("a table of type %#x", rt)
				}
				if flags := sec.byte(); flags > 1 {
					return refuse("a table with limits flags %#x", flags)
				} else {
					sec.u32()
					if flags == 1 {
						sec.u32()
					}
				}
				p.tables = append(p.tables, wasmPlanTable{index: ntables, rt: rt})
				ntables++
			}
		case 6: // globals
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				vt, mut := sec.byte(), sec.byte()
				if !sec.skipConstExpr() {
					return refuse("a global's initializer it cannot read")
				}
				if mut == 1 {
					if vt != 0x7f && vt != 0x7e && vt != 0x7d && vt != 0x7c && vt != 0x6f { // a funcref's bits are a reference
						return refuse("a mutable global of type %#x (only numbers and externref are captured)", vt)
					}
					p.globals = append(p.globals, wasmPlanGlobal{index: nglobals, vt: vt})
				}
				nglobals++
			}
		case 7: // exports
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				if name := sec.name(); len(name) >= len(wasmStatePrefix) && name[:len(wasmStatePrefix)] == wasmStatePrefix {
					return refuse("it exports the reserved name %q", name)
				}
				sec.byte()
				sec.u32()
			}
		case 8:
			p.start = true
		case 10: // code
			if !slices.ContainsFunc(p.tables, func(t wasmPlanTable) bool { return t.rt == 0x70 }) {
				break // only funcref tables need the code read (externref ones are captured)
			}
			changed, ok := wasmTablesChanged(sec)
			if !ok {
				changed = nil // every funcref table may change
			}
			for i := range p.tables {
				p.tables[i].changed = !ok || changed[p.tables[i].index]
			}
		}
		if sec.err != nil {
			return refuse("section %d: %v", id, sec.err)
		}
	}
	if r.err != nil {
		return refuse("%v", r.err)
	}
	return p
}

// rewrite returns bin with the plan's globals and tables exported under reserved names,
// and without its start section when restore is set. A refusing plan changes nothing.
func (p *wasmStatePlan) rewrite(bin []byte, restore bool) []byte {
	if p.refuse != "" || (len(p.globals) == 0 && len(p.tables) == 0 && !(restore && p.start)) {
		return bin
	}
	var extra [][]byte
	for _, g := range p.globals {
		extra = append(extra, slices.Concat(wasmStr(p.globalName(g)), []byte{3}, wasmU32(g.index)))
	}
	for _, t := range p.tables {
		extra = append(extra, slices.Concat(wasmStr(p.tableName(t)), []byte{1}, wasmU32(t.index)))
	}
	exportSec := func(old []byte) []byte {
		r := &wasmReader{b: old}
		n := uint32(0)
		if old != nil {
			n = r.u32()
		}
		return append(append(wasmU32(n+uint32(len(extra))), r.b...), slices.Concat(extra...)...)
	}
	out := append(make([]byte, 0, len(bin)+64*len(extra)), bin[:8]...)
	put := func(id byte, body []byte) {
		out = append(append(append(out, id), wasmU32(uint32(len(body)))...), body...)
	}
	r := &wasmReader{b: bin[8:]}
	done := len(extra) == 0
	for len(r.b) > 0 {
		id := r.byte()
		size := r.u32()
		body := r.b[:size] // analyzeWasmState read these bounds
		r.b = r.b[size:]
		if !done && id != 0 && wasmSectionRank[id] >= wasmSectionRank[7] {
			if id == 7 {
				put(7, exportSec(body))
				done = true
				continue
			}
			put(7, exportSec(nil))
			done = true
		}
		if id == 8 && restore {
			continue
		}
		put(id, body)
	}
	if !done {
		put(7, exportSec(nil))
	}
	return out
}

// skipConstExpr reads a constant expression through its end.
func (r *wasmReader) skipConstExpr() bool {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b:
			return r.err == nil
		case 0x41, 0x42:
			r.leb()
		case 0x43:
			r.skip(4)
		case 0x44:
			r.skip(8)
		case 0x23, 0xd2:
			r.u32()
		case 0xd0:
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant expressions
		case 0xfd:
			if r.u32() != 12 {
				return false
			}
			r.skip(16)
		default:
			return false
		}
	}
	return false
}

// leb skips a LEB128 number of any width (up to 64 bits).
func (r *wasmReader) leb() {
	for i := 0; i < 10; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.err = fmt.Errorf("bad LEB128")
}

func (r *wasmReader) skip(n int) {
	if r.err == nil && len(r.b) < n {
		r.err = errShort
	}
	if r.err == nil {
		r.b = r.b[n:]
	}
}

// wasmTablesChanged reads a code section and answers the tables its instructions may
// change; ok is false when it meets an instruction it does not know (then any may).
func wasmTablesChanged(sec *wasmReader) (changed map[uint32]bool, ok bool) {
	changed = map[uint32]bool{}
	for n := sec.u32(); n > 0 && sec.err == nil; n-- {
		size := sec.u32()
		if sec.err != nil || uint64(size) > uint64(len(sec.b)) {
			return nil, false
		}
		f := &wasmReader{b: sec.b[:size]}
		sec.b = sec.b[size:]
		for k := f.u32(); k > 0 && f.err == nil; k-- { // locals
			f.u32()
			f.byte()
		}
		for len(f.b) > 0 && f.err == nil {
			if !f.instruction(changed) {
				return nil, false
			}
		}
		if f.err != nil {
			return nil, false
		}
	}
	return changed, sec.err == nil
}

// instruction reads one instruction, recording in changed a table it changes; false for
// an opcode it does not know.
func (r *wasmReader) instruction(changed map[uint32]bool) bool {
	memarg := func() {
		if r.u32()&0x40 != 0 { // multi-memory: a memory index follows the alignment
			r.u32()
		}
		r.leb()
	}
	op := r.byte()
	switch {
	case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b, op >= 0x45 && op <= 0xc4, op == 0xd1:
	case op >= 0x02 && op <= 0x04: // block type: empty, a value type, or a type index (s33)
		r.leb()
	case op == 0x0c, op == 0x0d, op == 0x10, op == 0x12, op >= 0x20 && op <= 0x25, op == 0xd2:
		r.u32()
	case op == 0x26: // table.set
		changed[r.u32()] = true
	case op == 0x0e:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11, op == 0x13:
		r.u32()
		r.u32()
	case op == 0x1c:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.byte()
		}
	case op >= 0x28 && op <= 0x3e:
		memarg()
	case op == 0x3f, op == 0x40, op == 0xd0:
		r.byte()
	case op == 0x41, op == 0x42:
		r.leb()
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op == 0xfc:
		switch sub := r.u32(); {
		case sub <= 7:
		case sub == 8, sub == 10: // memory.init, memory.copy
			r.u32()
			r.u32()
		case sub == 9, sub == 11, sub == 13, sub == 16: // data.drop, memory.fill, elem.drop, table.size
			r.u32()
		case sub == 12: // table.init elem table
			r.u32()
			changed[r.u32()] = true
		case sub == 14: // table.copy dst src
			changed[r.u32()] = true
			r.u32()
		case sub == 15, sub == 17: // table.grow, table.fill
			changed[r.u32()] = true
		default:
			return false
		}
	case op == 0xfd:
		switch sub := r.u32(); {
		case sub <= 11, sub == 92, sub == 93:
			memarg()
		case sub == 12, sub == 13:
			r.skip(16)
		case sub >= 21 && sub <= 34:
			r.byte()
		case sub >= 84 && sub <= 91:
			memarg()
			r.byte()
		}
	case op == 0xfe:
		if r.u32() == 3 {
			r.byte()
		} else {
			memarg()
		}
	default:
		return false
	}
	return r.err == nil
}
