package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Globals as imports. wazero links a module's imports to other modules' exports, and a host
// module (the JavaScript functions, wasmjs_imports.go) exports only functions; so an import
// module that also provides globals is a small "link" module built for the instance: it
// re-exports the host module's functions and exports the globals: an immutable one is
// defined with the value JavaScript gave (a number, a BigInt, or the value of a
// WebAssembly.Global); a mutable one is imported from where it lives, so that the instance
// and JavaScript share it (wazero links globals by reference):
//   - a WebAssembly.Global made in JavaScript lives, from its first use as an import, in a
//     "cell": a module of its own exporting it, held by the sandbox (maxWasmJSCells);
//   - an instance's exported global lives in that instance.

// maxWasmJSCells bounds the host-held mutable globals (cells) one sandbox holds at once.
const maxWasmJSCells = 1024

// wasmValTypes are the value type bytes of the type letters a global import may have (all
// but v128, which JavaScript cannot give).
var wasmValTypes = map[byte]byte{'i': 0x7f, 'I': 0x7e, 'f': 0x7d, 'F': 0x7c, 'r': 0x6f, 'a': 0x70}

// wasmGlobalLink is what JavaScript gives for one global import, in import order: the
// value's bits (immutable), a cell, or an instance's exported global.
type wasmGlobalLink struct {
	Bits     *string `json:"bits"`
	Cell     int     `json:"cell"`
	Instance int     `json:"instance"`
	Name     string  `json:"name"`
}

// wasmCell is a mutable global a JavaScript WebAssembly.Global holds in the host.
type wasmCell struct {
	mod api.Module
}

func (w *wasmJS) cellCode(ctx context.Context, rt wazero.Runtime, letter byte) (wazero.CompiledModule, error) {
	if cm := w.cellMods[letter]; cm != nil {
		return cm, nil
	}
	vt, ok := wasmValTypes[letter]
	if !ok {
		return nil, wasmError("LinkError", "WebAssembly.Global: globals of this type cannot be imported in isobox yet")
	}
	global := append([]byte{vt, 1}, zeroConst(vt)...)
	bin := wasmBinary([]byte{6}, wasmVec(global), []byte{7}, wasmVec(append(wasmStr("g"), 3, 0)))
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("compiling a global cell: %w", err)
	}
	if w.cellMods == nil {
		w.cellMods = map[byte]wazero.CompiledModule{}
	}
	w.cellMods[letter] = cm
	return cm, nil
}

// opWasmGlobalCell makes a cell: the host side of a mutable WebAssembly.Global imported by
// an instance.
func (sb *Sandbox) opWasmGlobalCell(in []byte) ([]byte, error) {
	var a struct {
		Type string
		Bits string
	}
	if err := decode("wasm_global_cell", in, &a); err != nil {
		return nil, err
	}
	w := sb.wasmJSState()
	if len(w.cells) >= maxWasmJSCells {
		return nil, wasmError("RangeError", "too many imported mutable WebAssembly.Global objects: a sandbox holds at most %d at once", maxWasmJSCells)
	}
	bits, err := strconv.ParseUint(a.Bits, 10, 64)
	if err != nil || len(a.Type) != 1 {
		return nil, typeError("wasm_global_cell: bad payload")
	}
	ctx := context.Background()
	cm, err := w.cellCode(ctx, sb.e.wasm.rt, a.Type[0])
	if err != nil {
		return nil, err
	}
	mod, err := sb.e.wasm.rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("instantiating a global cell: %w", err)
	}
	if a.Type == "a" {
		if bits, err = w.funcRaw(bits); err != nil {
			_ = mod.Close(ctx)
			return nil, err
		}
	}
	mod.ExportedGlobal("g").(api.MutableGlobal).Set(bits)
	if w.cells == nil {
		w.cells = map[int]*wasmCell{}
	}
	w.next++
	w.cells[w.next] = &wasmCell{mod: mod}
	return []byte(strconv.Itoa(w.next)), nil
}

// wasmLinkModules builds and instantiates the link modules of one instantiation of m: one
// per import module that provides globals. links maps import module names to the modules
// that provide them (the host modules of JavaScript functions, wasmImportInstances); the
// link modules replace them there (the host module stays, under a name no module can
// import, so that closeAll closes it too).
func (sb *Sandbox) wasmLinkModules(ctx context.Context, m *jsWasmModule, links map[string]api.Module, given []wasmGlobalLink,
	memLink *wasmMemoryLink, staged []byte, mem *jsWasmMemory, tables []wasmTableLink) (sources []*jsWasmInstance, err error) {
	w := sb.wasmJSState()
	var order []string
	globals := map[string][]int{} // import module -> indices into m.globals
	for k, g := range m.globals {
		if _, ok := globals[g.module]; !ok {
			order = append(order, g.module)
		}
		globals[g.module] = append(globals[g.module], k)
	}
	if mi := m.memImport; mi != nil {
		if _, ok := globals[mi.Module]; !ok {
			order = append(order, mi.Module)
			globals[mi.Module] = nil
		}
	}
	for _, ti := range m.tableImps {
		if _, ok := globals[ti.Module]; !ok {
			order = append(order, ti.Module)
			globals[ti.Module] = nil
		}
	}
	if len(given) != len(m.globals) {
		return nil, wasmError("LinkError", "WebAssembly.Instance: %d global imports given for %d", len(given), len(m.globals))
	}
	if len(tables) != len(m.tableImps) {
		return nil, wasmError("LinkError", "WebAssembly.Instance: %d table imports given for %d", len(tables), len(m.tableImps))
	}
	for _, name := range order {
		var types, imps, defs, exps [][]byte
		resolve := map[string]api.Module{}
		for _, f := range m.funcs {
			if f.module != name {
				continue
			}
			types = append(types, append(append([]byte{0x60}, wasmVec(valTypeBytes(f.params)...)...), wasmVec(valTypeBytes(f.results)...)...))
			idx := uint32(len(imps))
			imps = append(imps, slices.Concat(wasmStr("f"), wasmStr(f.name), []byte{0}, wasmU32(idx)))
			exps = append(exps, slices.Concat(wasmStr(f.name), []byte{0}, wasmU32(idx)))
		}
		if len(imps) > 0 {
			resolve["f"] = links[name]
		}
		nfunc := uint32(len(imps)) // function imports added below take the next indices
		ntab := uint32(0)
		for k, ti := range m.tableImps {
			if ti.Module != name {
				continue
			}
			l := tables[k]
			var cell api.Module
			if c := w.tcells[l.Cell]; l.Cell != 0 && c != nil {
				cell = c.mod
			}
			src, exp, inst, err := sb.linkedExport(cell, "t", l.Instance, l.Name)
			if err != nil {
				return nil, err
			}
			if src == nil {
				return nil, wasmError("LinkError", "WebAssembly.Instance: import %s.%s must be a WebAssembly.Table", ti.Module, ti.Name)
			}
			if inst != nil {
				sources = append(sources, inst)
			}
			mod := "t" + strconv.Itoa(k)
			resolve[mod] = src
			imps = append(imps, slices.Concat(wasmStr(mod), wasmStr(exp), []byte{1, wasmValTypes[ti.Type[0]], 0, 0}))
			exps = append(exps, slices.Concat(wasmStr(ti.Name), []byte{1}, wasmU32(ntab)))
			ntab++
		}
		nglob := uint32(0) // imported globals come first in the global index space
		for _, k := range globals[name] {
			g, l := m.globals[k], given[k]
			if l.Bits == nil {
				var cell api.Module
				if c := w.cells[l.Cell]; l.Cell != 0 && c != nil {
					cell = c.mod
				}
				src, exp, inst, err := sb.linkedExport(cell, "g", l.Instance, l.Name)
				if err != nil {
					return nil, err
				}
				if src == nil {
					return nil, wasmError("LinkError", "WebAssembly.Instance: import %s.%s: no such global", g.module, g.name)
				}
				if inst != nil {
					sources = append(sources, inst)
				}
				mut := byte(0)
				if g.mutable {
					mut = 1
				}
				mod := "g" + strconv.Itoa(k)
				resolve[mod] = src
				imps = append(imps, slices.Concat(wasmStr(mod), wasmStr(exp), []byte{3, g.vt, mut}))
				exps = append(exps, slices.Concat(wasmStr(g.name), []byte{3}, wasmU32(nglob)))
				nglob++
			}
		}
		for _, k := range globals[name] {
			g, l := m.globals[k], given[k]
			if l.Bits == nil {
				continue
			}
			if g.mutable {
				return nil, wasmError("LinkError", "WebAssembly.Instance: import %s.%s: a mutable global must be a WebAssembly.Global", g.module, g.name)
			}
			bits, err := strconv.ParseUint(*l.Bits, 10, 64)
			if err != nil {
				return nil, typeError("wasm_instantiate: bad global value")
			}
			init := constOf(g.vt, bits)
			switch {
			case g.vt == 0x70 && bits != 0:
				// An exported function: the link module imports it and defines the global
				// as ref.func of it.
				if bits > uint64(len(w.frefs)) || w.frefs[bits-1].export == "" {
					return nil, wasmError("LinkError", "WebAssembly.Instance: import %s.%s: an immutable funcref global can hold only null or an exported function in isobox", g.module, g.name)
				}
				fr := w.frefs[bits-1]
				def := fr.owner.mod.ExportedFunctionDefinitions()[fr.export]
				if fr.owner.dead != nil || def == nil {
					return nil, wasmError("LinkError", "WebAssembly.Instance: import %s.%s: the function's instance was stopped", g.module, g.name)
				}
				mod := "x" + strconv.Itoa(k)
				resolve[mod] = fr.owner.mod
				imps = append(imps, slices.Concat(wasmStr(mod), wasmStr(fr.export), []byte{0}, wasmU32(uint32(len(types)))))
				types = append(types, append(append([]byte{0x60}, wasmVec(valTypeBytes(def.ParamTypes())...)...), wasmVec(valTypeBytes(def.ResultTypes())...)...))
				init = slices.Concat([]byte{0xd2}, wasmU32(nfunc), []byte{0x0b})
				nfunc++
			case g.vt == 0x6f && bits != 0:
				return nil, wasmError("LinkError", "WebAssembly.Instance: import %s.%s: an immutable externref global can be given only null, or an instance's exported global, in isobox (wazero cannot define one holding a value)",
					g.module, g.name)
			}
			defs = append(defs, append([]byte{g.vt, 0}, init...))
			exps = append(exps, slices.Concat(wasmStr(g.name), []byte{3}, wasmU32(nglob+uint32(len(defs)-1))))
		}
		var memSec []byte
		if mi := m.memImport; mi != nil && mi.Module == name && memLink.src != nil {
			resolve["m"] = memLink.src
			imps = append(imps, slices.Concat(wasmStr("m"), wasmStr(memLink.name), []byte{2, 0, 0}))
			exps = append(exps, slices.Concat(wasmStr(mi.Name), []byte{2, 0}))
		} else if mi := m.memImport; mi != nil && mi.Module == name {
			lim := append([]byte{0}, wasmU32(memLink.Pages)...)
			if memLink.Maximum != nil {
				lim = append(append([]byte{1}, wasmU32(memLink.Pages)...), wasmU32(*memLink.Maximum)...)
			}
			memSec = wasmVec(lim)
			exps = append(exps, slices.Concat(wasmStr(mi.Name), []byte{2, 0}))
		}
		var secs [][]byte
		if len(types) > 0 {
			secs = append(secs, []byte{1}, wasmVec(types...))
		}
		if len(imps) > 0 {
			secs = append(secs, []byte{2}, wasmVec(imps...))
		}
		if memSec != nil {
			secs = append(secs, []byte{5}, memSec)
		}
		if len(defs) > 0 {
			secs = append(secs, []byte{6}, wasmVec(defs...))
		}
		secs = append(secs, []byte{7}, wasmVec(exps...))
		cm, keep, err := w.linkCode(ctx, sb.e.wasm.rt, wasmBinary(secs...))
		if err != nil {
			return nil, wasmError("LinkError", "WebAssembly.Instance: the imports of module %q cannot be provided: %v", name, err)
		}
		lctx := experimental.WithImportResolver(ctx, func(n string) api.Module { return resolve[n] })
		lctx = experimental.WithMemoryAllocator(lctx, experimental.MemoryAllocatorFunc(
			func(cap, max uint64) experimental.LinearMemory { return mem }))
		mod, err := sb.e.wasm.rt.InstantiateModule(lctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if !keep {
			cm.Close(ctx) // the instance keeps what it runs
		}
		if err != nil {
			return nil, wasmError("LinkError", "WebAssembly.Instance: the imports of module %q cannot be provided: %v", name, err)
		}
		if memSec != nil {
			mod.Memory().Write(0, staged) // JavaScript's contents, before the instance's data segments
		}
		if host := links[name]; host != nil {
			links["\x00host:"+name] = host
		}
		links[name] = mod
	}
	return sources, nil
}

// wasmTableLink is what JavaScript gives for a table import: a table cell (a
// WebAssembly.Table made in JavaScript) or an instance's exported table.
type wasmTableLink struct {
	Cell     int    `json:"cell"`
	Instance int    `json:"instance"`
	Name     string `json:"name"`
}

// wasmMemoryLink is the WebAssembly.Memory JavaScript gives for a memory import: its size
// in pages and maximum (its bytes come by wasm_memory_stage). The link module of its
// import module defines it, with the instance's allocator, and the instance imports it.
type wasmMemoryLink struct {
	Pages    uint32  `json:"pages"`
	Maximum  *uint32 `json:"maximum"`
	Instance int     `json:"instance"` // or: the memory of this instance, shared with it

	src  api.Module // the instance's memory is imported from src's export name
	name string
}

// maxWasmLinkCodes bounds the compiled link modules a sandbox keeps for its next
// instantiations (the same module instantiated again with the same values compiles nothing).
const maxWasmLinkCodes = 32

// linkCode compiles a link module, or answers the one compiled before from the same bytes;
// keep says the sandbox holds it (closed with the sandbox), else the caller closes it.
func (w *wasmJS) linkCode(ctx context.Context, rt wazero.Runtime, bin []byte) (wazero.CompiledModule, bool, error) {
	if cm := w.linkCodes[string(bin)]; cm != nil {
		return cm, true, nil
	}
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil || len(w.linkCodes) >= maxWasmLinkCodes {
		return cm, false, err
	}
	if w.linkCodes == nil {
		w.linkCodes = map[string]wazero.CompiledModule{}
	}
	w.linkCodes[string(bin)] = cm
	return cm, true, nil
}

// wasmGlobalImport is one global a module imports, in import order.
type wasmGlobalImport struct {
	module, name string
	vt           byte
	mutable      bool
}

func valTypeBytes(ts []api.ValueType) [][]byte {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		out[i] = []byte{t}
	}
	return out
}

func zeroConst(vt byte) []byte { return constOf(vt, 0) }

// constOf is the constant expression of a value's bits, with its end.
func constOf(vt byte, bits uint64) []byte {
	le := binary.LittleEndian
	switch vt {
	case 0x7f:
		return append(append([]byte{0x41}, wasmS64(int64(int32(bits)))...), 0x0b)
	case 0x7e:
		return append(append([]byte{0x42}, wasmS64(int64(bits))...), 0x0b)
	case 0x7d:
		return append(le.AppendUint32([]byte{0x43}, uint32(bits)), 0x0b)
	case 0x6f, 0x70:
		return []byte{0xd0, vt, 0x0b} // ref.null: the only reference a constant can be
	default:
		return append(le.AppendUint64([]byte{0x44}, bits), 0x0b)
	}
}

func wasmU32(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func wasmS64(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func wasmStr(s string) []byte { return append(wasmU32(uint32(len(s))), s...) }

func wasmVec(items ...[]byte) []byte {
	return append(wasmU32(uint32(len(items))), slices.Concat(items...)...)
}

// wasmBinary assembles a module from (id, contents) pairs.
func wasmBinary(secs ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for i := 0; i+1 < len(secs); i += 2 {
		b = append(append(append(b, secs[i][0]), wasmU32(uint32(len(secs[i+1])))...), secs[i+1]...)
	}
	return b
}

// linkedExport is what a table or global import given from JavaScript links to: the host
// module of a cell (cell, exporting it as def) or an instance's export (instance, name),
// which the importer then keeps alive (inst). A nil module: neither was given.
func (sb *Sandbox) linkedExport(cell api.Module, def string, instance int, name string) (src api.Module, exp string, inst *jsWasmInstance, err error) {
	switch {
	case cell != nil:
		return cell, def, nil, nil
	case instance != 0:
		inst, err := sb.instance(uint32(instance))
		if err != nil {
			return nil, "", nil, err
		}
		return inst.mod, name, inst, nil
	}
	return nil, "", nil, nil
}
