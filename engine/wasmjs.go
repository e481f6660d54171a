package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/isobox/isobox/isoerr"
)

// The WebAssembly global of JavaScript sandboxes (runtime/js/47_wasm.js): the guest's
// WebAssembly.Module is a handle to a module compiled in the host (on the runtime of
// WebAssembly workers, wasmworker.go, sharing its table of compiled modules), and its
// WebAssembly.Instance a handle to a wazero instance of it that the sandbox owns: it is
// closed when the guest drops it (FinalizationRegistry) or the sandbox closes.
//
// What bounds an instance, since it runs outside QuickJS:
//   - CPU and wall time: every call into an instance (and instantiation, which runs the
//     module's start function) runs under a watchdog (wasmworker.go) armed with what is
//     left of the invocation's CPU and wall time; the instance runs on the guest's
//     thread, so its CPU time is the invocation's. When the watchdog fires, wazero stops
//     the instance at its next check and the invocation ends with the limit's error.
//   - Memory: an instance's linear memory and the sandbox's own (QuickJS's) share the
//     sandbox's memory limit. A growth past it is refused (memory.grow answers -1, as the
//     spec allows), and the invocation ends with memory_limit_exceeded, as when QuickJS's
//     own allocations run out; WebAssembly.Memory.prototype.grow from JavaScript throws
//     RangeError instead.
//   - Host memory outside linear memory: tables must declare a maximum, at most
//     maxWasmTableElements elements in all (checkWasmBinary); at most maxWasmJSInstances
//     instances and maxWasmJSModules modules live at once; a module's bytes are at most
//     maxWasmJSModuleBytes.
//
// An exported memory's buffer is a copy in QuickJS kept in step around calls: a synced
// call writes JavaScript's copy into the instance first and sends back the runs the call
// changed (wasm_call_memory, appendMemoryDiff). Imported functions are JavaScript
// functions, called re-entrantly (wasmjs_imports.go); imported globals go through link
// modules (wasmjs_globals.go); exported tables are reached through accessor modules
// (wasmjs_tables.go); custom sections are read at compile time (wasmjs_custom.go);
// a memory made in JavaScript is imported through a link module too, and so are tables
// (a Table made in JavaScript moves into a table cell) and a memory another instance has;
// function references cross as handles (wasmjs_funcref.go). Tags are a CompileError
// (wazero runs without the exception-handling proposal). RATIONALE.md
// ("WebAssembly inside JavaScript") says why.

const (
	// maxWasmJSModules bounds the modules one sandbox holds at once.
	maxWasmJSModules = 256
	// maxWasmJSInstances bounds the instances one sandbox holds at once: each reserves
	// (virtually) the sandbox's memory limit for its linear memory.
	maxWasmJSInstances = 64
	// maxWasmJSModuleBytes bounds a module compiled from JavaScript: compiling cannot be
	// interrupted, so its CPU time is bounded by the module's size instead.
	maxWasmJSModuleBytes = 16 << 20
)

// wasmJS is a JavaScript sandbox's WebAssembly state.
type wasmJS struct {
	modules map[int]*jsWasmModule
	insts   map[int]*jsWasmInstance
	next    int
	used    uint64 // bytes of the instances' linear memories, charged against the sandbox's limit

	// JavaScript imports (wasmjs_imports.go): the QuickJS module's functions for nested
	// calls, the nesting depth, the last import's answer, and the handle of the instance
	// being instantiated (its start function may call imports).
	entries       []api.Function
	depth         int
	ret           []uint64
	threw         bool
	instantiating int
	staged        []byte          // a synced wasm_call's payload, waiting for its memory (wasm_call_memory)
	importing     *jsWasmInstance // the instance whose JavaScript import runs (wasm_memory_push)

	spares    []*limitedMemory                 // cleared memories of closed instances, for the next ones
	cells     map[int]*wasmCell                // mutable globals made in JavaScript and imported (wasmjs_globals.go)
	cellMods  map[byte]wazero.CompiledModule   // the cells' modules, by type letter
	linkCodes map[string]wazero.CompiledModule // compiled link modules by their bytes (wasmjs_globals.go)
	stagedMem []byte                           // the bytes of a WebAssembly.Memory the next instantiation imports (wasm_memory_stage)
	cfg       wazero.ModuleConfig

	// Function references and shared tables (wasmjs_funcref.go, wasmjs_tables.go).
	frefs     []*wasmFuncRef         // function handle - 1 -> the reference
	frefKeys  map[[2]uintptr]uint32  // a function's identity -> its handle
	tcells    map[int]*wasmTableCell // WebAssembly.Table objects made in JavaScript and imported
	callers   map[string]api.Module  // caller modules by function type (opWasmFuncCall)
	spareMods []api.Module           // modules closed with the sandbox
	closing   bool                   // the sandbox is closing: pinned instances go too

	sources map[[32]byte]*wasmSource // the bytes the live modules and instances came from, for images (wasmjs_snapshot.go)
	kept    int                      // bytes of sources copied from the guest, bounded by maxWasmJSKeptBytes
	tables  []wasmTableOp            // what JavaScript stored into funcref tables, in order (wasmjs_snapshot.go)
}

// jsWasmModule is a compiled module the guest holds.
type jsWasmModule struct {
	code      *wasmCode
	name      string
	imports   []wasmImportDesc
	exports   []wasmExportDesc
	linkErr   error                            // why it cannot be instantiated (an import), reported by Instance
	fnNames   []string                         // the exported functions in export order: wasm_call's numbering, from 1
	funcs     []jsImportFunc                   // the imported functions, in import order
	hostMods  map[string]wazero.CompiledModule // the host modules standing in for the import modules, by name
	custom    []wasmCustom                     // its custom sections (Module.customSections)
	globals   []wasmGlobalImport               // the imported globals, in import order (wasmjs_globals.go)
	types     []wasmFuncType                   // its distinct function types (calls through tables, wasmjs_tables.go)
	memImport *wasmImportDesc                  // its imported memory, if any (wasmjs_globals.go)
	tableImps []wasmImportDesc                 // its imported tables, in import order (wasmjs_globals.go)
	leaky     bool                             // its functions can reach other instances (leaksFuncs)
	src       *wasmSource                      // its bytes, for images (wasmjs_snapshot.go)
}

func (m *jsWasmModule) close() {
	for _, cm := range m.hostMods {
		cm.Close(context.Background())
	}
	m.hostMods = nil
	m.src.release()
	m.src = nil
}

// jsWasmInstance is an instance the guest holds.
type jsWasmInstance struct {
	mod     api.Module
	mem     *jsWasmMemory
	code    *wasmCode                   // held while the instance lives
	imps    map[string]api.Module       // the instances of its module's host modules (imports)
	fnNames []string                    // the exported functions (jsWasmModule.fnNames)
	fns     []api.Function              // those looked up so far: wazero makes a call engine per lookup
	busy    []bool                      // fns[i] is running (a JavaScript import may call an export again)
	dead    error                       // set when a limit stopped it: wazero closed it
	tables  map[string]*wasmTableAccess // accessors of its exported tables, by name (wasmjs_tables.go)
	types   []wasmFuncType              // its module's function types (jsWasmModule.types)
	origin  wasmOrigin                  // how it was made, for images (wasmjs_snapshot.go)

	// Function references (wasmjs_funcref.go): pinned says the instance is kept until the
	// sandbox closes (its functions may be held elsewhere); its exported functions'
	// references, through refGetter.
	pinned     bool
	released   bool // the guest dropped it while pinned
	refGetter  api.Module
	exportRaw  map[string]uint64
	exportKeys map[[2]uintptr]string
	funcs      []jsImportFunc   // its module's imported functions (jsWasmModule.funcs)
	hostGetter api.Module       // references of its JavaScript imports, for hostCtx
	hostCtx    map[uintptr]bool // the module contexts of its JavaScript imports

	// While synced calls run (active), what JavaScript's copy of the memory holds (agreed;
	// known false: not known), so that the copy-out and the imports' entries send only what
	// differs from it.
	agreed []byte
	known  bool
	active int

	// A memory imported from another instance (one WebAssembly.Memory in two instances):
	// memOwner keeps the bookkeeping above; memSrc and memName are where the memory can be
	// imported from, for a next instance.
	memOwner *jsWasmInstance
	memSrc   api.Module
	memName  string
}

type wasmImportDesc struct {
	Module  string  `json:"module"`
	Name    string  `json:"name"`
	Kind    string  `json:"kind"`
	Params  string  `json:"params,omitempty"`  // functions: value types, one letter each (wasmTypeLetters)
	Results string  `json:"results,omitempty"` // functions
	Type    string  `json:"type,omitempty"`    // globals: the value type's letter; tables: the element type's
	Mutable bool    `json:"mutable,omitempty"` // globals
	Initial uint32  `json:"-"`                 // memories: the minimum in pages
	Maximum *uint32 `json:"-"`                 // memories: the maximum in pages, if any
}

type wasmExportDesc struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Params  string `json:"params,omitempty"`  // functions: value types, one letter each (wasmTypeLetters)
	Results string `json:"results,omitempty"` // functions
	Index   uint32 `json:"index"`             // the index in its index space (an exported function's name)
}

var wasmKinds = map[byte]string{0: "function", 1: "table", 2: "memory", 3: "global", 4: "tag"}

// wasmTypeLetters are the letters of value types in export descriptors: i i32, I i64,
// f f32, F f64, r externref, a funcref, v v128.
var wasmTypeLetters = map[api.ValueType]byte{api.ValueTypeI32: 'i', api.ValueTypeI64: 'I', api.ValueTypeF32: 'f',
	api.ValueTypeF64: 'F', api.ValueTypeExternref: 'r', 0x70: 'a', 0x7b: 'v'}

func typeLetters(ts []api.ValueType) string {
	b := make([]byte, len(ts))
	for i, t := range ts {
		if b[i] = wasmTypeLetters[t]; b[i] == 0 {
			b[i] = '?'
		}
	}
	return string(b)
}

// wasmJSOps returns the synchronous operations of the WebAssembly global. (A function, not
// a variable: the table's entries refer back to the engine's state, and a variable here
// was initialised after hostOps, which then lacked them.)
func wasmJSOps() []hostOp {
	return []hostOp{
		{name: "wasm_compile", in: "the module's bytes", out: `JSON {"handle":n,"imports":[{"module","name","kind"}],"exports":[{"name","kind"}]}`,
			doc: fmt.Sprintf("Compiles a WebAssembly module (WebAssembly.compile, new WebAssembly.Module): CompileError for invalid bytes, "+
				"a component, a table without a maximum or over %d elements, or more than %d MiB; RangeError past %d modules held at once.",
				maxWasmTableElements, maxWasmJSModuleBytes>>20, maxWasmJSModules),
			sync: (*Sandbox).opWasmCompile},
		{name: "wasm_module", in: "a module name of the worker's module map (a wasm module)", out: "as wasm_compile",
			doc: "The WebAssembly.Module of a wasm module of the module map (import mod from \"./lib.wasm\").", sync: (*Sandbox).opWasmModule},
		{name: "wasm_validate", in: "the module's bytes", out: `"1" or "0"`,
			doc: "WebAssembly.validate: whether the bytes compile (the compiled module is kept in the engine's table).", sync: (*Sandbox).opWasmValidate},
		{name: "wasm_release", in: `JSON {"module"?:n,"instance"?:n,"global"?:n,"table"?:n}`, out: "empty",
			doc: "Drops a module or instance handle the guest no longer reaches (FinalizationRegistry); an instance's memory is given back.", sync: (*Sandbox).opWasmRelease},
		{name: "wasm_instantiate", in: `decimal module handle, or JSON {"module":n,"globals":[{"bits":"decimal"} or {"cell":n} or {"instance":n,"name":s}],"memory"?:{"pages":n,"maximum"?:n} or {"instance":n} (that instance's memory, shared),"tables"?:[{"cell":n} or {"instance":n,"name":s}]}`, out: "decimal instance handle (its exported functions are numbered from 1 in the module's export order)",
			doc: fmt.Sprintf("Instantiates a module in the host, running its start function under the invocation's CPU and wall-time limits. "+
				"The imported functions are the JavaScript functions the guest registered (\"wasm_import\" messages); "+
				"LinkError for a module importing a tag or a global of type v128; RangeError past %d instances held at once; memory_limit_exceeded "+
				"when its initial memory does not fit in what is left of the sandbox's memory limit.", maxWasmJSInstances),
			sync: (*Sandbox).opWasmInstantiate},
		{name: "wasm_call", in: "u32 instance, u32 fn, u32 sync, u32 argument count, the arguments (u64 each, wasm bit patterns)",
			out: "u32 result count, then the results (u64 each); with sync: empty",
			doc: "Calls an exported function under the invocation's CPU and wall-time limits (exceeding one ends the invocation). " +
				"With sync the call waits for wasm_call_memory. A trap throws RuntimeError; a memory growth past the sandbox's " +
				"limit ends the invocation with memory_limit_exceeded.",
			sync: (*Sandbox).opWasmCall},
		{name: "wasm_call_memory", in: "the bytes of the instance's memory as JavaScript sees it (Memory.buffer)",
			out: "as wasm_call, then the memory's size (u32) and the runs of it the call changed (u32 offset, u32 length, bytes)",
			doc: "Runs the synced wasm_call just made: the bytes are written into the instance's memory before the call, and what " +
				"the call changed comes back after it (Memory.buffer's copy-in/copy-out).",
			sync: (*Sandbox).opWasmCallMemory},
		{name: "wasm_import_return", in: "a flag byte (1: the import threw), then the results (u64 each, wasm bit patterns)", out: "empty",
			doc: "The answer of a JavaScript import to the \"wasm_import\" message " + `{"type":"wasm_import","instance":n,"index":n,"args":[decimal u64 bits]}` +
				" that the host sends, re-entrantly, when an instance calls import index of its module.", sync: (*Sandbox).opWasmImportReturn},
		{name: "wasm_memory_pull", in: "decimal instance handle", out: "as the end of wasm_call_memory's answer: the memory's size and the runs JavaScript's copy lacks",
			doc: "A JavaScript import's entry while the memory's buffer is in use: the copy catches up with the running call.", sync: (*Sandbox).opWasmMemoryPull},
		{name: "wasm_memory_push", in: "JavaScript's copy of the memory", out: "empty",
			doc: "A JavaScript import's return while the memory's buffer is in use: what the import changed in the copy goes into the memory " +
				"of the instance whose import it is.", sync: (*Sandbox).opWasmMemoryPush},
		{name: "wasm_memory_read", in: "decimal instance handle", out: "the bytes of its memory",
			doc: "A copy of an instance's memory (Memory.buffer).", sync: (*Sandbox).opWasmMemoryRead},
		{name: "wasm_memory_write", in: "u32 instance, then bytes", out: "empty",
			doc: "Writes bytes over the start of an instance's memory (Memory.buffer's copy-in before grow).", sync: (*Sandbox).opWasmMemoryWrite},
		{name: "wasm_memory_grow", in: `JSON {"instance":n,"delta":n}`, out: "decimal previous size in pages",
			doc: "Memory.prototype.grow: RangeError past the memory's maximum or the sandbox's memory limit.", sync: (*Sandbox).opWasmMemoryGrow},
		{name: "wasm_global_cell", in: `JSON {"type":letter,"bits":"decimal u64 bits"}`, out: "decimal global handle",
			doc: fmt.Sprintf("Moves a mutable WebAssembly.Global made in JavaScript into the host when an instance first imports it, so that instances and "+
				"JavaScript share it (wasm_global with \"cell\"); RangeError past %d held at once, given back with wasm_release's \"global\".", maxWasmJSCells),
			sync: (*Sandbox).opWasmGlobalCell},
		{name: "wasm_table", in: `JSON {"instance":n,"name":string or "cell":n,"op":"size"|"grow"|"get"|"set","index"?:n,"delta"?:n,"ref"?:"decimal handle"}`,
			out: "r (externref table) or f (funcref table), then a decimal: the size, grow's previous size, get's element (a value's or function's handle, 0 for null)",
			doc: "A table from JavaScript (Table.prototype.length/get/set/grow): an instance's exported table or a table cell, through an " +
				"accessor module importing it; RangeError past the table's bounds or maximum.", sync: (*Sandbox).opWasmTableLogged},
		{name: "wasm_func_call", in: `JSON {"handle":n,"args":[{"n":"f64 bits"} or {"b":"i64 decimal"}]}`,
			out: "the result types' letters, then each result as ,decimal bits",
			doc: "Calls a function by handle (one a table, a result or a global gave JavaScript) under the invocation's limits: " +
				"its module's function types are tried, through call_indirect, until one matches; TypeError when none takes the arguments.",
			sync: (*Sandbox).opWasmFuncCall},
		{name: "wasm_func_export", in: `JSON {"instance":n,"name":string}`, out: "decimal function handle",
			doc: "The handle of an instance's exported function, for giving it to wasm (a funcref table, parameter or global); " +
				"its instance is then kept until the sandbox closes.", sync: (*Sandbox).opWasmFuncExport},
		{name: "wasm_func_info", in: "decimal function handle", out: `decimal instance handle, then ,"export name" (JSON string; empty when not an export)`,
			doc: "What a function handle is: the instance whose function it is and, if it is one, the export's name.", sync: (*Sandbox).opWasmFuncInfo},
		{name: "wasm_table_cell", in: `JSON {"element":"r"|"a","maximum"?:n,"elements":["decimal handle"...]}`, out: "decimal table handle",
			doc: fmt.Sprintf("Moves a WebAssembly.Table made in JavaScript into the host when an instance first imports it, so that "+
				"instances and JavaScript share it (wasm_table with \"cell\"); at most %d elements, %d tables held at once (RangeError).",
				maxWasmTableElements, maxWasmJSTableCells), sync: (*Sandbox).opWasmTableCell},
		{name: "wasm_memory_stage", in: "the bytes of a WebAssembly.Memory made in JavaScript", out: "empty",
			doc:  "Stages the contents of the memory the next wasm_instantiate imports (its \"memory\": {\"pages\",\"maximum\"?}); that instantiation takes them.",
			sync: (*Sandbox).opWasmMemoryStage},
		{name: "wasm_custom_sections", in: `JSON {"module":n,"name":string}`, out: "u32 count, then each section's u32 length and bytes",
			doc: "WebAssembly.Module.customSections: the contents of the module's custom sections of that name, in their order.", sync: (*Sandbox).opWasmCustomSections},
		{name: "wasm_global", in: `JSON {"instance":n,"name":string,"set"?:"decimal u64 bits"} or {"cell":n,...}`, out: "type letter (i, I, f, F, r externref, a funcref, v v128), 1 if mutable else 0, then the decimal u64 bits",
			doc: "Reads (or sets, when mutable) an exported global; the answer describes it and gives its value's bit pattern.", sync: (*Sandbox).opWasmGlobal},
	}
}

// checkWasmModules compiles the wasm modules of a JavaScript worker's map (Compile), so
// that a module that would fail with CompileError when imported fails the PUT instead.
// The compiled modules stay in the engine's table for the worker's loads.
func (e *Engine) checkWasmModules(ctx context.Context, mods ModuleMap) error {
	for _, name := range slices.Sorted(maps.Keys(mods)) {
		m := mods[name]
		if m.Type != ModuleWasm {
			continue
		}
		if len(m.Content) > maxWasmJSModuleBytes {
			return isoerr.New(isoerr.InvalidWorkerCode, "module %q is %d bytes; a JavaScript worker's wasm modules may be at most %d MiB", name, len(m.Content), maxWasmJSModuleBytes>>20)
		}
		// The bytes instances are made from (wasmjs_snapshot.go), so that loads find them compiled.
		c, err := e.wasmCompileJSModule(ctx, name, e.wasmPlan(m.Content, sha256.Sum256(m.Content)), m.Content, false)
		if err != nil {
			return err
		}
		e.wasmRelease(ctx, c)
	}
	return nil
}

func wasmError(class, format string, args ...any) error {
	return &hostError{name: class, msg: fmt.Sprintf(format, args...)}
}

func (sb *Sandbox) wasmJSState() *wasmJS {
	if sb.wjs == nil {
		sb.wjs = &wasmJS{modules: map[int]*jsWasmModule{}, insts: map[int]*jsWasmInstance{}}
		sb.mem.others = &sb.wjs.used
	}
	return sb.wjs
}

// closeWasmJS closes the sandbox's instances and gives back its modules (Close).
func (sb *Sandbox) closeWasmJS(ctx context.Context) {
	w := sb.wjs
	if w == nil {
		return
	}
	w.closing = true
	for h := range w.insts {
		sb.dropWasmInstance(ctx, h)
	}
	for h, c := range w.tcells {
		_ = c.acc.mod.Close(ctx)
		_ = c.mod.Close(ctx)
		delete(w.tcells, h)
	}
	for k, m := range w.callers {
		_ = m.Close(ctx)
		delete(w.callers, k)
	}
	for _, m := range w.spareMods {
		_ = m.Close(ctx)
	}
	w.spareMods, w.frefs, w.frefKeys = nil, nil, nil
	for _, m := range w.spares {
		m.Free()
	}
	w.spares = nil
	for h, c := range w.cells {
		_ = c.mod.Close(ctx)
		delete(w.cells, h)
	}
	for k, cm := range w.cellMods {
		cm.Close(ctx)
		delete(w.cellMods, k)
	}
	for k, cm := range w.linkCodes {
		cm.Close(ctx)
		delete(w.linkCodes, k)
	}
	for h, m := range w.modules {
		m.close()
		sb.e.wasmRelease(ctx, m.code)
		delete(w.modules, h)
	}
}

func (sb *Sandbox) dropWasmInstance(ctx context.Context, h int) {
	w := sb.wjs
	in := w.insts[h]
	if in == nil {
		return
	}
	if in.pinned && !w.closing {
		in.released = true // its functions may be held elsewhere: kept until the sandbox closes
		return
	}
	for _, t := range in.tables {
		_ = t.mod.Close(ctx)
	}
	if in.refGetter != nil {
		_ = in.refGetter.Close(ctx)
	}
	if in.hostGetter != nil {
		_ = in.hostGetter.Close(ctx)
	}
	_ = in.mod.Close(ctx) // frees its memory (jsWasmMemory.Free)
	closeAll(in.imps)
	sb.e.wasmRelease(ctx, in.code)
	in.origin.src.release()
	delete(w.insts, h)
}

// wasmRetain takes one more reference on a compiled module.
func (e *Engine) wasmRetain(c *wasmCode) {
	e.wasm.mu.Lock()
	c.refs++
	e.wasm.mu.Unlock()
}

func (sb *Sandbox) opWasmCompile(in []byte) ([]byte, error) {
	return sb.wasmCompileJS("<bytes>", in, false)
}

func (sb *Sandbox) opWasmModule(in []byte) ([]byte, error) {
	name := string(in)
	mod, ok := sb.cfg.Modules[name]
	if !ok || mod.Type != ModuleWasm {
		return nil, typeError("module %q is not a wasm module of the worker", name)
	}
	return sb.wasmCompileJS(name, mod.Content, true)
}

func (sb *Sandbox) opWasmValidate(in []byte) ([]byte, error) {
	if len(in) > maxWasmJSModuleBytes {
		return []byte("0"), nil
	}
	code, err := sb.e.wasmCompileModule(context.Background(), "<bytes>", in)
	if err != nil {
		if _, ok := err.(*isoerr.Error); ok && isoerr.As(err).Code == isoerr.InvalidWorkerCode {
			return []byte("0"), nil
		}
		return nil, err
	}
	sb.e.wasmRelease(context.Background(), code)
	return []byte("1"), nil
}

// wasmCompileJS compiles a module for the guest and answers its handle and descriptors;
// fromMap says bin is the content of the worker's module name (not the guest's bytes).
func (sb *Sandbox) wasmCompileJS(name string, bin []byte, fromMap bool) ([]byte, error) {
	w := sb.wasmJSState()
	if len(w.modules) >= maxWasmJSModules {
		return nil, wasmError("RangeError", "too many WebAssembly modules: a sandbox holds at most %d at once", maxWasmJSModules)
	}
	m, err := sb.newJSWasmModule(name, bin, fromMap, false)
	if err != nil {
		return nil, err
	}
	w.next++
	w.modules[w.next] = m
	return json.Marshal(map[string]any{"handle": w.next, "imports": m.imports, "exports": m.exports})
}

// newJSWasmModule compiles a module; with restore, instances of it run no start function
// (wasmjs_snapshot.go: an image's instances were started already).
func (sb *Sandbox) newJSWasmModule(name string, bin []byte, fromMap, restore bool) (*jsWasmModule, error) {
	w := sb.wasmJSState()
	if len(bin) > maxWasmJSModuleBytes {
		return nil, wasmError("CompileError", "the module is %d bytes; a sandbox compiles modules of at most %d MiB", len(bin), maxWasmJSModuleBytes>>20)
	}
	imports, exports, err := wasmDescriptors(bin)
	if err != nil {
		return nil, wasmError("CompileError", "invalid WebAssembly module: %v", err)
	}
	src := w.source(sb.e, name, bin, fromMap)
	code, err := sb.e.wasmCompileJSModule(context.Background(), name, src.plan, bin, restore)
	if err != nil {
		src.release()
		var ie *isoerr.Error
		if errors.As(err, &ie) && ie.Code == isoerr.InvalidWorkerCode {
			return nil, wasmError("CompileError", "%s", strings.Replace(ie.Message, "a WebAssembly worker", "a sandbox", 1))
		}
		return nil, err
	}
	custom, err := wasmCustomSections(bin)
	if err != nil {
		sb.e.wasmRelease(context.Background(), code)
		src.release()
		return nil, wasmError("CompileError", "invalid WebAssembly module: %v", err)
	}
	m := &jsWasmModule{code: code, name: name, imports: imports, exports: exports, custom: custom, types: uniqueFuncTypes(wasmFuncTypes(bin)), src: src}
	for _, e := range exports {
		if e.Kind == "function" {
			m.fnNames = append(m.fnNames, e.Name)
		}
	}
	for _, im := range imports {
		switch {
		case im.Kind == "global":
			vt := wasmValTypes[im.Type[0]]
			if vt == 0 && m.linkErr == nil {
				m.linkErr = wasmError("LinkError", "WebAssembly.Instance: the module imports %s.%s, a global of type v128, which cannot be given from JavaScript", im.Module, im.Name)
			}
			m.globals = append(m.globals, wasmGlobalImport{module: im.Module, name: im.Name, vt: vt, mutable: im.Mutable})
		case im.Kind == "memory" && m.memImport == nil:
			m.memImport = &im
		case im.Kind == "table":
			m.tableImps = append(m.tableImps, im)
		case im.Kind != "function" && m.linkErr == nil:
			m.linkErr = wasmError("LinkError", "WebAssembly.Instance: the module imports %s.%s (%s), which cannot be provided", im.Module, im.Name, im.Kind)
		}
	}
	m.leaky = leaksFuncs(m, bin)
	fi := 0
	for _, d := range code.cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		m.funcs = append(m.funcs, jsImportFunc{module: mod, name: name, params: d.ParamTypes(), results: d.ResultTypes()})
		for fi < len(imports) && imports[fi].Kind != "function" {
			fi++
		}
		if fi < len(imports) {
			imports[fi].Params, imports[fi].Results = typeLetters(d.ParamTypes()), typeLetters(d.ResultTypes())
			fi++
		}
	}
	defs := code.cm.ExportedFunctions()
	for i := range exports {
		if d := defs[exports[i].Name]; exports[i].Kind == "function" && d != nil {
			exports[i].Params, exports[i].Results = typeLetters(d.ParamTypes()), typeLetters(d.ResultTypes())
		}
	}
	return m, nil
}

func (sb *Sandbox) opWasmRelease(in []byte) ([]byte, error) {
	var a struct{ Module, Instance, Global, Table int }
	if err := decode("wasm_release", in, &a); err != nil {
		return nil, err
	}
	w := sb.wasmJSState()
	if c := w.tcells[a.Table]; c != nil {
		// Instances importing it hold the table itself; what it holds is pinned.
		_ = c.acc.mod.Close(context.Background())
		_ = c.mod.Close(context.Background())
		delete(w.tcells, a.Table)
	}
	if c := w.cells[a.Global]; c != nil {
		_ = c.mod.Close(context.Background())
		delete(w.cells, a.Global)
	}
	if m := w.modules[a.Module]; m != nil {
		m.close()
		sb.e.wasmRelease(context.Background(), m.code)
		delete(w.modules, a.Module)
	}
	sb.dropWasmInstance(context.Background(), a.Instance)
	return nil, nil
}

func (sb *Sandbox) opWasmInstantiate(in []byte) ([]byte, error) {
	w := sb.wasmJSState()
	var a struct {
		Module  int
		Globals []wasmGlobalLink
		Memory  *wasmMemoryLink
		Tables  []wasmTableLink
	}
	if len(in) > 0 && in[0] == '{' {
		if err := decode("wasm_instantiate", in, &a); err != nil {
			return nil, err
		}
	} else {
		a.Module, _ = strconv.Atoi(string(in))
	}
	m := w.modules[a.Module]
	if m == nil {
		return nil, typeError("WebAssembly.Instance: not a module of this sandbox")
	}
	if m.linkErr != nil {
		return nil, m.linkErr
	}
	if len(w.insts) >= maxWasmJSInstances {
		return nil, wasmError("RangeError", "too many WebAssembly instances: a sandbox holds at most %d at once", maxWasmJSInstances)
	}
	limit := sb.mem.limit
	memMin := m.code.memMin
	staged := w.stagedMem
	w.stagedMem = nil
	var memOwner *jsWasmInstance // the instance whose memory it imports
	if m.memImport != nil && a.Memory != nil && a.Memory.Instance != 0 {
		owner, err := sb.instance(uint32(a.Memory.Instance))
		if err != nil {
			return nil, err
		}
		if memOwner = owner.memHolder(); owner.memSrc == nil {
			return nil, wasmError("LinkError", "WebAssembly.Instance: import %s.%s: the memory cannot be reached", m.memImport.Module, m.memImport.Name)
		}
		a.Memory.src, a.Memory.name = owner.memSrc, owner.memName
		memMin = 0 // counted already
	} else if m.memImport != nil {
		if a.Memory == nil || uint64(len(staged)) != uint64(a.Memory.Pages)<<16 {
			return nil, wasmError("LinkError", "WebAssembly.Instance: import %s.%s must be a WebAssembly.Memory", m.memImport.Module, m.memImport.Name)
		}
		mi := m.memImport
		if a.Memory.Pages < mi.Initial || (mi.Maximum != nil && (a.Memory.Maximum == nil || *a.Memory.Maximum > *mi.Maximum)) {
			return nil, wasmError("LinkError", "WebAssembly.Instance: import %s.%s: the WebAssembly.Memory's size or maximum does not fit the import's limits", mi.Module, mi.Name)
		}
		memMin = uint64(a.Memory.Pages) << 16
	}
	if memMin+uint64(sb.mem.Len())+w.used > limit {
		sb.inv.stop(isoerr.New(isoerr.MemoryLimitExceeded, "the WebAssembly module starts with %d MiB of memory, more than is left of the sandbox's memory limit of %d MiB",
			memMin>>20, limit>>20))
		return nil, wasmError("RangeError", "WebAssembly.Instance: out of memory")
	}
	if err := sb.wasmImportSetup(context.Background(), m); err != nil {
		return nil, err
	}
	w.next++
	ih := w.next
	imps, err := sb.wasmImportInstances(context.Background(), m, &ih)
	if err != nil {
		return nil, err
	}
	mem := &jsWasmMemory{limitedMemory: w.takeSpare(limit), w: w, sb: sb}
	var sources []*jsWasmInstance // instances whose tables it imports
	if len(m.globals) > 0 || m.memImport != nil || len(m.tableImps) > 0 {
		if sources, err = sb.wasmLinkModules(context.Background(), m, imps, a.Globals, a.Memory, staged, mem, a.Tables); err != nil {
			closeAll(imps)
			mem.Free()
			return nil, err
		}
	}
	var mod api.Module
	prev := w.instantiating
	w.instantiating = ih
	err = sb.wasmGuard("WebAssembly.Instance", mem, func(ctx context.Context) (err error) {
		ictx := experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(
			func(cap, max uint64) experimental.LinearMemory { return mem }))
		ictx = experimental.WithImportResolver(ictx, func(name string) api.Module { return imps[name] })
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%v", p)
			}
		}()
		mod, err = sb.e.wasm.rt.InstantiateModule(ictx, m.code.cm, w.config())
		return err
	})
	w.instantiating = prev
	if err != nil {
		if mod != nil {
			_ = mod.Close(context.Background())
		}
		closeAll(imps)
		mem.Free()
		return nil, err
	}
	sb.e.wasmRetain(m.code) // the instance outlives its module's handle
	inst := &jsWasmInstance{mod: mod, mem: mem, code: m.code, fnNames: m.fnNames, imps: imps, types: m.types, funcs: m.funcs,
		origin: m.src.origin(a.Globals, a.Memory)}
	switch {
	case memOwner != nil:
		// One memory, two instances: the owner's bookkeeping and allocator; both stay until
		// the sandbox closes (closing either would free the memory under the other).
		inst.memOwner, inst.memSrc, inst.memName = memOwner, a.Memory.src, a.Memory.name
		inst.mem = memOwner.mem
		mem.Free() // it never held the memory
		inst.pinned, memOwner.pinned = true, true
	case m.memImport != nil:
		inst.memSrc, inst.memName = imps[m.memImport.Module], m.memImport.Name
	default:
		for _, e := range m.exports {
			if e.Kind == "memory" {
				inst.memSrc, inst.memName = mod, e.Name
				break
			}
		}
	}
	if len(m.tableImps) > 0 || slices.ContainsFunc(m.globals, func(g wasmGlobalImport) bool { return g.vt == 0x70 }) {
		// It may store its functions where others call them; what it imports from must stay.
		inst.pinned = true
		for _, src := range sources {
			src.pinned = true
		}
	}
	w.insts[ih] = inst
	return []byte(strconv.Itoa(ih)), nil
}

// wasmGuard runs body, which runs guest wasm, under what is left of the invocation's CPU
// and wall time (the watchdog of WebAssembly workers cancels body's context, and wazero
// stops the instance at its next check). A limit or cancellation stops the invocation
// (the guest cannot catch it); a refused memory growth does too, as memory_limit_exceeded;
// any other failure (a trap) is a RuntimeError the guest can catch.
func (sb *Sandbox) wasmGuard(what string, mem *jsWasmMemory, body func(context.Context) error) error {
	inv := sb.inv
	now := time.Now()
	left := Limits{CPU: inv.limits.CPU - inv.cpu - inv.sliceCPU(now), Wall: inv.deadline.Sub(now)}
	switch {
	case left.CPU <= 0:
		inv.stop(isoerr.New(isoerr.CPULimitExceeded, "the invocation used more than its CPU limit of %v", inv.limits.CPU))
	case left.Wall <= 0:
		inv.stop(wallError(inv))
	case inv.ctx.Err() != nil:
		inv.stop(canceledError(inv))
	}
	if inv.sig.stopped != nil {
		return inv.sig.stopped
	}
	rctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	dog := startWatchdog(inv.ctx, stop, left, currentThreadClock())
	err := body(context.WithValue(rctx, sandboxKey{}, sb)) // imports find the sandbox in it
	dog.end()
	if mem != nil && mem.refused.Load() {
		mem.refused.Store(false)
		inv.stop(memoryError(sb.mem.limit))
		return inv.sig.stopped
	}
	if cause := context.Cause(rctx); cause != nil && err != nil {
		var ie *isoerr.Error
		if errors.As(cause, &ie) {
			// The invocation's own limits, re-described with the invocation's figures.
			switch ie.Code {
			case isoerr.CPULimitExceeded:
				ie = isoerr.New(isoerr.CPULimitExceeded, "the invocation used more than its CPU limit of %v", inv.limits.CPU)
			case isoerr.WallTimeExceeded:
				ie = wallError(inv)
			}
			inv.stop(ie)
			return inv.sig.stopped
		}
	}
	if err == nil {
		return nil
	}
	if inv.sig.stopped != nil { // a limit tripped in a JavaScript import
		return inv.sig.stopped
	}
	if errors.Is(err, errImportThrew) || strings.Contains(err.Error(), errImportThrew.Error()) {
		return wasmError("WasmImportThrew", "a JavaScript import threw")
	}
	if errors.Is(err, errImportDepth) || strings.Contains(err.Error(), errImportDepth.Error()) {
		return wasmError("RangeError", "%s", errImportDepth)
	}
	if what == "WebAssembly.Instance" && strings.HasPrefix(err.Error(), "import ") {
		return wasmError("LinkError", "WebAssembly.Instance: %s", err)
	}
	if strings.Contains(err.Error(), "stack overflow") {
		return wasmError("RangeError", "Maximum call stack size exceeded (wasm trap: stack overflow in %s)", what)
	}
	return wasmError("RuntimeError", "%s", strings.TrimSuffix(trapMessage(err), " (recovered by wazero)"))
}

func (sb *Sandbox) instance(h uint32) (*jsWasmInstance, error) {
	in := sb.wasmJSState().insts[int(h)]
	if in == nil {
		return nil, typeError("not a WebAssembly instance of this sandbox")
	}
	if in.dead != nil {
		return nil, in.dead
	}
	return in, nil
}

func (sb *Sandbox) opWasmCall(in []byte) ([]byte, error) {
	if len(in) >= 16 && binary.LittleEndian.Uint32(in[8:]) != 0 {
		sb.wasmJSState().staged = bytes.Clone(in) // the memory follows (wasm_call_memory)
		return nil, nil
	}
	return sb.wasmCallExport(in, nil)
}

func (sb *Sandbox) opWasmCallMemory(in []byte) ([]byte, error) {
	w := sb.wasmJSState()
	head := w.staged
	w.staged = nil
	if head == nil {
		return nil, typeError("wasm_call_memory without wasm_call")
	}
	return sb.wasmCallExport(head, in)
}

// wasmCallExport runs one call of an exported function; head is wasm_call's payload, and
// mirror, when the call is synced, the memory as JavaScript sees it (a view of QuickJS's
// memory: the copy-in, and what the copy-out is compared with).
func (sb *Sandbox) wasmCallExport(in, mirror []byte) ([]byte, error) {
	if len(in) < 16 {
		return nil, typeError("wasm_call: short payload")
	}
	le := binary.LittleEndian
	inst, err := sb.instance(le.Uint32(in))
	if err != nil {
		return nil, err
	}
	fnIdx, sync, n := le.Uint32(in[4:]), mirror != nil, le.Uint32(in[12:])
	if fnIdx == 0 || int(fnIdx) > len(inst.fnNames) {
		return nil, typeError("wasm_call: no such export")
	}
	if inst.fns == nil {
		inst.fns = make([]api.Function, len(inst.fnNames))
		inst.busy = make([]bool, len(inst.fnNames))
	}
	if inst.fns[fnIdx-1] == nil {
		if inst.fns[fnIdx-1] = inst.mod.ExportedFunction(inst.fnNames[fnIdx-1]); inst.fns[fnIdx-1] == nil {
			return nil, typeError("wasm_call: no such export")
		}
	}
	fn := inst.fns[fnIdx-1]
	if inst.busy[fnIdx-1] {
		// A call from a JavaScript import into an export already running: an api.Function
		// cannot be entered twice (its call engine's stack is in use), so this call gets its own.
		fn = inst.mod.ExportedFunction(inst.fnNames[fnIdx-1])
	} else {
		inst.busy[fnIdx-1] = true
		defer func() { inst.busy[fnIdx-1] = false }()
	}
	if uint64(len(in)) < 16+8*uint64(n) || int(n) != len(fn.Definition().ParamTypes()) {
		return nil, typeError("wasm_call: wrong argument count")
	}
	args := make([]uint64, n)
	for i := range args {
		args[i] = le.Uint64(in[16+8*i:])
	}
	def := fn.Definition()
	if err := sb.wasmJSState().refsIn(def.ParamTypes(), args); err != nil {
		return nil, err
	}
	mem := inst.mod.Memory()
	if sync && mem != nil {
		// Copy-in: what JavaScript wrote into its view of the memory (as long as the memory
		// is; a view from before a growth covers a prefix).
		prev := mirror[:min(uint64(len(mirror)), uint64(mem.Size()))]
		mem.Write(0, prev)
		if len(inst.imps) > 0 || sb.mem.release == nil {
			// prev is a view of QuickJS's memory, where an import's JavaScript may run
			// (and, without a reservation, move it) during the call.
			prev = bytes.Clone(prev)
		}
		ms := inst.memHolder()
		saved, savedKnown := ms.agreed, ms.known
		ms.agreed, ms.known = prev, true
		ms.active++
		defer func() {
			ms.active--
			if ms.active == 0 {
				ms.agreed, ms.known = nil, false
			} else if !ms.known || err != nil {
				ms.agreed, ms.known = saved, savedKnown
			}
		}()
	}
	var results []uint64
	err = sb.wasmGuard("a call to "+fn.Definition().ExportNames()[0], inst.mem, func(ctx context.Context) error {
		var err error
		results, err = wasmDepthCall(ctx, inst.mod, fn, args...)
		return err
	})
	if inst.mod.IsClosed() {
		inst.dead = typeError("the WebAssembly instance was stopped by a limit")
	}
	if err != nil {
		return nil, err
	}
	if err := sb.refsOut(def.ResultTypes(), results, inst); err != nil {
		return nil, err
	}
	out := make([]byte, 4+8*len(results))
	le.PutUint32(out, uint32(len(results)))
	for i, r := range results {
		le.PutUint64(out[4+8*i:], r)
	}
	if sync && mem != nil {
		out = inst.memHolder().pull(out, inst.memHolder().active > 1) // nested in an outer call: its imports go on
	}
	return out, nil
}

func (sb *Sandbox) opWasmGlobal(in []byte) ([]byte, error) {
	var a struct {
		Instance uint32
		Cell     int
		Name     string
		Set      *string
	}
	if err := decode("wasm_global", in, &a); err != nil {
		return nil, err
	}
	if strings.HasPrefix(a.Name, wasmStatePrefix) { // the images' own exports (wasmjs_snapshot.go)
		return nil, typeError("the instance exports no global %q", a.Name)
	}
	var g api.Global
	if a.Cell != 0 {
		c := sb.wasmJSState().cells[a.Cell]
		if c == nil {
			return nil, typeError("not a WebAssembly.Global of this sandbox")
		}
		g = c.mod.ExportedGlobal("g")
	} else {
		inst, err := sb.instance(a.Instance)
		if err != nil {
			return nil, err
		}
		g = inst.mod.ExportedGlobal(a.Name)
	}
	if g == nil {
		return nil, typeError("the instance exports no global %q", a.Name)
	}
	if a.Set != nil {
		mg, ok := g.(api.MutableGlobal)
		if !ok {
			return nil, typeError("WebAssembly.Global: the global %q is immutable", a.Name)
		}
		v, err := strconv.ParseUint(*a.Set, 10, 64)
		if err != nil {
			return nil, typeError("wasm_global: %v", err)
		}
		if g.Type() == 0x70 {
			if v, err = sb.wasmJSState().funcRaw(v); err != nil {
				return nil, err
			}
		}
		mg.Set(v)
	}
	val := g.Get()
	if g.Type() == 0x70 {
		var src *jsWasmInstance
		if a.Cell == 0 {
			src, _ = sb.instance(a.Instance)
		}
		h, err := sb.funcHandle(val, src)
		if err != nil {
			return nil, err
		}
		val = uint64(h)
	}
	_, mutable := g.(api.MutableGlobal)
	letter := wasmTypeLetters[g.Type()]
	if letter == 0 {
		letter = '?'
	}
	flag := byte('0')
	if mutable {
		flag = '1'
	}
	return strconv.AppendUint([]byte{letter, flag}, val, 10), nil
}

// config is the instance config of every instance: no name (the runtime's namespace is
// shared), no start functions but the module's own start section, and a random source
// that costs nothing to make (wazero's default seeds a math/rand source per instance;
// nothing here reads it, since a module imports only JavaScript functions).
func (w *wasmJS) config() wazero.ModuleConfig {
	if w.cfg == nil {
		w.cfg = wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(rand.Reader)
	}
	return w.cfg
}

// wasmDescriptors reads a module's imports and exports in their order (the JS API's
// Module.imports and Module.exports), which wazero's API does not show in order nor for
// globals and tables. It reads only the import and export sections; the compiler judges
// the rest.
func wasmDescriptors(b []byte) (imports []wasmImportDesc, exports []wasmExportDesc, err error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, nil, errors.New("it does not start with \\0asm")
	}
	r := &wasmReader{b: b[8:]}
	imports, exports = []wasmImportDesc{}, []wasmExportDesc{}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)) {
			return nil, nil, errors.New("a section runs past the end")
		}
		sec := &wasmReader{b: r.b[:size]}
		r.b = r.b[size:]
		switch id {
		case 2:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				d := wasmImportDesc{Module: sec.name(), Name: sec.name()}
				kind := sec.byte()
				d.Kind = wasmKinds[kind]
				switch kind {
				case 0:
					sec.u32()
				case 1:
					d.Type = typeLetters([]api.ValueType{sec.byte()})
					sec.limits()
				case 2:
					flags := sec.byte()
					d.Initial = sec.u32()
					if flags&1 != 0 {
						mx := sec.u32()
						d.Maximum = &mx
					}
				case 3:
					vt := api.ValueType(sec.byte())
					d.Type = typeLetters([]api.ValueType{vt})
					d.Mutable = sec.byte() == 1
				case 4:
					sec.byte()
					sec.u32()
				default:
					return nil, nil, fmt.Errorf("import of unknown kind %d", kind)
				}
				imports = append(imports, d)
			}
		case 7:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				d := wasmExportDesc{Name: sec.name()}
				kind := sec.byte()
				d.Index = sec.u32()
				if d.Kind = wasmKinds[kind]; d.Kind == "" {
					return nil, nil, fmt.Errorf("export of unknown kind %d", kind)
				}
				exports = append(exports, d)
			}
		}
		if sec.err != nil {
			return nil, nil, fmt.Errorf("section %d: %v", id, sec.err)
		}
	}
	return imports, exports, r.err
}

// limits reads a table's or memory's limits.
func (r *wasmReader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}
