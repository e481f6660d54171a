package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/session"
	"github.com/isobox/isobox/tenant"
)

func newSessionName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "s-" + hex.EncodeToString(b[:])
}

// sessionID is the {id} of a session route, checked (api.CheckSessionName) and scoped to
// the request's tenant.
func sessionID(r *http.Request) (string, error) {
	return sessionName(r, r.PathValue("id"))
}

// sessionName checks a session's name as the tenant gives it and scopes it.
func sessionName(r *http.Request, name string) (string, error) {
	if err := api.CheckSessionName(name); err != nil {
		return "", err
	}
	return principalOf(r).Scoped(name), nil
}

// sessionOutbound is the egress transport of session name (scoped): the gateway with the
// session's own policy (globalOutbound), or its tenant's or the server's default policy
// when it has none, as for /v1/run, metered.
func (s *Server) sessionOutbound(name string, globalOutbound json.RawMessage) (http.RoundTripper, error) {
	var p *egress.Policy
	if len(globalOutbound) > 0 && string(globalOutbound) != "null" {
		var err error
		if p, err = egress.ParsePolicy(globalOutbound); err != nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "globalOutbound: %v", err)
		}
	}
	owner, own := api.SplitScoped(name)
	rt, err := s.outbound(tenant.Scoped(owner, ""), p)
	if err != nil {
		return nil, err
	}
	// Metered as the session's (its bytes on the session's row, against the tenant's daily
	// egress quota), as a stored worker's are.
	return s.meteredOutbound(rt, owner, sessionWorker(own), ""), nil
}

// sessionWorker is the worker a session's usage is recorded under: "session:" and its
// name as its tenant gives it.
func sessionWorker(name string) string { return "session:" + name }

// decodeObject reads a body that is empty or one JSON object (null, an array or a scalar
// is invalid_request) into v.
func (s *Server) decodeObject(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] != '{' {
		return isoerr.New(isoerr.InvalidRequest, "the body must be a JSON object (or empty), not %.20s", t)
	}
	return decodeStrict(b, v, true, isoerr.InvalidRequest)
}

func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request) {
	var body api.SessionOptions
	if err := s.decodeObject(w, r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.Name == "" {
		body.Name = newSessionName()
	}
	name, err := sessionName(r, body.Name)
	if err == nil {
		err = s.memoryCeiling(s.requestTenant(r), &body.Limits)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	policy, _ := parsePolicy(body.GlobalOutbound) // a bad one is the session manager's to refuse
	if err := s.checkOperatorOnly(principalOf(r), body.Limits, policy); err != nil {
		writeError(w, err)
		return
	}
	opts := session.Options{GlobalOutbound: body.GlobalOutbound, Language: body.Language}
	if body.Limits != nil {
		opts.Limits = *body.Limits
	}
	info, err := s.sessions.Create(r.Context(), name, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	info.Name = body.Name
	w.Header().Set("Location", "/v1/sessions/"+body.Name)
	writeJSON(w, http.StatusCreated, info)
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) {
	list, err := s.sessions.List(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	p := principalOf(r)
	mine := list[:0]
	for _, si := range list {
		if name, ok := owned(p, si.Name); ok {
			si.Name = name
			mine = append(mine, si)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": mine})
}

func (s *Server) handleSessionEval(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	inv, ok := s.startInvocation(w, r, "session_eval", "")
	if !ok {
		return
	}
	defer s.endInvocation(inv)
	inv.session = id
	var body api.SessionEvalRequest
	if err := s.decodeJSON(w, r, &body, false, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	if l := body.Limits; l != nil && (l.CPUMs < 0 || l.WallMs < 0 || l.MemoryMB != 0 || l.SubRequests < 0) {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "an eval's limits take cpuMs, wallMs and subRequests (not negative; they can lower the session's, not raise them); memoryMb is set when the session is created"))
		return
	}
	// A name that does not exist takes no unique-worker slot (nor a place in the day's set
	// of workers, which a caller could otherwise grow with made-up names).
	if !s.sessions.Exists(r.Context(), id) {
		writeError(w, isoerr.New(isoerr.NotFound, "session %q does not exist", r.PathValue("id")))
		return
	}
	if err := s.admitLoad(&inv, ""); err != nil {
		writeError(w, err)
		return
	}
	res, err := s.sessions.Eval(r.Context(), id, body.Code, loader.EngineLimits(body.Limits))
	if c := isoerr.CodeOf(err); c == isoerr.NotFound || c == isoerr.InvalidRequest {
		writeError(w, err) // nothing ran
		return
	}
	lr := &loader.Result{Result: *res}
	s.record(inv, lr, err)
	w.Header().Set("X-Isobox-Invocation", inv.id)
	out := api.SessionOutcome{Outcome: loader.NewOutcome(loader.KindCall, lr, err), RolledBack: session.RolledBack(err)}
	status := http.StatusOK
	if out.Error != nil {
		status = StatusOf(out.Error.Code)
	}
	writeJSON(w, status, out)
}

func (s *Server) handleForkSession(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var body api.SessionFork
	if err := s.decodeObject(w, r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.Name == "" {
		body.Name = newSessionName()
	}
	to, err := sessionName(r, body.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := s.sessions.Fork(r.Context(), id, to)
	if err != nil {
		writeError(w, err)
		return
	}
	info.Name = body.Name
	w.Header().Set("Location", "/v1/sessions/"+body.Name)
	writeJSON(w, http.StatusCreated, info)
}

func (s *Server) handleDropSession(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.sessions.Drop(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
