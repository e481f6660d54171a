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
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

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
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys (name, hash, admin, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, admin = excluded.admin, created_at = excluded.created_at`,
		k.Name, k.Hash, k.Admin, k.CreatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("store: put key %q: %w", k.Name, err)
	}
	return nil
}

// ListKeys implements store.Store.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, hash, admin, created_at FROM api_keys ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: list keys: %w", err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		var k store.Key
		var created int64
		if err := rows.Scan(&k.Name, &k.Hash, &k.Admin, &created); err != nil {
			return nil, fmt.Errorf("store: list keys: %w", err)
		}
		k.CreatedAt = time.Unix(0, created).UTC()
		out = append(out, k)
	}
	return out, rows.Err()
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
