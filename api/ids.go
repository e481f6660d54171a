package api

import "github.com/isobox/isobox/isoerr"

// The naming rules. Worker ids and session names follow one rule, IDPattern: 1 to
// MaxIDLength bytes of ASCII letters, digits, '.', '_', ':' and '-', starting with a letter
// or a digit. Such a name is safe in a URL path without escaping, in a file name and in a
// metrics label, and leaves room for the loader's "@version" suffix. Secret names follow
// SecretNamePattern (as the egress gateway's {{secret:NAME}} references).
const (
	MaxIDLength       = 128
	IDPattern         = `^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`
	SecretNamePattern = `^[A-Za-z0-9_.-]{1,128}$`
)

// CheckWorkerID reports whether id can name a stored worker (IDPattern).
//
// # Errors
//
// invalid_request, naming the rule, when it cannot.
func CheckWorkerID(id string) error {
	if !validID(id) {
		return isoerr.New(isoerr.InvalidRequest, "invalid worker id %q: use 1 to %d letters, digits, '.', '_', ':' or '-', starting with a letter or digit", id, MaxIDLength)
	}
	return nil
}

// CheckSessionName reports whether name can name a session: the rule of worker ids
// (IDPattern).
//
// # Errors
//
// invalid_request, naming the rule, when it cannot.
func CheckSessionName(name string) error {
	if !validID(name) {
		return isoerr.New(isoerr.InvalidRequest, "invalid session name %q: use 1 to %d letters, digits, '.', '_', ':' or '-', starting with a letter or digit", name, MaxIDLength)
	}
	return nil
}

// CheckSecretName reports whether name can name a secret (SecretNamePattern).
//
// # Errors
//
// invalid_request, naming the rule, when it cannot.
func CheckSecretName(name string) error {
	ok := len(name) >= 1 && len(name) <= MaxIDLength
	for i := 0; ok && i < len(name); i++ {
		ok = alnum(name[i]) || name[i] == '_' || name[i] == '.' || name[i] == '-'
	}
	if !ok {
		return isoerr.New(isoerr.InvalidRequest, "secret name %q must be 1-%d letters, digits, '_', '.' or '-'", name, MaxIDLength)
	}
	return nil
}

// validID matches IDPattern.
func validID(s string) bool {
	if len(s) < 1 || len(s) > MaxIDLength || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// CheckWorkspaceName reports whether name can name a workspace: the rule of worker ids
// (IDPattern).
//
// # Errors
//
// invalid_request, naming the rule, when it cannot.
func CheckWorkspaceName(name string) error {
	if !validID(name) {
		return isoerr.New(isoerr.InvalidRequest, "invalid workspace name %q: use 1 to %d letters, digits, '.', '_', ':' or '-', starting with a letter or digit", name, MaxIDLength)
	}
	return nil
}

// Tenants. A tenant's name follows TenantNamePattern (the id rule, at most MaxTenantLength
// bytes). Inside the server an object of a tenant other than DefaultTenant is kept under
// its scoped name, TENANT~NAME: no id, session, workspace or secret name holds a '~', so
// no name can forge another tenant's. Objects of DefaultTenant keep their bare names (the
// names they had before tenants existed).
const (
	DefaultTenant     = "default"
	MaxTenantLength   = 32
	TenantNamePattern = `^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$`
	TenantSep         = '~'
)

// CheckTenantName reports whether name can name a tenant (TenantNamePattern).
//
// # Errors
//
// invalid_request, naming the rule, when it cannot.
func CheckTenantName(name string) error {
	if len(name) > MaxTenantLength || !validID(name) {
		return isoerr.New(isoerr.InvalidRequest, "invalid tenant name %q: use 1 to %d letters, digits, '.', '_', ':' or '-', starting with a letter or digit", name, MaxTenantLength)
	}
	return nil
}

// SplitScoped splits a name kept inside the server into its tenant and its name as the
// tenant sees it: "acme~hello" is ("acme", "hello"), a bare "hello" is (DefaultTenant,
// "hello").
func SplitScoped(scoped string) (tenant, name string) {
	for i := 0; i < len(scoped); i++ {
		if scoped[i] == TenantSep {
			return scoped[:i], scoped[i+1:]
		}
	}
	return DefaultTenant, scoped
}

// CheckScoped reports whether scoped is a valid name (by check, the rule of its kind) or a
// valid tenant name, '~' and a valid name: what the loader, the session manager and the
// workspace store accept.
//
// # Errors
//
// check's error, or invalid_request for a bad tenant name.
func CheckScoped(scoped string, check func(string) error) error {
	t, name := SplitScoped(scoped)
	if len(name) < len(scoped) {
		if err := CheckTenantName(t); err != nil {
			return err
		}
	}
	return check(name)
}
