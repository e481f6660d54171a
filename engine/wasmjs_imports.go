package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// JavaScript functions as a module's imports. A wasm instance calls an import as a host
// function; the host function re-enters QuickJS, which is itself in the middle of the
// host call that started the wasm call (wasm_call or wasm_instantiate): it sends the
// runtime's dispatcher a "wasm_import" message through a separate wazero function of the
// QuickJS module (the one on the stack cannot be called again while it runs), and the
// runtime answers with wasm_import_return. QuickJS's own stack pointer lives in its linear
// memory, so the nested call continues below the outer one's frames, as a callback would.
//
// Accounting: the nested JavaScript runs on the same thread inside the guest slice of the
// outer call (no new slice is opened, so no CPU time is counted twice or lost), and its
// interrupt polls see the invocation's limits as usual. A limit that trips in the nested
// JavaScript stops it uncatchably; the import then traps the wasm, and the invocation ends
// with the limit's error. Nesting (JavaScript calling wasm calling JavaScript ...) is
// bounded by maxWasmJSDepth.

// maxWasmJSDepth bounds the nesting of JavaScript imports called from wasm.
const maxWasmJSDepth = 16

var (
	// errImportThrew traps the wasm when a JavaScript import threw: the runtime rethrows
	// the exception, kept on its side, to the export's caller.
	errImportThrew = errors.New("isobox: a JavaScript import threw")
	// errImportDepth traps the wasm when imports nest more than maxWasmJSDepth deep.
	errImportDepth = fmt.Errorf("maximum call stack size exceeded: JavaScript imports nested more than %d deep", maxWasmJSDepth)
	// errImportStopped traps the wasm when the nested JavaScript was stopped uncatchably.
	errImportStopped = errors.New("isobox: the invocation was stopped inside a JavaScript import")
)

// jsImportFunc is one imported function of a module, in import order.
type jsImportFunc struct {
	module, name    string
	params, results []api.ValueType
}

// wasmImportSetup compiles, once per module handle, the host modules that stand in for a
// module's import modules: one function per import, which calls the instance's
// JavaScript function of the same index. A module whose functions can reach another
// instance (leaksFuncs) gets its host modules compiled per instance instead: wazero tells
// a host function the module that called it, which through a table may be another
// instance, so such a host function knows its instance itself.
func (sb *Sandbox) wasmImportSetup(ctx context.Context, m *jsWasmModule) error {
	if m.hostMods != nil || len(m.funcs) == 0 || m.leaky {
		return nil
	}
	mods, err := sb.compileImportModules(ctx, m, nil)
	m.hostMods = mods
	return err
}

// compileImportModules compiles m's host modules; with h, their functions belong to the
// instance whose handle h will hold.
func (sb *Sandbox) compileImportModules(ctx context.Context, m *jsWasmModule, h *int) (map[string]wazero.CompiledModule, error) {
	builders := map[string]wazero.HostModuleBuilder{}
	var order []string
	for k, f := range m.funcs {
		b := builders[f.module]
		if b == nil {
			b = sb.e.wasm.rt.NewHostModuleBuilder(f.module)
			order = append(order, f.module)
		}
		b = b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			ctx.Value(sandboxKey{}).(*Sandbox).wasmImportCall(mod, h, k, f.params, f.results, stack)
		}), f.params, f.results).Export(f.name)
		builders[f.module] = b
	}
	mods := map[string]wazero.CompiledModule{}
	for _, name := range order {
		cm, err := builders[name].Compile(ctx)
		if err != nil {
			for _, c := range mods {
				c.Close(ctx)
			}
			return nil, wasmError("LinkError", "WebAssembly.Instance: the imports of module %q cannot be provided: %v", name, err)
		}
		mods[name] = cm
	}
	return mods, nil
}

// wasmImportInstances instantiates m's host modules for one instance (whose handle h will
// hold).
func (sb *Sandbox) wasmImportInstances(ctx context.Context, m *jsWasmModule, h *int) (map[string]api.Module, error) {
	compiled := m.hostMods
	if m.leaky && len(m.funcs) > 0 {
		var err error
		if compiled, err = sb.compileImportModules(ctx, m, h); err != nil {
			return nil, err
		}
		defer func() {
			for _, cm := range compiled {
				cm.Close(ctx) // the instances keep what they run
			}
		}()
	}
	out := make(map[string]api.Module, len(compiled))
	for name, cm := range compiled {
		mod, err := sb.e.wasm.rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			closeAll(out)
			return nil, wasmError("LinkError", "WebAssembly.Instance: the imports of module %q cannot be provided: %v", name, err)
		}
		out[name] = mod
	}
	return out, nil
}

func closeAll(mods map[string]api.Module) {
	for _, m := range mods {
		_ = m.Close(context.Background())
	}
}

// wasmImportCall is an imported function's body: it calls JavaScript function k of the
// instance that called it and leaves its results on stack. It traps the wasm (panics)
// when the function threw or the nested JavaScript was stopped.
func (sb *Sandbox) wasmImportCall(caller api.Module, hp *int, k int, params, results []api.ValueType, stack []uint64) {
	w := sb.wjs
	nres := len(results)
	h := w.instantiating // a start function's call: the instance is not registered yet
	if hp != nil && *hp != 0 {
		h = *hp
	} else {
		for id, in := range w.insts {
			if in.mod == caller {
				h = id
				break
			}
		}
	}
	if err := sb.refsOut(params, stack, w.insts[h]); err != nil {
		panic(err)
	}
	args := make([]string, len(params)) // the stack holds the params on entry
	for i := range args {
		args[i] = strconv.FormatUint(stack[i], 10)
	}
	msg, _ := json.Marshal(map[string]any{"type": "wasm_import", "instance": h, "index": k, "args": args})
	if w.depth >= maxWasmJSDepth {
		panic(errImportDepth)
	}
	w.depth++
	defer func() { w.depth-- }()
	w.ret, w.threw = nil, false
	prevImporting := w.importing
	w.importing = w.insts[h]
	res, err := sb.reenter(w.depth, msg)
	w.importing = prevImporting
	switch {
	case err != nil:
		panic(err)
	case res != 0:
		panic(errImportStopped)
	case w.threw:
		panic(errImportThrew)
	case len(w.ret) != nres:
		panic(fmt.Errorf("isobox: the JavaScript import answered %d results for %d", len(w.ret), nres))
	}
	if err := w.refsIn(results, w.ret); err != nil {
		panic(err)
	}
	copy(stack, w.ret)
}

// reenter dispatches msg to the runtime from inside a host call, through the QuickJS
// module's function for nesting depth (see the file comment). It opens no guest slice:
// the caller is inside one.
func (sb *Sandbox) reenter(depth int, msg []byte) (int64, error) {
	w := sb.wjs
	for len(w.entries) < depth {
		w.entries = append(w.entries, sb.mod.ExportedFunction("ib_call"))
	}
	fn := w.entries[depth-1]
	call := func(o op, a, b uint32) (int64, error) {
		stack := []uint64{uint64(o), uint64(a), uint64(b), 0}
		if err := fn.CallWithStack(sb.ctx, stack); err != nil {
			return 0, err
		}
		return int64(stack[0]), nil
	}
	ptr, err := call(opMalloc, uint32(len(msg)+1), 0)
	if err != nil {
		return 0, err
	}
	if ptr == 0 {
		sb.inv.sig.memRefused = true
		return 0, memoryError(sb.mem.limit)
	}
	defer call(opFree, uint32(ptr), 0)
	mem := sb.mod.Memory()
	mem.Write(uint32(ptr), msg)
	mem.WriteByte(uint32(ptr)+uint32(len(msg)), 0)
	return call(opDispatch, uint32(ptr), uint32(len(msg)))
}

func (sb *Sandbox) opWasmImportReturn(in []byte) ([]byte, error) {
	w := sb.wasmJSState()
	if len(in) < 1 || (len(in)-1)%8 != 0 {
		return nil, typeError("wasm_import_return: bad payload")
	}
	w.threw = in[0] != 0
	w.ret = make([]uint64, (len(in)-1)/8)
	for i := range w.ret {
		w.ret[i] = binary.LittleEndian.Uint64(in[1+8*i:])
	}
	return nil, nil
}
