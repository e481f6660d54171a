package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/store"
)

// adminKeyName names the admin key in the store.
const adminKeyName = "admin"

// minKeyLen bounds a key given in Config.AdminKey from below.
const minKeyLen = 16

// hashKey is what the store keeps of a key. SHA-256 suffices: keys are 32 random bytes
// (or, from ISOBOX_API_KEY, the operator's responsibility), not passwords to stretch.
func hashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// initKeys makes or replaces the admin key and loads every key's hash.
func (s *Server) initKeys(ctx context.Context) error {
	keys, err := s.st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	var admin *store.Key
	for i := range keys {
		if keys[i].Name == adminKeyName {
			admin = &keys[i]
		}
	}
	switch {
	case s.cfg.AdminKey != "":
		if err := checkAdminKey(s.cfg.AdminKey); err != nil {
			return err
		}
		h := hashKey(s.cfg.AdminKey)
		if admin == nil || subtle.ConstantTimeCompare(admin.Hash, h) != 1 {
			if err := s.st.PutKey(ctx, store.Key{Name: adminKeyName, Hash: h, Admin: true}); err != nil {
				return fmt.Errorf("server: %w", err)
			}
		}
	case admin == nil:
		key := newKey()
		if err := s.st.PutKey(ctx, store.Key{Name: adminKeyName, Hash: hashKey(key), Admin: true}); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		s.newAdminKey = key
	}
	if keys, err = s.st.ListKeys(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	hashes := make([][]byte, 0, len(keys))
	for _, k := range keys {
		hashes = append(hashes, k.Hash)
	}
	s.keys.Store(&hashes)
	return nil
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

// authenticate checks the request's bearer key against every key's hash, in constant time
// for each.
func (s *Server) authenticate(r *http.Request) error {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return isoerr.New(isoerr.Unauthorized, "this route needs an API key: send the header 'Authorization: Bearer <key>'")
	}
	sum := hashKey(strings.TrimSpace(key))
	match := 0
	for _, k := range *s.keys.Load() {
		match |= subtle.ConstantTimeCompare(k, sum)
	}
	if match != 1 {
		return isoerr.New(isoerr.Unauthorized, "the API key is not valid")
	}
	return nil
}
