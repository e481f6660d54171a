package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

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

// A database written before tenants (schema 2: one admin key in api_keys) opens with its
// key as the operator's, in tenant default, under the id it had as a name; its workers
// and secrets stay where they were.
func TestMigrationToTenants(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "isobox.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(migrations[:2:2],
		`INSERT INTO api_keys (name, hash, admin, created_at) VALUES ('admin', x'0102', 1, 1000)`,
		`INSERT INTO workers (id, hash, code, size, created_at, updated_at) VALUES ('hello', 'h', x'7b7d', 2, 1, 1)`,
		`INSERT INTO secrets (name, value, updated_at) VALUES ('tok', 'v', 1)`,
		`PRAGMA user_version = 2`) {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	s := open(t, path)
	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %+v %v", keys, err)
	}
	k := keys[0]
	if k.ID != "admin" || k.Tenant != "default" || !k.Operator || !bytes.Equal(k.Hash, []byte{1, 2}) || k.CreatedAt.UnixNano() != 1000 ||
		!k.ExpiresAt.IsZero() || !k.RevokedAt.IsZero() || len(k.Scopes) != 4 {
		t.Fatalf("migrated key: %+v", k)
	}
	if w, err := s.GetWorker(ctx, "hello"); err != nil || string(w.Code) != "{}" {
		t.Fatalf("worker after migration: %+v %v", w, err)
	}
	if v, err := s.GetSecret(ctx, "tok"); err != nil || v != "v" {
		t.Fatalf("secret after migration: %q %v", v, err)
	}
}

func TestTenantsAndKeys(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "isobox.db"))
	created, err := s.PutTenant(ctx, store.Tenant{Name: "acme", Settings: []byte(`{"allowPrivate":true}`)})
	if err != nil || !created {
		t.Fatalf("put: %v %v", created, err)
	}
	if created, err = s.PutTenant(ctx, store.Tenant{Name: "acme", Settings: []byte(`{}`)}); err != nil || created {
		t.Fatalf("replace: %v %v", created, err)
	}
	list, err := s.ListTenants(ctx)
	if err != nil || len(list) != 1 || string(list[0].Settings) != "{}" || list[0].UpdatedAt.Before(list[0].CreatedAt) {
		t.Fatalf("tenants: %+v %v", list, err)
	}
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	k := store.Key{ID: "key_1", Tenant: "acme", Name: "ci", Scopes: []string{"read", "invoke"}, Hash: []byte{9}, ExpiresAt: exp}
	if err := s.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Name != "ci" || len(keys[0].Scopes) != 2 || !keys[0].ExpiresAt.Equal(exp) || !keys[0].RevokedAt.IsZero() {
		t.Fatalf("keys: %+v %v", keys, err)
	}
	if err := s.DeleteKey(ctx, "key_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, "key_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if err := s.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}
