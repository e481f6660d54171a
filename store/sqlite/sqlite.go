// Package sqlite is the one-machine implementation of store.Store: one SQLite database file
// (modernc.org/sqlite, pure Go, no cgo) in write-ahead-log mode.
//
//	st, err := sqlite.Open(filepath.Join(dataDir, "isobox.db"))
//	defer st.Close()
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/isobox/isobox/internal/sqlitefile"
	"github.com/isobox/isobox/internal/sqlmigrate"
	"github.com/isobox/isobox/store"
)

// Store is a store.Store over one SQLite file. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	stat *sql.Stmt // StatWorker runs on every invocation: parse its SQL once
	get  *sql.Stmt
}

var _ store.Store = (*Store)(nil)

// migrations bring the schema from version i to i+1 (PRAGMA user_version).
var migrations = []string{
	`CREATE TABLE workers (
		id         TEXT PRIMARY KEY,
		hash       TEXT NOT NULL,
		code       BLOB NOT NULL,
		size       INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE api_keys (
		name       TEXT PRIMARY KEY,
		hash       BLOB NOT NULL,
		admin      INTEGER NOT NULL,
		created_at INTEGER NOT NULL
	) WITHOUT ROWID;`,
	`CREATE TABLE secrets (
		name       TEXT PRIMARY KEY,
		value      TEXT NOT NULL,
		updated_at INTEGER NOT NULL
	) WITHOUT ROWID;`,
	// Tenants and scoped keys: the keys before them (the operator's, named "admin") move to
	// the new table under the id they had as a name, in tenant "default".
	`CREATE TABLE tenants (
		name       TEXT PRIMARY KEY,
		settings   BLOB NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE keys (
		id         TEXT PRIMARY KEY,
		tenant     TEXT NOT NULL,
		name       TEXT NOT NULL,
		scopes     TEXT NOT NULL,
		operator   INTEGER NOT NULL,
		hash       BLOB NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		revoked_at INTEGER NOT NULL
	) WITHOUT ROWID;
	INSERT INTO keys (id, tenant, name, scopes, operator, hash, created_at, expires_at, revoked_at)
		SELECT name, 'default', name, CASE WHEN admin THEN 'admin,deploy,invoke,read' ELSE '' END, admin, hash, created_at, 0, 0 FROM api_keys;
	DROP TABLE api_keys;`,
}

// Open opens (creating if needed) the database at path, owner-readable only, and brings
// its schema up to date.
//
// # Errors
//
// It fails when the file cannot be opened or written, or was written by a newer isobox
// (a schema version this build does not know).
func Open(path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	f.Close()
	dsn, err := sqlitefile.DSN(path, q)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// WAL lets readers run beside the one writer; a bounded pool keeps a burst of
	// invocations (one StatWorker each) from opening a connection apiece.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	s := &Store{db: db}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	if s.stat, err = db.Prepare("SELECT hash, size, created_at, updated_at FROM workers WHERE id = ?"); err == nil {
		s.get, err = db.Prepare("SELECT hash, code, size, created_at, updated_at FROM workers WHERE id = ?")
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate() error {
	return sqlmigrate.Apply(context.Background(), s.db, migrations)
}

// Close closes the database.
func (s *Store) Close() error {
	s.stat.Close()
	s.get.Close()
	return s.db.Close()
}

// PutWorker implements store.Store.
func (s *Store) PutWorker(ctx context.Context, w store.Worker) (bool, error) {
	now := time.Now().UnixNano()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: put worker %q: %w", w.ID, err)
	}
	defer tx.Rollback()
	var exists int
	err = tx.QueryRowContext(ctx, "SELECT 1 FROM workers WHERE id = ?", w.ID).Scan(&exists)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("store: put worker %q: %w", w.ID, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO workers (id, hash, code, size, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, code = excluded.code,
			size = excluded.size, updated_at = excluded.updated_at`,
		w.ID, w.Hash, w.Code, len(w.Code), now, now)
	if err != nil {
		return false, fmt.Errorf("store: put worker %q: %w", w.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: put worker %q: %w", w.ID, err)
	}
	return exists == 0, nil
}

// GetWorker implements store.Store.
func (s *Store) GetWorker(ctx context.Context, id string) (store.Worker, error) {
	return s.getWorker(ctx, id, true)
}

// StatWorker implements store.Store.
func (s *Store) StatWorker(ctx context.Context, id string) (store.Worker, error) {
	return s.getWorker(ctx, id, false)
}

func (s *Store) getWorker(ctx context.Context, id string, withCode bool) (store.Worker, error) {
	w := store.Worker{ID: id}
	var created, updated int64
	var err error
	if withCode {
		err = s.get.QueryRowContext(ctx, id).Scan(&w.Hash, &w.Code, &w.Size, &created, &updated)
	} else {
		err = s.stat.QueryRowContext(ctx, id).Scan(&w.Hash, &w.Size, &created, &updated)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("worker %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return w, fmt.Errorf("store: get worker %q: %w", id, err)
	}
	w.CreatedAt, w.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return w, nil
}

// DeleteWorker implements store.Store.
func (s *Store) DeleteWorker(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM workers WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("store: delete worker %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("worker %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// ListWorkers implements store.Store.
func (s *Store) ListWorkers(ctx context.Context, after string, limit int) ([]store.Worker, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT id, hash, size, created_at, updated_at FROM workers WHERE id > ? ORDER BY id LIMIT ?", after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list workers: %w", err)
	}
	defer rows.Close()
	out := []store.Worker{}
	for rows.Next() {
		var w store.Worker
		var created, updated int64
		if err := rows.Scan(&w.ID, &w.Hash, &w.Size, &created, &updated); err != nil {
			return nil, fmt.Errorf("store: list workers: %w", err)
		}
		w.CreatedAt, w.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list workers: %w", err)
	}
	return out, nil
}

// PutKey implements store.Store.
func (s *Store) PutKey(ctx context.Context, k store.Key) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO keys (id, tenant, name, scopes, operator, hash, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, name = excluded.name, scopes = excluded.scopes,
			operator = excluded.operator, hash = excluded.hash, created_at = excluded.created_at,
			expires_at = excluded.expires_at, revoked_at = excluded.revoked_at`,
		k.ID, k.Tenant, k.Name, strings.Join(k.Scopes, ","), k.Operator, k.Hash, k.CreatedAt.UnixNano(), nanos(k.ExpiresAt), nanos(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("store: put key %q: %w", k.ID, err)
	}
	return nil
}

// nanos is t in Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is nanos's inverse.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// ListKeys implements store.Store.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, tenant, name, scopes, operator, hash, created_at, expires_at, revoked_at FROM keys ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store: list keys: %w", err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		var k store.Key
		var scopes string
		var created, expires, revoked int64
		if err := rows.Scan(&k.ID, &k.Tenant, &k.Name, &scopes, &k.Operator, &k.Hash, &created, &expires, &revoked); err != nil {
			return nil, fmt.Errorf("store: list keys: %w", err)
		}
		if scopes != "" {
			k.Scopes = strings.Split(scopes, ",")
		}
		k.CreatedAt, k.ExpiresAt, k.RevokedAt = fromNanos(created), fromNanos(expires), fromNanos(revoked)
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteKey implements store.Store.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM keys WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("store: delete key %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// PutTenant implements store.Store.
func (s *Store) PutTenant(ctx context.Context, t store.Tenant) (bool, error) {
	now := time.Now().UnixNano()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: put tenant %q: %w", t.Name, err)
	}
	defer tx.Rollback()
	var exists int
	err = tx.QueryRowContext(ctx, "SELECT 1 FROM tenants WHERE name = ?", t.Name).Scan(&exists)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("store: put tenant %q: %w", t.Name, err)
	}
	if t.Settings == nil {
		t.Settings = []byte("{}")
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tenants (name, settings, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
		t.Name, t.Settings, now, now)
	if err != nil {
		return false, fmt.Errorf("store: put tenant %q: %w", t.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: put tenant %q: %w", t.Name, err)
	}
	return exists == 0, nil
}

// ListTenants implements store.Store.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, settings, created_at, updated_at FROM tenants ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: list tenants: %w", err)
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		var t store.Tenant
		var created, updated int64
		if err := rows.Scan(&t.Name, &t.Settings, &created, &updated); err != nil {
			return nil, fmt.Errorf("store: list tenants: %w", err)
		}
		t.CreatedAt, t.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteTenant implements store.Store.
func (s *Store) DeleteTenant(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM tenants WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("store: delete tenant %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("tenant %q: %w", name, store.ErrNotFound)
	}
	return nil
}

// PutSecret implements store.Store.
func (s *Store) PutSecret(ctx context.Context, name, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("store: put secret %q: %w", name, err)
	}
	return nil
}

// GetSecret implements store.Store.
func (s *Store) GetSecret(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: get secret %q: %w", name, err)
	}
	return v, nil
}

// DeleteSecret implements store.Store.
func (s *Store) DeleteSecret(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM secrets WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("store: delete secret %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	return nil
}

// ListSecrets implements store.Store.
func (s *Store) ListSecrets(ctx context.Context) ([]store.Secret, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, updated_at FROM secrets ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: list secrets: %w", err)
	}
	defer rows.Close()
	var out []store.Secret
	for rows.Next() {
		var sec store.Secret
		var at int64
		if err := rows.Scan(&sec.Name, &at); err != nil {
			return nil, fmt.Errorf("store: list secrets: %w", err)
		}
		sec.UpdatedAt = time.Unix(0, at).UTC()
		out = append(out, sec)
	}
	return out, rows.Err()
}
