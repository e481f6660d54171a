package server

import (
	"context"
	"net/http"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/store"
	"github.com/isobox/isobox/tenant"
)

// /v1/keys: a tenant's own API keys (scope admin; the operator acts for any tenant with
// the Isobox-Tenant header). A key is shown once, when it is made or rotated; the store
// keeps its SHA-256. Every change reloads the keyring, so the next request sees it.

// maxKeyName bounds a key's label.
const maxKeyName = 128

func keyJSON(k store.Key, lastUsed time.Time) api.Key {
	out := api.Key{ID: k.ID, Tenant: k.Tenant, Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt
		out.ExpiresAt = &t
	}
	if !k.RevokedAt.IsZero() {
		t := k.RevokedAt
		out.RevokedAt = &t
	}
	if !lastUsed.IsZero() {
		out.LastUsedAt = &lastUsed
	}
	return out
}

// tenantKey returns key id of p's tenant; the operator's key is no tenant's.
//
// # Errors
//
// not_found when no such key is p's tenant's (whether it exists elsewhere or not).
func (s *Server) tenantKey(ctx context.Context, p tenant.Principal, id string) (store.Key, error) {
	keys, err := s.st.ListKeys(ctx)
	if err != nil {
		return store.Key{}, storeError(err)
	}
	for _, k := range keys {
		if k.ID == id && k.Tenant == p.Tenant && !k.Operator {
			return k, nil
		}
	}
	return store.Key{}, isoerr.New(isoerr.NotFound, "key %q does not exist", id)
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	keys, err := s.st.ListKeys(r.Context())
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	out := api.KeyList{Keys: []api.Key{}}
	for _, k := range keys {
		if k.Tenant == p.Tenant && !k.Operator {
			out.Keys = append(out.Keys, keyJSON(k, s.keyring.LastUsed(k.ID)))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	var body api.KeyRequest
	if err := s.decodeJSON(w, r, &body, false, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	scopes, err := tenant.ParseScopes(body.Scopes)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(body.Name) > maxKeyName {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "name is longer than %d bytes", maxKeyName))
		return
	}
	now := time.Now().UTC()
	k := store.Key{ID: tenant.NewKeyID(), Tenant: p.Tenant, Name: body.Name, Scopes: scopes.Names(), CreatedAt: now}
	if body.ExpiresAt != nil {
		if !body.ExpiresAt.After(now) {
			writeError(w, isoerr.New(isoerr.InvalidRequest, "expiresAt %s is not in the future", body.ExpiresAt.Format(time.RFC3339)))
			return
		}
		k.ExpiresAt = body.ExpiresAt.UTC()
	}
	secret, hash := tenant.NewKey()
	k.Hash = hash
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if s.tenant(p.Tenant) == nil { // deleted since the request was authenticated
		writeError(w, isoerr.New(isoerr.NotFound, "tenant %q does not exist", p.Tenant))
		return
	}
	err = s.putKey(r.Context(), k)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	w.Header().Set("Location", "/v1/keys/"+k.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, api.NewKey{Key: keyJSON(k, time.Time{}), Secret: secret})
}

// handleRevokeKey revokes key {id}: refused from the next request on, and listed with its
// revokedAt.
func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	k, err := s.tenantKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if k.RevokedAt.IsZero() {
		k.RevokedAt = time.Now().UTC()
		err = s.putKey(r.Context(), k)
		if err != nil {
			writeError(w, storeError(err))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRotateKey gives key {id} a new secret (same id, scopes and expiry): the old one is
// refused from the next request on.
func (s *Server) handleRotateKey(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	k, err := s.tenantKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if !k.RevokedAt.IsZero() {
		writeError(w, isoerr.New(isoerr.Conflict, "key %q is revoked: make a new one", k.ID))
		return
	}
	secret, hash := tenant.NewKey()
	k.Hash = hash
	err = s.putKey(r.Context(), k)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, api.NewKey{Key: keyJSON(k, s.keyring.LastUsed(k.ID)), Secret: secret})
}

// putKey stores k and reloads the keyring, so the change holds from the next request on.
// The caller holds adminMu.
func (s *Server) putKey(ctx context.Context, k store.Key) error {
	if err := s.st.PutKey(ctx, k); err != nil {
		return err
	}
	return s.reloadKeys(ctx)
}
