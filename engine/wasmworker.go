package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isobox/isobox/isoerr"
)

// WebAssembly workers: a worker whose main module is a wasm module (WASI preview 1) runs
// directly on wazero, with no QuickJS underneath (SandboxConfig.Wasm).
//
// A module that exports _start is a command: each fetch instantiates it afresh and runs
// _start with the request body on stdin, the request line and headers in the environment
// (REQUEST_METHOD, REQUEST_URL, HTTP_<NAME>, CGI style), and reads the response from
// stdout (an optional CGI header block first, see parseCGI). A module without _start is
// a reactor: it is instantiated once per sandbox (its _initialize runs at load) and its
// exported functions are RPC methods taking and returning numbers.
//
// User modules run in their own wazero runtime, made on first use: the engine's runtime
// stops QuickJS through its interrupt handler and leaves wazero's termination checks off,
// but arbitrary wasm polls nothing, so this runtime compiles them in
// (WithCloseOnContextDone) and a watchdog cancels the call when a limit trips. The
// module sees WASI only: no preopened directory, no socket, an environment made of the
// worker's env and the request, argv of just the module's name.

// wasmState is the engine's side of WebAssembly workers: the runtime and the modules
// compiled on it, by SHA-256 of their bytes.
type wasmState struct {
	once     sync.Once
	rt       wazero.Runtime
	wasi     map[string]api.FunctionDefinition // what wasi_snapshot_preview1 exports
	err      error
	mu       sync.Mutex
	compiled map[[32]byte]*wasmCode
	closed   bool
	plans    map[[32]byte]*wasmStatePlan // image plans of modules compiled from JavaScript, by their bytes' SHA-256 (wasmjs_snapshot.go)
}

// wasmCode is one compiled user module, shared by the sandboxes that run it.
type wasmCode struct {
	sum     [32]byte
	cm      wazero.CompiledModule
	command bool   // exports _start
	memMin  uint64 // the initial size of its memory in bytes
	refs    int    // sandboxes using it
	used    time.Time
}

// maxWasmCodes bounds the compiled modules kept while no sandbox uses them.
const maxWasmCodes = 64

// maxWasmTableElements bounds the elements of all of a module's tables together: a
// table lives in host memory (8 bytes an element), outside the sandbox's memory limit, so
// every table must declare a maximum and together they may not exceed this (8 MiB).
const maxWasmTableElements = 1 << 20

func (w *wasmState) close(ctx context.Context) {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	if w.rt != nil {
		_ = w.rt.Close(ctx)
	}
}

// wasmRuntime returns the runtime user modules run on, making it on first use.
func (e *Engine) wasmRuntime() (wazero.Runtime, error) {
	w := &e.wasm
	w.once.Do(func() {
		rc := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true)
		if dir := e.py.cacheDir; dir != "" {
			if cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(dir, "wazero")); err == nil {
				rc = rc.WithCompilationCache(cache)
			}
		}
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, rc)
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			rt.Close(ctx)
			w.err = fmt.Errorf("engine: wasi for WebAssembly workers: %w", err)
			return
		}
		w.wasi = rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions()
		w.rt = rt
		w.compiled = map[[32]byte]*wasmCode{}
	})
	return w.rt, w.err
}

// wasmCompile returns the compiled form of a WebAssembly worker's module (compiling it, or
// taking it from the engine's table or wazero's file cache), holding a reference that
// wasmRelease gives back. It refuses a module that imports anything a WebAssembly worker
// lacks.
func (e *Engine) wasmCompile(ctx context.Context, name string, bin []byte) (*wasmCode, error) {
	return e.wasmCompileVariant(ctx, name, bin, false)
}

// wasmCompileVariant is wasmCompile of the rewrite of bin that images read the state
// through (wasmjs_snapshot.go); with restore, without its start section.
func (e *Engine) wasmCompileVariant(ctx context.Context, name string, bin []byte, restore bool) (*wasmCode, error) {
	if _, err := e.wasmRuntime(); err != nil {
		return nil, err
	}
	c, err := e.wasmCompileJSModule(ctx, name, e.wasmPlan(bin, sha256.Sum256(bin)), bin, restore)
	if err != nil {
		return nil, err
	}
	if err := checkWasmWorkerImports(name, bin, c.cm, e.wasm.wasi); err != nil {
		e.wasmRelease(ctx, c)
		return nil, err
	}
	return c, nil
}

// wasmCompileModule is wasmCompile without the judgement of imports: the module compiles
// and its tables are bounded (checkWasmBinary). The WebAssembly global of JavaScript
// sandboxes (wasmjs.go) compiles through it, sharing the table.
func (e *Engine) wasmCompileModule(ctx context.Context, name string, bin []byte) (*wasmCode, error) {
	return e.wasmCompileSum(ctx, name, sha256.Sum256(bin), func() []byte { return bin })
}

// wasmCompileSum is wasmCompileModule for bytes whose SHA-256 is known: they are made
// (getBin) only when the table lacks them.
func (e *Engine) wasmCompileSum(ctx context.Context, name string, sum [32]byte, getBin func() []byte) (*wasmCode, error) {
	rt, err := e.wasmRuntime()
	if err != nil {
		return nil, err
	}
	w := &e.wasm
	w.mu.Lock()
	if c := w.compiled[sum]; c != nil {
		c.refs++
		w.mu.Unlock()
		return c, nil
	}
	w.mu.Unlock()
	bin := getBin()
	memMin, err := checkWasmBinary(name, bin)
	if err != nil {
		return nil, err
	}
	limited, err := wasmLimitDepth(bin) // bounds its call stack (wasmdepth.go)
	if err != nil {
		return nil, isoerr.New(isoerr.InvalidWorkerCode, "module %q is not a valid WebAssembly module: %v", name, err)
	}
	cm, err := rt.CompileModule(ctx, limited)
	if err != nil {
		return nil, isoerr.New(isoerr.InvalidWorkerCode, "module %q is not a valid WebAssembly module: %v", name, err)
	}
	_, command := cm.ExportedFunctions()["_start"]
	c := &wasmCode{sum: sum, cm: cm, command: command, refs: 1, memMin: memMin}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		cm.Close(ctx)
		return nil, isoerr.New(isoerr.ShuttingDown, "the engine is closed")
	}
	if old := w.compiled[sum]; old != nil { // compiled meanwhile by another sandbox
		cm.Close(ctx)
		old.refs++
		return old, nil
	}
	w.compiled[sum] = c
	w.evict(ctx)
	return c, nil
}

// wasmRelease gives back a reference wasmCompile took.
func (e *Engine) wasmRelease(ctx context.Context, c *wasmCode) {
	w := &e.wasm
	w.mu.Lock()
	defer w.mu.Unlock()
	c.refs--
	c.used = time.Now()
	w.evict(ctx)
}

// evict closes the least recently used modules no sandbox uses while more than
// maxWasmCodes are kept. Called with w.mu held.
func (w *wasmState) evict(ctx context.Context) {
	if len(w.compiled) <= maxWasmCodes {
		return
	}
	var idle []*wasmCode
	for _, c := range w.compiled {
		if c.refs == 0 {
			idle = append(idle, c)
		}
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i].used.Before(idle[j].used) })
	for _, c := range idle {
		if len(w.compiled) <= maxWasmCodes {
			return
		}
		delete(w.compiled, c.sum)
		c.cm.Close(ctx)
	}
}

// checkWasmWorkerImports refuses a module that imports anything but WASI preview 1
// functions with their WASI signatures: a WebAssembly worker gets nothing else, and saying
// which import is missing at load beats an instantiation error at the first request.
func checkWasmWorkerImports(name string, bin []byte, cm wazero.CompiledModule, wasi map[string]api.FunctionDefinition) error {
	imports, _, _ := wasmDescriptors(bin) // it compiled: the sections read
	for _, im := range imports {
		if im.Kind != "function" {
			what := map[string]string{"table": "a table", "memory": "a memory", "global": "a global", "tag": "a tag"}[im.Kind]
			return isoerr.New(isoerr.InvalidWorkerCode, "module %q imports %s.%s (%s), which a WebAssembly worker does not have: it gets WASI preview 1 functions only",
				name, im.Module, im.Name, what)
		}
	}
	for _, f := range cm.ImportedFunctions() {
		mod, fn, _ := f.Import()
		def, ok := wasi[fn]
		if mod != wasi_snapshot_preview1.ModuleName || !ok {
			return isoerr.New(isoerr.InvalidWorkerCode, "module %q imports %s.%s, which a WebAssembly worker does not have: it gets WASI preview 1 (%s) only",
				name, mod, fn, wasi_snapshot_preview1.ModuleName)
		}
		if !slices.Equal(def.ParamTypes(), f.ParamTypes()) || !slices.Equal(def.ResultTypes(), f.ResultTypes()) {
			return isoerr.New(isoerr.InvalidWorkerCode, "module %q imports %s.%s with the signature %s, but WASI's is %s",
				name, mod, fn, signature(f), signature(def))
		}
	}
	return nil
}

// signature describes a function type as "(i32, i32) -> i64".
func signature(f api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + names(f.ParamTypes()) + ") -> (" + names(f.ResultTypes()) + ")"
}

// wasmSandbox is the state of a WebAssembly worker's sandbox.
type wasmSandbox struct {
	main string
	code *wasmCode
	env  [][2]string   // the worker's env as environment variables
	mod  api.Module    // the reactor's instance; nil for a command
	out  *switchWriter // the reactor's stdout and stderr, pointed at each invocation's buffers
	err  *switchWriter
	fns  map[string]api.Function // the reactor's exports looked up so far (wazero makes one per lookup)
	// A command's instance config without the request, and the memory its last request
	// left (cleared), which the next one reuses.
	base  wazero.ModuleConfig
	spare *limitedMemory
}

// newWasm makes a WebAssembly worker's sandbox: nothing runs until Load.
func (e *Engine) newWasm(ctx context.Context, cfg SandboxConfig) (*Sandbox, error) {
	if _, err := e.wasmRuntime(); err != nil {
		return nil, err
	}
	return &Sandbox{e: e, cfg: cfg, ctx: context.Background(), mem: &limitedMemory{limit: cfg.Memory},
		wasm: &wasmSandbox{out: &switchWriter{}, err: &switchWriter{}}}, nil
}

// closeWasm frees the reactor's instance and the sandbox's hold on its compiled module.
func (sb *Sandbox) closeWasm(ctx context.Context) {
	w := sb.wasm
	if w.mod != nil {
		_ = w.mod.Close(ctx)
		w.mod = nil
	}
	sb.mem.Free()
	if w.spare != nil {
		w.spare.Free()
		w.spare = nil
	}
	if w.code != nil {
		sb.e.wasmRelease(ctx, w.code)
		w.code = nil
	}
}

// wasmEnv turns a worker's env (a JSON object) into environment variables: strings as
// they are, other values as JSON.
func wasmEnv(env json.RawMessage) ([][2]string, error) {
	var m map[string]json.RawMessage
	if len(env) > 0 {
		if err := json.Unmarshal(env, &m); err != nil {
			return nil, isoerr.New(isoerr.InvalidWorkerCode, "env must be a JSON object: %v", err)
		}
	}
	out := make([][2]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := string(m[k])
		var s string
		if json.Unmarshal(m[k], &s) == nil {
			v = s
		}
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, isoerr.New(isoerr.InvalidWorkerCode, "env.%q cannot be an environment variable of a WebAssembly worker (names need no '=' or NUL, values no NUL)", k)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// wasmLoad is Load for a WebAssembly worker: it compiles the main module (once per code,
// see wasmCompile) and, for a reactor, instantiates it and runs its _initialize.
func (sb *Sandbox) wasmLoad(ctx context.Context, lim Limits, main string, env json.RawMessage) (*Result, error) {
	w := sb.wasm
	if sb.loaded || w.code != nil {
		return &Result{}, isoerr.New(isoerr.Internal, "engine: the WebAssembly worker is loaded already")
	}
	vars, err := wasmEnv(env)
	if err != nil {
		return &Result{}, err
	}
	code, err := sb.e.wasmCompile(ctx, main, sb.cfg.Modules[main].Content)
	if err != nil {
		return &Result{}, err
	}
	w.main, w.code, w.env = main, code, vars
	if code.command {
		// Env values named like the request's variables are hidden by the request's.
		w.base = sb.wasmModuleConfig(slices.DeleteFunc(slices.Clone(vars), func(kv [2]string) bool { return requestVariable(kv[0]) }))
		sb.loaded = true
		return &Result{}, nil
	}
	inv := &wasmInvocation{}
	res, err := sb.wasmRun(ctx, lim, inv, func(rctx context.Context) error {
		cfg := sb.wasmModuleConfig(w.env).WithStdout(w.out).WithStderr(w.err)
		mem := newLimitedMemory(sb.cfg.Memory)
		sb.mem, inv.mem = mem, mem // freed by Close
		mod, err := sb.e.wasmInstantiate(rctx, code, cfg, mem)
		if err != nil {
			return err
		}
		w.mod = mod
		if f := mod.ExportedFunction("_initialize"); f != nil {
			_, err = wasmDepthCall(rctx, mod, f)
		}
		return err
	})
	if err == nil {
		sb.loaded = true
	}
	return res, err
}

// wasmModuleConfig is what a user module's instance gets from its host: the given
// environment, argv of the module's name, real clocks, crypto/rand, and no files (stdin
// empty unless set).
func (sb *Sandbox) wasmModuleConfig(env [][2]string) wazero.ModuleConfig {
	cfg := wazero.NewModuleConfig().WithName("").WithArgs(sb.wasm.main).WithStartFunctions().
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	for _, kv := range env {
		cfg = cfg.WithEnv(kv[0], kv[1])
	}
	return cfg
}

// wasmInstantiate makes an instance of code whose linear memory is held to memLimit.
// wasmInstantiate makes an instance of code on mem, a memory of the caller's: wazero does
// not free it when the instance closes (heldMemory), so a command's sandbox can reuse it.
func (e *Engine) wasmInstantiate(ctx context.Context, code *wasmCode, cfg wazero.ModuleConfig, mem *limitedMemory) (mod api.Module, err error) {
	if code.memMin > mem.limit {
		// wazero cannot take an allocator's refusal of the initial size.
		return nil, isoerr.New(isoerr.MemoryLimitExceeded, "the WebAssembly module starts with %d MiB of memory, over the sandbox's memory limit of %d MiB", code.memMin>>20, mem.limit>>20)
	}
	ictx := experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(
		func(cap, max uint64) experimental.LinearMemory { return heldMemory{mem} }))
	defer func() {
		if p := recover(); p != nil {
			mod, err = nil, isoerr.New(isoerr.InvalidWorkerCode, "the WebAssembly module cannot be instantiated: %v", p)
		}
	}()
	mod, err = e.wasm.rt.InstantiateModule(ictx, code.cm, cfg)
	if err != nil && mod == nil && !mem.refused.Load() && ctx.Err() == nil {
		var exit *sys.ExitError
		if !errors.As(err, &exit) {
			return nil, isoerr.New(isoerr.InvalidWorkerCode, "the WebAssembly module cannot be instantiated: %v", err)
		}
	}
	return mod, err
}

// heldMemory is a limitedMemory that wazero does not free: its owner does.
type heldMemory struct{ *limitedMemory }

func (heldMemory) Free() {}

// maxSpareMemory bounds the memory a command's sandbox keeps between requests (cleared)
// rather than give back and map again: past it, clearing costs more than new pages.
const maxSpareMemory = 1 << 20

// takeSpare returns the command's memory kept from its last request, emptied, or a new one.
func (w *wasmSandbox) takeSpare(limit uint64) *limitedMemory {
	if m := w.spare; m != nil {
		w.spare = nil
		m.buf = m.buf[:0]
		return m
	}
	return newLimitedMemory(limit)
}

// keepSpare keeps a command's memory for the next request when it is small and cleared
// (what wazero expects of new memory), and frees it otherwise.
func (w *wasmSandbox) keepSpare(m *limitedMemory) {
	if m.release == nil || m.refused.Load() || m.Len() > maxSpareMemory {
		m.Free()
		return
	}
	clear(m.buf)
	w.spare = m
}

// wasmInvocation is what one invocation of a WebAssembly worker collects.
type wasmInvocation struct {
	stdout, stderr capBuffer
	mem            *limitedMemory // the instance's memory, to tell a refused growth
}

// wasmRun runs body under the limits: on a locked OS thread whose CPU clock a watchdog
// reads, which cancels body's context (wazero then stops the guest at its next check)
// when the CPU or wall-time limit passes or ctx ends. It judges the outcome (wasmVerdict)
// and returns the result with stderr as logs.
func (sb *Sandbox) wasmRun(ctx context.Context, lim Limits, inv *wasmInvocation, body func(context.Context) error) (*Result, error) {
	res := &Result{}
	if sb.broken != nil {
		return res, sb.broken
	}
	if ctx.Err() != nil {
		return res, isoerr.New(isoerr.Canceled, "the invocation was canceled before it started: %v", context.Cause(ctx))
	}
	lim = lim.Or(sb.e.defaults).WithDefaults()
	inv.stdout.limit, inv.stderr.limit = lim.Output, lim.Logs
	sb.wasm.out.w, sb.wasm.err.w = &inv.stdout, &inv.stderr
	defer func() { sb.wasm.out.w, sb.wasm.err.w = nil, nil }()

	rctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	dog := startWatchdog(ctx, stop, lim, currentThreadClock())
	err := body(rctx)
	cpu := dog.end()
	res.CPU, res.Wall = cpu, time.Since(start)
	res.Logs = logLines(inv.stderr.Bytes(), inv.stderr.over, lim.Logs)
	return res, sb.wasmVerdict(err, context.Cause(rctx), inv)
}

// watchdog cancels a running guest (stop) when its thread's CPU time passes lim.CPU, its
// wall time passes lim.Wall, or ctx ends. It runs on timers, not a goroutine of its own
// (a goroutine and its hand-offs cost more than a small module's whole run). A thread's
// CPU time grows no faster than wall time, so waiting for the CPU time left never waits
// past the limit.
type watchdog struct {
	mu       sync.Mutex
	ended    bool
	stop     context.CancelCauseFunc
	limits   Limits
	start    time.Time
	cpu0     time.Duration
	clock    func() (time.Duration, bool)
	cpuTimer *time.Timer
	wall     *time.Timer
	unhook   func() bool
}

// startWatchdog starts watching the calling thread, which must be locked to its goroutine.
func startWatchdog(ctx context.Context, stop context.CancelCauseFunc, lim Limits, clock func() (time.Duration, bool)) *watchdog {
	w := &watchdog{stop: stop, limits: lim, clock: clock, start: time.Now()}
	w.cpu0, _ = clock()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wall = time.AfterFunc(lim.Wall, func() {
		w.fire(isoerr.New(isoerr.WallTimeExceeded, "the invocation ran longer than its wall-time limit of %v", lim.Wall))
	})
	w.cpuTimer = time.AfterFunc(lim.CPU, w.checkCPU)
	w.unhook = context.AfterFunc(ctx, func() {
		w.fire(isoerr.New(isoerr.Canceled, "the invocation was canceled: %v", context.Cause(ctx)))
	})
	return w
}

// used is the CPU time the guest thread used so far (wall time where there is no thread
// clock). Called with w.mu held, or after end.
func (w *watchdog) used() time.Duration {
	if t, ok := w.clock(); ok {
		return t - w.cpu0
	}
	return time.Since(w.start)
}

func (w *watchdog) fire(why *isoerr.Error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.stop(why)
	}
}

func (w *watchdog) checkCPU() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return
	}
	if used := w.used(); used < w.limits.CPU {
		w.cpuTimer.Reset(max(w.limits.CPU-used, time.Millisecond))
		return
	}
	w.stop(isoerr.New(isoerr.CPULimitExceeded, "the invocation used more than its CPU limit of %v", w.limits.CPU))
}

// end stops watching and returns the CPU time the guest used. Called on the watched
// thread.
func (w *watchdog) end() time.Duration {
	w.mu.Lock()
	w.ended = true
	cpu := w.used()
	w.mu.Unlock()
	w.wall.Stop()
	w.cpuTimer.Stop()
	w.unhook()
	return cpu
}

// wasmVerdict turns how a guest call ended into the invocation's error: a refused memory
// growth, then a limit or cancellation (stop), then output over the limit, then the
// guest's own exit status or trap. A limit, a cancellation or a trap breaks the sandbox
// (a reactor's state is then unknown); a command's non-zero exit does not.
func (sb *Sandbox) wasmVerdict(err, stop error, inv *wasmInvocation) error {
	var out *isoerr.Error
	var exit *sys.ExitError
	var ie *isoerr.Error
	if errors.As(err, &exit) && exit.ExitCode() == 0 && stop == nil {
		err = nil // exit(0): a refused memory growth the program coped with is no failure
	}
	switch {
	case err == nil && !inv.stdout.over:
		return nil
	case inv.mem != nil && inv.mem.refused.Load():
		out = memoryError(sb.cfg.Memory)
	case stop != nil && errors.As(stop, &ie):
		out = ie
	case inv.stdout.over:
		out = isoerr.New(isoerr.OutputLimitExceeded, "the response is larger than the output limit of %d bytes", inv.stdout.limit)
	case errors.As(err, &ie):
		return ie // refused before the guest ran (invalid_worker_code at instantiation)
	case errors.As(err, &exit):
		if exit.ExitCode() == 0 {
			return nil
		}
		msg := fmt.Sprintf("the WebAssembly program exited with status %d", exit.ExitCode())
		if tail := stderrTail(inv.stderr.Bytes()); tail != "" {
			msg += ": " + tail
		}
		return isoerr.New(isoerr.WorkerException, "%s", msg)
	case strings.Contains(err.Error(), "stack overflow"):
		out = isoerr.New(isoerr.WorkerException, "RangeError: Maximum call stack size exceeded (wasm trap: stack overflow)")
	default:
		out = isoerr.New(isoerr.WorkerException, "wasm trap: %s", trapMessage(err))
	}
	sb.broken = out
	return out
}

// trapMessage is a trap's message without wazero's stack trace.
func trapMessage(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\nwasm stack trace:")
	return strings.TrimPrefix(msg, "wasm error: ")
}

// wasmFetch is Fetch for a WebAssembly command: a fresh instance per request runs _start
// (see the file comment for the convention).
func (sb *Sandbox) wasmFetch(ctx context.Context, lim Limits, req *Request) (*Result, error) {
	w := sb.wasm
	if !w.code.command {
		return &Result{}, isoerr.New(isoerr.MethodNotFound, "the WebAssembly worker %q is a reactor (it exports no _start): call its exported functions over RPC instead", w.main)
	}
	inv := &wasmInvocation{}
	res, err := sb.wasmRun(ctx, lim, inv, func(rctx context.Context) error {
		cfg := requestConfig(w.base, req).
			WithStdin(bytes.NewReader(req.Body)).WithStdout(&inv.stdout).WithStderr(&inv.stderr)
		mem := w.takeSpare(sb.cfg.Memory)
		sb.mem, inv.mem = mem, mem
		defer w.keepSpare(mem)
		mod, err := sb.e.wasmInstantiate(rctx, w.code, cfg, mem)
		if err != nil {
			return err
		}
		defer mod.Close(context.Background())
		_, err = wasmDepthCall(rctx, mod, mod.ExportedFunction("_start"))
		return err
	})
	if err != nil {
		return res, err
	}
	res.Status, res.Headers, res.Body = parseCGI(inv.stdout.Bytes())
	return res, nil
}

// wasmCall is Call for a WebAssembly reactor: method is an exported function, args its
// arguments as JSON numbers.
func (sb *Sandbox) wasmCall(ctx context.Context, lim Limits, method string, args json.RawMessage) (*Result, error) {
	w := sb.wasm
	if w.code.command {
		return &Result{}, isoerr.New(isoerr.MethodNotFound, "the WebAssembly worker %q is a command (it exports _start): send it requests (fetch); only a reactor's exports are RPC methods", w.main)
	}
	if sb.broken != nil {
		return &Result{}, sb.broken
	}
	fn := w.fns[method]
	if fn == nil && method != "_initialize" {
		if fn = w.mod.ExportedFunction(method); fn != nil && len(w.fns) < 1024 {
			if w.fns == nil {
				w.fns = map[string]api.Function{}
			}
			w.fns[method] = fn
		}
	}
	if fn == nil {
		return &Result{}, isoerr.New(isoerr.MethodNotFound, "the WebAssembly worker %q exports no function %q", w.main, method)
	}
	def := fn.Definition()
	params, err := wasmArgs(method, def, args)
	if err != nil {
		return &Result{}, err
	}
	inv := &wasmInvocation{mem: sb.mem}
	var results []uint64
	res, err := sb.wasmRun(ctx, lim, inv, func(rctx context.Context) error {
		var err error
		results, err = wasmDepthCall(rctx, w.mod, fn, params...)
		return err
	})
	for _, line := range strings.Split(strings.TrimRight(string(inv.stdout.Bytes()), "\n"), "\n") {
		if line != "" {
			res.Logs = append(res.Logs, Log{Level: "log", Message: strings.ToValidUTF8(line, "\uFFFD"), Time: time.Now()})
		}
	}
	if err != nil {
		return res, err
	}
	res.Value, err = wasmResults(method, def, results)
	return res, err
}

// validateWasm checks a WebAssembly worker's module map: module names are usable; the
// main module is the whole program (a wasm worker imports no other module), so other
// modules are allowed and ignored.
func (m ModuleMap) validateWasm(main string) error {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if name == "" || name[0] == '/' || strings.ContainsRune(name, 0) {
			return isoerr.New(isoerr.InvalidWorkerCode, "invalid module name %q", name)
		}
	}
	return nil
}

// compileWasm is Engine.Compile for a WebAssembly worker: the main module compiles and
// imports nothing a sandbox lacks. The compiled module stays in the engine's table for
// the worker's first load.
func (e *Engine) compileWasm(ctx context.Context, main string, bin []byte) error {
	c, err := e.wasmCompile(ctx, main, bin)
	if err != nil {
		return err
	}
	e.wasmRelease(ctx, c)
	return nil
}
