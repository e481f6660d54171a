// Package engine runs JavaScript sandboxes: each one a wazero instance of QuickJS-ng
// (engine/js) with its own linear memory, the Workers runtime (package runtime) evaluated in
// it, and the host functions that are its only way out. It enforces the limits (CPU, wall
// time, memory, output) and reports every failure as a typed *isoerr.Error. Python sandboxes
// (CPython in the same kind of instance, engine/py) are NewSandbox with SandboxConfig.Python
// for workers (pyworker.go) and NewPythonSandbox for snippets (python.go). A WebAssembly
// worker (a user's WASI module, run directly on wazero) is NewSandbox with
// SandboxConfig.Wasm (wasmworker.go).
//
//	e, err := engine.New(ctx, engine.Config{})
//	sb, err := e.NewSandbox(ctx, engine.SandboxConfig{Modules: mods, Main: "main.js"})
//	res, err := sb.Call(ctx, engine.Limits{}, "", "add", []byte(`[1,2]`), nil)
package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isobox/isobox/engine/js"
	"github.com/isobox/isobox/internal/prestart"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/runtime"
)

// Config configures an Engine.
type Config struct {
	// CacheDir keeps wazero's compiled code between process starts, so that only the first
	// start pays for compiling QuickJS. "" means DefaultCacheDir(); "off" disables the cache.
	CacheDir string
	// CloseOnContextDone switches on wazero's own way of stopping guest code (a check at
	// every loop back-edge and call). isobox stops guests through QuickJS's interrupt
	// handler instead; this option exists to measure the difference (see RATIONALE.md).
	CloseOnContextDone bool
	// NoImage makes every sandbox start QuickJS and evaluate the runtime itself instead of
	// restoring the pre-initialised memory image (slower; for measurement and debugging).
	NoImage bool
	// Defaults are the limits of an invocation that leaves one unset: each zero field
	// falls back to DefaultLimits. An operator uses it to change isobox's defaults (and the
	// test suite to leave slow machines a wide margin). Memory is not an invocation limit:
	// it is set per sandbox (SandboxConfig.Memory) and ignored here.
	Defaults Limits
}

// DefaultCacheDir is $XDG_CACHE_HOME/isobox, or the OS user cache dir + "/isobox".
func DefaultCacheDir() string { return prestart.DefaultCacheDir() }

// Engine compiles QuickJS once and makes sandboxes from it. It is safe for concurrent use.
type Engine struct {
	defaults  Limits // Config.Defaults
	rt        wazero.Runtime
	compiled  wazero.CompiledModule
	modConfig wazero.ModuleConfig
	bootstrap []byte // the runtime compiled to QuickJS bytecode
	// base is the memory image of a sandbox with the runtime evaluated; new sandboxes
	// start from it. nil with Config.NoImage.
	base          *image
	deadStack     span // the stack below its top: dead while no guest call runs
	restoreConfig wazero.ModuleConfig
	pagemap       *pagemap      // nil where the OS cannot tell private pages (ResidentBytes)
	compileTime   time.Duration // see CompileTime
	py            pythonState   // the Python side, made on first use (python.go)
	wasm          wasmState     // WebAssembly workers' runtime, made on first use (wasmworker.go)
	pool          blankPool     // blank sandboxes kept ready (pool.go, KeepBlank)
	images        imagePools    // sandboxes restored from snapshots kept ready (KeepRestored)
}

// CompileTime returns how long compiling the wasm module (or loading it from the
// compilation cache) took in New.
func (e *Engine) CompileTime() time.Duration { return e.compileTime }

// maxJSStack is the QuickJS stack limit: below the 1 MiB wasm stack (build.sh), with room
// left for C frames (regexp, JSON) that run past QuickJS's own checks.
const maxJSStack = 768 << 10

// gcHeadroom is how much a sandbox may allocate after start before QuickJS's first cycle
// collection (reference counting frees most garbage at once anyway).
const gcHeadroom = 4 << 20

// stackSize is the wasm stack's size, set by build.sh (-z stack-size).
const stackSize = 1 << 20

// New compiles the QuickJS module (or loads it from the compilation cache) and prepares the
// runtime bytecode.
//
// # Errors
//
// It fails when the cache directory cannot be created or the module does not compile.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cacheDir, _ := prestart.ResolveCacheDir(cfg.CacheDir)
	if err := cfg.Defaults.Validate(); err != nil {
		return nil, fmt.Errorf("engine: Config.Defaults: %w", err)
	}
	// The runtime's bytecode is read and checked from the cache, and the base image kept by
	// an earlier process mapped and checked, while QuickJS is compiled.
	cached := make(chan runtimeCache, 1)
	go func() {
		var c runtimeCache
		if cacheDir != "" {
			srcSum := runtime.SourceSum() // the text itself is needed only to compile it
			c = readRuntimeCache(cacheDir, srcSum)
			if !cfg.NoImage {
				c.imagePath = baseImagePath(cacheDir, srcSum)
				c.image, c.deadStack, _ = loadBaseImage(c.imagePath)
			}
		}
		cached <- c
	}()
	drop := func() { // on failure: what the goroutine found is not used
		if c := <-cached; c.image != nil {
			c.image.close()
		}
	}
	// A short-lived process began making the runtime and compiling QuickJS while its
	// packages were initialised (internal/prestart); otherwise it is done here.
	start := time.Now()
	rt, prestartCompiled, prestarted := prestart.Take(ctx, cacheDir, cfg.CloseOnContextDone)
	if !prestarted {
		rc, err := prestart.RuntimeConfig(cacheDir, cfg.CloseOnContextDone)
		if err != nil {
			drop()
			return nil, fmt.Errorf("engine: %w", err)
		}
		rt = wazero.NewRuntimeWithConfig(ctx, rc)
	}
	e := &Engine{rt: rt, defaults: cfg.Defaults}
	e.defaults.Memory = 0
	// The host modules are made while wazero decodes and validates QuickJS (which it does
	// even when its own cache has the compiled code): on two cores the one hides behind
	// the other. A wazero.Runtime is safe for concurrent use, and QuickJS's imports are
	// resolved only when it is instantiated.
	hosts := make(chan error, 1)
	go func() {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			hosts <- fmt.Errorf("engine: wasi: %w", err)
		} else {
			hosts <- e.instantiateHost(ctx)
		}
	}()
	var compiled wazero.CompiledModule
	var err error
	if prestarted {
		compiled, err = prestartCompiled()
	} else {
		compiled, err = rt.CompileModule(ctx, js.Wasm())
	}
	e.compileTime = time.Since(start)
	hostErr := <-hosts
	if err == nil && hostErr != nil {
		err = hostErr
	} else if err != nil {
		err = fmt.Errorf("engine: compile QuickJS: %w", err)
	}
	if err != nil {
		drop()
		rt.Close(ctx)
		return nil, err
	}
	e.compiled = compiled
	// No arguments, no environment, no preopened directories: the guest sees no host files.
	// Clocks are real (Date.now, performance.now) and randomness is crypto/rand.
	e.modConfig = wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	e.restoreConfig = e.modConfig.WithStartFunctions()
	e.py.cacheDir = cacheDir
	c := <-cached
	if err := e.loadRuntime(ctx, c); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	switch {
	case c.image != nil:
		e.base, e.deadStack = c.image, c.deadStack
	case !cfg.NoImage:
		if err := e.makeBaseImage(ctx); err != nil {
			rt.Close(ctx)
			return nil, err
		}
		if c.imagePath != "" {
			storeBaseImage(c.imagePath, e.base, e.deadStack)
		}
	}
	e.pagemap = openPagemap()
	if e.base != nil {
		e.base.pool = newMemPool(e.base, e.pagemap)
	}
	return e, nil
}

// makeBaseImage starts one sandbox the slow way and keeps its memory as the image every
// later sandbox starts from.
func (e *Engine) makeBaseImage(ctx context.Context) error {
	// Fixed clocks while the base image starts, then a fixed seed and time origin: the image
	// is the same in every process of this build, so hibernated images (relative to it) can
	// be resumed after a restart.
	fixed := e.modConfig.
		WithWalltime(func() (int64, int32) { return 1767225600, 0 }, sys.ClockResolution(1)).
		WithNanotime(func() int64 { return 1 }, sys.ClockResolution(1))
	sb, err := e.newSandboxCold(ctx, DefaultLimits().Memory, fixed)
	if err != nil {
		return err
	}
	// Collect now and defer the next collection (see ib_settle in glue.c): restored
	// sandboxes then keep sharing the image's pages instead of dirtying them all in a GC.
	if _, err := sb.call(opSettle, gcHeadroom, 0, 0); err != nil {
		sb.Close(ctx)
		return fmt.Errorf("engine: settle base image: %w", err)
	}
	// The runtime's bytecode was read from a buffer at the bottom of the heap and freed: a
	// hole as large as the bytecode. Once that passed 256 KiB, ib_plug_holes' probe for the
	// heap's top (a 256 KiB malloc) was served from the hole, so holes above it stayed
	// open and an idle worker wrote into them (TestIdleWorkerKeepsImageShared: 340 KiB
	// instead of 160). Refill it first; the bytes stay in the shared image, never touched.
	if _, err := sb.call(opMalloc, uint32(len(e.bootstrap)), 0, 0); err != nil {
		sb.Close(ctx)
		return fmt.Errorf("engine: refill the bytecode's hole: %w", err)
	}
	if _, err := sb.call(opPlugHoles, 0, 0, 0); err != nil {
		sb.Close(ctx)
		return fmt.Errorf("engine: plug heap holes: %w", err)
	}
	if _, err := sb.call(opReseed, 0, 0, 0); err != nil {
		sb.Close(ctx)
		return fmt.Errorf("engine: freeze base image: %w", err)
	}
	top, err := sb.call(opStackTop, 0, 0, 0)
	if err != nil {
		sb.Close(ctx)
		return fmt.Errorf("engine: stack top: %w", err)
	}
	// build.sh gives the stack 1 MiB; keep a page of margin under the top for the frames
	// of the call that asked.
	if hi := uint32(top) &^ (osPage - 1); hi > stackSize {
		e.deadStack = span{off: hi - stackSize + osPage, n: stackSize - 2*osPage}
	}
	e.base = newImage(sb)
	sb.Close(ctx)
	return nil
}

// Close releases the engine and every sandbox made from it.
func (e *Engine) Close(ctx context.Context) error {
	e.pool.close(ctx)
	e.images.close(ctx)
	if e.base != nil {
		e.base.close()
	}
	e.py.close()
	e.wasm.close(ctx)
	e.pagemap.close()
	return e.rt.Close(ctx)
}

// runtimeCache is the runtime's bytecode, and the base image, as found in the cache
// directory.
type runtimeCache struct {
	path     string // the cache file; "" with no cache directory
	bytecode []byte // nil when the file was missing or did not check
	// imagePath is the base image's file ("" with no cache directory or Config.NoImage);
	// image is what it held (nil when missing or damaged), deadStack the image's.
	imagePath string
	image     *image
	deadStack span
}

// readRuntimeCache reads the runtime's bytecode from the cache directory. The file is named
// by the QuickJS build and the runtime source (srcSum: runtime.SourceSum), and carries a
// SHA-256 of the bytecode that is checked here: QuickJS trusts bytecode.
func readRuntimeCache(cacheDir string, srcSum [32]byte) runtimeCache {
	var c runtimeCache
	if cacheDir == "" {
		return c
	}
	c.path = filepath.Join(cacheDir, fmt.Sprintf("runtime-%s-%x.qbc", js.BuildID(), srcSum[:8]))
	if b, err := os.ReadFile(c.path); err == nil && len(b) > sha256.Size {
		body := b[sha256.Size:]
		if sum := sha256.Sum256(body); bytes.Equal(sum[:], b[:sha256.Size]) {
			c.bytecode = body
		}
	}
	return c
}

// loadRuntime takes the runtime's bytecode from the cache, or compiles it and stores it
// there.
func (e *Engine) loadRuntime(ctx context.Context, c runtimeCache) error {
	if c.bytecode != nil {
		e.bootstrap = c.bytecode
		return nil
	}
	if err := e.compileRuntime(ctx, runtime.Source()); err != nil {
		return err
	}
	if c.path != "" {
		sum := sha256.Sum256(e.bootstrap)
		tmp := c.path + ".tmp" + strconv.Itoa(os.Getpid())
		if err := os.WriteFile(tmp, append(sum[:], e.bootstrap...), 0o644); err == nil {
			_ = os.Rename(tmp, c.path) // a cache: failing to keep it only costs time
		}
	}
	return nil
}

// compileRuntime turns the runtime's JS into bytecode in a scratch sandbox, so that every
// sandbox afterwards skips parsing it.
func (e *Engine) compileRuntime(ctx context.Context, src string) error {
	sb, err := e.instantiate(ctx, DefaultLimits().Memory, e.modConfig)
	if err != nil {
		return err
	}
	defer sb.Close(ctx)
	sb.begin(ctx, Limits{CPU: 10 * time.Second, Wall: time.Minute}.WithDefaults())
	defer sb.end()
	ptr, err := sb.writeCString(src)
	if err != nil {
		return err
	}
	name, err := sb.writeCString("isobox:runtime")
	if err != nil {
		return err
	}
	res, err := sb.guest(opCompile, ptr, uint32(len(src)), name)
	if err != nil {
		return fmt.Errorf("engine: compile runtime: %w", err)
	}
	if res != 0 {
		return fmt.Errorf("engine: compile runtime: %s", sb.lastError())
	}
	out, err := sb.call(opOutPtr, 0, 0, 0)
	if err != nil {
		return err
	}
	n, err := sb.call(opOutLen, 0, 0, 0)
	if err != nil {
		return err
	}
	buf, ok := sb.mod.Memory().Read(uint32(out), uint32(n))
	if !ok {
		return fmt.Errorf("engine: compile runtime: bytecode out of range")
	}
	e.bootstrap = append([]byte(nil), buf...)
	return nil
}

// instantiateHost defines the "isobox" host module (hostImports): the sandbox's only
// imports besides WASI.
func (e *Engine) instantiateHost(ctx context.Context) error {
	b := e.rt.NewHostModuleBuilder("isobox")
	for _, imp := range hostImports {
		fn := imp.fn
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
			fn(sandboxOf(ctx), stack)
		}), imp.params, imp.results).Export(imp.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("engine: host module: %w", err)
	}
	return nil
}

type sandboxKey struct{}

func sandboxOf(ctx context.Context) *Sandbox { return ctx.Value(sandboxKey{}).(*Sandbox) }

// errorFromJSON turns the glue's or the runtime's description of a JS exception into a
// typed error.
func errorFromJSON(code isoerr.Code, raw []byte) *isoerr.Error {
	var d struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		Stack   string `json:"stack"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		// The description is made inside the sandbox, where the guest can interfere
		// with it (toJSON, accessors): a bad one is still the guest's error.
		return isoerr.New(code, "the worker threw an exception that could not be described (%.200q)", raw)
	}
	msg := d.Message
	if d.Name != "" {
		msg = d.Name + ": " + d.Message
	}
	return &isoerr.Error{Code: code, Message: msg, Stack: userStack(d.Stack)}
}

// userStack drops the runtime's own frames from a guest stack trace: the user's code is
// what the reader needs.
func userStack(stack string) string {
	lines := strings.Split(strings.TrimRight(stack, "\n"), "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.Contains(l, "(isobox:runtime") || strings.Contains(l, "__isobox_") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
