// Package tenant is who may do what in isobox: tenants (the owners of every object), their
// settings that only the operator may change, scoped API keys and the keyring that turns a
// request's bearer key into a Principal.
//
//	ring := tenant.NewKeyring()
//	ring.Load(keys) // every store.Key, after each change
//	p, err := ring.Authenticate(bearer, time.Now())
//	if !p.Has(tenant.Deploy) { ... }
//	internal := p.Scoped("hello") // "hello" in tenant default, "acme~hello" in tenant acme
//
// Objects of a tenant other than Default are kept under scoped names (api.SplitScoped): no
// name a request can give holds the separator, so a tenant reaches its own objects only.
package tenant

import (
	"encoding/json"
	"strings"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/tenant/quota"
)

// Default is the tenant that owns every object made before tenants existed, and the one the
// operator's key acts for unless it names another.
const Default = api.DefaultTenant

// Scope is one thing a key may do.
type Scope uint8

// The scopes. Each covers its own routes; none implies another (a key for an agent that only
// calls workers holds Invoke alone).
const (
	Read   Scope = 1 << iota // GET routes: workers, logs, egress audit, secrets' names, sessions, workspaces
	Invoke                   // fetch, call, http, run, Code Mode, a session's eval, /mcp
	Deploy                   // PUT and DELETE of workers, secrets, workspaces and their files; sessions' create, fork, drop
	Admin                    // the tenant's own keys (/v1/keys)
)

// All is every scope: the operator's key holds it.
const All = Read | Invoke | Deploy | Admin

var scopeNames = [...]struct {
	s    Scope
	name string
}{{Admin, "admin"}, {Deploy, "deploy"}, {Invoke, "invoke"}, {Read, "read"}}

// String is the scope's name ("read"), or the names of a set joined by commas.
func (s Scope) String() string { return strings.Join(s.Names(), ",") }

// Names lists the scopes of a set by name, in a fixed order.
func (s Scope) Names() []string {
	out := []string{}
	for _, n := range scopeNames {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Has reports whether the set s holds every scope of want.
func (s Scope) Has(want Scope) bool { return s&want == want }

// ParseScopes reads scope names ("read", "invoke", "deploy", "admin").
//
// # Errors
//
// invalid_request naming an unknown scope, or when names is empty.
func ParseScopes(names []string) (Scope, error) {
	var s Scope
	for _, name := range names {
		found := false
		for _, n := range scopeNames {
			if n.name == name {
				s |= n.s
				found = true
			}
		}
		if !found {
			return 0, isoerr.New(isoerr.InvalidRequest, "unknown scope %q: use admin, deploy, invoke or read", name)
		}
	}
	if s == 0 {
		return 0, isoerr.New(isoerr.InvalidRequest, "a key needs at least one scope: admin, deploy, invoke or read")
	}
	return s, nil
}

// Settings are a tenant's settings: only the operator's key may set them.
type Settings struct {
	// Ceiling bounds the limits the tenant's own keys may ask for (a worker's limits, a
	// run's, a session's). A zero field sets no ceiling beyond the server's own.
	Ceiling api.Limits `json:"ceiling,omitzero"`
	// Egress is the egress policy (egress.Policy as JSON) of the tenant's workers, runs and
	// sessions that set none of their own. Absent: the server's default policy.
	Egress json.RawMessage `json:"egress,omitempty"`
	// AllowPrivate lets the tenant's own keys set allowPrivate in an egress rule (reach
	// loopback and private addresses). Without it only the operator's key may.
	AllowPrivate bool `json:"allowPrivate,omitempty"`
	// Quotas are the tenant's own quotas; nil: the server's quotas for every tenant.
	Quotas *quota.Limits `json:"quotas,omitempty"`
}

// CheckLimits refuses limits above the ceiling (l may be nil: none asked).
//
// # Errors
//
// forbidden, naming the first limit above the ceiling and the ceiling.
func (s Settings) CheckLimits(l *api.Limits) error {
	if l == nil {
		return nil
	}
	c := s.Ceiling
	for _, f := range []struct {
		name     string
		got, max int
	}{{"cpuMs", l.CPUMs, c.CPUMs}, {"wallMs", l.WallMs, c.WallMs}, {"memoryMb", l.MemoryMB, c.MemoryMB}, {"subRequests", l.SubRequests, c.SubRequests}} {
		if f.max > 0 && f.got > f.max {
			return isoerr.New(isoerr.Forbidden, "limits.%s %d is above this tenant's ceiling of %d: only the operator's key may set it higher", f.name, f.got, f.max)
		}
	}
	return nil
}

// Scoped is the name an object of tenant t is kept under: name itself in Default, else
// "t~name".
func Scoped(t, name string) string {
	if t == Default || t == "" {
		return name
	}
	return t + string(rune(api.TenantSep)) + name
}

// Unscoped returns the name tenant t gives the object kept under scoped, and whether it is
// t's at all.
func Unscoped(t, scoped string) (string, bool) {
	owner, name := api.SplitScoped(scoped)
	if owner != t && !(t == "" && owner == Default) {
		return "", false
	}
	return name, true
}
