package egress

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Secrets gives the gateway the values that rules reference as {{secret:NAME}}. The gateway
// calls Lookup for every request a referencing rule allows, inside the host; the value goes
// into that request's headers and nowhere else.
//
// # Errors
//
// Lookup returns an error wrapping ErrSecretNotFound when no secret has the name. Errors must
// not contain the value: the gateway reports only whether the secret was missing.
type Secrets interface {
	Lookup(ctx context.Context, name string) (string, error)
}

// ErrSecretNotFound is what Secrets.Lookup wraps when no secret has the name.
var ErrSecretNotFound = errors.New("egress: secret not found")

// MemorySecrets is a Secrets held in memory, safe for concurrent use. Printing it with fmt
// shows the number of secrets, never their values.
//
//	s := egress.NewMemorySecrets(map[string]string{"github_token": tok})
//	s.Set("stripe_key", key)
type MemorySecrets struct {
	mu     sync.RWMutex
	values map[string]string
}

// NewMemorySecrets returns a MemorySecrets holding a copy of values (which may be nil).
func NewMemorySecrets(values map[string]string) *MemorySecrets {
	s := &MemorySecrets{values: make(map[string]string, len(values))}
	for k, v := range values {
		s.values[k] = v
	}
	return s
}

// Set stores or replaces the secret name.
func (s *MemorySecrets) Set(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[name] = value
}

// Delete removes the secret name; requests that inject it then fail with
// CodeSecretUnavailable.
func (s *MemorySecrets) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.values, name)
}

// Lookup returns the secret name, or an error wrapping ErrSecretNotFound.
func (s *MemorySecrets) Lookup(_ context.Context, name string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.values[name]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrSecretNotFound, name)
	}
	return v, nil
}

// String describes s without its values.
func (s *MemorySecrets) String() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fmt.Sprintf("egress.MemorySecrets{%d secrets}", len(s.values))
}

// GoString describes s without its values (for %#v).
func (s *MemorySecrets) GoString() string { return s.String() }

// secretRef is {{secret:NAME}}, with optional spaces inside the braces.
var secretRef = regexp.MustCompile(`\{\{\s*secret:([A-Za-z0-9_.\-]+)\s*\}\}`)

// template is a header value with its secret references split out: parts alternate literal
// text (even indexes) and secret names (odd indexes).
type template struct{ parts []string }

func parseTemplate(v string) (template, error) {
	if strings.ContainsAny(v, "\r\n\x00") {
		return template{}, fmt.Errorf("a header value cannot contain CR, LF or NUL")
	}
	var t template
	last := 0
	for _, m := range secretRef.FindAllStringSubmatchIndex(v, -1) {
		t.parts = append(t.parts, v[last:m[0]], v[m[2]:m[3]])
		last = m[1]
	}
	t.parts = append(t.parts, v[last:])
	for i := 0; i < len(t.parts); i += 2 {
		if strings.Contains(t.parts[i], "{{") {
			return template{}, fmt.Errorf("%q: a reference is written {{secret:NAME}} (NAME: letters, digits, _ . -)", v)
		}
	}
	return t, nil
}

func (t template) hasSecret() bool { return len(t.parts) > 1 }

// expand fills in the secrets, returning the value and the secret values it used.
func (t template) expand(ctx context.Context, s Secrets) (string, []string, error) {
	if !t.hasSecret() {
		return t.parts[0], nil, nil
	}
	var b strings.Builder
	var used []string
	for i, p := range t.parts {
		if i%2 == 0 {
			b.WriteString(p)
			continue
		}
		v, err := s.Lookup(ctx, p)
		if err != nil {
			if errors.Is(err, ErrSecretNotFound) {
				return "", nil, fmt.Errorf("secret %q is not set", p)
			}
			return "", nil, fmt.Errorf("secret %q could not be read", p)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return "", nil, fmt.Errorf("secret %q contains CR, LF or NUL, which a header cannot carry", p)
		}
		b.WriteString(v)
		used = append(used, v)
	}
	return b.String(), used, nil
}
