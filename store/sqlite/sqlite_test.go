package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/isobox/isobox/store"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestWorkers(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "isobox.db"))

	if _, err := s.GetWorker(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}
	if err := s.DeleteWorker(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete missing: %v, want ErrNotFound", err)
	}
	created, err := s.PutWorker(ctx, store.Worker{ID: "a", Hash: "sha256:1", Code: []byte(`{"x":1}`)})
	if err != nil || !created {
		t.Fatalf("put: %v %v", created, err)
	}
	w1, _ := s.GetWorker(ctx, "a")
	created, err = s.PutWorker(ctx, store.Worker{ID: "a", Hash: "sha256:2", Code: []byte(`{"x":22}`)})
	if err != nil || created {
		t.Fatalf("replace: created=%v %v", created, err)
	}
	w, err := s.GetWorker(ctx, "a")
	if err != nil || w.Hash != "sha256:2" || string(w.Code) != `{"x":22}` || w.Size != 8 {
		t.Fatalf("get: %+v %v", w, err)
	}
	if !w.CreatedAt.Equal(w1.CreatedAt) || w.UpdatedAt.Before(w1.UpdatedAt) {
		t.Fatalf("times: created %v -> %v, updated %v -> %v", w1.CreatedAt, w.CreatedAt, w1.UpdatedAt, w.UpdatedAt)
	}
	st, err := s.StatWorker(ctx, "a")
	if err != nil || st.Code != nil || st.Hash != "sha256:2" || st.Size != 8 {
		t.Fatalf("stat: %+v %v", st, err)
	}
	for i := range 5 {
		s.PutWorker(ctx, store.Worker{ID: fmt.Sprintf("b%d", i), Hash: "h", Code: []byte("{}")})
	}
	page, err := s.ListWorkers(ctx, "a", 3)
	if err != nil || len(page) != 3 || page[0].ID != "b0" || page[2].ID != "b2" || page[0].Code != nil {
		t.Fatalf("list: %+v %v", page, err)
	}
	if err := s.DeleteWorker(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StatWorker(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestKeysSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "isobox.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutKey(ctx, store.Key{ID: "admin", Tenant: "default", Name: "admin", Hash: []byte{1, 2, 3}, Operator: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database file mode: %v %v", fi.Mode(), err)
	}
	s = open(t, path)
	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].ID != "admin" || !keys[0].Operator || !bytes.Equal(keys[0].Hash, []byte{1, 2, 3}) {
		t.Fatalf("keys after reopen: %+v %v", keys, err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "isobox.db"))
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			id := fmt.Sprintf("w%d", i%20)
			if _, err := s.PutWorker(ctx, store.Worker{ID: id, Hash: "h", Code: []byte("{}")}); err != nil {
				errs <- err
			}
			if _, err := s.StatWorker(ctx, id); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "isobox.db")
	s := open(t, path)
	if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	st, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetSecret(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
	for _, v := range []string{"one", "two"} {
		if err := st.PutSecret(ctx, "a", v); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := st.GetSecret(ctx, "a"); err != nil || v != "two" {
		t.Fatalf("get: %q %v", v, err)
	}
	list, err := st.ListSecrets(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "a" || list[0].UpdatedAt.IsZero() {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := st.DeleteSecret(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSecret(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
