package loader

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/jsnorm"
	"github.com/isobox/isobox/isoerr"
)

// Outcome is the JSON object every invocation answers with (`isobox run --json`, the HTTP
// API): api.Outcome, made by NewOutcome.
type Outcome = api.Outcome

// LogLine is one console line in an Outcome (api.LogLine, which engine.Log is too).
type LogLine = api.LogLine

// Kind says which fields of an Outcome apply.
type Kind int

// The kinds of invocation.
const (
	KindFetch Kind = iota // status, headers, body
	KindCall              // result
	// KindEval is a result of Eval: the same fields as KindCall, with values that JSON
	// cannot hold in their tagged form ({"$type": "Map", ...}; see the README).
	KindEval
)

// NewOutcome describes a call's result and error as an Outcome.
func NewOutcome(kind Kind, res *Result, err error) Outcome {
	o := Outcome{OK: err == nil, Logs: []LogLine{}}
	if res != nil {
		o.CPUMs = ms(res.CPU)
		o.WallMs = ms(res.Wall)
		o.Cold = res.Cold
		o.Logs = append(o.Logs, res.Logs...)
	}
	if err != nil {
		o.Error = isoerr.As(err)
		return o
	}
	switch kind {
	case KindFetch:
		o.Status = res.Status
		o.Headers = map[string]string{}
		for _, kv := range res.Headers {
			if v, ok := o.Headers[kv[0]]; ok {
				o.Headers[kv[0]] = v + ", " + kv[1]
			} else {
				o.Headers[kv[0]] = kv[1]
			}
		}
		var body string
		if utf8.Valid(res.Body) {
			body = string(res.Body)
		} else {
			body = base64.StdEncoding.EncodeToString(res.Body)
			o.BodyEncoding = "base64"
		}
		o.Body = &body
	case KindCall, KindEval:
		o.Result = res.Value
	}
	return o
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// EvalOptions configure Eval.
type EvalOptions struct {
	Limits   engine.Limits
	Outbound http.RoundTripper
	// Tools answers tool calls made with __isobox_internal.callTool (Code Mode).
	Tools engine.ToolFunc
	// Python runs the snippet as Python (engine.PythonSandbox.Eval: the last expression's
	// value is the result) instead of JavaScript. Outbound carries its
	// `from workers import fetch`, and Tools answers its `await isobox.tool(name, args)`
	// (Code Mode's Python namespaces are made of it).
	Python bool
	// Tenant is the tenant the snippet runs for ("": tenant default). The loader ignores
	// it; the sandbox processes run it in a process of that tenant's only.
	Tenant string
}

// Eval runs a snippet in a fresh sandbox (nothing cached) the way a model writes one. The
// code is normalised first (jsnorm.Snippet): an expression, statements (the last value is
// the result), an async arrow function (called), TypeScript, top-level await and return,
// export default, module.exports, a code fence, imports of the built-in modules. Code that
// jsnorm.Snippet already produced (ending in jsnorm.Marker) runs as it is, so a caller may
// normalise first and put a prelude of plain JavaScript before it (Code Mode does).
//
// The result (Result.Value) is JSON in which values that JSON cannot hold are tagged
// objects ({"$type":"Map","entries":[[1,2]]}, {"$type":"undefined"}, ...): see the README.
//
// # Errors
//
// invalid_worker_code for code that does not parse or imports a module that is not built
// in; the code's own errors and the limit codes.
func (l *Loader) Eval(ctx context.Context, code string, opts EvalOptions) (*Result, error) {
	start := time.Now()
	if err := opts.Limits.Validate(); err != nil {
		return &Result{}, err
	}
	if !utf8.ValidString(code) {
		return &Result{}, isoerr.New(isoerr.InvalidWorkerCode, "the code is not valid UTF-8")
	}
	if len(code) > MaxCodeSize {
		return &Result{}, isoerr.New(isoerr.CodeTooLarge, "the code is %d bytes; the limit is %d", len(code), MaxCodeSize)
	}
	if opts.Python {
		return l.evalPython(ctx, code, opts, start)
	}
	src, err := jsnorm.Snippet(code, jsnorm.Options{Builtins: engine.BuiltinModules()})
	if err != nil {
		return &Result{}, err
	}
	sb, err := l.cfg.Engine.NewSandbox(ctx, engine.SandboxConfig{Memory: opts.Limits.Memory, Outbound: opts.Outbound, Tools: opts.Tools})
	if err != nil {
		return failedLoad(err, start)
	}
	defer sb.Close(ctx)
	res, err := sb.Eval(ctx, opts.Limits, src)
	return finish(res, err, true, start)
}

// evalPython is Eval of a Python snippet: a new Python sandbox from the engine's Python
// image.
func (l *Loader) evalPython(ctx context.Context, code string, opts EvalOptions, start time.Time) (*Result, error) {
	sb, err := l.cfg.Engine.NewPythonSandbox(ctx, engine.SandboxConfig{Memory: opts.Limits.Memory, Outbound: opts.Outbound, Tools: opts.Tools})
	if err != nil {
		return failedLoad(err, start)
	}
	defer sb.Close(ctx)
	res, err := sb.Eval(ctx, opts.Limits, code)
	return finish(res, err, true, start)
}
