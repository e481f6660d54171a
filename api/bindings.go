package api

import (
	"fmt"
	"sort"

	"github.com/isobox/isobox/isoerr"
)

// Binding is one capability a worker receives as a property of env, as the bindings of
// Cloudflare Workers: {"FS": {"workspace": "proj"}} gives the worker env.FS, the state API
// over workspace "proj". Today a binding is a workspace binding; other kinds get other
// fields.
type Binding struct {
	// Workspace names the workspace (CheckWorkspaceName) the binding opens.
	Workspace string `json:"workspace"`
	// ReadOnly refuses every write through the binding (enforced by the host).
	ReadOnly bool `json:"readOnly,omitempty"`
}

// MaxBindings is the most bindings one worker may have.
const MaxBindings = 32

// CheckBindings reports whether b is a valid set of bindings: names that are JavaScript
// identifiers (they become env properties), at most MaxBindings, each naming a valid
// workspace.
//
// # Errors
//
// invalid_worker_code, naming the binding at fault, when it is not.
func CheckBindings(b map[string]Binding) error { return checkBindings(b, CheckWorkspaceName) }

// CheckScopedBindings is CheckBindings where a workspace name may be scoped to a tenant
// ("acme~docs", CheckScoped): what the loader accepts once the server has scoped the
// names a tenant gave (which CheckBindings checked).
//
// # Errors
//
// invalid_worker_code, naming the binding at fault, when it is not.
func CheckScopedBindings(b map[string]Binding) error {
	return checkBindings(b, func(ws string) error { return CheckScoped(ws, CheckWorkspaceName) })
}

func checkBindings(b map[string]Binding, checkWorkspace func(string) error) error {
	if len(b) > MaxBindings {
		return isoerr.New(isoerr.InvalidWorkerCode, "%d bindings; the limit is %d", len(b), MaxBindings)
	}
	names := make([]string, 0, len(b))
	for n := range b {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !bindingName(n) {
			return isoerr.New(isoerr.InvalidWorkerCode, "binding name %q must be an identifier of 1 to 64 ASCII letters, digits, '_' or '$', not starting with a digit", n)
		}
		if err := checkWorkspace(b[n].Workspace); err != nil {
			return isoerr.New(isoerr.InvalidWorkerCode, "binding %q: %s", n, fmt.Sprint(isoerr.As(err).Message))
		}
	}
	return nil
}

func bindingName(s string) bool {
	if s == "" || len(s) > 64 || s == "__proto__" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '$' {
			return false
		}
	}
	return true
}
