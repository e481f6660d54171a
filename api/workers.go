package api

import "time"

// Worker describes a stored worker (GET, PUT /v1/workers/{id}, and the list). Code is
// set by GET /v1/workers/{id} only.
type Worker struct {
	ID string `json:"id"`
	// Hash is "sha256:<hex>" of the stored code: it changes whenever the code does.
	Hash      string      `json:"hash"`
	Size      int         `json:"size"`
	CreatedAt time.Time   `json:"createdAt"`
	UpdatedAt time.Time   `json:"updatedAt"`
	Code      *WorkerCode `json:"code,omitempty"`
}

// Bundle is the answer of POST /v1/bundle: the WorkerCode a project bundles to (its
// files, env, limits and globalOutbound as sent, the bundle as MainModule and Modules).
type Bundle struct {
	Code WorkerCode `json:"code"`
	// SourceHash is "sha256:<hex>" of the project's files and compatibility settings.
	SourceHash string `json:"sourceHash"`
	// Packages are the npm packages installed, as name@version, sorted.
	Packages []string `json:"packages"`
	// Cached says that the bundle came from the server's cache (no install, no esbuild).
	Cached bool `json:"cached"`
}

// WorkerList is a page of GET /v1/workers, ordered by id. Next, when set, is the id to
// pass as `after` for the next page.
type WorkerList struct {
	Workers []Worker `json:"workers"`
	Next    string   `json:"next,omitempty"`
}

// LogEntry is one console line of an invocation of a stored worker, as the server keeps
// them (GET /v1/workers/{id}/logs, and its Server-Sent Events with follow=1).
type LogEntry struct {
	// Seq numbers the worker's log lines from 1, in order; pass the last one seen to
	// resume a followed stream without gaps (as SSE's Last-Event-ID).
	Seq        uint64 `json:"seq"`
	Invocation string `json:"invocation"`
	LogLine
}

// LogList is the answer of GET /v1/workers/{id}/logs without follow.
type LogList struct {
	Logs []LogEntry `json:"logs"`
}

// Health is the answer of GET /healthz.
type Health struct {
	OK        bool          `json:"ok"`
	Workers   int           `json:"workers"`
	Sandboxes SandboxCounts `json:"sandboxes"`
}

// SandboxCounts counts the sandboxes of a server's Worker Loader: running a call, or idle
// and kept warm.
type SandboxCounts struct {
	Busy int `json:"busy"`
	Idle int `json:"idle"`
}
