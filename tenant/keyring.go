package tenant

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"time"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/store"
)

// KeyPrefix starts every key isobox makes (a key from ISOBOX_API_KEY may be anything).
const KeyPrefix = "isobox_"

// NewKey returns a new API key (KeyPrefix and 32 random bytes in base64url), to be shown
// once, and the hash to store.
func NewKey() (key string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return key, Hash(key)
}

// NewKeyID returns a new key id: "key_" and 16 hex digits.
func NewKeyID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "key_" + hex.EncodeToString(b[:])
}

// Hash is what the store keeps of a key. SHA-256 suffices: keys are 32 random bytes (or,
// from ISOBOX_API_KEY, the operator's responsibility), not passwords to stretch.
func Hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Keyring answers "whose key is this?" for every request: a map from the SHA-256 of each
// key to its holder, replaced whole (Load) after every change, so that a revoked key is
// refused by the next request. Safe for concurrent use.
type Keyring struct {
	m atomic.Pointer[map[[sha256.Size]byte]*entry]
}

type entry struct {
	p       Principal
	hash    [sha256.Size]byte
	expires int64 // Unix nanoseconds, 0: never
	revoked bool
	used    *atomic.Int64 // Unix nanoseconds of the last use, kept across Loads
}

// NewKeyring returns a keyring that knows no key.
func NewKeyring() *Keyring {
	k := &Keyring{}
	m := map[[sha256.Size]byte]*entry{}
	k.m.Store(&m)
	return k
}

// Load replaces the keys the keyring knows with keys (every store.Key; revoked ones are
// kept to say so). A key's last use survives a Load.
func (k *Keyring) Load(keys []store.Key) {
	old := *k.m.Load()
	used := make(map[string]*atomic.Int64, len(old))
	for _, e := range old {
		used[e.p.KeyID] = e.used
	}
	m := make(map[[sha256.Size]byte]*entry, len(keys))
	for _, sk := range keys {
		if len(sk.Hash) != sha256.Size {
			continue
		}
		scopes, _ := ParseScopes(sk.Scopes)
		e := &entry{p: Principal{Tenant: sk.Tenant, KeyID: sk.ID, Scopes: scopes, Operator: sk.Operator},
			revoked: !sk.RevokedAt.IsZero(), used: used[sk.ID]}
		if e.p.Operator {
			e.p.Scopes = All
		}
		if !sk.ExpiresAt.IsZero() {
			e.expires = sk.ExpiresAt.UnixNano()
		}
		if e.used == nil {
			e.used = new(atomic.Int64)
		}
		copy(e.hash[:], sk.Hash)
		m[e.hash] = e
	}
	k.m.Store(&m)
}

// Authenticate returns the principal holding key at time now. The lookup is by the key's
// SHA-256 (a timing difference in the map lookup tells an attacker about hashes, whose
// preimages they cannot find), confirmed in constant time.
//
// # Errors
//
// unauthorized when no key matches, or the key is revoked or expired.
func (k *Keyring) Authenticate(key string, now time.Time) (Principal, error) {
	sum := sha256.Sum256([]byte(key))
	e, ok := (*k.m.Load())[sum]
	if !ok || subtle.ConstantTimeCompare(e.hash[:], sum[:]) != 1 {
		return Principal{}, isoerr.New(isoerr.Unauthorized, "the API key is not valid")
	}
	t := now.UnixNano()
	switch {
	case e.revoked:
		return Principal{}, isoerr.New(isoerr.Unauthorized, "the API key %s was revoked", e.p.KeyID)
	case e.expires != 0 && t >= e.expires:
		return Principal{}, isoerr.New(isoerr.Unauthorized, "the API key %s expired at %s", e.p.KeyID, time.Unix(0, e.expires).UTC().Format(time.RFC3339))
	}
	// The last use to the second: most requests read the shared word and write nothing.
	if t-e.used.Load() > int64(time.Second) {
		e.used.Store(t)
	}
	return e.p, nil
}

// LastUsed returns when key id last authenticated a request since the server started
// (zero: not since).
func (k *Keyring) LastUsed(id string) time.Time {
	for _, e := range *k.m.Load() {
		if e.p.KeyID == id {
			if n := e.used.Load(); n != 0 {
				return time.Unix(0, n).UTC()
			}
		}
	}
	return time.Time{}
}

// BearerKey returns the key of an Authorization header ("Bearer KEY"), or "".
func BearerKey(header string) string {
	scheme, key, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(key)
}
