package tenant

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/store"
)

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	keys := map[string]store.Key{}
	mk := func(id string, k store.Key) string {
		secret, hash := NewKey()
		k.ID, k.Hash = id, hash
		keys[id] = k
		return secret
	}
	op := mk("admin", store.Key{Tenant: Default, Operator: true})
	reader := mk("key_r", store.Key{Tenant: "acme", Scopes: []string{"read"}})
	expiring := mk("key_e", store.Key{Tenant: "acme", Scopes: []string{"invoke"}, ExpiresAt: now.Add(time.Hour)})
	revoked := mk("key_x", store.Key{Tenant: "acme", Scopes: []string{"read"}, RevokedAt: now.Add(-time.Minute)})
	ring := NewKeyring()
	var list []store.Key
	for _, k := range keys {
		list = append(list, k)
	}
	ring.Load(list)
	for _, tc := range []struct {
		name, key string
		at        time.Time
		want      Principal
		msg       string // of the unauthorized error; "" for none
	}{
		{"operator", op, now, Principal{Tenant: Default, KeyID: "admin", Scopes: All, Operator: true}, ""},
		{"reader", reader, now, Principal{Tenant: "acme", KeyID: "key_r", Scopes: Read}, ""},
		{"before expiry", expiring, now.Add(59 * time.Minute), Principal{Tenant: "acme", KeyID: "key_e", Scopes: Invoke}, ""},
		{"at expiry", expiring, now.Add(time.Hour), Principal{}, "expired"},
		{"revoked", revoked, now, Principal{}, "revoked"},
		{"unknown", "isobox_nope", now, Principal{}, "not valid"},
		{"empty", "", now, Principal{}, "not valid"},
		{"a key's prefix", reader[:len(reader)-1], now, Principal{}, "not valid"},
	} {
		p, err := ring.Authenticate(tc.key, tc.at)
		if tc.msg != "" {
			if isoerr.CodeOf(err) != isoerr.Unauthorized || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: %v, want unauthorized (%s)", tc.name, err, tc.msg)
			}
			continue
		}
		if err != nil || p != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.name, p, err, tc.want)
		}
	}
	// The last use survives a reload; revoking (a reload) refuses the key at once.
	if got := ring.LastUsed("key_r"); !got.Equal(now) {
		t.Errorf("last used %v, want %v", got, now)
	}
	k := keys["key_r"]
	k.RevokedAt = now
	keys["key_r"] = k
	list = list[:0]
	for _, k := range keys {
		list = append(list, k)
	}
	ring.Load(list)
	if _, err := ring.Authenticate(reader, now); isoerr.CodeOf(err) != isoerr.Unauthorized {
		t.Errorf("a revoked key: %v", err)
	}
	if got := ring.LastUsed("key_r"); !got.Equal(now) {
		t.Errorf("last used after a reload %v, want %v", got, now)
	}
}

func TestScopes(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want Scope
		err  bool
	}{
		{[]string{"read"}, Read, false},
		{[]string{"admin", "deploy", "invoke", "read"}, All, false},
		{[]string{"invoke", "invoke"}, Invoke, false},
		{nil, 0, true},
		{[]string{"root"}, 0, true},
		{[]string{"Read"}, 0, true},
	} {
		got, err := ParseScopes(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseScopes(%q) = %v, %v", tc.in, got, err)
		}
	}
	if got := (Read | Admin).String(); got != "admin,read" {
		t.Errorf("String: %q", got)
	}
	if err := (Principal{Scopes: Read}).Need(Deploy); isoerr.CodeOf(err) != isoerr.Forbidden || !strings.Contains(err.Error(), `"deploy"`) {
		t.Errorf("Need: %v", err)
	}
}

// A scoped name is unforgeable: no name a request may give holds the separator, and each
// tenant's names are told apart from every other's.
func TestScopedNames(t *testing.T) {
	for _, tc := range []struct {
		tenant, name, scoped string
	}{{Default, "hello", "hello"}, {"acme", "hello", "acme~hello"}, {"", "x", "x"}} {
		if got := Scoped(tc.tenant, tc.name); got != tc.scoped {
			t.Errorf("Scoped(%q, %q) = %q", tc.tenant, tc.name, got)
		}
		if name, ok := Unscoped(tc.tenant, tc.scoped); !ok || name != tc.name {
			t.Errorf("Unscoped(%q, %q) = %q %v", tc.tenant, tc.scoped, name, ok)
		}
	}
	for _, tc := range []struct{ tenant, scoped string }{{Default, "acme~x"}, {"acme", "x"}, {"acme", "acmex~y"}, {"acme", "beta~x"}} {
		if _, ok := Unscoped(tc.tenant, tc.scoped); ok {
			t.Errorf("tenant %q owns %q", tc.tenant, tc.scoped)
		}
	}
	if api.CheckWorkerID("acme~x") == nil || api.CheckSessionName("acme~x") == nil || api.CheckWorkspaceName("acme~x") == nil || api.CheckSecretName("acme~x") == nil {
		t.Error("a name with '~' passes a naming rule: it could forge another tenant's")
	}
	if err := api.CheckScoped("acme~x", api.CheckWorkerID); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"~x", "acme~", "acme~~x", "ac me~x", strings.Repeat("a", 33) + "~x"} {
		if api.CheckScoped(bad, api.CheckWorkerID) == nil {
			t.Errorf("CheckScoped(%q) passed", bad)
		}
	}
}

func TestCeiling(t *testing.T) {
	s := Settings{Ceiling: api.Limits{MemoryMB: 64, CPUMs: 100}}
	for _, tc := range []struct {
		l   *api.Limits
		err string
	}{
		{nil, ""},
		{&api.Limits{MemoryMB: 64, CPUMs: 100, WallMs: 60000}, ""}, // wallMs: no ceiling
		{&api.Limits{MemoryMB: 65}, "memoryMb 65"},
		{&api.Limits{CPUMs: 101}, "cpuMs 101"},
	} {
		err := s.CheckLimits(tc.l)
		if (tc.err == "") != (err == nil) || err != nil && (isoerr.CodeOf(err) != isoerr.Forbidden || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckLimits(%+v): %v, want %q", tc.l, err, tc.err)
		}
	}
}

// The cost of authenticating one request: a SHA-256 of the key, one map lookup, one
// constant-time compare, whatever the number of keys.
func BenchmarkAuthenticate(b *testing.B) {
	for _, n := range []int{1, 10000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := make([]store.Key, n)
			var secret string
			for i := range keys {
				s, h := NewKey()
				keys[i] = store.Key{ID: fmt.Sprintf("key_%d", i), Tenant: "acme", Scopes: []string{"invoke"}, Hash: h}
				secret = s
			}
			ring := NewKeyring()
			ring.Load(keys)
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := ring.Authenticate(secret, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
