package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Cache is a Store that answers the lookups of the invocation path from memory: StatWorker
// (every invocation of a stored worker asks it) and GetSecret (every outbound request with
// a {{secret:NAME}} reference). Writes go to the inner store first and then replace the
// cached entry, so a lookup that begins after a write has returned sees that write.
// Absence is cached too (an invocation of a deleted worker answers not_found without a
// query).
//
// The cache is only as fresh as the writes it sees: every write to the inner store must go
// through the Cache while it is in use. isobox serve holds its data directory for itself
// (a second server on the same directory is refused), so no other process writes there.
type Cache struct {
	inner Store
	max   int // entries per map; past it an arbitrary entry is dropped

	mu      sync.RWMutex
	gen     uint64            // bumped by every write: a fill that read before a write is not kept
	workers map[string]Worker // without Code
	absent  map[string]bool   // ids known not to exist, bounded apart so that asking for
	// many unknown ids cannot push the stored workers out
	secrets map[string]secretEntry
}

type secretEntry struct {
	value string
	found bool
}

var _ Store = (*Cache)(nil)

// DefaultCacheEntries bounds the workers and the secrets a Cache keeps when NewCache is
// given 0 (ids known to be absent: a tenth of it): an entry is about 200 bytes, so a full
// cache holds some tens of MiB.
const DefaultCacheEntries = 100_000

// NewCache returns a Cache over inner keeping at most maxEntries workers and as many
// secrets (0: DefaultCacheEntries). Closing the Cache closes inner.
func NewCache(inner Store, maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	return &Cache{inner: inner, max: maxEntries, workers: map[string]Worker{}, absent: map[string]bool{},
		secrets: map[string]secretEntry{}}
}

// StatWorker implements Store from memory; a miss asks the inner store once and keeps
// the answer (found or not found).
func (c *Cache) StatWorker(ctx context.Context, id string) (Worker, error) {
	c.mu.RLock()
	w, found := c.workers[id]
	absent := c.absent[id]
	gen := c.gen
	c.mu.RUnlock()
	if !found && !absent {
		var err error
		w, err = c.inner.StatWorker(ctx, id)
		switch {
		case err == nil:
			w.Code = nil
			found = true
		case !errors.Is(err, ErrNotFound):
			return w, err // not kept: the next call asks again
		}
		c.mu.Lock()
		if c.gen == gen {
			if found {
				put(c.workers, id, w, c.max)
			} else {
				put(c.absent, id, true, max(c.max/10, 1))
			}
		}
		c.mu.Unlock()
	}
	if !found {
		return Worker{ID: id}, fmt.Errorf("worker %q: %w", id, ErrNotFound)
	}
	return w, nil
}

// GetWorker implements Store by asking the inner store (the code is read on a cold start
// only, and not kept here: the loader keeps what it compiled).
func (c *Cache) GetWorker(ctx context.Context, id string) (Worker, error) {
	return c.inner.GetWorker(ctx, id)
}

// PutWorker implements Store: the inner store, then the cached entry.
func (c *Cache) PutWorker(ctx context.Context, w Worker) (bool, error) {
	created, err := c.inner.PutWorker(ctx, w)
	c.forgetWorker(w.ID)
	return created, err
}

// DeleteWorker implements Store: the inner store, then the cached entry.
func (c *Cache) DeleteWorker(ctx context.Context, id string) error {
	err := c.inner.DeleteWorker(ctx, id)
	c.forgetWorker(id)
	return err
}

// forgetWorker drops worker id's entry after a write (whatever its outcome: a failed
// write may have committed) and bumps the generation, so that no lookup that read before
// the write keeps what it read. The next lookup asks the inner store.
func (c *Cache) forgetWorker(id string) {
	c.mu.Lock()
	c.gen++
	delete(c.workers, id)
	delete(c.absent, id)
	c.mu.Unlock()
}

// ListWorkers implements Store by asking the inner store.
func (c *Cache) ListWorkers(ctx context.Context, after string, limit int) ([]Worker, error) {
	return c.inner.ListWorkers(ctx, after, limit)
}

// PutKey implements Store by asking the inner store (keys are loaded once by the server).
func (c *Cache) PutKey(ctx context.Context, k Key) error { return c.inner.PutKey(ctx, k) }

// ListKeys implements Store by asking the inner store.
func (c *Cache) ListKeys(ctx context.Context) ([]Key, error) { return c.inner.ListKeys(ctx) }

// DeleteKey implements Store by asking the inner store.
func (c *Cache) DeleteKey(ctx context.Context, id string) error { return c.inner.DeleteKey(ctx, id) }

// PutTenant implements Store by asking the inner store (tenants are loaded once by the
// server).
func (c *Cache) PutTenant(ctx context.Context, t Tenant) (bool, error) {
	return c.inner.PutTenant(ctx, t)
}

// ListTenants implements Store by asking the inner store.
func (c *Cache) ListTenants(ctx context.Context) ([]Tenant, error) { return c.inner.ListTenants(ctx) }

// DeleteTenant implements Store by asking the inner store.
func (c *Cache) DeleteTenant(ctx context.Context, name string) error {
	return c.inner.DeleteTenant(ctx, name)
}

// GetSecret implements Store from memory; a miss asks the inner store once.
func (c *Cache) GetSecret(ctx context.Context, name string) (string, error) {
	c.mu.RLock()
	e, ok := c.secrets[name]
	gen := c.gen
	c.mu.RUnlock()
	if !ok {
		v, err := c.inner.GetSecret(ctx, name)
		switch {
		case err == nil:
			e = secretEntry{value: v, found: true}
		case errors.Is(err, ErrNotFound):
		default:
			return "", err
		}
		c.mu.Lock()
		if c.gen == gen {
			put(c.secrets, name, e, c.max)
		}
		c.mu.Unlock()
	}
	if !e.found {
		return "", fmt.Errorf("secret %q: %w", name, ErrNotFound)
	}
	return e.value, nil
}

// PutSecret implements Store: the inner store, then the cached entry.
func (c *Cache) PutSecret(ctx context.Context, name, value string) error {
	err := c.inner.PutSecret(ctx, name, value)
	c.forgetSecret(name)
	return err
}

// DeleteSecret implements Store: the inner store, then the cached entry.
func (c *Cache) DeleteSecret(ctx context.Context, name string) error {
	err := c.inner.DeleteSecret(ctx, name)
	c.forgetSecret(name)
	return err
}

func (c *Cache) forgetSecret(name string) {
	c.mu.Lock()
	c.gen++
	delete(c.secrets, name)
	c.mu.Unlock()
}

// ListSecrets implements Store by asking the inner store.
func (c *Cache) ListSecrets(ctx context.Context) ([]Secret, error) { return c.inner.ListSecrets(ctx) }

// Close implements Store: it closes the inner store.
func (c *Cache) Close() error { return c.inner.Close() }

// put adds k to m, first dropping an arbitrary entry when m is full (an entry dropped is
// asked of the inner store again: correct, only slower).
func put[V any](m map[string]V, k string, v V, max int) {
	if _, ok := m[k]; !ok && len(m) >= max {
		for old := range m {
			delete(m, old)
			break
		}
	}
	m[k] = v
}
