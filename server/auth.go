package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/store"
	"github.com/isobox/isobox/tenant"
)

// operatorKeyID is the operator's key in the store: the one admin key of isobox before
// tenants, kept under the name it had.
const operatorKeyID = "admin"

// TenantHeader names the tenant the operator's key acts for (tenant.Default without it).
// Another key may send only its own tenant's name.
const TenantHeader = "Isobox-Tenant"

// minKeyLen bounds a key given in Config.AdminKey from below.
const minKeyLen = 16

// operatorOnly marks a route only the operator's key may call (beside the tenant scopes).
const operatorOnly tenant.Scope = 1 << 7

// tenantState is a tenant as every request may need it: its record, its settings and its
// default egress policy, parsed once.
type tenantState struct {
	rec      store.Tenant
	settings tenant.Settings
	egress   *egress.Policy // nil: the server's default policy
}

// initKeys makes or replaces the operator's key, makes tenant default when missing, and
// loads every key and tenant.
func (s *Server) initKeys(ctx context.Context) error {
	keys, err := s.st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	var op *store.Key
	for i := range keys {
		if keys[i].ID == operatorKeyID {
			op = &keys[i]
		}
	}
	operator := func(h []byte) store.Key {
		return store.Key{ID: operatorKeyID, Tenant: tenant.Default, Name: "operator", Scopes: tenant.All.Names(), Operator: true, Hash: h}
	}
	switch {
	case s.cfg.AdminKey != "":
		if err := checkAdminKey(s.cfg.AdminKey); err != nil {
			return err
		}
		h := tenant.Hash(s.cfg.AdminKey)
		if op == nil || subtle.ConstantTimeCompare(op.Hash, h) != 1 || !op.Operator {
			if err := s.st.PutKey(ctx, operator(h)); err != nil {
				return fmt.Errorf("server: %w", err)
			}
		}
	case op == nil:
		key, h := tenant.NewKey()
		if err := s.st.PutKey(ctx, operator(h)); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		s.newAdminKey = key
	}
	tenants, err := s.st.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	hasDefault := false
	for _, t := range tenants {
		hasDefault = hasDefault || t.Name == tenant.Default
	}
	if !hasDefault {
		if _, err := s.st.PutTenant(ctx, store.Tenant{Name: tenant.Default, Settings: []byte("{}")}); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	if err := s.reloadKeys(ctx); err != nil {
		return err
	}
	return s.reloadTenants(ctx)
}

// reloadKeys hands every stored key to the keyring; callers hold s.adminMu (or are init).
func (s *Server) reloadKeys(ctx context.Context) error {
	keys, err := s.st.ListKeys(ctx)
	if err != nil {
		return isoerr.New(isoerr.Internal, "loading the API keys: %v", err)
	}
	s.keyring.Load(keys)
	return nil
}

// reloadTenants loads every stored tenant; callers hold s.adminMu (or are init).
func (s *Server) reloadTenants(ctx context.Context) error {
	list, err := s.st.ListTenants(ctx)
	if err != nil {
		return isoerr.New(isoerr.Internal, "loading the tenants: %v", err)
	}
	m := make(map[string]*tenantState, len(list))
	for _, rec := range list {
		ts := &tenantState{rec: rec}
		if err := json.Unmarshal(rec.Settings, &ts.settings); err != nil {
			return isoerr.New(isoerr.Internal, "tenant %q: stored settings do not decode: %v", rec.Name, err)
		}
		if len(ts.settings.Egress) > 0 {
			if ts.egress, err = egress.ParsePolicy(ts.settings.Egress); err != nil {
				return isoerr.New(isoerr.Internal, "tenant %q: stored egress policy: %v", rec.Name, err)
			}
		}
		m[rec.Name] = ts
	}
	s.tenants.Store(&m)
	s.applyTenantQuotas()
	return nil
}

// tenant returns tenant name's state, or nil.
func (s *Server) tenant(name string) *tenantState { return (*s.tenants.Load())[name] }

// settings returns the settings of tenant name (zero when it has none).
func (s *Server) settings(name string) tenant.Settings {
	if ts := s.tenant(name); ts != nil {
		return ts.settings
	}
	return tenant.Settings{}
}

// checkAdminKey refuses a configured admin key that is too short or not printable ASCII
// ("" is no key: one is made or the stored one kept).
func checkAdminKey(key string) error {
	if key != "" && (len(key) < minKeyLen || strings.IndexFunc(key, func(r rune) bool {
		return r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' '
	}) >= 0) {
		return fmt.Errorf("server: the admin key (ISOBOX_API_KEY) must be at least %d printable ASCII characters without spaces", minKeyLen)
	}
	return nil
}

// authenticate returns who makes the request: the holder of its bearer key, acting for
// the tenant of the Isobox-Tenant header when the key is the operator's.
//
// # Errors
//
// unauthorized (no key, an unknown, revoked or expired key), forbidden (a tenant's key
// naming another tenant), not_found (the operator naming a tenant that does not exist).
func (s *Server) authenticate(r *http.Request) (tenant.Principal, error) {
	key := tenant.BearerKey(r.Header.Get("Authorization"))
	if key == "" {
		return tenant.Principal{}, isoerr.New(isoerr.Unauthorized, "this route needs an API key: send the header 'Authorization: Bearer <key>'")
	}
	p, err := s.keyring.Authenticate(key, time.Now())
	if err != nil {
		return p, err
	}
	if name := r.Header.Get(TenantHeader); name != "" && name != p.Tenant {
		if !p.Operator {
			return tenant.Principal{}, isoerr.New(isoerr.Forbidden, "only the operator's key may act for another tenant (header %s)", TenantHeader)
		}
		if s.tenant(name) == nil {
			return tenant.Principal{}, isoerr.New(isoerr.NotFound, "tenant %q does not exist", name)
		}
		p.Tenant = name
	}
	return p, nil
}

type principalKey struct{}

// withPrincipal returns r carrying p for principalOf.
func withPrincipal(r *http.Request, p tenant.Principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}

// principalOf is who makes the request: the tenant it acts for (every object a handler
// names is that tenant's: p.Scoped), the key's scopes, and whether it is the operator. Set
// by the middleware for every /v1 route and /mcp; the zero Principal elsewhere.
func principalOf(r *http.Request) tenant.Principal {
	p, _ := r.Context().Value(principalKey{}).(tenant.Principal)
	return p
}

// guard enforces a route's scope before its handler runs.
func guard(scope tenant.Scope, h http.HandlerFunc) http.HandlerFunc {
	if scope == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		p := principalOf(r)
		if scope == operatorOnly {
			if !p.Operator {
				writeError(w, isoerr.New(isoerr.Forbidden, "this route is the operator's: it needs the operator's key (ISOBOX_API_KEY)"))
				return
			}
		} else if err := p.Need(scope); err != nil {
			writeError(w, err)
			return
		}
		h(w, r)
	}
}

// checkOperatorOnly refuses, for a key other than the operator's, what only the operator
// may set: limits above the tenant's ceiling and, unless the tenant is allowed it,
// allowPrivate in an egress policy.
//
// # Errors
//
// forbidden, naming the setting.
func (s *Server) checkOperatorOnly(p tenant.Principal, lim *api.Limits, policy *egress.Policy) error {
	if p.Operator {
		return nil
	}
	set := s.settings(p.Tenant)
	if err := set.CheckLimits(lim); err != nil {
		return err
	}
	if allowsPrivate(policy) && !set.AllowPrivate {
		return isoerr.New(isoerr.Forbidden, "globalOutbound: allowPrivate (reaching loopback and private addresses) is set by the operator's key only")
	}
	return nil
}

// allowsPrivate reports whether any rule of policy p sets allowPrivate.
func allowsPrivate(p *egress.Policy) bool {
	if p == nil {
		return false
	}
	for _, r := range p.Rules {
		if r.AllowPrivate {
			return true
		}
	}
	return false
}
