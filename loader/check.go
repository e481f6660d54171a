package loader

import (
	"context"

	"github.com/isobox/isobox/engine"
)

// Compile checks that code would load, without running any of it: it is validated and
// prepared exactly as for a call, then every module is compiled and the module graph
// linked in a throwaway sandbox (engine.Engine.Compile); every module of a Python worker
// is compiled by CPython (imports resolve when the worker loads). The server calls it before it
// stores a worker, so a syntax error is refused at once rather than at the first call.
// Checking is bounded by Config.StartupCPU and the code's own wall-time and memory limits.
//
//	if err := l.Compile(ctx, code); err != nil { ... } // invalid_worker_code: main.js:3:9: SyntaxError: ...
//
// # Errors
//
// What Validate reports; invalid_worker_code for a syntax error (its message starts with
// "file:line:column:"), an import of a module the worker does not have, or of an export a
// module does not have; a limit code when checking takes longer than the limits allow.
func (l *Loader) Compile(ctx context.Context, code WorkerCode) error {
	p, err := prepare(code)
	if err != nil {
		return err
	}
	lim := p.limits
	lim.CPU = l.cfg.StartupCPU
	return l.cfg.Engine.CompileConfig(ctx, lim, engine.SandboxConfig{Modules: p.mods, NodeCompat: p.nodeCompat()}, code.MainModule)
}
