package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Tables from JavaScript (Table.prototype.length/get/set/grow). wazero's API has no tables,
// so a table is reached through an "accessor": a small module, made on first use, that
// imports the table (wazero links tables by reference) and exports size, grow, get and set
// built from the table instructions. An externref table's elements are the runtime's
// handles of JavaScript values (47_wasm.js); a funcref table's elements are wazero's
// function references, which cross to JavaScript as function handles (wasmjs_funcref.go).
// The table is an instance's exported table, or a table "cell": a WebAssembly.Table made in
// JavaScript moves into a module of its own when an instance first imports it, so that
// JavaScript and every instance importing it share one table.

// wasmTableAccess is the accessor of one table.
type wasmTableAccess struct {
	mod       api.Module
	externref bool
	size      api.Function
	grow      api.Function // (n, ref) -> previous size or -1
	get       api.Function // (index) -> ref: externref a handle, funcref wazero's reference
	set       api.Function // (index, ref)
}

// tableAccessorWasm is the accessor module of table name (imported from module "t") of
// element type rt (0x6f externref, 0x70 funcref).
func tableAccessorWasm(name string, rt byte) []byte {
	fn := func(params, results []byte) []byte {
		return append(append([]byte{0x60}, wasmVec(valTypeBytes(toValueTypes(params))...)...), wasmVec(valTypeBytes(toValueTypes(results))...)...)
	}
	body := func(code ...byte) []byte {
		b := append(wasmVec(), append(code, 0x0b)...)
		return append(wasmU32(uint32(len(b))), b...)
	}
	types := wasmVec(fn(nil, []byte{0x7f}), fn([]byte{rt, 0x7f}, []byte{0x7f}), fn([]byte{0x7f}, []byte{rt}), fn([]byte{0x7f, rt}, nil))
	code := wasmVec(
		body(0xfc, 16, 0),                   // size: table.size
		body(0x20, 0, 0x20, 1, 0xfc, 15, 0), // grow(init, n): table.grow
		body(0x20, 0, 0x25, 0),              // get(i): table.get
		body(0x20, 0, 0x20, 1, 0x26, 0),     // set(i, v): table.set
	)
	imports := wasmVec(slices.Concat(wasmStr("t"), wasmStr(name), []byte{1, rt, 0}, wasmU32(0)))
	funcs := wasmVec([]byte{0}, []byte{1}, []byte{2}, []byte{3})
	exports := wasmVec(slices.Concat(wasmStr("size"), []byte{0, 0}), slices.Concat(wasmStr("grow"), []byte{0, 1}),
		slices.Concat(wasmStr("get"), []byte{0, 2}), slices.Concat(wasmStr("set"), []byte{0, 3}))
	return wasmBinary([]byte{1}, types, []byte{2}, imports, []byte{3}, funcs, []byte{7}, exports, []byte{10}, code)
}

func toValueTypes(b []byte) []api.ValueType { return b }

// newTableAccess instantiates the accessor of owner's exported table name; rt 0 tries both
// element types.
func (sb *Sandbox) newTableAccess(owner api.Module, name string, rt byte) (*wasmTableAccess, error) {
	ctx := context.Background()
	var lastErr error
	for _, t := range []byte{0x6f, 0x70} {
		if rt != 0 && t != rt {
			continue
		}
		cm, err := sb.e.wasm.rt.CompileModule(ctx, tableAccessorWasm(name, t))
		if err != nil {
			return nil, typeError("WebAssembly.Table: %v", err)
		}
		lctx := experimental.WithImportResolver(ctx, func(string) api.Module { return owner })
		mod, err := sb.e.wasm.rt.InstantiateModule(lctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		cm.Close(ctx)
		if err != nil {
			lastErr = err // the other element type
			continue
		}
		return &wasmTableAccess{mod: mod, externref: t == 0x6f, size: mod.ExportedFunction("size"), grow: mod.ExportedFunction("grow"),
			get: mod.ExportedFunction("get"), set: mod.ExportedFunction("set")}, nil
	}
	return nil, typeError("WebAssembly.Table: the table %q cannot be reached: %v", name, lastErr)
}

// tableAccess returns the accessor of inst's exported table name, made on first use.
func (sb *Sandbox) tableAccess(inst *jsWasmInstance, name string) (*wasmTableAccess, error) {
	if a := inst.tables[name]; a != nil {
		return a, nil
	}
	a, err := sb.newTableAccess(inst.mod, name, 0)
	if err != nil {
		return nil, err
	}
	if inst.tables == nil {
		inst.tables = map[string]*wasmTableAccess{}
	}
	inst.tables[name] = a
	return a, nil
}

// wasmTableCell is a WebAssembly.Table made in JavaScript that an instance imported: a
// module defining it (exported as "t") and its accessor.
type wasmTableCell struct {
	mod api.Module
	acc *wasmTableAccess
}

// maxWasmJSTableCells bounds the table cells one sandbox holds at once.
const maxWasmJSTableCells = 256

// opWasmTableCell moves a WebAssembly.Table made in JavaScript into the host: a cell with
// its element type, size, maximum and elements (externref handles or function handles).
func (sb *Sandbox) opWasmTableCell(in []byte) ([]byte, error) {
	var a struct {
		Element  string
		Maximum  *uint32
		Elements []string
	}
	if err := decode("wasm_table_cell", in, &a); err != nil {
		return nil, err
	}
	w := sb.wasmJSState()
	if len(w.tcells) >= maxWasmJSTableCells {
		return nil, wasmError("RangeError", "too many imported WebAssembly.Table objects: a sandbox holds at most %d at once", maxWasmJSTableCells)
	}
	rt := byte(0x70)
	if a.Element == "r" {
		rt = 0x6f
	}
	n := uint64(len(a.Elements))
	max := uint64(maxWasmTableElements)
	if a.Maximum != nil {
		max = min(max, uint64(*a.Maximum))
	}
	if n > max {
		return nil, wasmError("RangeError", "WebAssembly.Table: a table imported by an instance holds at most %d elements in isobox (tables live outside the memory limit)", max)
	}
	vals := make([]uint64, n)
	for i, e := range a.Elements {
		v, err := strconv.ParseUint(e, 10, 64)
		if err != nil {
			return nil, typeError("wasm_table_cell: bad element")
		}
		if rt == 0x70 {
			if v, err = w.funcRaw(v); err != nil {
				return nil, err
			}
		}
		vals[i] = v
	}
	ctx := context.Background()
	bin := wasmBinary([]byte{4}, wasmVec(slices.Concat([]byte{rt, 1}, wasmU32(uint32(n)), wasmU32(uint32(max)))),
		[]byte{7}, wasmVec(slices.Concat(wasmStr("t"), []byte{1, 0})))
	cm, err := sb.e.wasm.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("compiling a table cell: %w", err)
	}
	mod, err := sb.e.wasm.rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	cm.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("instantiating a table cell: %w", err)
	}
	acc, err := sb.newTableAccess(mod, "t", rt)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	for i, v := range vals {
		if v != 0 {
			if _, err := acc.set.Call(ctx, uint64(i), v); err != nil {
				_ = acc.mod.Close(ctx)
				_ = mod.Close(ctx)
				return nil, fmt.Errorf("filling a table cell: %w", err)
			}
		}
	}
	if w.tcells == nil {
		w.tcells = map[int]*wasmTableCell{}
	}
	w.next++
	w.tcells[w.next] = &wasmTableCell{mod: mod, acc: acc}
	return []byte(strconv.Itoa(w.next)), nil
}

// opWasmTable runs one operation on a table; the answer is r (externref) or f (funcref),
// then a decimal number: the size, grow's previous size, get's element (an externref's
// handle, a function's handle, 0 for null).
func (sb *Sandbox) opWasmTable(in []byte) ([]byte, error) {
	var a struct {
		Instance uint32
		Cell     int
		Name     string
		Op       string
		Index    uint32
		Delta    uint32
		Ref      string // set/grow: the value's handle (0 or missing: null)
	}
	if err := decode("wasm_table", in, &a); err != nil {
		return nil, err
	}
	w := sb.wasmJSState()
	var t *wasmTableAccess
	var src *jsWasmInstance
	if a.Cell != 0 {
		c := w.tcells[a.Cell]
		if c == nil {
			return nil, typeError("not a WebAssembly.Table of this sandbox")
		}
		t = c.acc
	} else {
		inst, err := sb.instance(a.Instance)
		if err != nil {
			return nil, err
		}
		if t, err = sb.tableAccess(inst, a.Name); err != nil {
			return nil, err
		}
		src = inst
	}
	ref := uint64(0)
	if a.Ref != "" {
		var err error
		if ref, err = strconv.ParseUint(a.Ref, 10, 64); err != nil {
			return nil, typeError("wasm_table: %v", err)
		}
		if !t.externref {
			if ref, err = w.funcRaw(ref); err != nil {
				return nil, err
			}
		}
	}
	ctx := context.Background()
	var res []uint64
	var err error
	switch a.Op {
	case "size":
		res, err = t.size.Call(ctx)
	case "grow":
		res, err = t.grow.Call(ctx, ref, uint64(a.Delta))
		if err == nil && int32(res[0]) == -1 {
			return nil, wasmError("RangeError", "WebAssembly.Table.grow(): growing by %d elements is past the table's maximum", a.Delta)
		}
	case "get":
		res, err = t.get.Call(ctx, uint64(a.Index))
	case "set":
		_, err = t.set.Call(ctx, uint64(a.Index), ref)
		res = []uint64{0}
	default:
		return nil, typeError("wasm_table: unknown operation %q", a.Op)
	}
	if err != nil {
		return nil, wasmError("RangeError", "WebAssembly.Table.%s(): %s", a.Op, trapMessage(err))
	}
	v := res[0]
	switch {
	case a.Op == "size" || a.Op == "grow":
		v = uint64(uint32(v))
	case a.Op == "get" && !t.externref:
		h, err := sb.funcHandle(v, src)
		if err != nil {
			return nil, err
		}
		v = uint64(h)
	}
	out := []byte{'f'}
	if t.externref {
		out[0] = 'r'
	}
	return strconv.AppendUint(out, v, 10), nil
}

// Calling a function reference from JavaScript (opWasmFuncCall, wasmjs_funcref.go): wazero
// cannot say a reference's type, but call_indirect checks it before the function runs: so
// a caller module per function type stores the reference in its table and runs
// call_indirect of that type, and a call tries the owner module's types whose parameters
// the arguments fit, in order, until one is not a type mismatch (a mismatch runs nothing).
// The type found is kept per function and tried first next time.

// wasmFuncType is a function type of a module's type section.
type wasmFuncType struct {
	params, results []api.ValueType
}

// maxWasmTableTypes bounds the function types an accessor has trampolines for.
const maxWasmTableTypes = 1024

// wasmFuncTypes reads a module's function types, nil when it has types other than plain
// function types of number and reference values (GC types), or too many.
func wasmFuncTypes(b []byte) []wasmFuncType {
	if len(b) < 8 {
		return nil
	}
	r := &wasmReader{b: b[8:]}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)) {
			return nil
		}
		sec := &wasmReader{b: r.b[:size]}
		r.b = r.b[size:]
		if id != 1 {
			continue
		}
		n := sec.u32()
		if n > maxWasmTableTypes {
			return nil
		}
		var out []wasmFuncType
		for ; n > 0 && sec.err == nil; n-- {
			if sec.byte() != 0x60 {
				return nil
			}
			var ft wasmFuncType
			for _, dst := range []*[]api.ValueType{&ft.params, &ft.results} {
				for m := sec.u32(); m > 0 && sec.err == nil; m-- {
					t := sec.byte()
					if wasmTypeLetters[t] == 0 {
						return nil
					}
					*dst = append(*dst, t)
				}
			}
			out = append(out, ft)
		}
		if sec.err != nil {
			return nil
		}
		return out
	}
	return nil
}

// uniqueFuncTypes drops repeated signatures (call_indirect compares types structurally).
func uniqueFuncTypes(ts []wasmFuncType) []wasmFuncType {
	seen := map[string]bool{}
	var out []wasmFuncType
	for _, t := range ts {
		k := string(t.params) + "/" + string(t.results)
		if !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	return out
}

// wasmTableArg is an argument of a call through a function reference, as JavaScript has it: a Number's
// float64 bits or a BigInt's int64 (ToWebAssemblyValue happens here, once the type is known).
type wasmTableArg struct {
	N *string `json:"n"`
	B *string `json:"b"`
}

// toWasmValue converts a JavaScript argument to type t's bits; false when it cannot (a
// BigInt for a number type, a Number for i64, or a reference or vector type).
func (a wasmTableArg) toWasmValue(t api.ValueType) (uint64, bool) {
	switch {
	case a.B != nil && t == api.ValueTypeI64:
		v, err := strconv.ParseInt(*a.B, 10, 64)
		return uint64(v), err == nil
	case a.N == nil || t == api.ValueTypeI64:
		return 0, false
	}
	bits, err := strconv.ParseUint(*a.N, 10, 64)
	if err != nil {
		return 0, false
	}
	f := math.Float64frombits(bits)
	switch t {
	case api.ValueTypeI32:
		return uint64(uint32(jsToInt32(f))), true
	case api.ValueTypeF32:
		return uint64(math.Float32bits(float32(f))), true
	case api.ValueTypeF64:
		return bits, true
	}
	return 0, false
}

// undefinedBits is ToNumber(undefined)'s bits: NaN.
var undefinedBits = strconv.FormatUint(0x7ff8000000000000, 10)

// jsToInt32 is JavaScript's ToInt32 of a Number.
func jsToInt32(f float64) int32 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return int32(uint32(int64(math.Mod(math.Trunc(f), 1<<32))))
}
