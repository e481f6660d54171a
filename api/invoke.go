package api

import (
	"encoding/json"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// Outcome is what every invocation answers with: the HTTP API's invocations, POST
// /v1/run, a session's eval and `isobox run --json`. Fields that do not apply are omitted.
// A failed invocation is an Outcome too (OK false, Error set), so that its logs and times
// are at hand.
type Outcome struct {
	OK      bool              `json:"ok"`
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    *string           `json:"body,omitempty"`
	// BodyEncoding is "base64" when the body is not UTF-8 (Body is then its base64).
	BodyEncoding string `json:"bodyEncoding,omitempty"`
	// Result is an RPC method's or a snippet's value, as JSON.
	Result json.RawMessage `json:"result,omitempty"`
	Logs   []LogLine       `json:"logs"`
	CPUMs  float64         `json:"cpu_ms"`
	WallMs float64         `json:"wall_ms"`
	Cold   bool            `json:"cold"`
	Error  *isoerr.Error   `json:"error,omitempty"`
}

// LogLine is one console line of an invocation.
type LogLine struct {
	// Level is the console method: log, info, warn, error, debug.
	Level   string    `json:"level"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// FetchRequest is an HTTP request described in JSON, handed to a worker's fetch handler
// (POST /v1/workers/{id}/fetch, the request of POST /v1/run). Zero fields mean GET
// http://localhost/ with no headers and no body.
type FetchRequest struct {
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// BodyEncoding is "" (Body is the text) or "base64" (Body is base64 of the bytes).
	BodyEncoding string `json:"bodyEncoding,omitempty"`
}

// RunRequest is the body of POST /v1/run: either Worker (inline WorkerCode, loaded once
// and called through Request, the default, or Call) or Code (a snippet, as `isobox eval`).
type RunRequest struct {
	Worker  *WorkerCode   `json:"worker,omitempty"`
	Request *FetchRequest `json:"request,omitempty"`
	Call    *RunCall      `json:"call,omitempty"`
	Code    string        `json:"code,omitempty"`
	// Language is Code's language: "javascript" ("" too) or "python".
	Language string `json:"language,omitempty"`
	// Limits apply to Code (for Worker, use Worker.Limits).
	Limits *Limits `json:"limits,omitempty"`
}

// RunCall names an RPC method and its arguments (a JSON array; nil for none).
type RunCall struct {
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args,omitempty"`
}
