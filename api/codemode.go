package api

import (
	"encoding/json"

	"github.com/isobox/isobox/isoerr"
)

// ExecuteRequest is the body of POST /v1/codemode/execute: code a model wrote against the
// tools of the server's configured connectors.
type ExecuteRequest struct {
	// Code is an async arrow function, statements, an expression or a named function;
	// JavaScript or TypeScript; in a Markdown code fence or not.
	Code string `json:"code"`
	// Providers names the connectors whose tools the code may call (each becomes a global
	// object). Empty: all of them.
	Providers []string        `json:"providers,omitempty"`
	Limits    *CodemodeLimits `json:"limits,omitempty"`
	// Language is Code's language: "javascript" ("" too; TypeScript as well) or "python"
	// (statements whose last expression is the result; each namespace a global whose tools
	// are async functions taking keyword arguments).
	Language string `json:"language,omitempty"`
	// Workspace, when set, offers the code one workspace through the `state` namespace
	// (the state API as tools: state.readFile, searchText, replaceInFiles, diff, ...).
	Workspace *Binding `json:"workspace,omitempty"`
}

// CodemodeLimits bound one Code Mode run. Zero fields take the defaults: cpuMs 1,000
// (waiting for tools does not count; at most 30,000), wallMs 60,000 (tool calls included;
// at most 900,000), memoryMb 128 (16 to 4,096), maxToolCalls 100 (at most 10,000).
type CodemodeLimits struct {
	CPUMs        int `json:"cpuMs,omitempty"`
	WallMs       int `json:"wallMs,omitempty"`
	MemoryMB     int `json:"memoryMb,omitempty"`
	MaxToolCalls int `json:"maxToolCalls,omitempty"`
}

// ExecuteResult is the answer of POST /v1/codemode/execute (also when the run failed:
// Error says why), in the shape of @cloudflare/codemode's executor plus the trace of
// tool calls.
type ExecuteResult struct {
	// Result is the value the code returned, as JSON (null for none).
	Result json.RawMessage `json:"result"`
	Error  *isoerr.Error   `json:"error,omitempty"`
	Logs   []LogLine       `json:"logs"`
	// Calls are the tool calls the code made, in the order they reached the host.
	Calls []ToolCall `json:"calls"`
	// CallsOverLimit counts the calls rejected once maxToolCalls were made (not in Calls).
	CallsOverLimit int     `json:"callsOverLimit,omitempty"`
	CPUMs          float64 `json:"cpu_ms"`
	WallMs         float64 `json:"wall_ms"`
}

// ToolCall is one tool call of a Code Mode run.
type ToolCall struct {
	// Name is the tool as the code called it: "codemode.searchWeb".
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	// Result is the tool's JSON result, or Error why the call failed (no such tool,
	// arguments that do not match the tool's schema, the tool's own error, the limit).
	Result     json.RawMessage `json:"result,omitempty"`
	Error      string          `json:"error,omitempty"`
	DurationMs float64         `json:"durationMs"`
}
