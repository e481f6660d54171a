package engine

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Function references (funcref) between wasm and JavaScript. A wazero funcref is a pointer
// into the engine's memory; JavaScript never sees one: it holds a handle (1, 2, ...; 0 is
// null) to a reference the sandbox keeps, and the handle turns back into the reference
// when JavaScript gives it to wasm (a table, a parameter, a global).
//
// Identity: wazero makes a new reference each time a function is referenced (each ref.func,
// each element segment), but every reference to one function holds the same code pointer
// and module context; those two words are the function's identity (funcrefKey), so one
// function has one handle, and JavaScript one function object for it. The function
// object of an exported function is the export itself (the owner's exports are referenced
// once through a getter module to learn their identities).
//
// Lifetime: a reference keeps pointing into its module's engine, which wazero frees when
// the module is closed. So an instance whose functions may be held elsewhere is pinned:
// kept until the sandbox closes, even after the guest dropped it (it still counts against
// maxWasmJSInstances). Pinned are the owner of any function JavaScript got a handle of, an
// instance that imports a table, and an instance whose table another instance imports.

// maxWasmFuncRefs bounds the function handles one sandbox holds (they are kept for its
// life: wasm may have stored a function anywhere).
const maxWasmFuncRefs = 1 << 16

// wasmFuncRef is a function reference JavaScript holds by handle.
type wasmFuncRef struct {
	raw    uint64          // wazero's reference
	owner  *jsWasmInstance // the instance whose function (or JavaScript import) it is
	handle int             // the owner's instance handle
	export string          // the owner's exported function it is, if any
	typ    int             // the index in owner.types that the last call from JavaScript matched, -1 none
	at     *[2]uint32      // not an export: its table's and element's index as the owner's element segments made them (wasmjs_snapshot.go)
}

// funcrefKey is a function's identity: the code and module context words that start every
// reference wazero makes to it (wazevo's functionInstance). TestWasmJSFuncrefIdentity
// checks the layout against the wazero in use.
func funcrefKey(raw uint64) [2]uintptr {
	p := uintptr(raw)
	return **(**[2]uintptr)(unsafe.Pointer(&p))
}

// moduleOfKey is the *wasm.ModuleInstance a function's module context points to.
func moduleOfKey(k [2]uintptr) uintptr {
	p := k[1]
	return **(**uintptr)(unsafe.Pointer(&p))
}

// modulePtr is an api.Module's *wasm.ModuleInstance, as moduleOfKey answers it.
func modulePtr(m api.Module) uintptr {
	if m == nil {
		return 0
	}
	return reflect.ValueOf(m).Pointer()
}

// funcRaw is the reference of function handle h (0: null).
func (w *wasmJS) funcRaw(h uint64) (uint64, error) {
	if h == 0 {
		return 0, nil
	}
	if h > uint64(len(w.frefs)) {
		return 0, typeError("WebAssembly: not a function of this sandbox")
	}
	return w.frefs[h-1].raw, nil
}

// funcHandle is the handle of the function reference raw (0 for null), made on first
// sight: its owner is found and pinned, and whether it is one of the owner's exports.
func (sb *Sandbox) funcHandle(raw uint64, src *jsWasmInstance) (uint32, error) {
	if raw == 0 {
		return 0, nil
	}
	w := sb.wasmJSState()
	key := funcrefKey(raw)
	if h, ok := w.frefKeys[key]; ok {
		return h, nil
	}
	if len(w.frefs) >= maxWasmFuncRefs {
		return 0, wasmError("RangeError", "WebAssembly: more than %d distinct functions passed to JavaScript", maxWasmFuncRefs)
	}
	mp := moduleOfKey(key)
	var owner *jsWasmInstance
	oh := 0
	for h, in := range w.insts {
		if modulePtr(in.mod) == mp {
			owner, oh = in, h
			break
		}
	}
	for h, in := range w.insts {
		if owner != nil {
			break
		}
		if err := sb.hostContexts(in); err != nil {
			return 0, err
		}
		if in.hostCtx[key[1]] {
			owner, oh = in, h
		}
	}
	if owner == nil {
		return 0, typeError("WebAssembly: a function reference of no instance of this sandbox")
	}
	owner.pinned = true
	f := &wasmFuncRef{raw: raw, owner: owner, handle: oh, typ: -1}
	if modulePtr(owner.mod) == mp {
		if err := sb.exportRefs(owner); err != nil {
			return 0, err
		}
		f.export = owner.exportKeys[key]
	}
	w.frefs = append(w.frefs, f)
	if w.frefKeys == nil {
		w.frefKeys = map[[2]uintptr]uint32{}
	}
	h := uint32(len(w.frefs))
	w.frefKeys[key] = h
	return h, nil
}

// exportRefs learns the references of inst's exported functions, through a getter module
// that imports them all (kept: the references point into it).
func (sb *Sandbox) exportRefs(inst *jsWasmInstance) error {
	if inst.exportKeys != nil {
		return nil
	}
	inst.exportKeys = map[[2]uintptr]string{}
	inst.exportRaw = map[string]uint64{}
	defs := inst.mod.ExportedFunctionDefinitions()
	names := slices.Sorted(maps.Keys(defs))
	fs := make([]jsImportFunc, len(names))
	for i, n := range names {
		fs[i] = jsImportFunc{module: "e", name: n, params: defs[n].ParamTypes(), results: defs[n].ResultTypes()}
	}
	mod, raws, err := sb.refGetter(fs, func(string) api.Module { return inst.mod })
	if err != nil {
		return err
	}
	inst.refGetter = mod
	for i, n := range names {
		inst.exportRaw[n] = raws[i]
		if _, dup := inst.exportKeys[funcrefKey(raws[i])]; !dup {
			inst.exportKeys[funcrefKey(raws[i])] = n
		}
	}
	return nil
}

// hostContexts learns the module contexts of inst's JavaScript imports (its host modules:
// their contexts name the compiled host module, not the instance), to tell their
// references' owner.
func (sb *Sandbox) hostContexts(inst *jsWasmInstance) error {
	if inst.hostCtx != nil || len(inst.funcs) == 0 {
		return nil
	}
	mod, raws, err := sb.refGetter(inst.funcs, func(name string) api.Module { return inst.imps[name] })
	if err != nil {
		return err
	}
	inst.hostGetter = mod
	inst.hostCtx = map[uintptr]bool{}
	for _, r := range raws {
		inst.hostCtx[funcrefKey(r)[1]] = true
	}
	return nil
}

// refGetter instantiates a module importing fs (resolved by resolve) into a table, and
// answers their references.
func (sb *Sandbox) refGetter(fs []jsImportFunc, resolve func(string) api.Module) (api.Module, []uint64, error) {
	if len(fs) == 0 {
		return nil, nil, nil
	}
	var types, imps, elem [][]byte
	for i, f := range fs {
		types = append(types, append(append([]byte{0x60}, wasmVec(valTypeBytes(f.params)...)...), wasmVec(valTypeBytes(f.results)...)...))
		imps = append(imps, slices.Concat(wasmStr(f.module), wasmStr(f.name), []byte{0}, wasmU32(uint32(i))))
		elem = append(elem, wasmU32(uint32(i)))
	}
	k := uint32(len(fs))
	types = append(types, []byte{0x60, 1, 0x7f, 1, 0x70})
	body := []byte{0, 0x20, 0, 0x25, 0, 0x0b}
	bin := wasmBinary([]byte{1}, wasmVec(types...), []byte{2}, wasmVec(imps...), []byte{3}, wasmVec(wasmU32(k)),
		[]byte{4}, wasmVec(slices.Concat([]byte{0x70, 1}, wasmU32(k), wasmU32(k))),
		[]byte{7}, wasmVec(slices.Concat(wasmStr("get"), []byte{0}, wasmU32(k))),
		[]byte{9}, wasmVec(slices.Concat([]byte{0, 0x41, 0, 0x0b}, wasmVec(elem...))),
		[]byte{10}, wasmVec(append(wasmU32(uint32(len(body))), body...)))
	ctx := context.Background()
	cm, err := sb.e.wasm.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, nil, typeError("WebAssembly: the instance's functions cannot be referenced: %v", err)
	}
	lctx := experimental.WithImportResolver(ctx, resolve)
	mod, err := sb.e.wasm.rt.InstantiateModule(lctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	cm.Close(ctx)
	if err != nil {
		return nil, nil, typeError("WebAssembly: the instance's functions cannot be referenced: %v", err)
	}
	get := mod.ExportedFunction("get")
	raws := make([]uint64, len(fs))
	for i := range fs {
		r, err := get.Call(ctx, uint64(i))
		if err != nil {
			_ = mod.Close(ctx)
			return nil, nil, typeError("WebAssembly: %v", err)
		}
		raws[i] = r[0]
	}
	return mod, raws, nil
}

// opWasmFuncExport answers the handle of an instance's exported function (a wasm function
// JavaScript gives to wasm: a table, a parameter, a global).
func (sb *Sandbox) opWasmFuncExport(in []byte) ([]byte, error) {
	var a struct {
		Instance uint32
		Name     string
	}
	if err := decode("wasm_func_export", in, &a); err != nil {
		return nil, err
	}
	inst, err := sb.instance(a.Instance)
	if err != nil {
		return nil, err
	}
	if err := sb.exportRefs(inst); err != nil {
		return nil, err
	}
	raw, ok := inst.exportRaw[a.Name]
	if !ok {
		return nil, typeError("the instance exports no function %q", a.Name)
	}
	h, err := sb.funcHandle(raw, inst)
	if err != nil {
		return nil, err
	}
	return []byte(strconv.FormatUint(uint64(h), 10)), nil
}

// opWasmFuncInfo describes a function handle to JavaScript: its owner's instance handle
// and, when it is one of the owner's exports, the export's name.
func (sb *Sandbox) opWasmFuncInfo(in []byte) ([]byte, error) {
	h, err := strconv.ParseUint(string(in), 10, 32)
	w := sb.wasmJSState()
	if err != nil || h == 0 || h > uint64(len(w.frefs)) {
		return nil, typeError("WebAssembly: not a function of this sandbox")
	}
	f := w.frefs[h-1]
	return strconv.AppendQuote(append(strconv.AppendInt(nil, int64(f.handle), 10), ','), f.export), nil
}

// funcCaller is the caller module of function type ft: c(params..., ref) -> results stores
// ref in its one-element table and runs call_indirect of ft on it, which checks the type
// before the function runs.
func (sb *Sandbox) funcCaller(ft wasmFuncType) (api.Module, error) {
	w := sb.wasmJSState()
	k := string(ft.params) + "/" + string(ft.results)
	if m := w.callers[k]; m != nil {
		return m, nil
	}
	sig := append(append([]byte{0x60}, wasmVec(valTypeBytes(ft.params)...)...), wasmVec(valTypeBytes(ft.results)...)...)
	csig := append(append([]byte{0x60}, wasmVec(valTypeBytes(append(slices.Clone(ft.params), 0x70))...)...), wasmVec(valTypeBytes(ft.results)...)...)
	n := uint32(len(ft.params))
	code := append([]byte{0, 0x41, 0, 0x20}, wasmU32(n)...)
	code = append(code, 0x26, 0) // table.set 0 (ref)
	for p := range n {
		code = append(append(code, 0x20), wasmU32(p)...)
	}
	code = append(code, 0x41, 0, 0x11, 0, 0, 0x0b) // call_indirect type 0 table 0
	bin := wasmBinary([]byte{1}, wasmVec(sig, csig), []byte{3}, wasmVec([]byte{1}), []byte{4}, wasmVec([]byte{0x70, 1, 1, 1}),
		[]byte{7}, wasmVec(slices.Concat(wasmStr("c"), []byte{0, 0})), []byte{10}, wasmVec(append(wasmU32(uint32(len(code))), code...)))
	ctx := context.Background()
	cm, err := sb.e.wasm.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, typeError("WebAssembly: %v", err)
	}
	mod, err := sb.e.wasm.rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	cm.Close(ctx)
	if err != nil {
		return nil, typeError("WebAssembly: %v", err)
	}
	if len(w.callers) < maxWasmTableTypes {
		if w.callers == nil {
			w.callers = map[string]api.Module{}
		}
		w.callers[k] = mod
	} else {
		w.spareMods = append(w.spareMods, mod) // closed with the sandbox
	}
	return mod, nil
}

// opWasmFuncCall calls a function by handle from JavaScript (a function that is not an
// export: one a table, a result or a global gave): the owner module's function types are
// tried, through call_indirect, until one is not a type mismatch (a mismatch runs nothing).
func (sb *Sandbox) opWasmFuncCall(in []byte) ([]byte, error) {
	var a struct {
		Handle uint32
		Args   []wasmTableArg
	}
	if err := decode("wasm_func_call", in, &a); err != nil {
		return nil, err
	}
	w := sb.wasmJSState()
	if a.Handle == 0 || int(a.Handle) > len(w.frefs) {
		return nil, typeError("WebAssembly: not a function of this sandbox")
	}
	f := w.frefs[a.Handle-1]
	inst := f.owner
	if inst.dead != nil {
		return nil, inst.dead
	}
	order := make([]int, 0, len(inst.types))
	if f.typ >= 0 {
		order = append(order, f.typ)
	}
	for k := range inst.types {
		if k != f.typ {
			order = append(order, k)
		}
	}
	for _, k := range order {
		ft := inst.types[k]
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
		if len(args) != len(ft.params) || slices.Contains(ft.results, 0x70) || slices.Contains(ft.results, 0x7b) || slices.Contains(ft.results, 0x6f) {
			continue
		}
		caller, err := sb.funcCaller(ft)
		if err != nil {
			return nil, err
		}
		fn := caller.ExportedFunction("c") // its own call engine: calls may nest
		var res []uint64
		mismatch := false
		err = sb.wasmGuard("a call through a function reference", inst.mem, func(ctx context.Context) error {
			var err error
			res, err = wasmDepthCall(ctx, inst.mod, fn, append(args, f.raw)...)
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
		f.typ = k
		out := []byte(typeLetters(ft.results))
		for _, r := range res {
			out = strconv.AppendUint(append(out, ','), r, 10)
		}
		return out, nil
	}
	return nil, typeError("WebAssembly: the function cannot take these %d arguments (a BigInt for i64, a Number for the other number types), or takes or answers values that cannot cross to or from JavaScript", len(a.Args))
}

// refsIn turns the function handles among vals (of types ts) into references, in place.
func (w *wasmJS) refsIn(ts []api.ValueType, vals []uint64) error {
	for i, t := range ts {
		if t == 0x70 && i < len(vals) {
			r, err := w.funcRaw(vals[i])
			if err != nil {
				return err
			}
			vals[i] = r
		}
	}
	return nil
}

// refsOut turns the function references among vals (of types ts) into handles, in place.
func (sb *Sandbox) refsOut(ts []api.ValueType, vals []uint64, src *jsWasmInstance) error {
	for i, t := range ts {
		if t == 0x70 && i < len(vals) {
			h, err := sb.funcHandle(vals[i], src)
			if err != nil {
				return err
			}
			vals[i] = uint64(h)
		}
	}
	return nil
}

// leaksFuncs says whether a module's functions (its JavaScript imports among them) can be
// reached from another instance: it shares a table, or has funcref values in a function
// type or a global import.
func leaksFuncs(m *jsWasmModule, bin []byte) bool {
	for _, t := range m.types {
		if slices.Contains(t.params, 0x70) || slices.Contains(t.results, 0x70) {
			return true
		}
	}
	for _, im := range m.imports {
		if im.Kind == "table" || (im.Kind == "global" && im.Type == "a") {
			return true
		}
	}
	for _, e := range m.exports {
		if e.Kind == "table" {
			return true
		}
	}
	return exportsFuncrefGlobal(bin)
}

// exportsFuncrefGlobal says whether a module exports a funcref global (or may: true when
// its globals cannot be read).
func exportsFuncrefGlobal(b []byte) bool {
	if len(b) < 8 {
		return true
	}
	var types []byte // the global index space's value types
	var exported []uint32
	r := &wasmReader{b: b[8:]}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)) {
			return true
		}
		sec := &wasmReader{b: r.b[:size]}
		r.b = r.b[size:]
		switch id {
		case 2:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				sec.name()
				sec.name()
				switch sec.byte() {
				case 0:
					sec.u32()
				case 1:
					sec.byte()
					sec.limits()
				case 2:
					sec.limits()
				case 3:
					types = append(types, sec.byte())
					sec.byte()
				case 4:
					sec.byte()
					sec.u32()
				default:
					return true
				}
			}
		case 6:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				types = append(types, sec.byte())
				sec.byte()
				if !skipConstExpr(sec) {
					return true
				}
			}
		case 7:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				sec.name()
				kind := sec.byte()
				idx := sec.u32()
				if kind == 3 {
					exported = append(exported, idx)
				}
			}
		}
		if sec.err != nil {
			return true
		}
	}
	for _, i := range exported {
		if int(i) >= len(types) || types[i] == 0x70 {
			return true
		}
	}
	return r.err != nil
}

// skipConstExpr reads a constant expression up to its end; false for an instruction it
// does not know.
func skipConstExpr(r *wasmReader) bool {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b:
			return true
		case 0x41, 0x42: // i32.const, i64.const: a signed LEB
			for r.err == nil && r.byte()&0x80 != 0 {
			}
		case 0x43:
			r.b = r.b[min(4, len(r.b)):]
		case 0x44:
			r.b = r.b[min(8, len(r.b)):]
		case 0xd0:
			r.byte()
		case 0xd2, 0x23:
			r.u32()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constants
		default:
			return false
		}
	}
	return false
}
