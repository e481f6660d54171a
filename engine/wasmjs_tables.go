package engine

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Exported tables from JavaScript (Table.prototype.length/get/set/grow). wazero's API has
// no tables, so an instance's exported table is reached through an "accessor": a small
// module, made on first use, that imports the table (wazero links tables by reference) and
// exports size, grow, get and set built from the table instructions. An externref table's
// elements are the runtime's handles of JavaScript values (47_wasm.js); a funcref table's
// elements are read as null or not and called through trampolines (below), and stored by
// setter modules (funcSetter) for the instance's own exported functions. Functions of other
// instances are not stored: the instance that owns one may be closed, and its code
// released, while the table still holds it.

// wasmTableAccess is the accessor of one exported table.
type wasmTableAccess struct {
	mod       api.Module
	externref bool
	size      api.Function
	grow      api.Function
	get       api.Function          // externref: the element; funcref: 1 if null
	set       api.Function          // externref: (index, ref); funcref: (index) to null
	types     []wasmFuncType        // funcref: the trampolines' types ("c<k>")
	known     map[uint32]int        // funcref: the type found at an index by the last call
	copy      api.Function          // funcref: (src, dst) copies an element
	setters   map[string]api.Module // funcref: modules storing the instance's exported functions, by name (funcSetter)
}

// tableAccessorWasm is the accessor module of an exported table name of element type rt
// (0x6f externref, 0x70 funcref).
func tableAccessorWasm(name string, rt byte) []byte {
	fn := func(params, results []byte) []byte {
		return append(append([]byte{0x60}, wasmVec(valTypeBytes(toValueTypes(params))...)...), wasmVec(valTypeBytes(toValueTypes(results))...)...)
	}
	body := func(code ...byte) []byte {
		b := append(wasmVec(), append(code, 0x0b)...)
		return append(wasmU32(uint32(len(b))), b...)
	}
	var types, code []byte
	if rt == 0x6f {
		types = wasmVec(fn(nil, []byte{0x7f}), fn([]byte{0x6f, 0x7f}, []byte{0x7f}), fn([]byte{0x7f}, []byte{0x6f}), fn([]byte{0x7f, 0x6f}, nil))
		code = wasmVec(
			body(0xfc, 16, 0),                   // size: table.size
			body(0x20, 0, 0x20, 1, 0xfc, 15, 0), // grow(init, n): table.grow
			body(0x20, 0, 0x25, 0),              // get(i): table.get
			body(0x20, 0, 0x20, 1, 0x26, 0),     // set(i, v): table.set
		)
	} else {
		types = wasmVec(fn(nil, []byte{0x7f}), fn([]byte{0x7f}, []byte{0x7f}), fn([]byte{0x7f}, []byte{0x7f}), fn([]byte{0x7f}, nil))
		code = wasmVec(
			body(0xfc, 16, 0),                      // size
			body(0xd0, 0x70, 0x20, 0, 0xfc, 15, 0), // grow(n) with null
			body(0x20, 0, 0x25, 0, 0xd1),           // isnull(i)
			body(0x20, 0, 0xd0, 0x70, 0x26, 0),     // setnull(i)
		)
	}
	imports := wasmVec(slices.Concat(wasmStr("t"), wasmStr(name), []byte{1, rt, 0}, wasmU32(0)))
	funcs := wasmVec([]byte{0}, []byte{1}, []byte{2}, []byte{3})
	exports := wasmVec(slices.Concat(wasmStr("size"), []byte{0, 0}), slices.Concat(wasmStr("grow"), []byte{0, 1}),
		slices.Concat(wasmStr("get"), []byte{0, 2}), slices.Concat(wasmStr("set"), []byte{0, 3}))
	return wasmBinary([]byte{1}, types, []byte{2}, imports, []byte{3}, funcs, []byte{7}, exports, []byte{10}, code)
}

func toValueTypes(b []byte) []api.ValueType { return b }

// tableAccess returns the accessor of inst's exported table name, made on first use.
func (sb *Sandbox) tableAccess(inst *jsWasmInstance, name string) (*wasmTableAccess, error) {
	if a := inst.tables[name]; a != nil {
		return a, nil
	}
	ctx := context.Background()
	var lastErr error
	for _, rt := range []byte{0x6f, 0x70} {
		bin := tableAccessorWasm(name, rt)
		if rt == 0x70 {
			bin = funcrefAccessorWasm(name, inst.types)
		}
		cm, err := sb.e.wasm.rt.CompileModule(ctx, bin)
		if err != nil {
			return nil, typeError("WebAssembly.Table: %v", err)
		}
		lctx := experimental.WithImportResolver(ctx, func(string) api.Module { return inst.mod })
		mod, err := sb.e.wasm.rt.InstantiateModule(lctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		cm.Close(ctx)
		if err != nil {
			lastErr = err // the other element type
			continue
		}
		a := &wasmTableAccess{mod: mod, externref: rt == 0x6f, size: mod.ExportedFunction("size"), grow: mod.ExportedFunction("grow"),
			get: mod.ExportedFunction("get"), set: mod.ExportedFunction("set"), types: inst.types, copy: mod.ExportedFunction("copy")}
		if inst.tables == nil {
			inst.tables = map[string]*wasmTableAccess{}
		}
		inst.tables[name] = a
		return a, nil
	}
	return nil, typeError("WebAssembly.Table: the instance's table %q cannot be reached: %v", name, lastErr)
}

// opWasmTable runs one operation on an exported table; the answer is a decimal number
// (size, grow's previous size or -1, get's bits; funcref get: 1 if the element is null).
func (sb *Sandbox) opWasmTable(in []byte) ([]byte, error) {
	var a struct {
		Instance uint32
		Name     string
		Op       string
		Index    uint32
		Delta    uint32
		Ref      string
		Fn       string  // funcref set/grow: the instance's exported function to store
		From     *uint32 // funcref set: copy the element at this index
	}
	if err := decode("wasm_table", in, &a); err != nil {
		return nil, err
	}
	inst, err := sb.instance(a.Instance)
	if err != nil {
		return nil, err
	}
	t, err := sb.tableAccess(inst, a.Name)
	if err != nil {
		return nil, err
	}
	ref := uint64(0)
	if a.Ref != "" {
		if !t.externref {
			return nil, typeError("WebAssembly.Table: storing a function in a table from JavaScript is not implemented in isobox yet (only null)")
		}
		if ref, err = strconv.ParseUint(a.Ref, 10, 64); err != nil {
			return nil, typeError("wasm_table: %v", err)
		}
	}
	ctx := context.Background()
	if !t.externref && (a.Fn != "" || a.From != nil) {
		return sb.tableStoreFunc(inst, t, a.Name, a.Op, a.Index, a.Delta, a.Fn, a.From)
	}
	var res []uint64
	switch a.Op {
	case "size":
		res, err = t.size.Call(ctx)
	case "grow":
		if t.externref {
			res, err = t.grow.Call(ctx, ref, uint64(a.Delta))
		} else {
			res, err = t.grow.Call(ctx, uint64(a.Delta))
		}
		if err == nil && int32(res[0]) == -1 {
			return nil, wasmError("RangeError", "WebAssembly.Table.grow(): growing by %d elements is past the table's maximum", a.Delta)
		}
	case "get":
		res, err = t.get.Call(ctx, uint64(a.Index))
	case "set":
		if t.externref {
			_, err = t.set.Call(ctx, uint64(a.Index), ref)
		} else {
			_, err = t.set.Call(ctx, uint64(a.Index))
		}
		res = []uint64{0}
	default:
		return nil, typeError("wasm_table: unknown operation %q", a.Op)
	}
	if err != nil {
		return nil, wasmError("RangeError", "WebAssembly.Table.%s(): %s", a.Op, trapMessage(err))
	}
	v := res[0]
	if a.Op == "size" || a.Op == "grow" || (a.Op == "get" && !t.externref) {
		v = uint64(uint32(v))
	}
	out := []byte{'f'}
	if t.externref {
		out[0] = 'r'
	}
	return strconv.AppendUint(out, v, 10), nil
}

// Calling a function taken from a funcref table (Table.prototype.get's function). wazero
// cannot say the type of a table element, but call_indirect checks it before the function
// runs: so the accessor has a trampoline per function type of the module (call_indirect
// of that type), and a call tries the types whose parameters the arguments fit, in order,
// until one is not a type mismatch (a mismatch runs nothing). The type found is kept per
// index, and tried first next time (a stale one just mismatches).

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

// funcrefAccessorWasm is tableAccessorWasm for a funcref table, with a trampoline "c<k>"
// per type k: (its params..., index) -> its results, a call_indirect of type k.
func funcrefAccessorWasm(name string, types []wasmFuncType) []byte {
	fn := func(params, results []api.ValueType) []byte {
		return append(append([]byte{0x60}, wasmVec(valTypeBytes(params)...)...), wasmVec(valTypeBytes(results)...)...)
	}
	body := func(code ...byte) []byte {
		b := append(wasmVec(), append(code, 0x0b)...)
		return append(wasmU32(uint32(len(b))), b...)
	}
	i32 := []api.ValueType{0x7f}
	i32x2 := []api.ValueType{0x7f, 0x7f}
	ts := [][]byte{fn(nil, i32), fn(i32, i32), fn(i32, i32), fn(i32, nil), fn(i32x2, nil)}
	codes := [][]byte{
		body(0xfc, 16, 0),                        // size
		body(0xd0, 0x70, 0x20, 0, 0xfc, 15, 0),   // grow(n) with null
		body(0x20, 0, 0x25, 0, 0xd1),             // isnull(i)
		body(0x20, 0, 0xd0, 0x70, 0x26, 0),       // setnull(i)
		body(0x20, 1, 0x20, 0, 0x25, 0, 0x26, 0), // copy(src, dst)
	}
	funcs := [][]byte{{0}, {1}, {2}, {3}, {4}}
	exports := [][]byte{slices.Concat(wasmStr("size"), []byte{0, 0}), slices.Concat(wasmStr("grow"), []byte{0, 1}),
		slices.Concat(wasmStr("get"), []byte{0, 2}), slices.Concat(wasmStr("set"), []byte{0, 3}), slices.Concat(wasmStr("copy"), []byte{0, 4})}
	base, k := uint32(len(ts)), uint32(len(types))
	for _, t := range types {
		ts = append(ts, fn(t.params, t.results))
	}
	for i, t := range types {
		ts = append(ts, fn(append(slices.Clone(t.params), 0x7f), t.results))
		var c []byte
		for p := range t.params {
			c = append(append(c, 0x20), wasmU32(uint32(p))...)
		}
		c = append(append(c, 0x20), wasmU32(uint32(len(t.params)))...)
		c = append(append(append(c, 0x11), wasmU32(base+uint32(i))...), 0)
		codes = append(codes, body(c...))
		funcs = append(funcs, wasmU32(base+k+uint32(i)))
		exports = append(exports, slices.Concat(wasmStr("c"+strconv.Itoa(i)), []byte{0}, wasmU32(base+uint32(i))))
	}
	imports := wasmVec(slices.Concat(wasmStr("t"), wasmStr(name), []byte{1, 0x70, 0}, wasmU32(0)))
	return wasmBinary([]byte{1}, wasmVec(ts...), []byte{2}, imports, []byte{3}, wasmVec(funcs...), []byte{7}, wasmVec(exports...), []byte{10}, wasmVec(codes...))
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

// wasmTableArg is an argument of a call through a table, as JavaScript has it: a Number's
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

// opWasmTableCall calls the function at index of an exported funcref table.
func (sb *Sandbox) opWasmTableCall(in []byte) ([]byte, error) {
	var a struct {
		Instance uint32
		Name     string
		Index    uint32
		Args     []wasmTableArg
	}
	if err := decode("wasm_table_call", in, &a); err != nil {
		return nil, err
	}
	inst, err := sb.instance(a.Instance)
	if err != nil {
		return nil, err
	}
	t, err := sb.tableAccess(inst, a.Name)
	if err != nil {
		return nil, err
	}
	if t.externref {
		return nil, typeError("WebAssembly.Table: an externref table holds no functions")
	}
	order := make([]int, 0, len(t.types))
	if k, ok := t.known[a.Index]; ok {
		order = append(order, k)
	}
	for k := range t.types {
		if len(order) == 0 || k != order[0] {
			order = append(order, k)
		}
	}
	for _, k := range order {
		ft := t.types[k]
		args := make([]uint64, 0, len(ft.params)+1)
		for i, p := range ft.params {
			arg := wasmTableArg{N: &undefinedBits} // a missing argument is undefined; extra ones are dropped
			if i < len(a.Args) {
				arg = a.Args[i]
			}
			v, ok := arg.toWasmValue(p)
			if !ok {
				break
			}
			args = append(args, v)
		}
		if len(args) != len(ft.params) {
			continue
		}
		args = append(args, uint64(a.Index))
		fn := t.mod.ExportedFunction("c" + strconv.Itoa(k)) // its own call engine: calls may nest
		var res []uint64
		mismatch := false
		err := sb.wasmGuard("a call through a table", inst.mem, func(ctx context.Context) error {
			var err error
			res, err = fn.Call(ctx, args...)
			if err != nil && strings.Contains(err.Error(), "indirect call type mismatch") {
				mismatch = true
				return nil
			}
			return err
		})
		if inst.mod.IsClosed() {
			inst.dead = typeError("the WebAssembly instance was stopped by a limit")
		}
		if mismatch {
			continue
		}
		if err != nil {
			return nil, err
		}
		if t.known == nil {
			t.known = map[uint32]int{}
		}
		if len(t.known) < maxWasmTableTypes {
			t.known[a.Index] = k
		}
		out := []byte(typeLetters(ft.results))
		for _, r := range res {
			out = strconv.AppendUint(append(out, ','), r, 10)
		}
		return out, nil
	}
	return nil, typeError("WebAssembly.Table: the function at index %d cannot take these %d arguments (a BigInt for i64, a Number for the other number types), or takes or answers values that cannot cross to or from JavaScript", a.Index, len(a.Args))
}

// funcSetterWasm is a module that stores the instance's exported function fn (of type ft)
// into its funcref table name: set(i) and grow(n), filling with it.
func funcSetterWasm(table, fn string, ft api.FunctionDefinition) []byte {
	sig := func(params, results []api.ValueType) []byte {
		return append(append([]byte{0x60}, wasmVec(valTypeBytes(params)...)...), wasmVec(valTypeBytes(results)...)...)
	}
	body := func(code ...byte) []byte {
		b := append(wasmVec(), append(code, 0x0b)...)
		return append(wasmU32(uint32(len(b))), b...)
	}
	i32 := []api.ValueType{0x7f}
	types := wasmVec(sig(ft.ParamTypes(), ft.ResultTypes()), sig(i32, nil), sig(i32, i32))
	imports := wasmVec(slices.Concat(wasmStr("t"), wasmStr(table), []byte{1, 0x70, 0}, wasmU32(0)),
		slices.Concat(wasmStr("t"), wasmStr(fn), []byte{0, 0}))
	funcs := wasmVec([]byte{1}, []byte{2})
	exports := wasmVec(slices.Concat(wasmStr("set"), []byte{0, 1}), slices.Concat(wasmStr("grow"), []byte{0, 2}))
	elems := wasmVec([]byte{3, 0, 1, 0}) // declarative: ref.func 0 is allowed
	code := wasmVec(body(0x20, 0, 0xd2, 0, 0x26, 0), body(0xd2, 0, 0x20, 0, 0xfc, 15, 0))
	return wasmBinary([]byte{1}, types, []byte{2}, imports, []byte{3}, funcs, []byte{7}, exports, []byte{9}, elems, []byte{10}, code)
}

// maxWasmTableSetters bounds the setter modules kept per table (one per exported function
// stored into it from JavaScript); past it, a setter is made and closed per store.
const maxWasmTableSetters = 64

// funcSetter returns the setter of t for the instance's exported function fn.
func (sb *Sandbox) funcSetter(inst *jsWasmInstance, t *wasmTableAccess, table, fn string) (api.Module, bool, error) {
	if m := t.setters[fn]; m != nil {
		return m, true, nil
	}
	def := inst.mod.ExportedFunctionDefinitions()[fn]
	if def == nil {
		return nil, false, typeError("WebAssembly.Table: the instance exports no function %q", fn)
	}
	ctx := context.Background()
	cm, err := sb.e.wasm.rt.CompileModule(ctx, funcSetterWasm(table, fn, def))
	if err != nil {
		return nil, false, typeError("WebAssembly.Table: %v", err)
	}
	lctx := experimental.WithImportResolver(ctx, func(string) api.Module { return inst.mod })
	mod, err := sb.e.wasm.rt.InstantiateModule(lctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	cm.Close(ctx)
	if err != nil {
		return nil, false, typeError("WebAssembly.Table: %v", err)
	}
	if len(t.setters) >= maxWasmTableSetters {
		return mod, false, nil
	}
	if t.setters == nil {
		t.setters = map[string]api.Module{}
	}
	t.setters[fn] = mod
	return mod, true, nil
}

// tableStoreFunc is set and grow of a funcref table with a function: the instance's
// exported function fn, or (set) the element at from.
func (sb *Sandbox) tableStoreFunc(inst *jsWasmInstance, t *wasmTableAccess, table, op string, index, delta uint32, fn string, from *uint32) ([]byte, error) {
	ctx := context.Background()
	var res []uint64
	var err error
	switch {
	case from != nil && op == "set":
		_, err = t.copy.Call(ctx, uint64(*from), uint64(index))
		res = []uint64{0}
	case fn != "":
		m, keep, serr := sb.funcSetter(inst, t, table, fn)
		if serr != nil {
			return nil, serr
		}
		if !keep {
			defer m.Close(ctx)
		}
		if op == "grow" {
			res, err = m.ExportedFunction("grow").Call(ctx, uint64(delta))
			if err == nil && int32(res[0]) == -1 {
				return nil, wasmError("RangeError", "WebAssembly.Table.grow(): growing by %d elements is past the table's maximum", delta)
			}
		} else {
			_, err = m.ExportedFunction("set").Call(ctx, uint64(index))
			res = []uint64{0}
		}
	default:
		return nil, typeError("wasm_table: bad function store")
	}
	if err != nil {
		return nil, wasmError("RangeError", "WebAssembly.Table.%s(): %s", op, trapMessage(err))
	}
	return strconv.AppendUint([]byte{'f'}, uint64(uint32(res[0])), 10), nil
}
