package server

import (
	_ "embed"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/tenant"
)

// openAPI is the API's description, kept beside the code; TestOpenAPICoversRoutes checks
// that it lists exactly the routes below.
//
//go:embed openapi.json
var openAPI []byte

// route is one entry of the API. An empty method means any method.
type route struct {
	method, path string
	scope        tenant.Scope // what the key needs (guard)
	handler      http.HandlerFunc
}

func (r route) pattern() string {
	if r.method == "" {
		return r.path
	}
	return r.method + " " + r.path
}

// routeTable is the API: each route with the scope a key needs to call it (0: any key,
// or none outside /v1; operatorOnly: the operator's key).
func (s *Server) routeTable() []route {
	const (
		read, invoke, deploy, admin = tenant.Read, tenant.Invoke, tenant.Deploy, tenant.Admin
	)
	return []route{
		{"GET", "/healthz", 0, s.handleHealth},
		{"GET", "/metrics", 0, s.handleMetrics}, // tenant series by key (handleMetrics)
		{"GET", "/v1/openapi.json", 0, handleOpenAPI},

		{"GET", "/v1/workers", read, s.handleListWorkers},
		{"PUT", "/v1/workers/{id}", deploy, s.handlePutWorker},
		{"GET", "/v1/workers/{id}", read, s.handleGetWorker},
		{"DELETE", "/v1/workers/{id}", deploy, s.handleDeleteWorker},
		{"POST", "/v1/workers/{id}/fetch", invoke, s.handleFetch},
		{"POST", "/v1/workers/{id}/call/{method}", invoke, s.handleCall},
		{"", "/v1/workers/{id}/http", invoke, s.handleForward},
		{"", "/v1/workers/{id}/http/{path...}", invoke, s.handleForward},
		{"GET", "/v1/workers/{id}/logs", read, s.handleLogs},
		{"GET", "/v1/workers/{id}/egress", read, s.handleEgressAudit},

		{"GET", "/v1/usage", read, s.handleUsage},
		{"GET", "/v1/usage/cost", read, s.handleUsageCost},

		{"GET", "/v1/secrets", read, s.handleListSecrets},
		{"PUT", "/v1/secrets/{name}", deploy, s.handlePutSecret},
		{"DELETE", "/v1/secrets/{name}", deploy, s.handleDeleteSecret},

		{"POST", "/v1/run", invoke, s.handleRun},
		{"POST", "/v1/bundle", deploy, s.handleBundle},
		{"POST", "/v1/codemode/execute", invoke, s.handleCodemodeExecute},
		{"POST", "/mcp", 0, s.handleMCP}, // authenticates itself (outside /v1)

		{"GET", "/v1/sessions", read, s.handleListSessions},
		{"POST", "/v1/sessions", deploy, s.handleCreateSession},
		{"POST", "/v1/sessions/{id}/eval", invoke, s.handleSessionEval},
		{"POST", "/v1/sessions/{id}/fork", deploy, s.handleForkSession},
		{"DELETE", "/v1/sessions/{id}", deploy, s.handleDropSession},

		{"GET", "/v1/workspaces", read, s.handleListWorkspaces},
		{"GET", "/v1/workspaces/{ws}", read, s.handleGetWorkspace},
		{"PUT", "/v1/workspaces/{ws}", deploy, s.handlePutWorkspace},
		{"DELETE", "/v1/workspaces/{ws}", deploy, s.handleDeleteWorkspace},
		{"GET", "/v1/workspaces/{ws}/tree", read, s.handleTree},
		{"PUT", "/v1/workspaces/{ws}/files/{path...}", deploy, s.handlePutFile},
		{"GET", "/v1/workspaces/{ws}/files/{path...}", read, s.handleGetFile},
		{"DELETE", "/v1/workspaces/{ws}/files/{path...}", deploy, s.handleDeleteFile},
		{"POST", "/v1/workspaces/{ws}/search", read, s.handleSearch},
		{"POST", "/v1/workspaces/{ws}/exec", deploy, s.handleExec},
		{"GET", "/v1/workspaces/{ws}/archive", read, s.handleGetArchive},
		{"POST", "/v1/workspaces/{ws}/archive", deploy, s.handlePutArchive},

		{"GET", "/v1/tenants", operatorOnly, s.handleListTenants},
		{"GET", "/v1/tenants/{name}", operatorOnly, s.handleGetTenant},
		{"PUT", "/v1/tenants/{name}", operatorOnly, s.handlePutTenant},
		{"DELETE", "/v1/tenants/{name}", operatorOnly, s.handleDeleteTenant},

		{"GET", "/v1/keys", admin, s.handleListKeys},
		{"POST", "/v1/keys", admin, s.handleCreateKey},
		{"DELETE", "/v1/keys/{id}", admin, s.handleRevokeKey},
		{"POST", "/v1/keys/{id}/rotate", admin, s.handleRotateKey},
	}
}

// buildHandler registers the routes behind the middleware: panic recovery, request
// metrics, authentication of /v1, typed 404 and 405 answers.
func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	s.routes = s.routeTable()
	var forward http.HandlerFunc // the worker HTTP route's handler, for forwardRoute
	for _, rt := range s.routes {
		h := guard(rt.scope, rt.handler)
		mux.HandleFunc(rt.pattern(), h)
		if rt.path == forwardPattern {
			forward = h
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		label := "" // the route pattern for metrics, once known
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.cfg.Logger.Error("isobox: panic in handler", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, isoerr.New(isoerr.Internal, "the server failed to handle the request (a bug; see its log)"))
				}
			}
			if label == "" {
				label = r.Pattern
			}
			if label == "" {
				label = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observeHTTP(label, sw.status, d)
			s.logRequest(r, sw, d)
		}()
		if r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/") {
			p, err := s.authenticate(r)
			if err != nil {
				label = "unauthenticated" // before routing: the label set stays bounded
				writeError(sw, err)
				return
			}
			r = withPrincipal(r, p)
			sw.tenantPrefix = p.Prefix()
		}
		if err := checkWorkspacePath(r); err != nil {
			label = "bad workspace path" // before routing, as above
			writeError(sw, err)
			return
		}
		if forward != nil && forwardRoute(r) {
			forward(sw, r)
			return
		}
		h, pattern := mux.Handler(r)
		if pattern == "" {
			unmatched(sw, r, h)
			return
		}
		mux.ServeHTTP(sw, r)
	})
}

// unmatched answers a request no route takes: the mux's own 404 or 405 (with its Allow
// header), as a typed error body.
func unmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		writeError(w, isoerr.New(isoerr.MethodNotAllowed, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.header.Get("Allow")))
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
	default:
		writeError(w, isoerr.New(isoerr.NotFound, "no route %s %s (see GET /v1/openapi.json)", r.Method, r.URL.Path))
	}
}

// headerRecorder captures the status and headers the mux's fallback handler writes.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(status int)      { h.status = status }

// logRequest writes the request's log line: method, route pattern, the worker (or session)
// id, status, duration, the error code when the answer is an error, and the invocation id.
// The raw path appears only when no route matched, or before authentication. Health checks
// and metrics scrapes log at debug level, server errors at error level, the rest at info.
func (s *Server) logRequest(r *http.Request, sw *statusWriter, d time.Duration) {
	status := sw.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case r.Pattern == "GET /healthz" || r.Pattern == "GET /metrics":
		level = slog.LevelDebug
	}
	ctx := r.Context()
	if !s.cfg.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("method", r.Method))
	if r.Pattern != "" {
		attrs = append(attrs, slog.String("route", r.Pattern))
		if id := r.PathValue("id"); id != "" {
			key := "worker"
			if strings.Contains(r.Pattern, "/v1/sessions/") {
				key = "session"
			}
			attrs = append(attrs, slog.String(key, id))
		}
	} else {
		attrs = append(attrs, slog.String("path", r.URL.Path))
	}
	if p := principalOf(r); p.Tenant != "" && p.Tenant != tenant.Default {
		attrs = append(attrs, slog.String("tenant", p.Tenant))
	}
	attrs = append(attrs, slog.Int("status", status), slog.Duration("duration", d))
	if sw.code != "" {
		attrs = append(attrs, slog.String("error", string(sw.code)))
	}
	if inv := sw.Header().Get("X-Isobox-Invocation"); inv != "" {
		attrs = append(attrs, slog.String("invocation", inv))
	}
	s.cfg.Logger.LogAttrs(ctx, level, "request", attrs...)
}

// statusWriter remembers the status written, for metrics, panics and the request log, and
// the error code of an error answer (noteError).
type statusWriter struct {
	http.ResponseWriter
	status int
	code   isoerr.Code
	// tenantPrefix starts the scoped names of the request's tenant ("" in tenant default):
	// writeError takes it out of error messages, which then name objects as the tenant does.
	tenantPrefix string
}

// noteError records the error code of the answer being written, for the request log, and
// returns the request's tenant prefix.
func noteError(w http.ResponseWriter, code isoerr.Code) string {
	for {
		switch x := w.(type) {
		case *statusWriter:
			x.code = code
			return x.tenantPrefix
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return ""
		}
	}
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if s.Draining() {
		writeError(w, isoerr.New(isoerr.ShuttingDown, "the server is shutting down"))
		return
	}
	st := s.sb.Stats()
	writeJSON(w, http.StatusOK, api.Health{OK: true, Workers: st.Workers,
		Sandboxes: api.SandboxCounts{Busy: st.BusySandboxes, Idle: st.IdleSandboxes}})
}

func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPI)))
	_, _ = w.Write(openAPI)
}

// Routes lists the registered routes as "METHOD /path" ("/path" alone for any method), in
// registration order.
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.pattern()
	}
	return out
}
