package session

import (
	"context"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/jsnorm"
)

// evalSnippet runs code in sb the way loader.Eval runs a snippet (TypeScript, top-level
// await and return, code fences, ...: jsnorm.Snippet), with the rules of a REPL: the
// declarations of a plain script stay global for the next call, and a function declared
// last is kept, not called.
func evalSnippet(ctx context.Context, sb *engine.Sandbox, lim engine.Limits, code string) (*engine.Result, error) {
	src, err := jsnorm.Snippet(code, jsnorm.Options{Builtins: engine.BuiltinModules(), REPL: true})
	if err != nil {
		return &engine.Result{}, err
	}
	return sb.Eval(ctx, lim, src)
}
