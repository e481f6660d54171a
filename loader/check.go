package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// Compile checks that code would load, without running any of it: it is validated and
// prepared exactly as for a call, then every module is compiled and the module graph
// linked in a throwaway sandbox (engine.Engine.Compile); every module of a Python worker
// is compiled by CPython (imports are resolved when the worker loads). The server calls it before it
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
	if p.python() {
		return l.compilePython(ctx, lim, p.mods)
	}
	return l.cfg.Engine.Compile(ctx, lim, p.mods, code.MainModule)
}

// pyCheck compiles every module of a Python worker (a JSON object name -> source, which
// Compile writes into it) without running any of it, and answers the first SyntaxError
// as [file, line, column, message], or None.
const pyCheck = `import json as _json
def _check(mods):
    for name in sorted(mods):
        try:
            compile(mods[name], name, "exec", dont_inherit=True)
        except SyntaxError as e:
            return [e.filename or name, e.lineno or 0, e.offset or 0, type(e).__name__ + ": " + (e.msg or "invalid syntax")]
        except ValueError as e:  # a NUL byte in the source
            return [name, 0, 0, "SyntaxError: " + str(e)]
    return None
_check(_json.loads(%s))`

// compilePython is Compile of a Python worker: every .py module is compiled by CPython in
// a throwaway Python sandbox.
func (l *Loader) compilePython(ctx context.Context, lim engine.Limits, mods engine.ModuleMap) error {
	src := map[string]string{}
	for name, m := range mods {
		if m.Type == engine.ModulePy {
			if !utf8.Valid(m.Content) {
				return isoerr.New(isoerr.InvalidWorkerCode, "module %q is not valid UTF-8", name)
			}
			src[name] = string(m.Content)
		}
	}
	b, err := json.Marshal(src)
	if err != nil {
		return err
	}
	lit, _ := json.Marshal(string(b)) // a JSON string is a Python string literal
	sb, err := l.cfg.Engine.NewPythonSandbox(ctx, engine.SandboxConfig{Memory: lim.Memory})
	if err != nil {
		return err
	}
	defer sb.Close(ctx)
	res, err := sb.Eval(ctx, lim, fmt.Sprintf(pyCheck, lit))
	if err != nil {
		return err
	}
	var found []any
	if len(res.Value) == 0 || json.Unmarshal(res.Value, &found) != nil || len(found) != 4 {
		return nil
	}
	return isoerr.New(isoerr.InvalidWorkerCode, "%v:%v:%v: %v", found[0], found[1], found[2], found[3])
}
