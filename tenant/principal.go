package tenant

import "github.com/isobox/isobox/isoerr"

// Principal is who makes a request: the tenant it acts for, the key's scopes, and whether
// the key is the operator's (which may act for any tenant and set operator-only settings).
type Principal struct {
	Tenant   string
	KeyID    string
	Scopes   Scope
	Operator bool
}

// Has reports whether the principal holds scope s.
func (p Principal) Has(s Scope) bool { return p.Scopes.Has(s) }

// Need returns nil when the principal holds scope s.
//
// # Errors
//
// forbidden, naming the scope the route needs.
func (p Principal) Need(s Scope) error {
	if p.Has(s) {
		return nil
	}
	return isoerr.New(isoerr.Forbidden, "this route needs a key with scope %q (this key has %q)", s.String(), p.Scopes.String())
}

// Scoped is the name the principal's tenant keeps object name under (Scoped).
func (p Principal) Scoped(name string) string { return Scoped(p.Tenant, name) }

// Unscoped returns the name the principal's tenant gives the object kept under scoped, and
// whether the object is its tenant's.
func (p Principal) Unscoped(scoped string) (string, bool) { return Unscoped(p.Tenant, scoped) }

// Prefix is what every scoped name of the principal's tenant starts with ("" in Default).
func (p Principal) Prefix() string { return Scoped(p.Tenant, "") }
