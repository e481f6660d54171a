package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/isobox/isobox/isoerr"
)

// SandboxConfig describes what one sandbox gets from its host.
type SandboxConfig struct {
	// Memory caps the sandbox's linear memory in bytes (0: the default, 128 MiB).
	Memory uint64
	// Modules is the worker's code; nil for a sandbox that only evaluates snippets.
	Modules ModuleMap
	// Outbound carries the sandbox's fetch() calls. nil means no network access: fetch
	// throws a TypeError that says so. The egress gateway plugs in here. A round trip must
	// end soon after its request's context does: the invocation waits for it.
	Outbound http.RoundTripper
	// Worker names the sandbox's worker on its outbound requests (fetchctx), for the audit.
	Worker string
	// Tools answers the guest's tool calls (Code Mode): name and JSON arguments in, a JSON
	// result or an error (the guest's promise rejects with its message) out. Calls may run
	// concurrently. nil: calling a tool throws a TypeError.
	Tools ToolFunc
	// FS answers the filesystem calls of the sandbox's bindings, the env properties named
	// by FSBindings (env.FS in the usual configuration). It is the sandbox's only way to a
	// workspace, and it decides which workspace each name opens and whether it may write.
	// nil: the fs_* operations throw a TypeError.
	FS FSFunc
	// FSBindings names the env properties that Load makes filesystem bindings (identifiers,
	// api.CheckBindings). They are part of the worker's image: a restored sandbox keeps
	// those of the sandbox it was taken from.
	FSBindings []string
	// Python makes the sandbox run CPython instead of JavaScript (NewSandbox, Restore): its
	// worker's main module is a .py module (pyworker.go), and Eval runs Python snippets.
	Python bool
	// NodeCompat gives the worker the runtime's Node.js built-in modules ("node:buffer",
	// and bare "buffer" where the worker has no module of that name): the nodejs_compat
	// compatibility flag; and the globals Buffer and process. Each module is evaluated on
	// its first use only. Without it, an import of a Node built-in fails with an error that
	// names the flag.
	NodeCompat bool
	// Wasm makes the sandbox run its worker's main module, a WebAssembly module (WASI
	// preview 1), directly on wazero (wasmworker.go): no JavaScript, no bindings.
	Wasm bool
}

// ToolFunc is the host side of a sandbox's tool calls; see SandboxConfig.Tools. ctx ends
// when the guest drops the call or the invocation ends; the invocation does not return
// before every ToolFunc it started has returned, so a ToolFunc must return soon after ctx
// is done.
type ToolFunc func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error)

// Sandbox is one JavaScript sandbox: a wasm instance with its own memory. It runs one
// invocation at a time; the loader makes sure of that. After a limit trips (CPU, wall time,
// memory) or the guest traps, the sandbox is broken and every later call fails.
type Sandbox struct {
	e       *Engine
	mod     api.Module
	mem     *limitedMemory
	ctx     context.Context // carries the sandbox to host functions
	cfg     SandboxConfig
	entry   api.Function // the glue's single export, ib_call
	stack   [4]uint64    // its call stack (params and result)
	inv     *invocation
	sink    ResponseSink // Fetch's Request.Sink, until begin hands it to the invocation
	pending []byte       // a host answer waiting for take()
	msgBuf  uint32       // the message buffer in guest memory (see message)
	msgCap  uint32
	broken  *isoerr.Error
	loaded  bool
	learn   *blankPool   // its first invocation after a load teaches this pool its hot pages (pool.go)
	loading bool         // a Load runs
	check   bool         // a compile check's sandbox (check.go): its check modules resolve
	py      bool         // a Python sandbox: its base image is the engine's Python image
	wasm    *wasmSandbox // a WebAssembly worker's sandbox (wasmworker.go); nil otherwise
	keys    *keyTable    // crypto.subtle's keys (engine/crypto.go); nil until the first key
	wjs     *wasmJS      // the WebAssembly global's modules and instances (wasmjs.go); nil until the first
}

// baseImage returns the image sb's language starts from and the dead part of its stack
// (nil for an engine without images).
func (sb *Sandbox) baseImage() (*image, span) {
	if sb.wasm != nil {
		return nil, span{}
	}
	if sb.py {
		return sb.e.py.base, sb.e.py.deadStack
	}
	return sb.e.base, sb.e.deadStack
}

// op is an operation of the glue's ib_call (engine/js/build/glue.c, OP_*).
type op uint32

const (
	opInit op = iota + 1
	opReseed
	opSettle
	opStackTop
	opMalloc
	opFree
	opErrorPtr
	opErrorLen
	opOutPtr
	opOutLen
	opCompile
	opEvalBytecode
	opDispatch
	opRunJobs
	opPlugHoles
	opGrowStack
)

// glueOps names each op as glue.c does (TestGlueNumbering checks the two agree).
var glueOps = [...]string{opInit: "OP_INIT", opReseed: "OP_RESEED", opSettle: "OP_SETTLE", opStackTop: "OP_STACK_TOP",
	opMalloc: "OP_MALLOC", opFree: "OP_FREE", opErrorPtr: "OP_ERROR_PTR", opErrorLen: "OP_ERROR_LEN", opOutPtr: "OP_OUT_PTR",
	opOutLen: "OP_OUT_LEN", opCompile: "OP_COMPILE", opEvalBytecode: "OP_EVAL_BYTECODE", opDispatch: "OP_DISPATCH",
	opRunJobs: "OP_RUN_JOBS", opPlugHoles: "OP_PLUG_HOLES", opGrowStack: "OP_GROW_STACK"}

func (o op) String() string {
	if int(o) < len(glueOps) && glueOps[o] != "" {
		return glueOps[o]
	}
	return fmt.Sprintf("op(%d)", uint32(o))
}

// call runs one glue operation without CPU accounting (set-up and bookkeeping).
func (sb *Sandbox) call(o op, a, b, c uint32) (int64, error) {
	if sb.entry == nil { // dropped by Trim
		sb.entry = sb.mod.ExportedFunction("ib_call")
	}
	sb.stack = [4]uint64{uint64(o), uint64(a), uint64(b), uint64(c)}
	if err := sb.entry.CallWithStack(sb.ctx, sb.stack[:]); err != nil {
		return 0, err
	}
	return int64(sb.stack[0]), nil
}

// instantiate makes a bare sandbox: QuickJS initialised, no runtime yet.
func (e *Engine) instantiate(ctx context.Context, memLimit uint64, cfg wazero.ModuleConfig) (*Sandbox, error) {
	sb := &Sandbox{e: e, mem: newLimitedMemory(memLimit)}
	sb.ctx = context.WithValue(context.Background(), sandboxKey{}, sb)
	ictx := experimental.WithMemoryAllocator(sb.ctx, experimental.MemoryAllocatorFunc(
		func(cap, max uint64) experimental.LinearMemory { return sb.mem }))
	mod, err := e.rt.InstantiateModule(ictx, e.compiled, cfg)
	if err != nil {
		sb.mem.Free()
		if sb.mem.refused.Load() {
			return nil, isoerr.New(isoerr.MemoryLimitExceeded, "memory limit of %d bytes is too small to start a sandbox", memLimit)
		}
		return nil, fmt.Errorf("engine: instantiate: %w", err)
	}
	sb.mod = mod
	sb.entry = mod.ExportedFunction("ib_call")
	res, err := sb.call(opInit, maxJSStack, 0, 0)
	if err != nil || res != 0 {
		sb.Close(ctx)
		if sb.mem.refused.Load() {
			return nil, isoerr.New(isoerr.MemoryLimitExceeded, "memory limit of %d bytes is too small to start a sandbox", memLimit)
		}
		return nil, fmt.Errorf("engine: QuickJS init failed (%v, %v)", res, err)
	}
	return sb, nil
}

// NewSandbox makes a sandbox with the Workers runtime ready. Its code (cfg.Modules) is not
// evaluated until Load.
//
// # Errors
//
// invalid_request for a bad memory limit, memory_limit_exceeded when the runtime does not
// fit in it.
func (e *Engine) NewSandbox(ctx context.Context, cfg SandboxConfig) (*Sandbox, error) {
	if cfg.Memory == 0 {
		cfg.Memory = DefaultLimits().Memory
	}
	if err := (Limits{Memory: cfg.Memory}).Validate(); err != nil {
		return nil, err
	}
	if cfg.Python {
		return e.newPython(ctx, cfg)
	}
	if cfg.Wasm {
		return e.newWasm(ctx, cfg)
	}
	var sb *Sandbox
	var err error
	if e.base != nil && cfg.Memory == DefaultLimits().Memory {
		if sb = e.pool.take(); sb == nil {
			sb, err = e.restore(ctx, e.base, cfg.Memory)
		}
		if err == nil && e.pool.learning() {
			sb.learn = &e.pool
		}
	} else if e.base != nil {
		sb, err = e.restore(ctx, e.base, cfg.Memory)
	} else {
		sb, err = e.newSandboxCold(ctx, cfg.Memory, e.modConfig)
	}
	if err != nil {
		return nil, err
	}
	sb.cfg = cfg
	return sb, nil
}

// newSandboxCold starts QuickJS and evaluates the runtime: the path without an image.
func (e *Engine) newSandboxCold(ctx context.Context, memLimit uint64, cfg wazero.ModuleConfig) (*Sandbox, error) {
	sb, err := e.instantiate(ctx, memLimit, cfg)
	if err != nil {
		return nil, err
	}
	sb.begin(ctx, Limits{CPU: time.Second, Wall: 10 * time.Second}.WithDefaults())
	defer sb.end()
	ptr, err := sb.write(e.bootstrap)
	if err == nil {
		var res int64
		res, err = sb.guest(opEvalBytecode, ptr, uint32(len(e.bootstrap)), 0)
		if err == nil && res != 0 {
			err = fmt.Errorf("engine: runtime failed to start: %s", sb.lastError())
		}
		sb.freeGuest(ptr)
	}
	if err != nil {
		sb.Close(ctx)
		return nil, err
	}
	return sb, nil
}

// Close frees the sandbox's instance and memory.
func (sb *Sandbox) Close(ctx context.Context) {
	if sb.wasm != nil {
		sb.closeWasm(ctx)
		return
	}
	sb.closeWasmJS(ctx)
	if sb.mod != nil {
		_ = sb.mod.Close(ctx)
		sb.mod = nil
	}
	sb.mem.Free()
}

// Broken returns the error that broke the sandbox, or nil while it is usable.
func (sb *Sandbox) Broken() error {
	if sb.broken == nil {
		return nil
	}
	return sb.broken
}

// MemoryBytes is the size of the sandbox's linear memory.
func (sb *Sandbox) MemoryBytes() int { return sb.mem.Len() }

// ResidentBytes is the memory the sandbox holds on its own: the pages of its linear memory
// that it wrote (its copies of the shared image's pages, and pages past the image),
// resident or swapped out. Pages it still shares with the image, and pages never touched,
// do not count. Trim lowers it. It costs one read of the page table (a few microseconds
// for a 2 MiB memory). Where the OS cannot tell (not Linux, no /proc), it is MemoryBytes.
// Call it only while the sandbox is not running.
func (sb *Sandbox) ResidentBytes() int {
	if n, ok := sb.privateBytes(); ok {
		return n
	}
	return sb.mem.Len()
}

// privateBytes is ResidentBytes where the OS can tell; ok is false elsewhere.
func (sb *Sandbox) privateBytes() (n int, ok bool) {
	if sb.mem.release == nil {
		return 0, false
	}
	return sb.mem.privateBytes(sb.e.pagemap)
}

// guest runs a glue operation that runs guest code, adding the CPU time its thread
// spends to the invocation's. The goroutine holds its OS thread for the slice so that the
// thread's CPU clock measures the guest alone: under contention, time spent waiting for a
// core is not charged to the tenant (wall time would be, and would trip the CPU limit of
// innocent code on a busy machine). Where there is no thread clock, wall time is used.
func (sb *Sandbox) guest(o op, a, b, c uint32) (int64, error) {
	inv := sb.inv
	runtime.LockOSThread()
	inv.running = time.Now()
	inv.runCPU, inv.threadOK = threadCPU()
	res, err := sb.call(o, a, b, c)
	inv.cpu += inv.sliceCPU(time.Now())
	inv.running, inv.threadOK = time.Time{}, false
	runtime.UnlockOSThread()
	if err != nil {
		inv.sig.trap = err
		return 0, sb.fail()
	}
	return res, nil
}

func (sb *Sandbox) memoryError() *isoerr.Error { return memoryError(sb.mem.limit) }

func (sb *Sandbox) write(b []byte) (uint32, error) {
	res, err := sb.guest(opMalloc, uint32(len(b)+1), 0, 0)
	if err != nil {
		return 0, err
	}
	ptr := uint32(res)
	if ptr == 0 {
		sb.inv.sig.memRefused = true
		return 0, sb.fail()
	}
	mem := sb.mod.Memory()
	mem.Write(ptr, b)
	mem.WriteByte(ptr+uint32(len(b)), 0)
	return ptr, nil
}

func (sb *Sandbox) writeCString(s string) (uint32, error) { return sb.write([]byte(s)) }

func (sb *Sandbox) freeGuest(ptr uint32) {
	if sb.broken == nil {
		_, _ = sb.guest(opFree, ptr, 0, 0)
	}
}

// lastError reads the exception the glue recorded (JSON).
func (sb *Sandbox) lastError() []byte {
	p, err1 := sb.call(opErrorPtr, 0, 0, 0)
	n, err2 := sb.call(opErrorLen, 0, 0, 0)
	if err1 != nil || err2 != nil {
		return []byte(`{"message":"unknown error"}`)
	}
	b, ok := sb.mod.Memory().Read(uint32(p), uint32(n))
	if !ok || len(b) == 0 {
		return []byte(`{"message":"unknown error"}`)
	}
	return append([]byte(nil), b...)
}

// dispatch sends one message to the runtime's dispatcher.
func (sb *Sandbox) dispatch(msg any) error {
	b, ok := msg.([]byte) // written already (message.go)
	if !ok {
		var err error
		if b, err = json.Marshal(msg); err != nil {
			return isoerr.New(isoerr.InvalidRequest, "cannot encode message: %v", err)
		}
	}
	ptr, err := sb.message(b)
	if err != nil {
		return err
	}
	res, err := sb.guest(opDispatch, ptr, uint32(len(b)), 0)
	if err != nil {
		return err
	}
	if res != 0 {
		return sb.guestException()
	}
	return nil
}

// message copies b into the sandbox's message buffer, a guest allocation kept across
// dispatches (grown when too small): one guest call fewer in each direction per message.
func (sb *Sandbox) message(b []byte) (uint32, error) {
	if uint32(len(b))+1 > sb.msgCap || sb.msgBuf == 0 {
		if sb.msgBuf != 0 {
			sb.freeGuest(sb.msgBuf)
			sb.msgBuf, sb.msgCap = 0, 0
		}
		size := max(uint32(len(b))+1, 4096)
		res, err := sb.guest(opMalloc, size, 0, 0)
		if err != nil {
			return 0, err
		}
		if res == 0 {
			sb.inv.sig.memRefused = true
			return 0, sb.fail()
		}
		sb.msgBuf, sb.msgCap = uint32(res), size
	}
	mem := sb.mod.Memory()
	mem.Write(sb.msgBuf, b)
	mem.WriteByte(sb.msgBuf+uint32(len(b)), 0)
	return sb.msgBuf, nil
}

// guestException records the exception that the glue just recorded and returns the
// invocation's error (see verdict).
func (sb *Sandbox) guestException() *isoerr.Error {
	raw := sb.lastError()
	var d struct {
		Uncatchable bool `json:"uncatchable"`
	}
	_ = json.Unmarshal(raw, &d)
	sb.inv.sig.exception, sb.inv.sig.uncatchable = raw, d.Uncatchable
	return sb.fail()
}

// Request is an HTTP request handed to a worker's fetch handler.
type Request struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers [][2]string `json:"headers"`
	Body    []byte      `json:"-"`
	// Sink, when set, receives a response whose body is a ReadableStream while the handler
	// still runs: the head, then the body chunk by chunk (Result.Streamed is then true and
	// Result.Body nil). A body the runtime holds whole, and JavaScript workers' only (not
	// Python or WebAssembly), still comes in Result.Body.
	Sink ResponseSink `json:"-"`
}

// ResponseSink receives a streamed response (Request.Sink): Head once, then Write for each
// chunk of the body, in order, on the sandbox's goroutine; the guest waits while they run
// (backpressure). The bytes written stay within Limits.Output: the chunk that would pass
// it is not written and the invocation ends with output_limit_exceeded.
type ResponseSink interface {
	// Head takes the response's status, status text and headers, before any Write.
	Head(status int, statusText string, headers [][2]string) error
	// Write takes the next chunk of the body (the sink must not keep it). ctx ends at the
	// invocation's wall-time deadline or when the caller cancels. An error ends the body:
	// the guest's stream is canceled and the invocation fails with it.
	Write(ctx context.Context, chunk []byte) error
}

// Result is what an invocation produced. It is returned with errors too (logs and times
// still apply).
type Result struct {
	Status     int             `json:"status,omitempty"`
	StatusText string          `json:"statusText,omitempty"`
	Headers    [][2]string     `json:"headers,omitempty"`
	Body       []byte          `json:"-"`
	Value      json.RawMessage `json:"result,omitempty"` // RPC or eval result; nil for undefined
	// Streamed: the response went to Request.Sink (Status, StatusText and Headers are the
	// ones its Head got; Body is nil).
	Streamed bool          `json:"streamed,omitempty"`
	Logs     []Log         `json:"logs"`
	CPU      time.Duration `json:"-"`
	Wall     time.Duration `json:"-"`
}

// Load evaluates the worker's main module (and everything it imports). env is the worker's
// env object (JSON), visible to handlers as their env argument.
//
// # Errors
//
// invalid_worker_code for syntax errors and missing modules, worker_exception when top-level
// code throws, and the limit codes.
func (sb *Sandbox) Load(ctx context.Context, lim Limits, main string, env json.RawMessage) (*Result, error) {
	if err := sb.cfg.Modules.Validate(main); err != nil {
		return &Result{}, err
	}
	if wasm := sb.cfg.Modules[main].Type == ModuleWasm; wasm != (sb.wasm != nil) {
		if wasm {
			return &Result{}, isoerr.New(isoerr.InvalidRequest, "mainModule %q is WebAssembly: its sandbox must be made with SandboxConfig.Wasm", main)
		}
		return &Result{}, isoerr.New(isoerr.InvalidRequest, "mainModule %q is not WebAssembly, and this is a WebAssembly sandbox", main)
	}
	if sb.wasm != nil {
		return sb.wasmLoad(ctx, lim, main, env)
	}
	if py := sb.cfg.Modules[main].Type == ModulePy; py != sb.py {
		if py {
			return &Result{}, isoerr.New(isoerr.InvalidRequest, "mainModule %q is Python: its sandbox must be made with SandboxConfig.Python", main)
		}
		return &Result{}, isoerr.New(isoerr.InvalidRequest, "mainModule %q is not Python, and this is a Python sandbox", main)
	}
	if len(env) == 0 {
		env = json.RawMessage("{}")
	}
	bindings := sb.cfg.FSBindings
	if bindings == nil {
		bindings = []string{}
	}
	msg := map[string]any{"type": "load", "main": main, "env": env, "fsBindings": bindings, "nodeCompat": sb.cfg.NodeCompat}
	if sb.py {
		msg["modules"] = sb.cfg.Modules.pythonSources()
	}
	sb.loading = true
	res, err := sb.run(ctx, lim, msg)
	sb.loading = false
	if err == nil {
		sb.loaded = true
	}
	return res, err
}

// Fetch calls the worker's fetch handler with req. props is the entrypoint's ctx.props.
func (sb *Sandbox) Fetch(ctx context.Context, lim Limits, entrypoint string, req *Request, props json.RawMessage) (*Result, error) {
	if !sb.loaded {
		return &Result{}, isoerr.New(isoerr.Internal, "sandbox has no worker loaded")
	}
	if sb.wasm != nil {
		return sb.wasmFetch(ctx, lim, req)
	}
	if sb.py {
		return sb.run(ctx, lim, pythonFetchMessage(entrypoint, props, req))
	}
	msg, err := fetchMessage(entrypoint, props, req)
	if err != nil {
		return &Result{}, err
	}
	if req.Sink != nil {
		sb.sink = req.Sink // begin moves it to the invocation
	}
	return sb.run(ctx, lim, msg)
}

// Call invokes an RPC method of the worker with JSON arguments (an array).
func (sb *Sandbox) Call(ctx context.Context, lim Limits, entrypoint, method string, args, props json.RawMessage) (*Result, error) {
	if !sb.loaded {
		return &Result{}, isoerr.New(isoerr.Internal, "sandbox has no worker loaded")
	}
	if len(args) == 0 {
		args = json.RawMessage("[]")
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(args, &arr); err != nil {
		return &Result{}, isoerr.New(isoerr.InvalidRequest, "RPC arguments must be a JSON array: %v", err)
	}
	if sb.wasm != nil {
		return sb.wasmCall(ctx, lim, method, args)
	}
	if sb.py {
		return sb.run(ctx, lim, map[string]any{
			"type": "call", "entrypoint": entrypoint, "method": method, "args": args, "props": rawOrNull(props),
		})
	}
	msg, err := callMessage(entrypoint, method, args, props)
	if err != nil {
		return &Result{}, err
	}
	return sb.run(ctx, lim, msg)
}

// Eval runs a snippet the way a model writes one (an expression, statements, or an async
// arrow function, which is then called) and returns its value as JSON. In a Python
// sandbox it runs a Python snippet (see PythonSandbox.Eval).
func (sb *Sandbox) Eval(ctx context.Context, lim Limits, code string) (*Result, error) {
	if sb.py {
		return sb.pythonEval(ctx, lim, code)
	}
	if sb.wasm != nil {
		return &Result{}, isoerr.New(isoerr.InvalidRequest, "a WebAssembly worker's sandbox evaluates no snippets")
	}
	return sb.run(ctx, lim, evalMessage(code))
}

func rawOrNull(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return json.RawMessage("null")
	}
	return r
}

// completion is the header the runtime sends with "complete".
type completion struct {
	OK         bool            `json:"ok"`
	Code       isoerr.Code     `json:"code"`
	Error      json.RawMessage `json:"error"`
	Status     int             `json:"status"`
	StatusText string          `json:"statusText"`
	Headers    [][2]string     `json:"headers"`
	Result     json.RawMessage `json:"result"`
	Streamed   bool            `json:"streamed"` // the head and body went to the sink
}

// decodeCompletion reads the completion header the runtime sent. Its error code is one a
// worker's outcome may carry (a completion cannot claim internal_error or a limit); a
// missing or undecodable header is a worker_exception.
func decodeCompletion(raw []byte) (completion, *isoerr.Error) {
	var c completion
	if len(raw) == 0 {
		return c, isoerr.New(isoerr.WorkerException, "the invocation ended without an outcome: the worker broke the runtime (did it replace a builtin the runtime relies on?)")
	}
	if fc, ok := fastCompletion(raw); ok {
		return fc, nil // ok true: no code to check
	} else if err := json.Unmarshal(raw, &c); err != nil {
		return c, isoerr.New(isoerr.WorkerException, "the worker's outcome could not be read: the worker broke the runtime (did it replace a builtin the runtime relies on?): %v", err)
	}
	switch c.Code {
	case isoerr.WorkerException, isoerr.InvalidWorkerCode, isoerr.MethodNotFound:
	default:
		if !c.OK {
			c.Code = isoerr.WorkerException
		}
	}
	return c, nil
}

// run is one invocation: dispatch msg, then drive the event loop (microtasks, timers,
// async host operations) until the runtime reports the invocation settled and, when it
// succeeded, no tool call it started is still running (awaitTools).
func (sb *Sandbox) run(ctx context.Context, lim Limits, msg any) (*Result, error) {
	res := &Result{}
	if sb.broken != nil {
		return res, sb.broken
	}
	if ctx.Err() != nil {
		// Nothing ran, so the sandbox stays usable (started, the guest would be stopped
		// at its first poll and the sandbox discarded).
		return res, isoerr.New(isoerr.Canceled, "the invocation was canceled before it started: %v", context.Cause(ctx))
	}
	lim = lim.Or(sb.e.defaults).WithDefaults()
	inv := sb.begin(ctx, lim)
	defer sb.end()
	err := sb.loop(msg)
	if p := sb.learn; p != nil && sb.loaded && !sb.loading {
		sb.learn = nil
		p.learn(sb)
	}
	res.Logs = inv.logs
	res.CPU = inv.cpu
	res.Wall = time.Since(inv.start)
	// Even when the loop ended well a signal may decide the outcome: a limit tripped and
	// the guest turned the interrupt into an ordinary rejection (an interrupted module
	// evaluation rejects its import promise), a refused allocation the guest caught, a
	// body over the output limit.
	if e := sb.fail(); e != nil {
		return res, e
	}
	if err != nil {
		return res, isoerr.As(err)
	}
	c, cerr := decodeCompletion(inv.complete)
	switch {
	case cerr != nil:
		// The runtime builds completions from builtins it captured before user code ran;
		// one that does not decode means the worker broke the runtime anyway. That is the
		// worker's failure, and this sandbox is not used again: the next call gets a new one.
		inv.sig.protocol = cerr
	case !c.OK:
		inv.sig.answer = errorFromJSON(c.Code, c.Error)
	case len(inv.body) > lim.Output || len(c.Result) > lim.Output:
		inv.sig.tooLarge = isoerr.New(isoerr.OutputLimitExceeded, "the response is larger than the output limit of %d bytes", lim.Output)
	}
	if e := sb.fail(); e != nil {
		return res, e
	}
	res.Status, res.StatusText, res.Headers, res.Value = c.Status, c.StatusText, c.Headers, c.Result
	res.Body = inv.body
	if c.Streamed {
		if inv.stream == nil || !inv.stream.head {
			inv.sig.protocol = isoerr.New(isoerr.WorkerException, "the worker's outcome says the response was streamed, but no head was sent")
			if e := sb.fail(); e != nil {
				return res, e
			}
		}
		h := inv.stream.sent
		res.Status, res.StatusText, res.Headers, res.Body, res.Streamed = h.Status, h.StatusText, h.Headers, nil, true
	}
	return res, nil
}

func (sb *Sandbox) loop(msg any) error {
	if sb.py {
		return sb.pythonEntry(msg) // asyncio runs the loop inside the guest (pyworker.go)
	}
	inv := sb.inv
	// Each dispatch drains the microtask queue too (ib_dispatch in glue.c).
	if err := sb.dispatch(msg); err != nil {
		return err
	}
	for {
		if inv.settled {
			if len(inv.toolOps) == 0 || !inv.answeredOK() {
				return nil
			}
			sb.awaitTools()
		}
		if err := sb.wait(); err != nil {
			return err
		}
	}
}

// wait blocks until the next timer or async operation, and delivers it to the guest.
func (sb *Sandbox) wait() error {
	inv := sb.inv
	id, at, hasTimer := inv.nextTimer()
	if !hasTimer && len(inv.ops) == 0 {
		inv.sig.noResponse = isoerr.New(isoerr.NoResponse, "the worker's promise never settled and nothing is left to wait for (no timer, no pending fetch): the invocation can never finish")
		return sb.fail()
	}
	var timerC <-chan time.Time
	if hasTimer {
		d := time.Until(at)
		if d <= 0 {
			delete(inv.timers, id)
			return sb.dispatch(map[string]any{"type": "timer", "id": id})
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timerC = t.C
	}
	wall := time.NewTimer(time.Until(inv.deadline))
	defer wall.Stop()
	select {
	case <-timerC:
		if inv.ctx.Err() != nil { // both ready: select picks at random, the caller's cancel wins
			inv.stop(canceledError(inv))
			return sb.fail()
		}
		delete(inv.timers, id)
		return sb.dispatch(map[string]any{"type": "timer", "id": id})
	case r := <-inv.opDone:
		if inv.ctx.Err() != nil { // as above: an answer that raced the cancel is not delivered
			if r.body != nil {
				r.body.Close()
			}
			inv.stop(canceledError(inv))
			return sb.fail()
		}
		if _, ok := inv.ops[r.id]; !ok {
			if r.body != nil {
				r.body.Close()
			}
			return nil // canceled meanwhile
		}
		delete(inv.ops, r.id)
		delete(inv.toolOps, r.id)
		inv.settleBody(&r)
		return sb.dispatch(map[string]any{"type": "op", "id": r.id, "ok": r.err == nil, "value": r.value, "error": r.err})
	case <-inv.ctx.Done():
		inv.stop(canceledError(inv))
		return sb.fail()
	case <-wall.C:
		inv.stop(wallError(inv))
		return sb.fail()
	}
}

// interrupt answers QuickJS's periodic poll: 1 stops the running JS (uncatchably).
func (sb *Sandbox) interrupt() int32 {
	inv := sb.inv
	if inv == nil {
		return 0
	}
	if inv.sig.stopped != nil {
		return 1
	}
	// The order of these cases is verdict's order within one poll.
	now := time.Now()
	switch {
	case sb.mem.refused.Load():
		inv.stop(sb.memoryError())
	case inv.overCPU(now):
		inv.stop(isoerr.New(isoerr.CPULimitExceeded, "the invocation used more than its CPU limit of %v", inv.limits.CPU))
	case now.After(inv.deadline):
		inv.stop(wallError(inv))
	case inv.ctx.Err() != nil:
		inv.stop(canceledError(inv))
	default:
		return 0
	}
	return 1
}

// overCPU reports whether the invocation has used more than its CPU limit. A slice's
// thread CPU time is at most its wall time, so while the wall time could not reach the
// limit the thread clock is not read: that read is a system call (~4.5 µs on a VM), and
// QuickJS polls every 10,000 operations.
func (inv *invocation) overCPU(now time.Time) bool {
	if !inv.running.IsZero() && inv.cpu+now.Sub(inv.running) <= inv.limits.CPU {
		return false
	}
	return inv.cpu+inv.sliceCPU(now) > inv.limits.CPU
}

// sliceCPU is the CPU time of the current guest slice so far (0 between slices): the
// thread's CPU clock since the slice began, or the wall time since then (now) where there
// is no thread clock.
func (inv *invocation) sliceCPU(now time.Time) time.Duration {
	if inv.running.IsZero() {
		return 0
	}
	if inv.threadOK {
		if t, ok := threadCPU(); ok {
			return t - inv.runCPU
		}
	}
	return now.Sub(inv.running)
}

// stop records why the host stopped the guest; the first reason stays.
func (inv *invocation) stop(why *isoerr.Error) {
	if inv.sig.stopped == nil {
		inv.sig.stopped = why
	}
}

func canceledError(inv *invocation) *isoerr.Error {
	return isoerr.New(isoerr.Canceled, "the invocation was canceled: %v", context.Cause(inv.ctx))
}

func wallError(inv *invocation) *isoerr.Error {
	return isoerr.New(isoerr.WallTimeExceeded, "the invocation ran longer than its wall-time limit of %v", inv.limits.Wall)
}

// take copies the waiting host answer into guest memory (dst 0 drops it).
func (sb *Sandbox) take(dst uint32) {
	if dst != 0 {
		sb.mod.Memory().Write(dst, sb.pending)
	}
	sb.pending = nil
}

// hostCall runs a host operation for the guest and leaves the answer for take.
func (sb *Sandbox) hostCall(opPtr, opLen, inPtr, inLen uint32) int32 {
	mem := sb.mod.Memory()
	op, ok1 := mem.Read(opPtr, opLen)
	in, ok2 := mem.Read(inPtr, inLen)
	if !ok1 || !ok2 {
		sb.pending = []byte("TypeError\nhost call out of bounds")
		return -int32(len(sb.pending)) - 1
	}
	out, err := sb.op(string(op), in)
	if err != nil {
		name := "Error"
		var he *hostError
		if errors.As(err, &he) {
			name = he.name
		}
		sb.pending = []byte(name + "\n" + err.Error())
		return -int32(len(sb.pending)) - 1
	}
	sb.pending = out
	return int32(len(out))
}

// hostError is an error the guest sees as a JS error of class name.
type hostError struct {
	name string
	msg  string
}

func (e *hostError) Error() string { return e.msg }

func typeError(format string, args ...any) error {
	return &hostError{name: "TypeError", msg: fmt.Sprintf(format, args...)}
}
