package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/session"
)

// sessionBody names a session to create (POST /v1/sessions) or fork into.
type sessionBody struct {
	Name string `json:"name,omitempty"`
}

// sessionEvalBody is POST /v1/sessions/{id}/eval.
type sessionEvalBody struct {
	Code   string         `json:"code"`
	Limits *loader.Limits `json:"limits,omitempty"`
}

func newSessionName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "s-" + hex.EncodeToString(b[:])
}

func sessionID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	return id, session.CheckName(id)
}

func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request) {
	var body sessionBody
	if err := s.decodeJSON(w, r, &body, true, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	if body.Name == "" {
		body.Name = newSessionName()
	}
	if err := s.sessions.Create(r.Context(), body.Name); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/v1/sessions/"+body.Name)
	writeJSON(w, http.StatusCreated, map[string]string{"id": body.Name})
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) {
	list, err := s.sessions.List(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

func (s *Server) handleSessionEval(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	inv, ok := s.startInvocation(w, "session_eval", "")
	if !ok {
		return
	}
	defer s.end()
	var body sessionEvalBody
	if err := s.decodeJSON(w, r, &body, false, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	if l := body.Limits; l != nil && (l.CPUMs < 0 || l.WallMs < 0 || l.MemoryMB != 0 || l.SubRequests < 0) {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "session limits take cpuMs, wallMs and subRequests (not negative); memory is set per server"))
		return
	}
	res, err := s.sessions.Eval(r.Context(), id, body.Code, loader.EngineLimits(body.Limits), false)
	lr := &loader.Result{Result: *res}
	if isoerr.CodeOf(err) == isoerr.NotFound || isoerr.CodeOf(err) == isoerr.InvalidRequest {
		lr = nil // nothing ran
	}
	s.record(inv, lr, err)
	respond(w, inv, loader.KindCall, lr, err)
}

func (s *Server) handleForkSession(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var body sessionBody
	if err := s.decodeJSON(w, r, &body, true, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	if body.Name == "" {
		body.Name = newSessionName()
	}
	if err := s.sessions.Fork(r.Context(), id, body.Name); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/v1/sessions/"+body.Name)
	writeJSON(w, http.StatusCreated, map[string]string{"id": body.Name})
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
