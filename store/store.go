// Package store is where isobox keeps what must survive a restart: stored workers, secrets,
// tenants and the hashes of API keys. The interface is deliberately narrow (whole records by key, no
// queries) so that it can be implemented over SQLite (store/sqlite, one machine) and over a
// replicated key-value store (NATS JetStream, a cluster) alike.
//
//	st, _ := sqlite.Open(filepath.Join(dataDir, "isobox.db"))
//	created, err := st.PutWorker(ctx, store.Worker{ID: "hello", Hash: h, Code: codeJSON})
//	w, err := st.GetWorker(ctx, "hello")
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned (possibly wrapped) when a record does not exist.
var ErrNotFound = errors.New("store: not found")

// Store keeps workers, secrets, tenants and API keys. Objects of a tenant other than
// "default" are kept under scoped names (api.SplitScoped); the store does not look inside
// names. Implementations are safe for concurrent use.
type Store interface {
	// PutWorker creates or replaces the worker w.ID. CreatedAt is kept on replace and
	// UpdatedAt is set by the store; created reports whether the id was new.
	PutWorker(ctx context.Context, w Worker) (created bool, err error)
	// GetWorker returns the worker with its code, or ErrNotFound.
	GetWorker(ctx context.Context, id string) (Worker, error)
	// StatWorker returns the worker without its code (Code is nil), or ErrNotFound. It is
	// what every invocation asks, so it must be cheap.
	StatWorker(ctx context.Context, id string) (Worker, error)
	// DeleteWorker removes the worker, or returns ErrNotFound.
	DeleteWorker(ctx context.Context, id string) error
	// ListWorkers returns up to limit workers without their code, ordered by id, starting
	// after the id after ("" for the start).
	ListWorkers(ctx context.Context, after string, limit int) ([]Worker, error)

	// PutKey creates or replaces the API key k.ID.
	PutKey(ctx context.Context, k Key) error
	// ListKeys returns every API key, revoked ones included, ordered by id (hashes only;
	// the store never sees a key).
	ListKeys(ctx context.Context) ([]Key, error)
	// DeleteKey removes API key id, or returns ErrNotFound.
	DeleteKey(ctx context.Context, id string) error

	// PutTenant creates or replaces tenant t.Name. CreatedAt is kept on replace and
	// UpdatedAt is set by the store; created reports whether the name was new.
	PutTenant(ctx context.Context, t Tenant) (created bool, err error)
	// ListTenants returns every tenant, ordered by name.
	ListTenants(ctx context.Context) ([]Tenant, error)
	// DeleteTenant removes tenant name, or returns ErrNotFound.
	DeleteTenant(ctx context.Context, name string) error

	// PutSecret creates or replaces secret name (for egress credential injection).
	PutSecret(ctx context.Context, name, value string) error
	// GetSecret returns a secret's value, or ErrNotFound. Only the egress gateway calls it.
	GetSecret(ctx context.Context, name string) (string, error)
	// DeleteSecret removes a secret, or returns ErrNotFound.
	DeleteSecret(ctx context.Context, name string) error
	// ListSecrets returns every secret without its value, ordered by name.
	ListSecrets(ctx context.Context) ([]Secret, error)

	// Close releases the store.
	Close() error
}

// Secret describes a stored secret; its value is never part of it.
type Secret struct {
	Name      string
	UpdatedAt time.Time
}

// Worker is a stored worker: its WorkerCode as JSON (loader.WorkerCode's JSON form) and
// the hash that names this version of the code.
type Worker struct {
	ID string
	// Hash is "sha256:" and the hex SHA-256 of Code. A worker put again with other code
	// gets another hash, so warm sandboxes of the old code are never used for the new.
	Hash      string
	Code      []byte
	Size      int // len(Code), also set when Code is not loaded
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Key is an API key as stored: who holds it and the SHA-256 of the key (the key itself is
// shown once when created and never kept).
type Key struct {
	ID     string // "key_" and 16 hex digits; the operator's key is "admin"
	Tenant string // the tenant it acts for ("default" for the operator's)
	Name   string // the holder's label
	// Scopes are what the key may do (package tenant: admin, deploy, invoke, read).
	Scopes []string
	// Operator marks the operator's key (ISOBOX_API_KEY): every scope, every tenant.
	Operator  bool
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: not revoked
}

// Tenant is a tenant as stored: its name and its settings as JSON (package tenant's
// Settings; the store does not read them).
type Tenant struct {
	Name      string
	Settings  []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}
