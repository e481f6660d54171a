// Package isoerr defines the typed errors every isobox API returns: a stable,
// machine-readable code plus a human sentence, so that callers branch on the code and show
// the message.
//
//	var e *isoerr.Error
//	if errors.As(err, &e) && e.Code == isoerr.CPULimitExceeded { ... }
package isoerr

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. Codes never change meaning once released.
type Code string

// The codes isobox reports.
const (
	// InvalidWorkerCode: the code cannot be loaded (syntax error, missing module, bad map).
	InvalidWorkerCode Code = "invalid_worker_code"
	// WorkerException: the worker threw (or rejected) and did not catch it.
	WorkerException Code = "worker_exception"
	// CPULimitExceeded: the invocation used more CPU time than its cpuMs limit.
	CPULimitExceeded Code = "cpu_limit_exceeded"
	// WallTimeExceeded: the invocation ran longer than its wall-time limit.
	WallTimeExceeded Code = "wall_time_exceeded"
	// MemoryLimitExceeded: the sandbox tried to grow past its memory limit.
	MemoryLimitExceeded Code = "memory_limit_exceeded"
	// SubrequestLimitExceeded: the invocation made more outbound requests than allowed.
	SubrequestLimitExceeded Code = "subrequest_limit_exceeded"
	// OutputLimitExceeded: a response body or result is larger than allowed.
	OutputLimitExceeded Code = "output_limit_exceeded"
	// CodeTooLarge: the modules together exceed the code size limit.
	CodeTooLarge Code = "code_too_large"
	// EnvTooLarge: the serialized env exceeds the env size limit.
	EnvTooLarge Code = "env_too_large"
	// InvalidRequest: the caller's input is malformed (bad JSON args, bad limits, ...).
	InvalidRequest Code = "invalid_request"
	// MethodNotFound: the RPC method or entrypoint does not exist or is not a function.
	MethodNotFound Code = "method_not_found"
	// NoResponse: the worker's promise never settled and nothing was left to wait for.
	NoResponse Code = "no_response"
	// Overloaded: too many calls are queued for one worker.
	Overloaded Code = "overloaded"
	// Canceled: the caller canceled the invocation.
	Canceled Code = "canceled"
	// BundleFailed: a project could not be installed or bundled (a syntax error at
	// file:line:col, a package, version or file that does not exist, a refused tarball).
	BundleFailed Code = "bundle_failed"
	// PreconditionFailed: a conditional write's ifMatch (etag) or ifNoneMatch did not hold;
	// nothing was changed (412).
	PreconditionFailed Code = "precondition_failed"
	// Conflict: the operation does not fit what is there: the path exists, a directory is
	// not empty, a name is a file where a directory is needed or the other way round (409).
	Conflict Code = "conflict"
	// QuotaExceeded: a quota refused the operation and nothing was done. Either the write
	// would take a workspace past its byte or file-count quota (413: a smaller write may
	// fit), or the tenant is over one of its quotas (Error.Quota names it; 429 with
	// Retry-After, Error.RetryAfterSeconds: concurrent invocations, invocations per minute,
	// CPU ms, egress bytes or unique workers per day, memory per sandbox, storage bytes).
	QuotaExceeded Code = "quota_exceeded"
	// FileTooLarge: a file is larger than the maximum file size; nothing was changed (413).
	FileTooLarge Code = "file_too_large"
	// ReadOnly: a write through a read-only binding (403).
	ReadOnly Code = "read_only"
	// NotImplemented: the feature exists in the API but not yet in this build.
	NotImplemented Code = "not_implemented"
	// Internal: a bug or an unexpected failure inside isobox.
	Internal Code = "internal_error"

	// Codes of the HTTP API.

	// Unauthorized: the Authorization header is missing or the key is wrong (401).
	Unauthorized Code = "unauthorized"
	// Forbidden: the key is valid but lacks the scope the route needs, or the request sets
	// something only the operator may (403). The message names what is missing.
	Forbidden Code = "forbidden"
	// NotFound: no such worker, session, route, workspace or file (404).
	NotFound Code = "not_found"
	// MethodNotAllowed: the route exists but not with this HTTP method (405).
	MethodNotAllowed Code = "method_not_allowed"
	// RequestTooLarge: the request body is larger than the server accepts (413).
	RequestTooLarge Code = "request_too_large"
	// ShuttingDown: the server is draining and takes no new invocations (503).
	ShuttingDown Code = "shutting_down"
	// SandboxRestarted: the sandbox process running the call was killed (another call on
	// it overran its deadline) or crashed, and was replaced; the call did not finish and
	// may be retried (503).
	SandboxRestarted Code = "sandbox_restarted"
)

// Error is an isobox error: a code, a message and, for exceptions, the guest's stack.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Stack   string `json:"stack,omitempty"`
	// Quota names the tenant quota that refused the operation (quota_exceeded only; see
	// package tenant/quota for the names).
	Quota string `json:"quota,omitempty"`
	// RetryAfterSeconds is when a retry may succeed, in whole seconds from the answer (the
	// HTTP Retry-After header carries the same); 0 when unknown.
	RetryAfterSeconds int64 `json:"retryAfterSeconds,omitempty"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// New returns an Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or "" when there is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// As returns the first *Error in err's chain, wrapping any other error as Internal.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: err.Error()}
}
