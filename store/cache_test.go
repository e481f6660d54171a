package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/store"
	"github.com/isobox/isobox/store/sqlite"
)

// counted is a real SQLite store that counts the lookups reaching it.
type counted struct {
	store.Store
	stats, secrets atomic.Int64
}

func (c *counted) StatWorker(ctx context.Context, id string) (store.Worker, error) {
	c.stats.Add(1)
	return c.Store.StatWorker(ctx, id)
}

func (c *counted) GetSecret(ctx context.Context, name string) (string, error) {
	c.secrets.Add(1)
	return c.Store.GetSecret(ctx, name)
}

func open(t *testing.T, max int) (*store.Cache, *counted) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "isobox.db"))
	if err != nil {
		t.Fatal(err)
	}
	in := &counted{Store: st}
	c := store.NewCache(in, max)
	t.Cleanup(func() { c.Close() })
	return c, in
}

// Lookups are answered from memory after the first; every write is seen by the next lookup.
func TestCacheWorkers(t *testing.T) {
	ctx := context.Background()
	c, in := open(t, 0)
	if _, err := c.StatWorker(ctx, "w"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing worker: %v", err)
	}
	if _, err := c.PutWorker(ctx, store.Worker{ID: "w", Hash: "sha256:1", Code: []byte("one")}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if w, err := c.StatWorker(ctx, "w"); err != nil || w.Hash != "sha256:1" || w.Size != 3 || w.Code != nil {
			t.Fatalf("after put: %+v %v", w, err)
		}
	}
	if n := in.stats.Load(); n != 2 {
		t.Fatalf("6 lookups around one put reached the store %d times, want 2", n)
	}
	if _, err := c.PutWorker(ctx, store.Worker{ID: "w", Hash: "sha256:2", Code: []byte("two!")}); err != nil {
		t.Fatal(err)
	}
	if w, err := c.StatWorker(ctx, "w"); err != nil || w.Hash != "sha256:2" || w.Size != 4 {
		t.Fatalf("after the second put: %+v %v", w, err)
	}
	if err := c.DeleteWorker(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	before := in.stats.Load()
	for range 5 {
		if _, err := c.StatWorker(ctx, "w"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	}
	if n := in.stats.Load() - before; n != 1 {
		t.Fatalf("5 lookups of a deleted worker reached the store %d times, want 1", n)
	}
	if err := c.DeleteWorker(ctx, "w"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// Secrets: a rotated value is the next lookup's, a deleted one is not found.
func TestCacheSecrets(t *testing.T) {
	ctx := context.Background()
	c, in := open(t, 0)
	for _, v := range []string{"a", "b", "c"} {
		if err := c.PutSecret(ctx, "tok", v); err != nil {
			t.Fatal(err)
		}
		before := in.secrets.Load()
		for range 3 {
			if got, err := c.GetSecret(ctx, "tok"); err != nil || got != v {
				t.Fatalf("after rotation to %q: %q %v", v, got, err)
			}
		}
		if n := in.secrets.Load() - before; n != 1 {
			t.Fatalf("3 lookups reached the store %d times", n)
		}
	}
	if err := c.DeleteSecret(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecret(ctx, "tok"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted secret: %v", err)
	}
}

// A bounded cache holds at most its bound and still answers every worker right.
func TestCacheBound(t *testing.T) {
	ctx := context.Background()
	c, in := open(t, 3)
	for i := range 10 {
		if _, err := c.PutWorker(ctx, store.Worker{ID: fmt.Sprint(i), Hash: fmt.Sprint("sha256:", i), Code: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		for i := range 10 {
			if w, err := c.StatWorker(ctx, fmt.Sprint(i)); err != nil || w.Hash != fmt.Sprint("sha256:", i) {
				t.Fatalf("round %d, worker %d: %+v %v", round, i, w, err)
			}
		}
	}
	// 20 lookups of 10 workers through 3 entries: most miss, none is wrong.
	if n := in.stats.Load(); n < 10 {
		t.Fatalf("only %d lookups reached the store", n)
	}
}

// Lookups racing puts never keep a hash older than the last put that returned: once the
// writer stops, every reader sees the last version.
func TestCacheConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	c, _ := open(t, 0)
	if _, err := c.PutWorker(ctx, store.Worker{ID: "w", Hash: "sha256:0", Code: []byte("0")}); err != nil {
		t.Fatal(err)
	}
	var last atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := last.Load()
				w, err := c.StatWorker(ctx, "w")
				var v int64
				if err == nil {
					_, err = fmt.Sscanf(w.Hash, "sha256:%d", &v)
				}
				if err == nil && v < floor {
					err = fmt.Errorf("a lookup after the put of %d answered %d", floor, v)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for v := 1; v <= 200; v++ {
		if _, err := c.PutWorker(ctx, store.Worker{ID: "w", Hash: fmt.Sprint("sha256:", v), Code: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		last.Store(int64(v))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if w, err := c.StatWorker(ctx, "w"); err != nil || w.Hash != "sha256:200" {
		t.Fatalf("at the end: %+v %v", w, err)
	}
}

// Asking for many ids that do not exist (a tenant probing) does not push the stored workers
// out of the cache: they are still answered without a query, and the unknown ids stay
// unknown.
func TestCacheUnknownIDsDoNotEvictWorkers(t *testing.T) {
	ctx := context.Background()
	c, in := open(t, 10)
	for i := range 3 {
		if _, err := c.PutWorker(ctx, store.Worker{ID: fmt.Sprint("w", i), Hash: "sha256:x", Code: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.StatWorker(ctx, fmt.Sprint("w", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		if _, err := c.StatWorker(ctx, fmt.Sprint("nope", i)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
	}
	before := in.stats.Load()
	for i := range 3 {
		if w, err := c.StatWorker(ctx, fmt.Sprint("w", i)); err != nil || w.Hash != "sha256:x" {
			t.Fatalf("w%d: %+v %v", i, w, err)
		}
	}
	if n := in.stats.Load() - before; n != 0 {
		t.Fatalf("after 100 unknown ids, the 3 stored workers took %d queries", n)
	}
}
