package server

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/isobox/isobox/isoerr"
)

// StatusOf is the one place where error codes become HTTP statuses. The rule: 400/413 the
// request is malformed and nothing ran; 401/404/405 as usual; 422 the request was valid and
// the worker ran but failed (threw, exceeded one of its own limits, never answered: read
// error.code); 429 one worker has too many calls queued (retry later); 499 the caller went
// away; 501 not built yet; 503 the server is draining or the call's sandbox process was
// restarted under it (retry); 500 a bug in isobox. quota_exceeded is 413 for a
// workspace's own quota; a tenant's quota (the error names it) is 429 (statusOfError).
func StatusOf(code isoerr.Code) int {
	switch code {
	case isoerr.InvalidRequest, isoerr.InvalidWorkerCode, isoerr.BundleFailed:
		return http.StatusBadRequest
	case isoerr.Unauthorized:
		return http.StatusUnauthorized
	case isoerr.NotFound, isoerr.MethodNotFound:
		return http.StatusNotFound
	case isoerr.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case isoerr.RequestTooLarge, isoerr.CodeTooLarge, isoerr.EnvTooLarge:
		return http.StatusRequestEntityTooLarge
	case isoerr.WorkerException, isoerr.NoResponse, isoerr.CPULimitExceeded, isoerr.WallTimeExceeded,
		isoerr.MemoryLimitExceeded, isoerr.SubrequestLimitExceeded, isoerr.OutputLimitExceeded:
		return http.StatusUnprocessableEntity
	case isoerr.Overloaded:
		return http.StatusTooManyRequests
	case isoerr.Canceled:
		return 499 // client closed request (nginx's convention); nobody reads it
	case isoerr.NotImplemented:
		return http.StatusNotImplemented
	case isoerr.PreconditionFailed:
		return http.StatusPreconditionFailed
	case isoerr.Conflict:
		return http.StatusConflict
	case isoerr.QuotaExceeded, isoerr.FileTooLarge:
		return http.StatusRequestEntityTooLarge
	case isoerr.ReadOnly, isoerr.Forbidden:
		return http.StatusForbidden
	case isoerr.ShuttingDown, isoerr.SandboxRestarted:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// statusOfError is StatusOf, but 429 for quota_exceeded when the error names a tenant's
// quota: over it, a retry later (Retry-After) may succeed.
func statusOfError(e *isoerr.Error) int {
	if e.Code == isoerr.QuotaExceeded && e.Quota != "" {
		return http.StatusTooManyRequests
	}
	return StatusOf(e.Code)
}

// writeError writes err as {"error":{"code","message"}} with the status of its code.
func writeError(w http.ResponseWriter, err error) {
	e := isoerr.As(err)
	if pre := noteError(w, e.Code); pre != "" && strings.Contains(e.Message, pre) {
		c := *e
		c.Message = strings.ReplaceAll(c.Message, pre, "")
		e = &c
	}
	status := statusOfError(e)
	switch {
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="isobox"`)
	case e.Quota != "":
		if e.RetryAfterSeconds > 0 { // not for a ceiling (memory, storage): waiting does not help
			w.Header().Set("Retry-After", retryAfter(e))
		}
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, struct {
		Error *isoerr.Error `json:"error"`
	}{e})
}
