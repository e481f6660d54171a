package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/store"
)

// codeBody is WorkerCode as the API accepts and stores it (api.WorkerCode), with
// globalOutbound, the worker's egress policy (null or absent: the server's default policy,
// which denies everything unless the operator set one).
type codeBody struct {
	api.WorkerCode
}

// code checks the body and returns the WorkerCode and egress policy it describes.
func (b *codeBody) code() (loader.WorkerCode, *egress.Policy, error) {
	code := loader.FromAPI(b.WorkerCode)
	if len(b.Files) > 0 {
		return code, nil, isoerr.New(isoerr.InvalidRequest, "files (a project) are bundled by PUT /v1/workers/{id} and POST /v1/bundle only: send the bundle's mainModule and modules here")
	}
	p, err := parsePolicy(b.GlobalOutbound)
	if err != nil {
		return code, nil, err
	}
	// The workspaces a request names are its tenant's (the loader accepts scoped names,
	// which ownCode makes): no name with a tenant's '~' passes here.
	if err := api.CheckBindings(b.Bindings); err != nil {
		return code, nil, err
	}
	if string(b.GlobalOutbound) == "null" {
		b.GlobalOutbound = nil
	}
	return code, p, code.Validate()
}

// canonical is the stored form of a worker (codeBody's JSON, without HTML escaping) and its
// hash.
func canonical(c codeBody) ([]byte, string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, "", isoerr.New(isoerr.Internal, "encoding the worker code: %v", err)
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	sum := sha256.Sum256(b)
	return b, "sha256:" + hex.EncodeToString(sum[:]), nil
}

// workerJSON is a stored worker as the API shows it (api.Worker, with the code as it is
// stored).
type workerJSON struct {
	ID        string          `json:"id"`
	Hash      string          `json:"hash"`
	Size      int             `json:"size"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Code      json.RawMessage `json:"code,omitempty"`
}

// toJSON shows a stored worker by the id its tenant gave it.
func toJSON(w store.Worker) workerJSON {
	_, id := api.SplitScoped(w.ID)
	return workerJSON{ID: id, Hash: w.Hash, Size: w.Size, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Code: w.Code}
}

func storeError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return isoerr.New(isoerr.NotFound, "%s", strings.TrimSuffix(err.Error(), ": "+store.ErrNotFound.Error())+" does not exist")
	}
	return isoerr.New(isoerr.Internal, "%v", err)
}

func (s *Server) handlePutWorker(w http.ResponseWriter, r *http.Request) {
	id, err := workerID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var body codeBody
	if err := s.decodeCode(w, r, &body); err != nil {
		writeError(w, err)
		return
	}
	// A project (files) is bundled first, then checked and stored like any code, with the
	// hash of its sources.
	if _, err := s.bundleFiles(r.Context(), &body.WorkerCode); err != nil {
		writeError(w, err)
		return
	}
	code, policy, err := body.code()
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.checkOperatorOnly(principalOf(r), code.Limits, policy); err != nil {
		writeError(w, err)
		return
	}
	// The tenant's memory ceiling, checked on a copy: what is stored is what was sent.
	if lim := code.Limits; lim != nil {
		if err := s.memoryCeiling(s.requestTenant(r), &lim); err != nil {
			writeError(w, err)
			return
		}
	}
	// Compile before storing: a worker that cannot load is refused now, not at its first
	// call, and whatever was stored under id stays as it was.
	ownCode(principalOf(r).Tenant, &code) // checked in a sandbox process of its tenant's
	if err := s.sb.Compile(r.Context(), code); err != nil {
		writeError(w, err)
		return
	}
	b, hash, err := canonical(body)
	if err != nil {
		writeError(w, err)
		return
	}
	old, oldErr := s.st.StatWorker(r.Context(), id)
	grow := int64(len(b))
	if oldErr == nil {
		grow -= int64(old.Size)
	}
	if err := s.admitStorage(r, grow); err != nil {
		writeError(w, err)
		return
	}
	created, err := s.st.PutWorker(r.Context(), store.Worker{ID: id, Hash: hash, Code: b})
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	if oldErr == nil && old.Hash != hash {
		s.sb.Forget(r.Context(), loaderID(id, old.Hash))
	}
	st, err := s.st.StatWorker(r.Context(), id)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/workers/"+r.PathValue("id"))
	}
	writeJSON(w, status, toJSON(st))
}

func (s *Server) handleGetWorker(w http.ResponseWriter, r *http.Request) {
	id, err := workerID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	st, err := s.st.GetWorker(r.Context(), id)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	writeJSON(w, http.StatusOK, toJSON(st))
}

func (s *Server) handleDeleteWorker(w http.ResponseWriter, r *http.Request) {
	id, err := workerID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	old, oldErr := s.st.StatWorker(r.Context(), id)
	if err := s.st.DeleteWorker(r.Context(), id); err != nil {
		writeError(w, storeError(err))
		return
	}
	if oldErr == nil {
		s.sb.Forget(r.Context(), loaderID(id, old.Hash))
	}
	s.logs.forget(id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListWorkers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, isoerr.New(isoerr.InvalidRequest, "limit must be a number from 1 to 1000, got %q", v))
			return
		}
		limit = n
	}
	list, err := listScoped(principalOf(r), q.Get("after"), limit,
		func(after string, n int) ([]store.Worker, error) { return s.st.ListWorkers(r.Context(), after, n) },
		func(w store.Worker) string { return w.ID })
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	out := struct {
		Workers []workerJSON `json:"workers"`
		Next    string       `json:"next,omitempty"`
	}{Workers: make([]workerJSON, 0, len(list))}
	for _, st := range list {
		out.Workers = append(out.Workers, toJSON(st))
	}
	if len(list) == limit {
		out.Next = toJSON(list[len(list)-1]).ID
	}
	writeJSON(w, http.StatusOK, out)
}
