package client

import (
	"encoding/json"
	"time"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// Error codes of the HTTP API, as the client returns them (*isoerr.Error). Every error body
// is {"error":{"code","message"}}; these are the API-only codes, defined in package isoerr.
const (
	CodeUnauthorized     = isoerr.Unauthorized
	CodeNotFound         = isoerr.NotFound
	CodeMethodNotAllowed = isoerr.MethodNotAllowed
	CodeRequestTooLarge  = isoerr.RequestTooLarge
	CodeShuttingDown     = isoerr.ShuttingDown
)

// Worker describes a stored worker. Code is set by GetWorker only.
type Worker struct {
	ID string `json:"id"`
	// Hash is "sha256:<hex>" of the stored code: it changes whenever the code does.
	Hash      string             `json:"hash"`
	Size      int                `json:"size"`
	CreatedAt time.Time          `json:"createdAt"`
	UpdatedAt time.Time          `json:"updatedAt"`
	Code      *loader.WorkerCode `json:"code,omitempty"`
}

// WorkerList is a page of workers, ordered by id. Next, when set, is the id to pass as
// ListOptions.After for the next page.
type WorkerList struct {
	Workers []Worker `json:"workers"`
	Next    string   `json:"next,omitempty"`
}

// ListOptions choose a page of GET /v1/workers.
type ListOptions struct {
	After string // list ids after this one
	Limit int    // at most this many (server default 100, at most 1000)
}

// FetchRequest is an HTTP request described in JSON, handed to a worker's fetch handler.
// Zero fields mean GET http://localhost/ with no headers and no body.
type FetchRequest struct {
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// BodyEncoding is "" (Body is the text) or "base64" (Body is base64 of the bytes).
	BodyEncoding string `json:"bodyEncoding,omitempty"`
}

// RunRequest is the body of POST /v1/run: either Worker (inline WorkerCode, loaded once and
// called through Request, the default, or Call) or Code (a snippet, as `isobox eval`).
type RunRequest struct {
	Worker  *loader.WorkerCode `json:"worker,omitempty"`
	Request *FetchRequest      `json:"request,omitempty"`
	Call    *RunCall           `json:"call,omitempty"`
	Code    string             `json:"code,omitempty"`
	// Limits apply to Code (for Worker, use Worker.Limits).
	Limits *loader.Limits `json:"limits,omitempty"`
}

// RunCall names an RPC method and its arguments (a JSON array; nil for none).
type RunCall struct {
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args,omitempty"`
}

// LogEntry is one console line of an invocation of a stored worker.
type LogEntry struct {
	// Seq numbers the worker's log lines from 1, in order; pass the last one seen to
	// FollowLogs to resume without gaps (as SSE's Last-Event-ID).
	Seq        uint64    `json:"seq"`
	Invocation string    `json:"invocation"`
	Level      string    `json:"level"`
	Message    string    `json:"message"`
	Time       time.Time `json:"time"`
}

// LogList is the answer of GET /v1/workers/{id}/logs without follow.
type LogList struct {
	Logs []LogEntry `json:"logs"`
}

// SessionOptions are the body of POST /v1/sessions: the new session's name ("" for a
// generated one) and what it keeps for every eval.
type SessionOptions struct {
	Name string `json:"name,omitempty"`
	// Limits bound every eval of the session (an eval's own limits can only lower them);
	// MemoryMB sizes its sandbox.
	Limits *loader.Limits `json:"limits,omitempty"`
	// GlobalOutbound is the session's egress policy, as a worker's; nil: the server's
	// default policy.
	GlobalOutbound json.RawMessage `json:"globalOutbound,omitempty"`
}

// SessionEvalRequest is the body of POST /v1/sessions/{id}/eval.
type SessionEvalRequest struct {
	Code   string         `json:"code"`
	Limits *loader.Limits `json:"limits,omitempty"`
}

// SessionInfo describes a session: the answer of CreateSession and ForkSession, and each
// entry of ListSessions.
type SessionInfo struct {
	Name string `json:"name"`
	// Live: its sandbox is in memory. Hibernated: it is kept on disk only.
	Live        bool      `json:"live"`
	Hibernated  bool      `json:"hibernated"`
	MemoryBytes int       `json:"memoryBytes"`
	LastUsed    time.Time `json:"lastUsed,omitzero"`
}

// SessionOutcome is the answer of an eval in a session.
type SessionOutcome struct {
	loader.Outcome
	// RolledBack: a limit stopped the call (or its state could not be saved), and the
	// session went back to its state before the call.
	RolledBack bool `json:"rolledBack,omitempty"`
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error *isoerr.Error `json:"error"`
}
