// Package mcpserver makes isobox an MCP server (github.com/modelcontextprotocol/go-sdk), so
// that any MCP client — Claude Desktop, an IDE, an agent framework — can run code in
// isobox's sandboxes:
//
//   - run_code runs a JavaScript or TypeScript snippet (or a Python one, with language
//     "python") and returns its value, console output and error;
//
//   - execute is Code Mode over the configured connectors (MCP servers, OpenAPI
//     documents): its description is the TypeScript API of their tools, and the code the
//     model writes calls them (codemode.Executor); with language "python" the model writes
//     Python against the same tools (its description says how). It is offered only when at least one
//     connector, or a module (codemode.Connectors.SetModules), is configured, or a
//     workspace store: then its optional argument workspace ({"workspace": "proj",
//     "readOnly": true}) adds the state namespace (package workspace/statetools) over
//     that workspace's files, as POST /v1/codemode/execute does.
//
//     s, _ := mcpserver.New(mcpserver.Config{Loader: l, Connectors: cs})
//     err := s.Run(ctx, &mcp.StdioTransport{})      // isobox mcp
//     http.Handle("/mcp", s.HTTPHandler())         // isobox serve, behind its API-key check
package mcpserver

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
	"github.com/isobox/isobox/workspace/statetools"
)

// Config configures a Server.
type Config struct {
	// Loader makes the sandboxes: a *loader.Loader (in this process), or any
	// codemode.Evaluator such as the supervisor of isobox's sandbox processes. Required.
	Loader codemode.Evaluator
	// Connectors are the providers of the execute tool, and the modules its code may
	// import (nil or empty, with no modules: no execute tool).
	Connectors *codemode.Connectors
	// Workspaces, when set, lets execute's code work on the files of the workspace its
	// workspace argument names (any workspace of the store: whoever reaches this server
	// reaches them all, as over /v1). nil: execute takes no workspace.
	Workspaces workspace.Store
	// Workspace, when set (with Workspaces), is the one workspace execute works on: every
	// run gets the state namespace over it, with its rights, and execute takes no
	// workspace argument (isobox mcp --workspace).
	Workspace *api.Binding
	// Limits bound every run of run_code and execute (zero fields: codemode.DefaultLimits).
	Limits codemode.Limits
	// WorkspaceName, when set, is the name in Workspaces of the workspace a call names: a
	// server shared by tenants gives each tenant a Server whose WorkspaceName scopes the
	// name to the tenant, so that no call reaches another tenant's files. nil: as given.
	WorkspaceName func(name string) string
	// Admit, when set, is asked before every run of run_code and execute: an error refuses
	// the run (it is the run's error, and nothing runs), and it may lower the run's limits
	// (a memory ceiling). done, called once with the run's result, is where the run is
	// metered and its admission given back. nil: every run is admitted.
	Admit func(ctx context.Context, lim *codemode.Limits) (done func(codemode.Result), err error)
	// Version is reported in the MCP handshake.
	Version string
}

// Server is isobox's MCP server. Safe for concurrent use; one Server serves any number
// of sessions and transports.
type Server struct {
	cfg Config
	x   *codemode.Executor
	srv *mcp.Server
}

// Tool names.
const (
	ToolRunCode = "run_code"
	ToolExecute = "execute"
)

// New builds the server and its tools.
//
// # Errors
//
// When Loader is nil or the connectors' tools cannot be described (a bad schema).
func New(cfg Config) (*Server, error) {
	if cfg.Loader == nil || isNilLoader(cfg.Loader) {
		return nil, errors.New("mcpserver: Config.Loader is required")
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Workspace != nil {
		if cfg.Workspaces == nil {
			return nil, errors.New("mcpserver: Config.Workspace needs Config.Workspaces")
		}
		if err := api.CheckWorkspaceName(cfg.Workspace.Workspace); err != nil {
			return nil, fmt.Errorf("mcpserver: %w", err)
		}
	}
	s := &Server{cfg: cfg, x: codemode.NewExecutor(cfg.Loader)}
	s.srv = mcp.NewServer(&mcp.Implementation{Name: "isobox", Title: "isobox sandboxes", Version: cfg.Version}, &mcp.ServerOptions{
		Instructions: "isobox runs JavaScript and Python in isolated, millisecond sandboxes. Use run_code to compute something with code; " +
			"use execute (when offered) to call many tools from one program instead of one tool per turn.",
	})
	mcp.AddTool(s.srv, &mcp.Tool{
		Name:         ToolRunCode,
		Title:        "Run JavaScript or Python in a sandbox",
		Description:  runCodeDescription,
		Annotations:  &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(bool)},
		InputSchema:  InputSchema(),
		OutputSchema: OutputSchema(false),
	}, s.runCode)
	providers, err := cfg.Connectors.Select(nil)
	if err != nil {
		return nil, fmt.Errorf("mcpserver: %w", err)
	}
	if modules := cfg.Connectors.Modules(); len(providers) > 0 || len(modules) > 0 || cfg.Workspaces != nil {
		switch {
		case cfg.Workspace != nil:
			providers = append(providers, statetools.Provider(cfg.Workspaces, cfg.Workspace.Workspace, statetools.Options{ReadOnly: cfg.Workspace.ReadOnly}))
		case cfg.Workspaces != nil:
			// Only to describe the state namespace: a run gets its own over the workspace it names.
			providers = append(providers, statetools.Provider(cfg.Workspaces, "", statetools.Options{}))
		}
		desc, err := codemode.DescribeWith(cfg.Limits, modules, providers...)
		if err != nil {
			return nil, fmt.Errorf("mcpserver: %w", err)
		}
		switch {
		case cfg.Workspace != nil:
			desc += fmt.Sprintf(pinnedWorkspaceNote, cfg.Workspace.Workspace)
		case cfg.Workspaces != nil:
			desc += workspaceNote
		}
		if len(providers) > 0 {
			note, err := codemode.PythonNote(providers...)
			if err != nil {
				return nil, fmt.Errorf("mcpserver: %w", err)
			}
			if len(modules) > 0 {
				note += "Python code cannot import the npm packages: they are JavaScript.\n"
			}
			desc += note
		}
		mcp.AddTool(s.srv, &mcp.Tool{
			Name:         ToolExecute,
			Title:        "Call tools from code (Code Mode)",
			Description:  desc,
			InputSchema:  ExecuteInputSchema(cfg.Workspaces != nil && cfg.Workspace == nil),
			OutputSchema: OutputSchema(true),
		}, s.execute)
	}
	return s, nil
}

// isNilLoader reports a nil *loader.Loader in the interface (a typed nil is not == nil).
func isNilLoader(e codemode.Evaluator) bool {
	l, ok := e.(*loader.Loader)
	return ok && l == nil
}

const runCodeDescription = `Run JavaScript (or TypeScript: types are stripped) in a fresh, isolated sandbox and get back the value it returns, its console output and its error, if any.

Write an expression, statements (the value of the last one is the result), or an async arrow function (it is called): ` + "`async () => { ... return value }`" + `. Top-level await works. The sandbox has the web platform's globals (console, URL, TextEncoder, crypto.subtle.digest, structuredClone, setTimeout, ...) but no network, no files and nothing kept between runs. The result must survive JSON.stringify.

With language "python" the code is Python 3.13: statements, then the value of the last expression is the result (as JSON: tuples and sets become arrays, other values their repr()); print() is the console output; top-level await works. The common standard library (json, re, math, statistics, datetime, decimal, collections, ...) is there; no network, no files, no pip packages.`

// MCP returns the underlying go-sdk server, to serve it over any transport.
func (s *Server) MCP() *mcp.Server { return s.srv }

// Run serves one session over t until it ends or ctx is done (stdio: &mcp.StdioTransport{}).
func (s *Server) Run(ctx context.Context, t mcp.Transport) error { return s.srv.Run(ctx, t) }

// HTTPHandler serves MCP's streamable HTTP transport, statelessly: every POST is one
// request with its answer, no session is kept between them, and GET (a server-to-client
// stream) is not offered. Authenticate before it: it checks nothing itself.
func (s *Server) HTTPHandler() http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.srv },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
}

// InputSchema is the JSON Schema of CodeInput, the input of run_code and execute.
//
// The schemas isobox sends are written out rather than inferred from the Go types: an
// inferred schema says "any value" with the boolean schema true, which the official
// TypeScript SDK (and so most MCP hosts) refuses in a tool's properties. Every schema
// here, and every one of its sub-schemas, is a JSON object.
func InputSchema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{` +
		`"code":{"type":"string","description":"the code to run"},` +
		`"language":{"type":"string","description":"the code's language: \"javascript\" (the default; TypeScript too) or \"python\""}},` +
		`"required":["code"]}`)
}

// ExecuteInputSchema is the JSON Schema of execute's input: CodeInput, with its
// workspace argument when the server has workspaces.
func ExecuteInputSchema(workspaces bool) json.RawMessage {
	s := InputSchema()
	if !workspaces {
		return s
	}
	var m map[string]any
	_ = json.Unmarshal(s, &m)
	m["properties"].(map[string]any)["workspace"] = map[string]any{
		"type":        "object",
		"description": "the workspace whose files the code works on through the state namespace (omitted: no state namespace)",
		"properties": map[string]any{
			"workspace": map[string]any{"type": "string", "description": "the workspace's name"},
			"readOnly":  map[string]any{"type": "boolean", "description": "offer only the tools that read"},
		},
		"required": []any{"workspace"},
	}
	b, _ := json.Marshal(m)
	return b
}

const pinnedWorkspaceNote = "\nThe state namespace works on the files of workspace %q, kept between runs; paths are relative to its root.\n"

const workspaceNote = "\nThe state namespace works on the files of a workspace: it exists only in a run given the argument workspace, {\"workspace\": \"<name>\"} (with \"readOnly\": true, only its tools that read). Paths are relative to the workspace's root; a workspace is kept between runs.\n"

// OutputSchema is the JSON Schema of RunOutput, the structured output of run_code (calls
// false) and execute (calls true, with the tool calls the code made).
func OutputSchema(calls bool) json.RawMessage {
	s := `{"type":"object","properties":{` +
		`"result":{"description":"the value the code returned, as JSON (null for none)"},` +
		`"error":{"type":"object","description":"why the run failed","properties":{` +
		`"code":{"type":"string","description":"a stable error code: worker_exception, cpu_limit_exceeded, ..."},` +
		`"message":{"type":"string"},"stack":{"type":"string"}},"required":["code","message"]},` +
		`"logs":{"type":"array","description":"the console output, one line per call","items":{"type":"string"}}`
	if calls {
		s += `,"calls":{"type":"array","description":"the tool calls the code made, in the order they started","items":{"type":"object","properties":{` +
			`"name":{"type":"string","description":"the tool, as the code called it: namespace.tool"},` +
			`"arguments":{"description":"the argument the code passed"},` +
			`"result":{"description":"the tool's result (absent when it failed)"},` +
			`"error":{"type":"string","description":"why the call failed"},` +
			`"durationMs":{"type":"number"}},"required":["name","arguments","durationMs"]}}`
	}
	return json.RawMessage(s + `},"required":["result","logs"]}`)
}

// CodeInput is the input of run_code and execute.
type CodeInput struct {
	Code string `json:"code" jsonschema:"the code to run"`
	// Language is "javascript" ("" too) or "python".
	Language string `json:"language,omitempty" jsonschema:"javascript or python"`
	// Workspace (execute only, with Config.Workspaces) names the workspace the code's
	// state namespace works on.
	Workspace *api.Binding `json:"workspace,omitempty"`
}

// RunOutput is the structured output of run_code and execute.
type RunOutput struct {
	// Result is the value the code returned (null for none).
	Result any `json:"result"`
	// Error is why the run failed: {code, message, stack}.
	Error *isoerr.Error `json:"error,omitempty"`
	// Logs is the console output, one line per call, "[warn] ..." for levels other than log.
	Logs []string `json:"logs"`
	// Calls (execute only) are the tool calls the code made.
	Calls []CallOutput `json:"calls,omitempty"`
}

// CallOutput is one tool call of an execute run.
type CallOutput struct {
	Name       string  `json:"name"`
	Arguments  any     `json:"arguments"`
	Result     any     `json:"result,omitempty"`
	Error      string  `json:"error,omitempty"`
	DurationMs float64 `json:"durationMs"`
}

func (s *Server) runCode(ctx context.Context, _ *mcp.CallToolRequest, in CodeInput) (*mcp.CallToolResult, RunOutput, error) {
	lang, err := api.CheckLanguage(in.Language)
	if err != nil {
		return output(codemode.Result{Error: isoerr.As(err)}, false)
	}
	if in.Workspace != nil {
		return output(codemode.Result{Error: isoerr.New(isoerr.InvalidRequest, "run_code takes no workspace: use execute")}, false)
	}
	lim, done, err := s.admit(ctx)
	if err != nil {
		return output(codemode.Result{Error: isoerr.As(err)}, false)
	}
	var res codemode.Result
	if lang == api.LanguagePython {
		res = s.runPython(ctx, in.Code, lim)
	} else {
		res = s.x.Execute(ctx, in.Code, nil, codemode.Options{Limits: lim})
	}
	done(res)
	return output(res, false)
}

// admit asks Config.Admit to let a run go ahead with the server's limits (which it may
// lower); done meters the run.
func (s *Server) admit(ctx context.Context) (codemode.Limits, func(codemode.Result), error) {
	lim := s.cfg.Limits
	if s.cfg.Admit == nil {
		return lim, func(codemode.Result) {}, nil
	}
	done, err := s.cfg.Admit(ctx, &lim)
	if err != nil {
		return lim, nil, err
	}
	return lim, done, nil
}

// runPython runs a Python snippet in a fresh sandbox (loader.EvalOptions.Python) under
// limits l, defaults as codemode.DefaultLimits.
func (s *Server) runPython(ctx context.Context, code string, l codemode.Limits) codemode.Result {
	d := codemode.DefaultLimits()
	if l.CPUMs < 0 || l.WallMs < 0 || l.MemoryMB < 0 {
		return codemode.Result{Error: isoerr.New(isoerr.InvalidRequest, "limits must not be negative")}
	}
	lim := engine.Limits{
		CPU:    time.Duration(cmp.Or(l.CPUMs, d.CPUMs)) * time.Millisecond,
		Wall:   time.Duration(cmp.Or(l.WallMs, d.WallMs)) * time.Millisecond,
		Memory: uint64(cmp.Or(l.MemoryMB, d.MemoryMB)) << 20,
	}
	res := codemode.Result{Logs: []loader.LogLine{}}
	r, err := s.cfg.Loader.Eval(ctx, code, loader.EvalOptions{Limits: lim, Python: true})
	if r != nil {
		res.CPUMs = float64(r.CPU.Microseconds()) / 1000
		res.WallMs = float64(r.Wall.Microseconds()) / 1000
		for _, l := range r.Logs {
			res.Logs = append(res.Logs, loader.LogLine{Level: l.Level, Message: l.Message, Time: l.Time})
		}
	}
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

func (s *Server) execute(ctx context.Context, _ *mcp.CallToolRequest, in CodeInput) (*mcp.CallToolResult, RunOutput, error) {
	lang, err := api.CheckLanguage(in.Language)
	if err != nil {
		return output(codemode.Result{Error: isoerr.As(err)}, true)
	}
	providers, err := s.cfg.Connectors.Select(nil)
	if err != nil {
		return nil, RunOutput{}, err
	}
	if s.cfg.Workspace != nil {
		if in.Workspace != nil {
			return output(codemode.Result{Error: isoerr.New(isoerr.InvalidRequest, "this server's execute works on workspace %q: it takes no workspace argument", s.cfg.Workspace.Workspace)}, true)
		}
		in.Workspace = s.cfg.Workspace
	}
	if in.Workspace != nil {
		p, err := s.stateProvider(*in.Workspace)
		if err != nil {
			return output(codemode.Result{Error: isoerr.As(err)}, true)
		}
		providers = append(providers, p)
	}
	lim, done, err := s.admit(ctx)
	if err != nil {
		return output(codemode.Result{Error: isoerr.As(err)}, true)
	}
	res := s.x.Execute(ctx, in.Code, providers, codemode.Options{Limits: lim, Modules: s.cfg.Connectors.Modules(), Language: lang})
	done(res)
	return output(res, true)
}

// stateProvider is the state namespace over the workspace b names.
func (s *Server) stateProvider(b api.Binding) (codemode.Provider, error) {
	if s.cfg.Workspaces == nil {
		return codemode.Provider{}, isoerr.New(isoerr.NotImplemented, "this server keeps no workspaces")
	}
	if err := api.CheckWorkspaceName(b.Workspace); err != nil {
		return codemode.Provider{}, err
	}
	name := b.Workspace
	if s.cfg.WorkspaceName != nil {
		name = s.cfg.WorkspaceName(name)
	}
	return statetools.Provider(s.cfg.Workspaces, name, statetools.Options{ReadOnly: b.ReadOnly}), nil
}

// output turns a run into the tool's result: structured content, plus a text a model
// reads at a glance (the value, or the error with the console output after it), marked
// isError when the code failed so that the model sees it must fix something.
func output(res codemode.Result, calls bool) (*mcp.CallToolResult, RunOutput, error) {
	out := RunOutput{Error: res.Error, Logs: make([]string, 0, len(res.Logs))}
	_ = json.Unmarshal(res.Result, &out.Result)
	for _, l := range res.Logs {
		if l.Level == "log" || l.Level == "info" {
			out.Logs = append(out.Logs, l.Message)
		} else {
			out.Logs = append(out.Logs, "["+l.Level+"] "+l.Message)
		}
	}
	if calls {
		for _, c := range res.Calls {
			co := CallOutput{Name: c.Name, Error: c.Error, DurationMs: c.DurationMs}
			_ = json.Unmarshal(c.Arguments, &co.Arguments)
			_ = json.Unmarshal(c.Result, &co.Result)
			out.Calls = append(out.Calls, co)
		}
	}
	var b strings.Builder
	if res.Error != nil {
		fmt.Fprintf(&b, "The code failed: %s: %s", res.Error.Code, res.Error.Message)
		if res.Error.Stack != "" {
			b.WriteString("\n" + res.Error.Stack)
		}
	} else {
		r := res.Result
		if len(r) == 0 {
			r = json.RawMessage("null")
		}
		b.Write(r)
	}
	if len(out.Logs) > 0 {
		b.WriteString("\n\nConsole output:\n" + strings.Join(out.Logs, "\n"))
	}
	if calls && len(out.Calls) > 0 {
		fmt.Fprintf(&b, "\n\n(%d tool calls)", len(out.Calls))
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: b.String()}}, IsError: res.Error != nil}, out, nil
}
