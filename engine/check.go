package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/isobox/isobox/isoerr"
)

// The compile check loads a synthetic root module that imports every ES module of the
// worker and then a binding that does not exist. ES module semantics do the rest: every
// module of the graph is parsed (a syntax error or a missing module stops there), then the
// graph is linked (a missing named export stops there), and the root's own missing import
// is the last link step, so reaching it means everything before it compiled and linked. A
// failed link evaluates nothing. The names start with "/", which no worker module may.
const (
	checkRoot    = "/isobox:compile-check"
	checkStop    = "/isobox:compile-check-end"
	checkBinding = "__isobox_compiled"
)

// checkDone is the error QuickJS throws when the check reached its end.
var checkDone = fmt.Sprintf("SyntaxError: Could not find export '%s' in module '%s'", checkBinding, checkStop)

// cjsWrapper is how the runtime turns a CommonJS module into a function (90_worker.js,
// requireFrom); the check compiles the same text.
func cjsWrapper(src []byte) []byte {
	b := make([]byte, 0, len(src)+80)
	b = append(b, "(function (exports, require, module, __filename, __dirname) {"...)
	b = append(b, src...)
	return append(b, "\n})"...)
}

// Compile checks that the worker's code compiles, without running any of it: every ES
// module is parsed and the module graph linked (imports resolve to modules and exports
// that exist), every CommonJS module is parsed; for a Python worker (a .py main), every
// .py module is compiled (syntax only: Python's imports resolve when they run). main
// must be one of mods. It makes a
// throwaway sandbox; lim bounds it (CPU, wall time, memory), as parsing a huge module
// takes time.
//
//	err := e.Compile(ctx, engine.Limits{CPU: time.Second}, mods, "main.js")
//
// # Errors
//
// invalid_worker_code for a syntax error (the message starts with "file:line:column:"), a
// missing module or a missing export, and what ModuleMap.Validate reports; the limit codes
// when checking takes more than lim allows.
func (e *Engine) Compile(ctx context.Context, lim Limits, mods ModuleMap, main string) error {
	return e.CompileConfig(ctx, lim, SandboxConfig{Modules: mods}, main)
}

// CompileConfig is Compile of cfg.Modules in a sandbox configured as cfg (NodeCompat:
// imports of Node.js built-ins resolve). Its Memory is lim's.
func (e *Engine) CompileConfig(ctx context.Context, lim Limits, cfg SandboxConfig, main string) error {
	mods := cfg.Modules
	if err := mods.Validate(main); err != nil {
		return err
	}
	if mods[main].Type == ModulePy {
		return e.compilePython(ctx, lim, mods)
	}
	if mods[main].Type == ModuleWasm {
		return e.compileWasm(ctx, main, mods[main].Content)
	}
	if err := e.checkWasmModules(ctx, mods); err != nil {
		return err
	}
	sb, err := e.NewSandbox(ctx, SandboxConfig{Memory: lim.Memory, Modules: mods, NodeCompat: cfg.NodeCompat})
	if err != nil {
		return err
	}
	defer sb.Close(ctx)
	sb.check = true
	names := make([]string, 0, len(mods))
	for name := range mods {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if mods[name].Type == ModuleCJS {
			if err := sb.compileScript(ctx, lim, name, cjsWrapper(mods[name].Content)); err != nil {
				return err
			}
		}
	}
	_, err = sb.run(ctx, lim, map[string]any{"type": "load", "main": checkRoot, "env": json.RawMessage("{}")})
	if err == nil {
		return isoerr.New(isoerr.Internal, "compile check: the check module was evaluated, which it never should be")
	}
	e2 := isoerr.As(err)
	switch e2.Code {
	case isoerr.InvalidWorkerCode, isoerr.WorkerException:
		if e2.Message == checkDone {
			return nil
		}
		return compileError(e2)
	}
	return err
}

// compileScript compiles src as a global script named name, without running it.
func (sb *Sandbox) compileScript(ctx context.Context, lim Limits, name string, src []byte) error {
	sb.begin(ctx, lim.WithDefaults())
	defer sb.end()
	ptr, err := sb.write(src)
	if err != nil {
		return err
	}
	defer sb.freeGuest(ptr)
	np, err := sb.writeCString(name)
	if err != nil {
		return err
	}
	defer sb.freeGuest(np)
	res, err := sb.guest(opCompile, ptr, uint32(len(src)), np)
	if err != nil {
		return err
	}
	if res != 0 {
		e := sb.guestException()
		if e.Code == isoerr.WorkerException {
			return compileError(e)
		}
		return e
	}
	return nil
}

// stackAt finds the first "at FILE:LINE:COL" of a stack trace.
var stackAt = regexp.MustCompile(`at (?:[^\n(]*\()?([^\s()]+:\d+:\d+)`)

// compileError makes a guest's compile or link error an invalid_worker_code error whose
// message starts with where it is ("main.js:3:9: SyntaxError: ...").
func compileError(e *isoerr.Error) *isoerr.Error {
	msg := e.Message
	if m := stackAt.FindStringSubmatch(e.Stack); m != nil && !strings.HasPrefix(m[1], "/isobox:") && !strings.HasPrefix(msg, m[1]) {
		msg = m[1] + ": " + msg
	}
	return &isoerr.Error{Code: isoerr.InvalidWorkerCode, Message: msg, Stack: e.Stack}
}

// resolveModule answers module_resolve: the worker's module map, and during a compile
// check the check's own modules. From the check root a specifier is an exact module name.
func (sb *Sandbox) resolveModule(base, spec string) (string, error) {
	if sb.check {
		switch {
		case spec == checkRoot:
			return checkRoot, nil
		case base == checkRoot && spec == checkStop:
			return checkStop, nil
		case base == checkRoot:
			if _, ok := sb.cfg.Modules[spec]; ok {
				return spec, nil
			}
		}
	}
	return sb.cfg.Modules.ResolveWith(sb.cfg.NodeCompat, base, spec)
}

// moduleSource answers module_source: the source of a module as ES module text.
func (sb *Sandbox) moduleSource(name string) ([]byte, error) {
	if sb.check {
		switch name {
		case checkRoot:
			var b strings.Builder
			names := make([]string, 0, len(sb.cfg.Modules))
			for n, m := range sb.cfg.Modules {
				if m.Type == ModuleJS {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				q, _ := json.Marshal(n)
				fmt.Fprintf(&b, "import %s;\n", q)
			}
			fmt.Fprintf(&b, "import { %s } from %q;\n", checkBinding, checkStop)
			return []byte(b.String()), nil
		case checkStop:
			return []byte("export {};\n"), nil
		}
	}
	if src, ok := nodeESM(name); ok && sb.cfg.NodeCompat {
		return []byte(src), nil
	}
	return sb.cfg.Modules.esmBytes(name)
}
