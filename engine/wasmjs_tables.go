package engine

import (
	"context"
	"slices"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Exported tables from JavaScript (Table.prototype.length/get/set/grow). wazero's API has
// no tables, so an instance's exported table is reached through an "accessor": a small
// module, made on first use, that imports the table (wazero links tables by reference) and
// exports size, grow, get and set built from the table instructions. An externref table's
// elements are the runtime's handles of JavaScript values (47_wasm.js); a funcref table's
// elements can be read as null or not, set to null and grown with null: calling or storing
// a function through a table from JavaScript is not implemented (the wasm function's type
// cannot be learnt through wazero's API).

// wasmTableAccess is the accessor of one exported table.
type wasmTableAccess struct {
	mod       api.Module
	externref bool
	size      api.Function
	grow      api.Function
	get       api.Function // externref: the element; funcref: 1 if null
	set       api.Function // externref: (index, ref); funcref: (index) to null
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
		cm, err := sb.e.wasm.rt.CompileModule(ctx, tableAccessorWasm(name, rt))
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
			get: mod.ExportedFunction("get"), set: mod.ExportedFunction("set")}
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
