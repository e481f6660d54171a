// Package prestart begins the slowest step of a short-lived isobox process (isobox eval and
// isobox run) during package initialisation: making the wazero runtime and compiling QuickJS,
// or loading its compiled code from wazero's compilation cache. It runs on a goroutine of its
// own, so on a second core it overlaps the initialisation of the rest of the binary (about a
// third of the process's start) and main's own work before engine.New, which then takes the
// result (Take) instead of compiling (RATIONALE §57).
//
// The package imports only wazero and engine/js, so that Go initialises it as soon as wazero
// is, before the heavy packages (package initialisation goes by import path among the
// packages whose imports are ready). It reads the cache directory from the command line
// (--cache-dir) and the environment as engine.New will resolve it; a guess that turns out
// wrong costs only the time: Take then refuses the runtime and the engine compiles as usual.
//
// A command that runs Python (isobox eval --lang python, isobox run FILE.py) also begins
// compiling CPython (or loading its compiled code) in the same runtime, on another
// goroutine: the engine starts Python only after engine.New, so CPython's load (most of
// such a process's time) used to wait for QuickJS's; begun at once, the two overlap on two
// cores. The engine takes it with TakePython.
//
// This is the process's one piece of global state, by nature: it exists before main.
package prestart

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"

	"github.com/isobox/isobox/engine/js"
	"github.com/isobox/isobox/engine/py"
	"github.com/isobox/isobox/internal/shortgc"
)

// DefaultCacheDir is $XDG_CACHE_HOME/isobox, or the OS user cache dir + "/isobox".
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "isobox")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "isobox")
	}
	return filepath.Join(os.TempDir(), "isobox-cache")
}

// ResolveCacheDir turns a --cache-dir value into the directory to use: "" is
// DefaultCacheDir(), "off" is none ("", false).
func ResolveCacheDir(flag string) (string, bool) {
	switch flag {
	case "off":
		return "", false
	case "":
		return DefaultCacheDir(), true
	}
	return flag, true
}

// RuntimeConfig is the wazero configuration of an engine: the optimising compiler, wazero's
// own context checks when closeOnDone, and the compilation cache under cacheDir ("" for
// none). The engine and the prestart both make their runtime from it, so that a prestarted
// runtime is the one the engine would have made.
func RuntimeConfig(cacheDir string, closeOnDone bool) (wazero.RuntimeConfig, error) {
	rc := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(closeOnDone)
	if cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(cacheDir, "wazero"))
		if err != nil {
			return nil, fmt.Errorf("compilation cache in %s: %w", cacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	return rc, nil
}

// job is one runtime being made, with QuickJS compiled in it.
type job struct {
	cacheDir string
	made     chan struct{} // closed when rt is set, or err (then done is closed too)
	done     chan struct{} // closed when compiled and err are set
	closed   chan struct{} // closed when a refused runtime has been closed (closeWhenDone)
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	err      error

	// pyDone is closed when CPython's compilation (pyCompiled, pyErr) is over; nil when
	// the command does not run Python.
	pyDone     chan struct{}
	pyCompiled wazero.CompiledModule
	pyErr      error

	mu      sync.Mutex
	taken   bool
	handed  bool // take gave the runtime to an engine
	pyTaken bool
}

// begin makes the runtime for cacheDir and compiles QuickJS in it, on a new goroutine, and
// with python CPython too, on another.
func begin(cacheDir string, python bool) *job {
	j := &job{cacheDir: cacheDir, made: make(chan struct{}), done: make(chan struct{}), closed: make(chan struct{})}
	if python {
		j.pyDone = make(chan struct{})
		go func() {
			defer close(j.pyDone)
			<-j.made
			if j.rt != nil {
				j.pyCompiled, j.pyErr = j.rt.CompileModule(context.Background(), py.Wasm())
			}
		}()
	}
	go func() {
		defer close(j.done)
		ctx := context.Background()
		rc, err := RuntimeConfig(cacheDir, false)
		if err != nil {
			j.err = err
			close(j.made)
			return
		}
		j.rt = wazero.NewRuntimeWithConfig(ctx, rc)
		close(j.made)
		j.compiled, j.err = j.rt.CompileModule(ctx, js.Wasm())
	}()
	return j
}

// closeWhenDone closes the job's runtime once its compilations are over.
func (j *job) closeWhenDone() {
	<-j.done
	if j.pyDone != nil {
		<-j.pyDone
	}
	if j.rt != nil {
		j.rt.Close(context.Background())
	}
	close(j.closed)
}

// take hands the job's runtime over, once, when it was made for cacheDir (and without
// wazero's context checks), as soon as the runtime exists: compiled waits for QuickJS's
// compilation and returns its result (wazero's error as it is). Anything else closes the
// runtime (once compiled) and returns ok false: the caller makes its own, and reports its
// own errors.
func (j *job) take(ctx context.Context, cacheDir string, closeOnDone bool) (rt wazero.Runtime, compiled func() (wazero.CompiledModule, error), ok bool) {
	j.mu.Lock()
	first := !j.taken
	j.taken = true
	j.mu.Unlock()
	if !first {
		return nil, nil, false
	}
	if cacheDir != j.cacheDir || closeOnDone {
		go j.closeWhenDone()
		return nil, nil, false
	}
	select {
	case <-j.made:
	case <-ctx.Done():
		go j.closeWhenDone()
		return nil, nil, false
	}
	if j.rt == nil { // the runtime's configuration failed: the caller meets it again
		return nil, nil, false
	}
	j.mu.Lock()
	j.handed = true
	j.mu.Unlock()
	return j.rt, func() (wazero.CompiledModule, error) {
		<-j.done
		return j.compiled, j.err
	}, true
}

// started is this process's job: nil when the command line is not a short-lived command,
// names no cache directory, or names one that wazero has not used yet.
var started *job

func init() {
	if !shortgc.ShortLived(os.Args) {
		return
	}
	dir, ok := ResolveCacheDir(cacheDirFlag(os.Args[2:]))
	if !ok {
		return
	}
	// Only into a cache that wazero has used already: a wrong guess then creates no
	// directory, and a cold cache's compilation (seconds) is no faster begun early.
	if fi, err := os.Stat(filepath.Join(dir, "wazero")); err != nil || !fi.IsDir() {
		return
	}
	started = begin(dir, wantsPython(os.Args[1], os.Args[2:]))
}

// TakePython hands over CPython's compilation begun at initialisation, once, to the engine
// that took the runtime (rt, from Take): compiled waits for it and returns the compiled
// module or wazero's error. ok is false when none was begun or rt is another runtime (the
// caller then compiles CPython itself).
func TakePython(rt wazero.Runtime) (compiled func() (wazero.CompiledModule, error), ok bool) {
	if started == nil {
		return nil, false
	}
	return started.takePython(rt)
}

func (j *job) takePython(rt wazero.Runtime) (func() (wazero.CompiledModule, error), bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.pyDone == nil || j.pyTaken || !j.handed || rt == nil || rt != j.rt {
		return nil, false
	}
	j.pyTaken = true
	return func() (wazero.CompiledModule, error) {
		<-j.pyDone
		return j.pyCompiled, j.pyErr
	}, true
}

// wantsPython reports whether command cmd with args runs Python: eval with --lang python
// (or py), run with a .py file. A wrong guess costs time only: a compilation nobody takes,
// or one the engine does itself.
func wantsPython(cmd string, args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if cmd == "run" && strings.HasSuffix(a, ".py") {
			return true
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if cmd != "eval" || !strings.HasPrefix(a, "-") || name != "lang" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		if value == "python" || value == "py" {
			return true
		}
	}
	return false
}

// Take hands over the runtime begun at initialisation, if one was begun for cacheDir (a
// resolved directory, "" for none) and closeOnDone (see engine.Config.CloseOnContextDone),
// as soon as it exists; compiled waits for QuickJS's compilation in it and returns the
// compiled module or wazero's error. It does so once per process; ok is false otherwise (the
// caller then makes the runtime itself).
func Take(ctx context.Context, cacheDir string, closeOnDone bool) (rt wazero.Runtime, compiled func() (wazero.CompiledModule, error), ok bool) {
	if started == nil {
		return nil, nil, false
	}
	return started.take(ctx, cacheDir, closeOnDone)
}

// cacheDirFlag finds the value of --cache-dir (or -cache-dir, with = or as the next
// argument) among a command's arguments (the last one), "" when it is not given. It reads no further than
// a "--"; a value it gets wrong costs time only (Take refuses the runtime).
func cacheDirFlag(args []string) string {
	dir := "" // the last one counts, as with package flag
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "cache-dir" {
			continue
		}
		switch {
		case hasValue:
			dir = value
		case i+1 < len(args):
			i++
			dir = args[i]
		}
	}
	return dir
}
