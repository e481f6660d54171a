package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// The call depth of a user's WebAssembly module is bounded by rewriting its binary before
// it compiles: wazero grows a module's native call stack in host memory, outside the
// sandbox's memory limit, up to 400 MB before it traps (RATIONALE §61). The rewrite adds a
// mutable i32 global, the depth counter, that every function defined by the module raises
// by its cost at entry (trapping past wasmDepthBudget) and lowers again on the way out, at
// each return and at the end of its body (wrapped in a block, so that a branch to the
// function's label passes there too). The counter is exported under a reserved name, for
// the host to put it back after a call that trapped (wasmDepthCall).

// wasmDepthExport names the exported depth counter; the prefix is the one reserved for the
// engine's own exports (the snapshot code exports globals under it too).
const wasmDepthExport = "\x00isobox:depth"

// wasmDepthBudget is the counter's limit, in bytes of native stack as wasmFrameCost
// estimates them: 8 MiB, tens of thousands of calls of typical functions (RATIONALE §61).
const wasmDepthBudget = 8 << 20

// wasmFrameCost is the estimated native stack, in bytes, a call to a function takes that has
// n parameters and locals and an operand stack at most h values high: wazero's frame when
// every value is live across a call (measured in RATIONALE §61).
func wasmFrameCost(n, h uint64) uint64 {
	c := 96 + 40*n + 32*h
	if c > wasmDepthBudget/8 { // a huge frame still allows a few calls
		c = wasmDepthBudget / 8
	}
	return c
}

// errWasmDepth is the trap a call past the depth budget ends with; its message says
// "stack overflow", the words the WebAssembly API and workers map to their stack overflow
// errors, as for wazero's own.
var errWasmDepth = errors.New("wasm error: stack overflow (calls nested past isobox's limit of 8 MiB of native stack)")

// wasmDepthCall calls fn (a function of mod, or one calling into mod) and, when the call
// fails, puts mod's depth counter back to where it was (a trap skips the decrements) and
// reports a trap of the depth limit as a stack overflow. A counter found past the budget
// was left so by a trap in mod reached from another instance, not through here: it starts
// again from 0.
func wasmDepthCall(ctx context.Context, mod api.Module, fn api.Function, args ...uint64) ([]uint64, error) {
	var g api.MutableGlobal
	var saved uint64
	if mod != nil {
		g, _ = mod.ExportedGlobal(wasmDepthExport).(api.MutableGlobal)
	}
	if g != nil {
		if saved = g.Get(); saved > wasmDepthBudget {
			saved = 0
			g.Set(0)
		}
	}
	res, err := fn.Call(ctx, args...)
	if err != nil && g != nil && !mod.IsClosed() {
		if g.Get() > wasmDepthBudget {
			err = fmt.Errorf("%w: %v", errWasmDepth, err)
		}
		g.Set(saved)
	}
	return res, err
}

// wasmLimitDepth returns bin rewritten to bound its call depth (bin itself when it defines
// no function), or an error for a binary it cannot read.
func wasmLimitDepth(bin []byte) ([]byte, error) {
	if len(bin) < 8 || !bytes.Equal(bin[:4], []byte("\x00asm")) {
		return nil, errors.New("not a WebAssembly binary")
	}
	type section struct {
		id   byte
		body []byte
	}
	var secs []section
	var types [][2][]byte            // params, results
	var funcTypes, allFuncs []uint32 // the defined functions' types; all functions' types
	var impGlobals, defGlobals uint32
	var code []byte
	hasCode := false
	r := &wasmReader{b: bin[8:]}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)) {
			return nil, errShort
		}
		body := r.b[:size]
		r.b = r.b[size:]
		secs = append(secs, section{id, body})
		s := &wasmReader{b: body}
		switch id {
		case 1:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				if s.byte() != 0x60 {
					return nil, errors.New("a type isobox does not know")
				}
				var ft [2][]byte
				for k := range ft {
					c := s.u32()
					if s.err != nil || uint64(c) > uint64(len(s.b)) {
						return nil, errShort
					}
					ft[k] = s.b[:c] // value types are one byte each in the features wazero enables
					s.b = s.b[c:]
				}
				types = append(types, ft)
			}
		case 2:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				s.name()
				s.name()
				switch s.byte() {
				case 0:
					allFuncs = append(allFuncs, s.u32())
				case 1:
					s.byte()
					depthSkipLimits(s)
				case 2:
					depthSkipLimits(s)
				case 3:
					s.byte()
					s.byte()
					impGlobals++
				default:
					return nil, errors.New("an import isobox does not know")
				}
			}
		case 3:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				funcTypes = append(funcTypes, s.u32())
				allFuncs = append(allFuncs, funcTypes[len(funcTypes)-1])
			}
		case 6:
			defGlobals = s.u32()
		case 10:
			code, hasCode = body, true
		}
		if s.err != nil {
			return nil, s.err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if !hasCode || len(funcTypes) == 0 {
		return bin, nil
	}
	g := wasmU32(impGlobals + defGlobals)

	// The block types of the wrapping blocks: a function returning several values needs a
	// type [] -> results, added when the module has none.
	var newTypes [][]byte
	nTypes := len(types) // the module's own: an index past them is an error, not an added type
	blockType := func(results []byte) []byte {
		switch len(results) {
		case 0:
			return []byte{0x40}
		case 1:
			return results
		}
		for i, ft := range types {
			if len(ft[0]) == 0 && bytes.Equal(ft[1], results) {
				return wasmS64(int64(int32(i)))
			}
		}
		types = append(types, [2][]byte{nil, results})
		t := append([]byte{0x60, 0}, wasmU32(uint32(len(results)))...)
		newTypes = append(newTypes, append(t, results...))
		return wasmS64(int64(len(types) - 1))
	}

	c := &wasmReader{b: code}
	n := c.u32()
	if c.err != nil || int(n) != len(funcTypes) {
		return nil, errors.New("the code and function sections disagree")
	}
	newCode := wasmU32(n)
	for _, ti := range funcTypes {
		if int(ti) >= nTypes {
			return nil, errors.New("a function's type index is out of range")
		}
		size := c.u32()
		if c.err != nil || uint64(size) > uint64(len(c.b)) {
			return nil, errShort
		}
		whole := c.b[:size]
		f := &wasmReader{b: whole}
		c.b = c.b[size:]
		locals := uint64(len(types[ti][0]))
		for k := f.u32(); k > 0 && f.err == nil; k-- {
			locals = min(locals+uint64(f.u32()), 1<<32)
			f.byte()
		}
		if f.err != nil {
			return nil, f.err
		}
		decl := whole[:len(whole)-len(f.b)]
		instrs := f.b
		// The first pass finds the returns and the operand stack's highest point.
		var returns []int
		height, highest := 0, 0
		type frame struct{ base, params, results int }
		var blocks []frame
		base := func() int {
			if len(blocks) == 0 {
				return 0
			}
			return blocks[len(blocks)-1].base
		}
		last := byte(0xff)
		for at := 0; len(f.b) > 0; {
			in, err := depthInstruction(f)
			if err != nil {
				return nil, err
			}
			switch in.op {
			case 0x0f, 0x12, 0x13, 0x15: // return, return_call*
				returns = append(returns, at)
			}
			if (in.op == 0x11 || in.op == 0x13) && int(in.a) >= nTypes {
				return nil, errors.New("call_indirect of a type index out of range")
			}
			switch in.op {
			case 0x02, 0x03, 0x04:
				if in.op == 0x04 {
					height = max(height-1, base())
				}
				p, r := 0, 0
				switch {
				case len(in.bt) == 1 && in.bt[0] == 0x40:
				case len(in.bt) == 1 && in.bt[0]&0x40 != 0:
					r = 1
				default:
					t := (&wasmReader{b: in.bt}).u32()
					if int(t) >= nTypes {
						return nil, errors.New("a block's type index is out of range")
					}
					p, r = len(types[t][0]), len(types[t][1])
				}
				blocks = append(blocks, frame{max(height-p, base()), p, r})
			case 0x05: // else
				if len(blocks) > 0 {
					height = base() + blocks[len(blocks)-1].params
				}
			case 0x0b:
				if len(blocks) > 0 {
					height = base() + blocks[len(blocks)-1].results
					blocks = blocks[:len(blocks)-1]
				}
			case 0x00, 0x0c, 0x0e, 0x0f, 0x12, 0x13, 0x15: // the rest of the block is unreachable
				height = base()
			default:
				pop, push := depthEffect(in, allFuncs, types)
				height = max(height-pop, base()) + push
			}
			highest = max(highest, height)
			at += in.length
			last = in.op
		}
		if last != 0x0b {
			return nil, errors.New("a function body does not end with end")
		}
		cost := wasmS64(int64(int32(wasmFrameCost(locals, uint64(highest)))))
		dec := append(append(append(append([]byte{0x23}, g...), 0x41), cost...), 0x6b, 0x24)
		dec = append(dec, g...)
		var out []byte
		out = append(out, 0x23)
		out = append(out, g...)
		out = append(out, 0x41)
		out = append(out, cost...)
		out = append(out, 0x6a, 0x24)
		out = append(out, g...)
		out = append(out, 0x23)
		out = append(out, g...)
		out = append(out, 0x41)
		out = append(out, wasmS64(int64(wasmDepthBudget))...)
		out = append(out, 0x4b, 0x04, 0x40, 0x00, 0x0b, 0x02) // i32.gt_u if unreachable end block
		out = append(out, blockType(types[ti][1])...)
		from := 0
		for _, at := range returns {
			out = append(append(out, instrs[from:at]...), dec...)
			from = at
		}
		out = append(out, instrs[from:]...)
		out = append(out, dec...)
		out = append(out, 0x0b)
		newCode = append(newCode, wasmU32(uint32(len(decl)+len(out)))...)
		newCode = append(append(newCode, decl...), out...)
	}
	if len(c.b) != 0 {
		return nil, errors.New("bytes past the code section's functions")
	}

	global := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b} // mut i32 = 0
	export := append(append(wasmU32(uint32(len(wasmDepthExport))), wasmDepthExport...), 0x03)
	export = append(export, g...)
	out := append([]byte{}, bin[:8]...)
	put := func(id byte, body []byte) {
		out = append(out, id)
		out = append(out, wasmU32(uint32(len(body)))...)
		out = append(out, body...)
	}
	// extend adds k to a vector's count and appends items after its elements.
	extend := func(body []byte, items []byte, k int) []byte {
		s := &wasmReader{b: body}
		cnt := s.u32()
		return append(append(wasmU32(cnt+uint32(k)), s.b...), items...)
	}
	order := func(id byte) int { // the position of a known section in the required order
		return bytes.IndexByte([]byte{1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11}, id)
	}
	doneGlobal, doneExport := false, false
	for _, s := range secs {
		if s.id != 0 {
			if !doneGlobal && order(s.id) > order(6) {
				put(6, extend([]byte{0}, global, 1))
				doneGlobal = true
			}
			if !doneExport && order(s.id) > order(7) {
				put(7, extend([]byte{0}, export, 1))
				doneExport = true
			}
		}
		switch s.id {
		case 1:
			var add []byte
			for _, t := range newTypes {
				add = append(add, t...)
			}
			put(1, extend(s.body, add, len(newTypes)))
		case 6:
			put(6, extend(s.body, global, 1))
			doneGlobal = true
		case 7:
			put(7, extend(s.body, export, 1))
			doneExport = true
		case 10:
			put(10, newCode)
		default:
			put(s.id, s.body)
		}
	}
	return out, nil
}

// depthSkipLimits reads a table's or a memory's limits.
func depthSkipLimits(r *wasmReader) {
	flags := r.byte()
	depthSkipLEB(r)
	if flags&1 != 0 {
		depthSkipLEB(r)
	}
}

// depthSkipLEB reads a LEB128 number of any width up to 64 bits.
func depthSkipLEB(r *wasmReader) {
	for i := 0; i < 10; i++ {
		if r.byte()&0x80 == 0 || r.err != nil {
			return
		}
	}
	r.err = errors.New("bad LEB128")
}

func depthSkipN(r *wasmReader, n int) {
	if r.err == nil && len(r.b) < n {
		r.err = errShort
	}
	if r.err == nil {
		r.b = r.b[n:]
	}
}

// depthInstr is an instruction as the depth rewrite reads it: its opcode, the sub-opcode of
// a prefixed one, its first two index immediates, and a block's type.
type depthInstr struct {
	op     byte
	sub    uint32
	a, b   uint32
	bt     []byte // the block type's bytes of block, loop and if
	length int    // its bytes
}

// depthInstruction reads one instruction, or answers an error for a truncated one or one
// outside the features wazero enables.
func depthInstruction(r *wasmReader) (depthInstr, error) {
	memarg := func() {
		if r.u32()&0x40 != 0 { // multi-memory: a memory index follows the alignment
			r.u32()
		}
		depthSkipLEB(r)
	}
	start := len(r.b)
	var in depthInstr
	op := r.byte()
	in.op = op
	switch {
	case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b, op >= 0x45 && op <= 0xc4, op == 0xd1:
	case op >= 0x02 && op <= 0x04: // block type: empty, a value type or a type index (s33)
		b := r.b
		depthSkipLEB(r)
		in.bt = b[:len(b)-len(r.b)]
	case op == 0x0c, op == 0x0d, op == 0x10, op == 0x12, op == 0x14, op == 0x15, op >= 0x20 && op <= 0x26, op == 0xd2:
		in.a = r.u32()
	case op == 0x0e:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11, op == 0x13:
		in.a = r.u32()
		in.b = r.u32()
	case op == 0x1c:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.byte()
		}
	case op >= 0x28 && op <= 0x3e:
		memarg()
	case op == 0x3f, op == 0x40:
		r.u32()
	case op == 0xd0:
		r.byte()
	case op == 0x41, op == 0x42:
		depthSkipLEB(r)
	case op == 0x43:
		depthSkipN(r, 4)
	case op == 0x44:
		depthSkipN(r, 8)
	case op == 0xfc:
		switch in.sub = r.u32(); {
		case in.sub <= 7:
		case in.sub == 8, in.sub == 10, in.sub == 12, in.sub == 14:
			r.u32()
			r.u32()
		case in.sub == 9, in.sub == 11, in.sub == 13, in.sub == 15, in.sub == 16, in.sub == 17:
			r.u32()
		default:
			return in, fmt.Errorf("an instruction isobox does not know (0xfc %d)", in.sub)
		}
	case op == 0xfd:
		switch in.sub = r.u32(); {
		case in.sub <= 11, in.sub == 92, in.sub == 93:
			memarg()
		case in.sub == 12, in.sub == 13:
			depthSkipN(r, 16)
		case in.sub >= 21 && in.sub <= 34:
			r.byte()
		case in.sub >= 84 && in.sub <= 91:
			memarg()
			r.byte()
		}
	case op == 0xfe:
		if in.sub = r.u32(); in.sub == 3 {
			r.byte()
		} else {
			memarg()
		}
	default:
		return in, fmt.Errorf("an instruction isobox does not know (0x%02x)", op)
	}
	in.length = start - len(r.b)
	return in, r.err
}

// depthEffect is an instruction's effect on the operand stack, values popped and pushed,
// or exact or erring towards a higher stack: pops are never over-counted, pushes never
// under-counted. funcs and types give calls' signatures (nil for an index out of range:
// the module does not validate).
func depthEffect(in depthInstr, funcs []uint32, types [][2][]byte) (pop, push int) {
	sig := func(t uint32) (int, int) {
		if int(t) < len(types) {
			return len(types[t][0]), len(types[t][1])
		}
		return 0, 0
	}
	switch op := in.op; {
	case op == 0x0d, op == 0x1a, op == 0x21, op == 0x24: // br_if, drop, local.set, global.set
		return 1, 0
	case op == 0x10:
		if int(in.a) < len(funcs) {
			return sig(funcs[in.a])
		}
	case op == 0x11:
		p, r := sig(in.a)
		return p + 1, r
	case op == 0x1b, op == 0x1c: // select
		return 3, 1
	case op == 0x20, op == 0x23, op == 0x3f, op >= 0x41 && op <= 0x44, op == 0xd0, op == 0xd2:
		return 0, 1
	case op == 0x22, op == 0x25, op >= 0x28 && op <= 0x35, op == 0x40, op == 0x45, op == 0x50,
		op >= 0x67 && op <= 0x69, op >= 0x79 && op <= 0x7b, op >= 0x8b && op <= 0x91,
		op >= 0x99 && op <= 0x9f, op >= 0xa7 && op <= 0xc4, op == 0xd1:
		return 1, 1
	case op == 0x26, op >= 0x36 && op <= 0x3e: // table.set, stores
		return 2, 0
	case op >= 0x46 && op <= 0x4f, op >= 0x51 && op <= 0x66, op >= 0x6a && op <= 0x78,
		op >= 0x7c && op <= 0x8a, op >= 0x92 && op <= 0x98, op >= 0xa0 && op <= 0xa6:
		return 2, 1
	case op == 0xfc:
		switch in.sub {
		case 8, 10, 11, 12, 14, 17:
			return 3, 0
		case 15:
			return 2, 1
		case 16:
			return 0, 1
		case 9, 13:
			return 0, 0
		}
		return 1, 1
	case op == 0xfd, op == 0xfe:
		// Every SIMD instruction but v128.const, and every atomic one but atomic.fence,
		// pops at least one value and pushes at most one.
		switch {
		case op == 0xfd && in.sub == 12:
			return 0, 1
		case op == 0xfe && in.sub == 3:
			return 0, 0
		}
		return 1, 1
	case op == 0x01:
		return 0, 0
	}
	return 0, 1 // the rest counted as pushing a value
}
