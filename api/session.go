package api

import (
	"encoding/json"
	"time"
)

// SessionOptions are the body of POST /v1/sessions: the new session's name ("" for a
// generated one) and what it keeps for every eval.
type SessionOptions struct {
	Name string `json:"name,omitempty"`
	// Limits bound every eval of the session (an eval's own limits can only lower them);
	// MemoryMB sizes its sandbox.
	Limits *Limits `json:"limits,omitempty"`
	// GlobalOutbound is the session's egress policy, as a worker's; nil: the server's
	// default policy.
	GlobalOutbound json.RawMessage `json:"globalOutbound,omitempty"`
	// Language is the session's language: "javascript" ("" too) or "python" (a Python
	// REPL: each eval's last expression is its value).
	Language string `json:"language,omitempty"`
}

// SessionFork is the body of POST /v1/sessions/{id}/fork: the copy's name ("" for a
// generated one).
type SessionFork struct {
	Name string `json:"name,omitempty"`
}

// SessionEvalRequest is the body of POST /v1/sessions/{id}/eval.
type SessionEvalRequest struct {
	Code   string  `json:"code"`
	Limits *Limits `json:"limits,omitempty"`
}

// SessionInfo describes a session: the answer of creating and forking one, and each entry
// of the list.
type SessionInfo struct {
	Name string `json:"name"`
	// Language is the session's language ("javascript" or "python"); empty in lists of
	// sessions that are only on disk.
	Language string `json:"language,omitempty"`
	// Live: its sandbox is in memory. Hibernated: it is kept on disk only.
	Live        bool      `json:"live"`
	Hibernated  bool      `json:"hibernated"`
	MemoryBytes int       `json:"memoryBytes"`
	LastUsed    time.Time `json:"lastUsed,omitzero"`
}

// SessionList is the answer of GET /v1/sessions.
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

// SessionOutcome is the answer of an eval in a session.
type SessionOutcome struct {
	Outcome
	// RolledBack: a limit stopped the call (or its state could not be saved), and the
	// session went back to its state before the call.
	RolledBack bool `json:"rolledBack,omitempty"`
}
