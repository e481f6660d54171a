package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/isobox/isobox/engine/py"
	"github.com/isobox/isobox/internal/prestart"
	"github.com/isobox/isobox/isoerr"
)

// Python sandboxes run CPython 3.13 built for wasm32-wasi (engine/py) in the same kind of
// instance as JavaScript ones: the same host imports (interrupt, call, take), the same
// memory (a limitedMemory, refused growth past the limit), the same invocation bookkeeping
// and failure precedence (verdict), so that the limits and their typed errors are the
// same. The glue is engine/py/build/driver.c; its ops that mean the same as the JS glue's
// have the same numbers (opMalloc, opFree, opErrorPtr, ...), so Sandbox.write, lastError
// and guestException serve both.
//
// The interpreter starts once per cache directory: the first Python sandbox starts
// CPython, runs the prelude (engine/py/prelude.py: the common standard library imported,
// print routed to the log) and keeps its linear memory as the Python base image, in memory
// and in the cache directory; every later sandbox (of this process or a later one) is an
// instantiation plus a copy-on-write mapping of that image, with its random module
// reseeded.

// Ops of driver.c that JavaScript's glue does not have.
const (
	opPyRun op = 16
)

// pyStackSize is the wasm stack of python.wasm (build.sh: -z stack-size=8388608).
const pyStackSize = 8 << 20

// pythonState is an Engine's Python side, made on first use (Python costs nothing to an
// engine that never runs it).
type pythonState struct {
	once          sync.Once
	err           error
	compiled      wazero.CompiledModule
	modConfig     wazero.ModuleConfig // runs _initialize
	restoreConfig wazero.ModuleConfig // for instances made from the image
	base          *image
	// hashSeed is the str/bytes hash seed of an image this engine makes, drawn at random.
	// It cannot change per sandbox: the image holds dicts and sets of strings whose hashes
	// were computed with it (RATIONALE.md §20). An image from the cache keeps its own.
	hashSeed    uint32
	compileTime time.Duration
	// deadStack is the part of the wasm stack that is dead between calls (skipped by
	// snapshots and trims), found from the first sandbox's stack top.
	deadStack span
	deadOnce  sync.Once
	// started is set once preparePython has finished (successfully or not), so that
	// pythonBase can read base and err without waiting.
	started atomic.Bool
	// cacheDir keeps the base image between processes ("" : no cache); see pythonImage.
	cacheDir string
}

func (p *pythonState) close() {
	if p.base != nil {
		p.base.close()
	}
}

// PythonSandbox is one Python sandbox: a wasm instance of CPython with its own memory. It
// runs one invocation at a time. After a limit trips or the guest traps, it is broken and
// every later call fails with the same error.
type PythonSandbox struct {
	sb *Sandbox
}

// PythonCompileTime returns how long compiling CPython's wasm module (or loading it from
// the compilation cache) took; zero before the first Python sandbox.
func (e *Engine) PythonCompileTime() time.Duration { return e.py.compileTime }

// PreparePython starts Python in this engine now, if it has not yet: it compiles CPython's
// module (or loads it from the compilation cache) and reads or makes the Python base image,
// the one-time cost (~0.3 s of CPU with a warm cache) that the first Python sandbox would
// otherwise pay. A process that accounts a call's CPU time from outside the engine (the
// sandbox processes' watchdog) calls it before such a call starts, so that the start is
// not charged to the call. Later calls return at once, with the first one's error.
func (e *Engine) PreparePython(ctx context.Context) error {
	return e.preparePython(ctx)
}

// preparePython compiles CPython's module and gets the base image (pythonImage).
func (e *Engine) preparePython(ctx context.Context) error {
	p := &e.py
	// Made once for every later caller: the first caller's cancellation must not leave the
	// engine without Python for good.
	ctx = context.WithoutCancel(ctx)
	p.once.Do(func() {
		start := time.Now()
		var compiled wazero.CompiledModule
		var err error
		if prestarted, ok := prestart.TakePython(e.rt); ok {
			compiled, err = prestarted() // begun at the process's start (isobox eval --lang python)
		} else {
			compiled, err = e.rt.CompileModule(ctx, py.Wasm())
		}
		if err != nil {
			p.err = fmt.Errorf("engine: compile CPython: %w", err)
			return
		}
		p.compileTime = time.Since(start)
		p.compiled = compiled
		// The standard library zip, read-only at /lib, is the only file the guest sees. No
		// arguments, no environment; real clocks; randomness from crypto/rand.
		p.modConfig = wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").
			WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader).
			WithFSConfig(wazero.NewFSConfig().WithFSMount(py.Stdlib(), "/lib"))
		p.restoreConfig = p.modConfig.WithStartFunctions()
		p.hashSeed = randomSeed()
		p.base, p.err = e.pythonImage(ctx)
		if p.base != nil {
			p.base.pool = newMemPool(p.base, e.pagemap)
		}
	})
	p.started.Store(true)
	return p.err
}

// pythonImage returns the Python base image: mapped from the cache directory when a
// process of this build made it before, else made by starting CPython (and then stored
// there). It is nil (every sandbox starts cold) with Config.NoImage and no cache directory.
// The file has the JavaScript base image's layout (baseimage.go): sandboxes map it
// copy-on-write, and a process reads only the pages its sandboxes touch, where reading it
// whole, checking its SHA-256 and copying it into a memfd took ~70 ms of a new `isobox eval
// --lang python` process.
func (e *Engine) pythonImage(ctx context.Context) (*image, error) {
	path := ""
	if e.py.cacheDir != "" {
		sum := sha256.Sum256([]byte(py.Prelude()))
		path = filepath.Join(e.py.cacheDir, fmt.Sprintf("python-base-%s-%x.img", py.BuildID(), sum[:8]))
		if img, _, ok := loadBaseImage(path); ok {
			return img, nil
		}
		// A damaged file is made again.
		_ = os.Remove(path)
	} else if e.base == nil { // Config.NoImage and nowhere to keep an image
		return nil, nil
	}
	sb, err := e.pythonCold(ctx, DefaultLimits().Memory, e.py.hashSeed)
	if err != nil {
		return nil, err
	}
	img := newImage(sb)
	sb.Close(ctx)
	if path != "" {
		// The first image written wins (a link does not replace a file): processes that
		// share the cache directory then share one base image, so the Python snapshots
		// one of them stores (sessions) restore in the others and after a restart.
		tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
		if err := writeBaseImage(tmp, img, span{}); err == nil {
			if err := os.Link(tmp, path); err != nil && errors.Is(err, os.ErrExist) {
				if other, _, ok := loadBaseImage(path); ok {
					img.close()
					img = other
				}
			}
		}
		_ = os.Remove(tmp) // a cache: failing to keep it only costs time
	}
	return img, nil
}

// pythonBase returns the Python base image if Python has started (nil otherwise). ready
// says the caller made sure it has (preparePython returned).
func (e *Engine) pythonBase(ready bool) *image {
	if (!ready && !e.py.started.Load()) || e.py.err != nil {
		return nil
	}
	return e.py.base
}

// randomSeed is a random nonzero 32-bit seed.
func randomSeed() uint32 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		if s := binary.LittleEndian.Uint32(b[:]); s != 0 {
			return s
		}
	}
}

// NewPythonSandbox makes a Python sandbox for snippets (Eval) with the interpreter ready
// (the common standard library imported). cfg.Memory is its memory limit; cfg.Outbound,
// Tools and FS reach the snippets as in JavaScript (workers.fetch, isobox.tools). A Python
// worker's sandbox (modules, Load, Fetch, Call) is NewSandbox with cfg.Python.
//
// # Errors
//
// invalid_request for a bad memory limit or for cfg.Modules, memory_limit_exceeded when the
// interpreter does not fit in it.
func (e *Engine) NewPythonSandbox(ctx context.Context, cfg SandboxConfig) (*PythonSandbox, error) {
	if cfg.Memory == 0 {
		cfg.Memory = DefaultLimits().Memory
	}
	if err := (Limits{Memory: cfg.Memory}).Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Modules) > 0 {
		return nil, isoerr.New(isoerr.InvalidRequest, "a PythonSandbox runs snippets: make a Python worker's sandbox with NewSandbox and SandboxConfig.Python")
	}
	cfg.Python = true
	sb, err := e.newPython(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &PythonSandbox{sb: sb}, nil
}

// newPython makes a Python sandbox (cfg.Python; cfg.Memory set and valid).
func (e *Engine) newPython(ctx context.Context, cfg SandboxConfig) (*Sandbox, error) {
	if err := e.preparePython(ctx); err != nil {
		return nil, err
	}
	var sb *Sandbox
	var err error
	if e.py.base != nil {
		sb, err = e.pythonRestore(ctx, e.py.base, cfg.Memory)
	} else {
		sb, err = e.pythonCold(ctx, cfg.Memory, randomSeed())
	}
	if err != nil {
		return nil, err
	}
	sb.cfg = cfg
	e.pythonDeadStack(sb)
	return sb, nil
}

// pythonDeadStack finds, once, the part of Python's stack that holds nothing between calls:
// python.wasm puts its 8 MiB stack first (--stack-first), below the stack top an idle
// sandbox reports; a page of margin is kept at each end.
func (e *Engine) pythonDeadStack(sb *Sandbox) {
	e.py.deadOnce.Do(func() {
		top, err := sb.call(opStackTop, 0, 0, 0)
		if hi := uint32(top) &^ (osPage - 1); err == nil && hi <= pyStackSize && hi > 2*osPage {
			e.py.deadStack = span{off: osPage, n: hi - 2*osPage}
		}
	})
}

// pythonInstance instantiates CPython's module in a new sandbox whose memory is mem.
// time.sleep in the guest sleeps for real, within the invocation's wall-time limit, and
// does not count as CPU time.
func (e *Engine) pythonInstance(ctx context.Context, mem *limitedMemory, cfg wazero.ModuleConfig) (*Sandbox, error) {
	sb := &Sandbox{e: e, mem: mem, py: true}
	sb.ctx = context.WithValue(context.Background(), sandboxKey{}, sb)
	cfg = cfg.WithNanosleep(sb.sleep)
	ictx := experimental.WithMemoryAllocator(sb.ctx, experimental.MemoryAllocatorFunc(
		func(cap, max uint64) experimental.LinearMemory { return sb.mem }))
	mod, err := e.rt.InstantiateModule(ictx, e.py.compiled, cfg)
	if err != nil {
		sb.mem.Free()
		if sb.mem.refused.Load() {
			return nil, isoerr.New(isoerr.MemoryLimitExceeded, "memory limit of %d bytes is too small to start a Python sandbox", sb.mem.limit)
		}
		return nil, fmt.Errorf("engine: instantiate CPython: %w", err)
	}
	sb.mod = mod
	sb.entry = mod.ExportedFunction("ib_call")
	return sb, nil
}

// pythonCold starts CPython and runs the prelude: the path without an image (and the one
// that makes the image).
func (e *Engine) pythonCold(ctx context.Context, memLimit uint64, seed uint32) (*Sandbox, error) {
	sb, err := e.pythonInstance(ctx, newLimitedMemory(memLimit), e.py.modConfig)
	if err != nil {
		return nil, err
	}
	// Starting the interpreter takes a few hundred milliseconds of CPU: generous limits,
	// still bounded.
	sb.begin(ctx, Limits{CPU: MaxCPU, Wall: time.Minute}.WithDefaults())
	defer sb.end()
	src := py.Prelude()
	ptr, err := sb.writeCString(src)
	if err == nil {
		var res int64
		res, err = sb.guest(opInit, ptr, uint32(len(src)), seed)
		if err == nil && res != 0 {
			err = fmt.Errorf("engine: CPython failed to start: %s", sb.lastError())
		}
	}
	if err != nil {
		sb.Close(ctx)
		if sb.mem.refused.Load() {
			return nil, isoerr.New(isoerr.MemoryLimitExceeded, "memory limit of %d bytes is too small to start a Python sandbox", memLimit)
		}
		return nil, err
	}
	return sb, nil
}

// pythonRestore makes a new Python sandbox whose memory starts as img, and reseeds its
// random module.
func (e *Engine) pythonRestore(ctx context.Context, img *image, memLimit uint64) (*Sandbox, error) {
	if uint64(len(img.data)) > memLimit {
		return nil, isoerr.New(isoerr.MemoryLimitExceeded, "memory limit of %d MiB is smaller than the Python image (%d KiB)", memLimit>>20, len(img.data)>>10)
	}
	sb, err := e.pythonInstance(ctx, newImageMemory(memLimit, img), e.py.restoreConfig)
	if err != nil {
		return nil, err
	}
	mem := sb.mod.Memory()
	want := uint32(len(img.data) / wasmPage)
	if mem.Size()/wasmPage >= want {
		sb.Close(ctx)
		return nil, fmt.Errorf("engine: the Python image (%d pages) is not larger than the module's initial memory", want)
	}
	if _, ok := mem.Grow(want - mem.Size()/wasmPage); !ok {
		sb.Close(ctx)
		return nil, fmt.Errorf("engine: cannot size memory for the Python image")
	}
	if res, err := sb.call(opReseed, 0, 0, 0); err != nil || res != 0 {
		sb.Close(ctx)
		return nil, fmt.Errorf("engine: reseed restored Python sandbox (%d, %v): %s", res, err, sb.lastError())
	}
	return sb, nil
}

// sleep is the guest's nanosleep (time.sleep, asyncio's idle waits): it sleeps for real
// but not past the invocation's wall-time deadline or its cancellation, which then stop the
// guest at its next poll; the time slept is not CPU time.
func (sb *Sandbox) sleep(ns int64) {
	inv := sb.inv
	if inv == nil || ns <= 0 {
		return
	}
	start := time.Now()
	d := time.Duration(ns)
	cut := false
	if left := time.Until(inv.deadline); d > left {
		d, cut = max(left, 0), true
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
		if cut {
			inv.stop(wallError(inv))
		}
	case <-inv.ctx.Done():
		t.Stop()
		inv.stop(canceledError(inv))
	}
	// With a thread clock the time slept never counted; without one the slice is measured
	// in wall time, so take it out (taking it out of a thread-clock count would credit the
	// guest CPU time it can then spend past its limit).
	if !inv.threadOK {
		inv.cpu -= time.Since(start)
	}
}

// Eval runs a Python snippet: statements, then the value of the last expression (if the
// snippet ends with one) is the result, as JSON (tuples and sets become arrays, values JSON
// cannot hold their repr()). Top-level await runs on a fresh asyncio loop. print goes to
// the logs (stdout as "log", stderr as "error"). The snippet runs in the sandbox's
// __main__ module: what one Eval defines, the next one sees.
//
// # Errors
//
// invalid_worker_code when it does not compile (a SyntaxError), worker_exception when the
// snippet raises (the message is the traceback's last line,
// e.g. "ValueError: boom"; Stack holds the traceback), and the limit codes
// (cpu_limit_exceeded, wall_time_exceeded, memory_limit_exceeded, output_limit_exceeded,
// canceled), which no except clause in the snippet can stop.
func (p *PythonSandbox) Eval(ctx context.Context, lim Limits, code string) (*Result, error) {
	return p.sb.pythonEval(ctx, lim, code)
}

// pythonEval is PythonSandbox.Eval (and Sandbox.Eval of a Python sandbox).
func (sb *Sandbox) pythonEval(ctx context.Context, lim Limits, code string) (*Result, error) {
	res := &Result{}
	if sb.broken != nil {
		return res, sb.broken
	}
	if ctx.Err() != nil {
		return res, isoerr.New(isoerr.Canceled, "the invocation was canceled before it started: %v", context.Cause(ctx))
	}
	lim = lim.Or(sb.e.defaults).WithDefaults()
	inv := sb.begin(ctx, lim)
	defer sb.end()
	value, err := sb.pythonRun(code)
	res.Logs = inv.logs
	res.CPU = max(inv.cpu, 0)
	res.Wall = time.Since(inv.start)
	if e := sb.fail(); e != nil {
		return res, e
	}
	if err != nil {
		return res, isoerr.As(err)
	}
	switch {
	case len(value) > lim.Output:
		inv.sig.tooLarge = isoerr.New(isoerr.OutputLimitExceeded, "the result is larger than the output limit of %d bytes", lim.Output)
	case len(value) > 0 && !json.Valid(value):
		inv.sig.protocol = isoerr.New(isoerr.WorkerException, "the snippet's result could not be read as JSON: the snippet broke the sandbox's json module")
	}
	if e := sb.fail(); e != nil {
		return res, e
	}
	res.Value = value
	return res, nil
}

// pythonRun hands code to the driver and returns the result's JSON (nil for None).
func (sb *Sandbox) pythonRun(code string) (json.RawMessage, error) {
	ptr, err := sb.write([]byte(code))
	if err != nil {
		return nil, err
	}
	defer sb.freeGuest(ptr)
	r, err := sb.guest(opPyRun, ptr, uint32(len(code)), 0)
	if err != nil {
		return nil, err
	}
	switch r {
	case 0:
	case -2: // the snippet does not compile: the driver described the SyntaxError
		sb.inv.sig.answer = errorFromJSON(isoerr.InvalidWorkerCode, sb.lastError())
		return nil, sb.fail()
	default:
		return nil, sb.pythonException()
	}
	out, err1 := sb.call(opOutPtr, 0, 0, 0)
	n, err2 := sb.call(opOutLen, 0, 0, 0)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("engine: read Python result: %v %v", err1, err2)
	}
	if n == 0 {
		return nil, nil
	}
	b, ok := sb.mod.Memory().Read(uint32(out), uint32(n))
	if !ok {
		return nil, fmt.Errorf("engine: Python result out of range")
	}
	return append(json.RawMessage(nil), b...), nil
}

// Broken returns the error that broke the sandbox, or nil while it is usable.
func (p *PythonSandbox) Broken() error { return p.sb.Broken() }

// Close frees the sandbox's instance and memory.
func (p *PythonSandbox) Close(ctx context.Context) { p.sb.Close(ctx) }

// MemoryBytes is the size of the sandbox's linear memory.
func (p *PythonSandbox) MemoryBytes() int { return p.sb.MemoryBytes() }

// ResidentBytes is the memory the sandbox holds on its own (see Sandbox.ResidentBytes).
func (p *PythonSandbox) ResidentBytes() int { return p.sb.ResidentBytes() }

// Snapshot captures the sandbox's state between evals: its interpreter's memory (variables,
// imported modules, functions of __main__), as the pages that differ from the engine's
// Python base image. RestorePython makes new sandboxes from it; Marshal writes it out.
//
// # Errors
//
// The sandbox's own error if it is broken (a limit tripped); not_implemented for an engine
// without images (Config.NoImage and no cache directory).
func (p *PythonSandbox) Snapshot() (*Image, error) { return p.sb.Snapshot() }

// Fork returns a new Python sandbox in the same state as p; from then on the two are
// independent, and the child's random module is reseeded.
//
// # Errors
//
// As Snapshot.
func (p *PythonSandbox) Fork(ctx context.Context) (*PythonSandbox, error) {
	child, err := p.sb.Fork(ctx) // reseeds the child's random module
	if err != nil {
		return nil, err
	}
	return &PythonSandbox{sb: child}, nil
}

// PrepareFork readies p to be forked without copying its memory: see Sandbox.PrepareFork.
func (p *PythonSandbox) PrepareFork() error { return p.sb.PrepareFork() }

// RestorePython makes a new Python sandbox in the state img (from PythonSandbox.Snapshot or
// UnmarshalImage) was taken in, its random module reseeded. cfg.Memory must hold the image.
//
// # Errors
//
// invalid_request for a JavaScript image or one of another Python base image,
// memory_limit_exceeded when cfg.Memory is smaller than the image.
func (e *Engine) RestorePython(ctx context.Context, img *Image, cfg SandboxConfig) (*PythonSandbox, error) {
	if len(cfg.Modules) > 0 {
		return nil, isoerr.New(isoerr.InvalidRequest, "a PythonSandbox runs snippets: restore a Python worker's image with Restore and SandboxConfig.Python")
	}
	cfg.Python = true
	sb, err := e.restorePython(ctx, img, cfg)
	if err != nil {
		return nil, err
	}
	return &PythonSandbox{sb: sb}, nil
}

// restorePython is RestorePython and Restore of a Python image (cfg.Python).
func (e *Engine) restorePython(ctx context.Context, img *Image, cfg SandboxConfig) (*Sandbox, error) {
	if !img.python {
		return nil, isoerr.New(isoerr.InvalidRequest, "the image is of a JavaScript sandbox, not a Python one")
	}
	if err := e.preparePython(ctx); err != nil {
		return nil, err
	}
	if e.py.base == nil || img.base != e.py.base.sum {
		return nil, isoerr.New(isoerr.InvalidRequest, "the image was taken from another Python base image (another isobox build or cache directory) and cannot be restored here")
	}
	sb, err := e.restoreImage(ctx, img, e.py.base, &cfg, e.pythonRestore, nil)
	if err != nil {
		return nil, err
	}
	sb.cfg = cfg
	sb.loaded = img.loaded
	if err := sb.pythonReseed(ctx); err != nil {
		return nil, err
	}
	return sb, nil
}

// pythonReseed reseeds the random module of a sandbox whose memory was copied from another
// (a fork, a restored image), so that the two do not draw the same numbers. It closes sb
// when it fails.
func (sb *Sandbox) pythonReseed(ctx context.Context) error {
	if res, err := sb.call(opReseed, 0, 0, 0); err != nil || res != 0 {
		sb.Close(ctx)
		return fmt.Errorf("engine: reseed Python sandbox (%d, %v): %s", res, err, sb.lastError())
	}
	return nil
}
