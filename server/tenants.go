package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/store"
	"github.com/isobox/isobox/tenant"
	"github.com/isobox/isobox/tenant/quota"
)

// Tenants: /v1/tenants (the operator's routes) and the helpers that keep every handler
// inside the request's tenant. A handler names an object by p.Scoped(name) (what the
// stores and the loader know) and shows it by its bare name; lists go through listScoped
// or owned.

// owned returns the name the tenant gives the object kept under scoped, and whether the
// object is the tenant's.
func owned(p tenant.Principal, scoped string) (string, bool) { return p.Unscoped(scoped) }

// listScoped pages through a list kept in byte order of name (list(after, limit)) and
// keeps tenant p's objects, up to limit, after p's name after. A tenant's scoped names
// ("acme~...") are contiguous in that order; tenant default's (no '~') are not, so its
// walk jumps over each other tenant's run of names.
func listScoped[T any](p tenant.Principal, after string, limit int, list func(after string, limit int) ([]T, error), name func(T) string) ([]T, error) {
	pre := p.Prefix()
	cursor := pre
	if after != "" {
		cursor = p.Scoped(after)
	}
	out := make([]T, 0, limit)
	for {
		page, err := list(cursor, limit)
		if err != nil {
			return nil, err
		}
		jumped := false
		for _, x := range page {
			n := name(x)
			if pre != "" {
				if !strings.HasPrefix(n, pre) {
					return out, nil // past the tenant's run
				}
			} else if owner, _ := api.SplitScoped(n); owner != tenant.Default {
				cursor, jumped = owner+string(rune(api.TenantSep))+"\x7f", true // past that tenant's run
				break
			}
			cursor = n
			out = append(out, x)
			if len(out) == limit {
				return out, nil
			}
		}
		if !jumped && len(page) < limit {
			return out, nil // the list ended
		}
	}
}

// ownCode makes code tenant t's: its images are kept apart from those of identical code
// of other tenants (WorkerCode.Tenant), and the workspaces its bindings name are t's (a
// worker's bindings name workspaces as its tenant does; the stored code keeps them so).
// Tenant default's code stays as it was before tenants.
func ownCode(t string, code *loader.WorkerCode) {
	if t == tenant.Default || t == "" {
		return
	}
	code.Tenant = t
	if len(code.Bindings) == 0 {
		return
	}
	m := make(map[string]api.Binding, len(code.Bindings))
	for k, b := range code.Bindings {
		b.Workspace = tenant.Scoped(t, b.Workspace)
		m[k] = b
	}
	code.Bindings = m
}

// tenantJSON is a tenant as the API shows it.
func tenantJSON(ts *tenantState) api.Tenant {
	t := api.Tenant{Name: ts.rec.Name, CreatedAt: ts.rec.CreatedAt, UpdatedAt: ts.rec.UpdatedAt}
	t.Egress, t.AllowPrivate = ts.settings.Egress, ts.settings.AllowPrivate
	if q := ts.settings.Quotas; q != nil {
		t.Quotas = (*api.Quotas)(q)
	}
	if c := ts.settings.Ceiling; c != (api.Limits{}) {
		t.Ceiling = &c
	}
	return t
}

func tenantName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	return name, api.CheckTenantName(name)
}

func (s *Server) handleListTenants(w http.ResponseWriter, r *http.Request) {
	m := *s.tenants.Load()
	out := api.TenantList{Tenants: make([]api.Tenant, 0, len(m))}
	list, err := s.st.ListTenants(r.Context()) // for the order
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	for _, rec := range list {
		if ts := m[rec.Name]; ts != nil {
			out.Tenants = append(out.Tenants, tenantJSON(ts))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetTenant(w http.ResponseWriter, r *http.Request) {
	name, err := tenantName(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ts := s.tenant(name)
	if ts == nil {
		writeError(w, isoerr.New(isoerr.NotFound, "tenant %q does not exist", name))
		return
	}
	writeJSON(w, http.StatusOK, tenantJSON(ts))
}

// handlePutTenant creates tenant {name} or replaces its settings (the body; empty: none).
func (s *Server) handlePutTenant(w http.ResponseWriter, r *http.Request) {
	name, err := tenantName(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var body api.TenantSettings
	if err := s.decodeObject(w, r, &body); err != nil {
		writeError(w, err)
		return
	}
	set := tenant.Settings{AllowPrivate: body.AllowPrivate}
	if body.Quotas != nil {
		q := quota.Limits(*body.Quotas)
		if err := q.Validate(); err != nil {
			writeError(w, err)
			return
		}
		set.Quotas = &q
	}
	if c := body.Ceiling; c != nil {
		if c.CPUMs < 0 || c.WallMs < 0 || c.MemoryMB < 0 || c.SubRequests < 0 {
			writeError(w, isoerr.New(isoerr.InvalidRequest, "ceiling: limits must not be negative"))
			return
		}
		set.Ceiling = *c
	}
	if len(body.Egress) > 0 && string(body.Egress) != "null" {
		if _, err := egress.ParsePolicy(body.Egress); err != nil {
			writeError(w, isoerr.New(isoerr.InvalidRequest, "egress: %v", err))
			return
		}
		set.Egress = body.Egress
	}
	b, err := json.Marshal(set)
	if err != nil {
		writeError(w, isoerr.New(isoerr.Internal, "encoding the settings: %v", err))
		return
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	var oldEgress json.RawMessage
	if ts := s.tenant(name); ts != nil {
		oldEgress = ts.settings.Egress
	}
	created, err := s.st.PutTenant(r.Context(), store.Tenant{Name: name, Settings: b})
	if err == nil {
		err = s.reloadTenants(r.Context())
	}
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	if !bytes.Equal(oldEgress, set.Egress) {
		// Warm sandboxes hold the transport of the policy they started with: the tenant's
		// workers start again, with the new one.
		if err := s.forgetTenantWorkers(r.Context(), tenant.Principal{Tenant: name}); err != nil {
			writeError(w, err)
			return
		}
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/tenants/"+name)
	}
	writeJSON(w, status, tenantJSON(s.tenant(name)))
}

// handleDeleteTenant removes tenant {name} and its keys. A tenant that still owns objects
// is kept (conflict): delete them first, acting for it.
func (s *Server) handleDeleteTenant(w http.ResponseWriter, r *http.Request) {
	name, err := tenantName(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if name == tenant.Default {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "tenant %q cannot be deleted: it owns what was made before tenants", tenant.Default))
		return
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if s.tenant(name) == nil {
		writeError(w, isoerr.New(isoerr.NotFound, "tenant %q does not exist", name))
		return
	}
	if what, err := s.ownsObjects(r.Context(), tenant.Principal{Tenant: name}); err != nil || what != "" {
		if err == nil {
			err = isoerr.New(isoerr.Conflict, "tenant %q still owns %s: delete them first (as the operator with header %s: %s)", name, what, TenantHeader, name)
		}
		writeError(w, err)
		return
	}
	keys, err := s.st.ListKeys(r.Context())
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	for _, k := range keys {
		if k.Tenant == name && !k.Operator {
			if err := s.st.DeleteKey(r.Context(), k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				writeError(w, storeError(err))
				return
			}
		}
	}
	err = s.reloadKeys(r.Context())
	if err == nil {
		err = s.st.DeleteTenant(r.Context(), name)
	}
	if err == nil {
		err = s.reloadTenants(r.Context())
	}
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ownsObjects names the kinds of object tenant p still owns ("" for none).
func (s *Server) ownsObjects(ctx context.Context, p tenant.Principal) (string, error) {
	var kinds []string
	workers, err := listScoped(p, "", 1, func(after string, n int) ([]store.Worker, error) { return s.st.ListWorkers(ctx, after, n) },
		func(w store.Worker) string { return w.ID })
	if err != nil {
		return "", storeError(err)
	}
	if len(workers) > 0 {
		kinds = append(kinds, "workers")
	}
	secrets, err := s.st.ListSecrets(ctx)
	if err != nil {
		return "", storeError(err)
	}
	for _, sec := range secrets {
		if _, ok := owned(p, sec.Name); ok {
			kinds = append(kinds, "secrets")
			break
		}
	}
	sessions, err := s.sessions.List(ctx)
	if err != nil {
		return "", err
	}
	for _, si := range sessions {
		if _, ok := owned(p, si.Name); ok {
			kinds = append(kinds, "sessions")
			break
		}
	}
	if s.ws != nil {
		list, err := s.listWorkspaces(ctx, p, "", 1)
		if err != nil {
			return "", err
		}
		if len(list) > 0 {
			kinds = append(kinds, "workspaces")
		}
	}
	return strings.Join(kinds, ", "), nil
}

// forgetTenantWorkers makes the loader forget the warm sandboxes of every worker of tenant
// p (their next call starts them again, with the tenant's settings of now).
func (s *Server) forgetTenantWorkers(ctx context.Context, p tenant.Principal) error {
	after := ""
	for {
		page, err := listScoped(p, after, 500, func(after string, n int) ([]store.Worker, error) { return s.st.ListWorkers(ctx, after, n) },
			func(w store.Worker) string { return w.ID })
		if err != nil {
			return storeError(err)
		}
		for _, w := range page {
			s.sb.Forget(ctx, loaderID(w.ID, w.Hash))
		}
		if len(page) < 500 {
			return nil
		}
		_, after = api.SplitScoped(page[len(page)-1].ID)
	}
}
