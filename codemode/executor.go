package codemode

import (
	"github.com/isobox/isobox/api"

	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/isobox/isobox/codemode/internal/toolset"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/jsnorm"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// Limits bound one execution. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	// CPUMs is the guest CPU time the code may use; time spent waiting for tools does not
	// count (default 1,000; at most 30,000).
	CPUMs int `json:"cpuMs,omitempty"`
	// WallMs bounds the whole run, tool calls included (default 60,000; at most 900,000).
	WallMs int `json:"wallMs,omitempty"`
	// MemoryMB bounds the sandbox's memory (default 128; 16 to 4,096).
	MemoryMB int `json:"memoryMb,omitempty"`
	// MaxToolCalls bounds the tool calls of one run; further calls are rejected (default
	// 100; at most 10,000).
	MaxToolCalls int `json:"maxToolCalls,omitempty"`
}

// DefaultLimits are the limits of a run that sets none: 1 s of CPU, 60 s in all (as
// @cloudflare/codemode's executor), 128 MiB, 100 tool calls.
func DefaultLimits() Limits {
	return Limits{CPUMs: 1000, WallMs: 60000, MemoryMB: 128, MaxToolCalls: 100}
}

// MaxToolCallsLimit is the largest Limits.MaxToolCalls.
const MaxToolCallsLimit = 10000

// withDefaults fills in zero fields and checks the ranges.
func (l Limits) withDefaults() (Limits, engine.Limits, error) {
	d := DefaultLimits()
	if l.CPUMs < 0 || l.WallMs < 0 || l.MemoryMB < 0 || l.MaxToolCalls < 0 {
		return l, engine.Limits{}, isoerr.New(isoerr.InvalidRequest, "limits must not be negative")
	}
	if l.CPUMs == 0 {
		l.CPUMs = d.CPUMs
	}
	if l.WallMs == 0 {
		l.WallMs = d.WallMs
	}
	if l.MemoryMB == 0 {
		l.MemoryMB = d.MemoryMB
	}
	if l.MaxToolCalls == 0 {
		l.MaxToolCalls = d.MaxToolCalls
	}
	if l.MaxToolCalls > MaxToolCallsLimit {
		return l, engine.Limits{}, isoerr.New(isoerr.InvalidRequest, "limits.maxToolCalls must be between 1 and %d, got %d", MaxToolCallsLimit, l.MaxToolCalls)
	}
	el := engine.Limits{
		CPU:    time.Duration(l.CPUMs) * time.Millisecond,
		Wall:   time.Duration(l.WallMs) * time.Millisecond,
		Memory: uint64(l.MemoryMB) << 20,
	}
	if err := el.Validate(); err != nil {
		return l, el, err
	}
	return l, el, nil
}

// Options configure one execution.
type Options struct {
	Limits Limits
	// Outbound carries the code's fetch(): typically an egress gateway. nil, the default,
	// leaves the code without network, so that the tools are its only way out.
	Outbound http.RoundTripper
	// Modules are the npm packages the code may import besides the built-in modules
	// (Connectors.Modules); an import of any other module is an invalid_worker_code
	// error that names it. JavaScript only: Python code imports only the standard library.
	Modules []Module
	// Language is the code's language: "javascript" ("" too; TypeScript as well) or
	// "python" (api.LanguagePython; see PythonTypes and DescribePython for what the model
	// is shown).
	Language string
	// Tenant is the tenant the code runs for (loader.EvalOptions.Tenant; "": default).
	Tenant string
}

// Result is what a run gives back, in the shape of @cloudflare/codemode's executor plus
// the trace of tool calls: the wire's api.ExecuteResult (Error says why a run failed: a
// syntax error, an uncaught exception or tool rejection, a limit, a promise that can never
// settle, or bad arguments to Execute).
type Result = api.ExecuteResult

// Call is one tool call of a run (api.ToolCall).
type Call = api.ToolCall

// Evaluator runs a snippet in a fresh sandbox with tool calls answered by the host: what
// an Executor needs of the sandboxes. *loader.Loader satisfies it (sandboxes in this
// process), and so does the supervisor of isobox's sandbox processes
// (internal/sandboxproc.Pool), whose tool calls cross the process boundary to run here.
type Evaluator interface {
	// Eval runs code with opts (loader.Loader.Eval): opts.Tools answers its tool calls,
	// and Eval returns only after every tool call it started has returned.
	Eval(ctx context.Context, code string, opts loader.EvalOptions) (*loader.Result, error)
}

// Executor runs model-written code against tools, each run in a fresh sandbox. It is
// safe for concurrent use.
type Executor struct {
	l       Evaluator
	v       *toolset.Validator
	modules scripts
}

// NewExecutor returns an executor that makes its sandboxes with l (Eval: uncached), a
// *loader.Loader or any other Evaluator.
func NewExecutor(l Evaluator) *Executor {
	return &Executor{l: l, v: toolset.NewValidator()}
}

// maxConcurrentCalls bounds the tool calls of one run in flight at once; more wait.
const maxConcurrentCalls = 32

// Execute normalises code (jsnorm.Snippet), runs it in a new sandbox whose globals are the
// providers' namespaces, and returns its value, console output and tool-call trace.
// Tool arguments are checked against the tools' input schemas before the tools run.
//
//	x := codemode.NewExecutor(l)
//	res := x.Execute(ctx, `async () => (await codemode.searchWeb({query: "x"})).length`,
//		[]codemode.Provider{{Tools: tools}}, codemode.Options{})
//	// res.Result == 3, res.Calls[0].Name == "codemode.searchWeb"
//
// # Errors
//
// Execute never panics and always returns: every failure is in Result.Error (see there),
// and the limits (Options.Limits) stop code that loops, allocates, waits forever or
// floods the tools.
func (x *Executor) Execute(ctx context.Context, code string, providers []Provider, opts Options) (res Result) {
	start := time.Now()
	res.Logs = []loader.LogLine{}
	res.Calls = []Call{}
	defer func() {
		if p := recover(); p != nil {
			res.Error = isoerr.New(isoerr.Internal, "codemode: %v\n%s", p, debug.Stack())
		}
		res.WallMs = float64(time.Since(start).Microseconds()) / 1000
	}()
	lim, elim, err := opts.Limits.withDefaults()
	if err != nil {
		res.Error = isoerr.As(err)
		return res
	}
	ts, err := resolve(providers)
	if err != nil {
		res.Error = isoerr.New(isoerr.InvalidRequest, "%v", err)
		return res
	}
	lang, err := api.CheckLanguage(opts.Language)
	if err != nil {
		res.Error = isoerr.As(err)
		return res
	}
	run := &run{ts: ts, v: x.v, max: lim.MaxToolCalls, sem: make(chan struct{}, maxConcurrentCalls)}
	if lang == api.LanguagePython {
		run.python = true
		r, err := x.l.Eval(ctx, pyPrelude(ts)+pyCode(code), loader.EvalOptions{Limits: elim, Outbound: opts.Outbound, Tools: run.call, Python: true, Tenant: opts.Tenant})
		if err != nil && len(ts.Namespaces) > 0 {
			err = pyFixLines(isoerr.As(err))
		}
		return finishRun(res, run, r, err)
	}
	// The modules the code may import are defined by a script before it, so the Evaluator
	// (in this process or in a sandbox process) runs a script with no imports left.
	mods, modPrelude, err := x.modules.importable(code, opts.Modules)
	if err != nil {
		res.Error = isoerr.As(err)
		return res
	}
	src, err := jsnorm.Snippet(code, jsnorm.Options{Builtins: mods})
	if err != nil {
		res.Error = isoerr.As(err)
		return res
	}
	r, err := x.l.Eval(ctx, ts.Prelude()+modPrelude+src, loader.EvalOptions{Limits: elim, Outbound: opts.Outbound, Tools: run.call, Tenant: opts.Tenant})
	return finishRun(res, run, r, err)
}

// finishRun fills res with the outcome of a run's Eval.
func finishRun(res Result, run *run, r *loader.Result, err error) Result {
	if r != nil {
		res.CPUMs = float64(r.CPU.Microseconds()) / 1000
		for _, l := range r.Logs {
			res.Logs = append(res.Logs, loader.LogLine{Level: l.Level, Message: l.Message, Time: l.Time})
		}
	}
	res.Calls, res.CallsOverLimit = run.trace()
	if err != nil {
		res.Error = isoerr.As(err)
		return res
	}
	res.Result = r.Value
	if len(res.Result) == 0 {
		res.Result = json.RawMessage("null")
	}
	return res
}

// run is the host side of one execution's tool calls.
type run struct {
	python bool // the code is Python: errors name its signatures, not TypeScript's types
	ts     *toolset.Set
	v      *toolset.Validator
	max    int
	sem    chan struct{}
	mu     sync.Mutex
	log    []*callEntry
	over   int
	kept   int // bytes of arguments and results in the trace
}

type callEntry struct {
	Call
	done bool
}

// call is the engine.ToolFunc of the run: find the tool, check the limit and the
// arguments, run the tool, record all of it. It never panics.
func (r *run) call(ctx context.Context, name string, args json.RawMessage) (out json.RawMessage, err error) {
	if len(args) == 0 {
		args = json.RawMessage("null")
	}
	if len(name) > maxNameLen {
		name = name[:maxNameLen] + "..."
	}
	r.mu.Lock()
	if len(r.log) >= r.max {
		r.over++
		r.mu.Unlock()
		return nil, fmt.Errorf("%s: too many tool calls: a run may make %d", name, r.max)
	}
	e := &callEntry{Call: Call{Name: name, Arguments: r.keep(args)}}
	r.log = append(r.log, e)
	r.mu.Unlock()

	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%s: the tool failed (panic: %v)", name, p)
		}
		r.mu.Lock()
		e.done = true
		e.DurationMs = float64(time.Since(start).Microseconds()) / 1000
		if err != nil {
			e.Error = err.Error()
		} else {
			e.Result = r.keep(out)
		}
		r.mu.Unlock()
	}()
	bt, err := r.ts.Lookup(name)
	if err != nil {
		return nil, err
	}
	if err := r.v.Check(bt.Tool.InputSchema, args); err != nil {
		see := bt.TypeBase + "Input"
		if r.python {
			see = "the signature of " + bt.NS + "." + toolset.PyIdent(bt.Ident)
		}
		return nil, fmt.Errorf("%s: invalid input (see %s): %v", bt.Path(), see, err)
	}
	select {
	case r.sem <- struct{}{}:
		defer func() { <-r.sem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: canceled: %v", bt.Path(), context.Cause(ctx))
	}
	out, err = bt.Tool.Func(ctx, args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bt.Path(), err)
	}
	if len(out) == 0 {
		out = json.RawMessage("null")
	} else if !json.Valid(out) {
		return nil, fmt.Errorf("%s: the tool returned something that is not JSON", bt.Path())
	}
	return out, nil
}

// Bounds on the trace, which the host holds while the code runs: hostile code must not
// make it keep every large argument it passes.
const (
	maxNameLen    = 256
	maxTraceValue = 64 << 10 // one argument or result
	maxTraceTotal = 8 << 20  // all of them
)

// keep returns v for the trace, or a note of its size when it is too large to keep.
// Called with r.mu held.
func (r *run) keep(v json.RawMessage) json.RawMessage {
	if len(v) > maxTraceValue || r.kept+len(v) > maxTraceTotal {
		note, _ := json.Marshal(fmt.Sprintf("[isobox: %d bytes, not kept in the trace]", len(v)))
		return note
	}
	r.kept += len(v)
	return v
}

// trace copies the calls; one still running when the run ended is marked so.
func (r *run) trace() ([]Call, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Call, len(r.log))
	for i, e := range r.log {
		out[i] = e.Call
		if !e.done {
			out[i].Error = "the run ended before the call returned"
		}
	}
	return out, r.over
}
