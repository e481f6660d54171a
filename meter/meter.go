// Package meter records usage as Cloudflare prices Dynamic Workers — unique workers loaded
// per day (worker id + code hash), invocations, CPU ms — plus wall ms, egress bytes and
// storage byte-days, per tenant and UTC day. Record adds to totals in memory; a goroutine
// writes them to SQLite in one transaction about once a second, off the request path, so a
// crash (kill -9) loses at most the last interval.
//
//	m, err := meter.Open(ctx, meter.Options{Path: filepath.Join(dir, "usage.db")})
//	m.Record(meter.Usage{Tenant: "default", Worker: "hello", CodeHash: h, Invocations: 1, CPU: cpu, Wall: wall})
//	rows, err := m.Query(ctx, meter.Query{From: day, To: day, GroupBy: meter.ByDay})
//	defer m.Close(ctx) // writes what is left
package meter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/isobox/isobox/internal/sqlitefile"
)

// Usage is what one event adds to a tenant's day: an invocation, an outbound request's
// bytes, a one-shot load. Zero fields add nothing.
type Usage struct {
	Tenant string
	// Worker and CodeHash name the worker version; "" for one-shot loads and tenant-level
	// usage (storage).
	Worker   string
	CodeHash string
	// Time is when it happened (zero: now); it picks the UTC day.
	Time        time.Time
	Invocations int64
	// Loads counts one-shot loads (each is a unique worker for the day: /v1/run, Code
	// Mode, snippets).
	Loads       int64
	CPU         time.Duration
	Wall        time.Duration
	EgressBytes int64
	// StorageByteSeconds is stored bytes times the seconds they were held.
	StorageByteSeconds float64
}

// Options configure Open.
type Options struct {
	// Path is the SQLite file (created, mode 0600); "" keeps the usage in memory only.
	Path string
	// FlushInterval is how often pending usage is written (1 s): the most a crash loses.
	FlushInterval time.Duration
	// Logger receives write failures (the usage stays pending and is written with the next
	// batch). nil: slog.Default().
	Logger *slog.Logger
}

// key is one row: a tenant's day for one worker version.
type key struct {
	tenant, worker, hash string
	day                  int64 // Unix days (UTC)
}

type totals struct {
	invocations, loads, cpuUs, wallUs, egress int64
	storage                                   float64
}

func (t *totals) add(u *Usage) {
	t.invocations += u.Invocations
	t.loads += u.Loads
	t.cpuUs += u.CPU.Microseconds()
	t.wallUs += u.Wall.Microseconds()
	t.egress += u.EgressBytes
	t.storage += u.StorageByteSeconds
}

func (t *totals) merge(o *totals) {
	t.invocations += o.invocations
	t.loads += o.loads
	t.cpuUs += o.cpuUs
	t.wallUs += o.wallUs
	t.egress += o.egress
	t.storage += o.storage
}

// Meter aggregates usage in memory and writes it in batches. It is safe for concurrent use.
type Meter struct {
	db     *sql.DB
	log    *slog.Logger
	every  time.Duration
	flushM sync.Mutex // one batch at a time

	mu      sync.Mutex
	pending map[key]*totals
	closed  bool

	stop chan struct{}
	done chan struct{}
}

const schema = `CREATE TABLE IF NOT EXISTS usage (
	tenant       TEXT NOT NULL,
	day          TEXT NOT NULL,
	worker       TEXT NOT NULL,
	code_hash    TEXT NOT NULL,
	invocations  INTEGER NOT NULL DEFAULT 0,
	loads        INTEGER NOT NULL DEFAULT 0,
	cpu_us       INTEGER NOT NULL DEFAULT 0,
	wall_us      INTEGER NOT NULL DEFAULT 0,
	egress_bytes INTEGER NOT NULL DEFAULT 0,
	storage_byte_seconds REAL NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant, day, worker, code_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS usage_day ON usage (day, tenant);`

// Open opens (creating) the usage database and starts the writer.
//
// # Errors
//
// The file cannot be created or opened, or is not a usage database.
func Open(ctx context.Context, o Options) (*Meter, error) {
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dsn := "file::memory:"
	if o.Path != "" {
		f, err := os.OpenFile(o.Path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("meter: open %s: %w", o.Path, err)
		}
		f.Close()
		q := url.Values{}
		// WAL with synchronous=NORMAL: a committed batch survives the process being
		// killed (not a power cut, which may lose the last batches).
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		if dsn, err = sqlitefile.DSN(o.Path, q); err != nil {
			return nil, fmt.Errorf("meter: open %s: %w", o.Path, err)
		}
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("meter: open %s: %w", o.Path, err)
	}
	if o.Path == "" {
		db.SetMaxOpenConns(1) // one in-memory database, not one per connection
	} else {
		db.SetMaxOpenConns(4)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("meter: %s: %w", o.Path, err)
	}
	m := &Meter{db: db, log: o.Logger, every: o.FlushInterval, pending: map[key]*totals{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go m.loop()
	return m, nil
}

// Record adds u to its tenant's day in memory; the writer stores it within FlushInterval.
// It never blocks on the database. Usage recorded after Close is dropped.
func (m *Meter) Record(u Usage) {
	if u.Time.IsZero() {
		u.Time = time.Now()
	}
	k := key{tenant: u.Tenant, worker: u.Worker, hash: u.CodeHash, day: u.Time.Unix() / 86400}
	m.mu.Lock()
	if !m.closed {
		t := m.pending[k]
		if t == nil {
			t = &totals{}
			m.pending[k] = t
		}
		t.add(&u)
	}
	m.mu.Unlock()
}

func (m *Meter) loop() {
	defer close(m.done)
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			if err := m.Flush(context.Background()); err != nil {
				m.log.Error("isobox: usage not written yet (kept for the next batch)", "err", err)
			}
		}
	}
}

// Flush writes the pending usage now, in one transaction. On failure the batch stays
// pending.
func (m *Meter) Flush(ctx context.Context) error {
	m.flushM.Lock()
	defer m.flushM.Unlock()
	m.mu.Lock()
	batch := m.pending
	m.pending = map[key]*totals{}
	m.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := m.write(ctx, batch)
	if err != nil {
		m.mu.Lock()
		for k, t := range batch {
			if p := m.pending[k]; p != nil {
				p.merge(t)
			} else {
				m.pending[k] = t
			}
		}
		m.mu.Unlock()
	}
	return err
}

func (m *Meter) write(ctx context.Context, batch map[key]*totals) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("meter: write: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO usage (tenant, day, worker, code_hash, invocations, loads, cpu_us, wall_us, egress_bytes, storage_byte_seconds)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, day, worker, code_hash) DO UPDATE SET
			invocations = invocations + excluded.invocations, loads = loads + excluded.loads,
			cpu_us = cpu_us + excluded.cpu_us, wall_us = wall_us + excluded.wall_us,
			egress_bytes = egress_bytes + excluded.egress_bytes,
			storage_byte_seconds = storage_byte_seconds + excluded.storage_byte_seconds`)
	if err != nil {
		return fmt.Errorf("meter: write: %w", err)
	}
	defer st.Close()
	for k, t := range batch {
		if _, err := st.ExecContext(ctx, k.tenant, dayString(k.day), k.worker, k.hash,
			t.invocations, t.loads, t.cpuUs, t.wallUs, t.egress, t.storage); err != nil {
			return fmt.Errorf("meter: write: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("meter: write: %w", err)
	}
	return nil
}

// Close stops the writer, writes what is pending and closes the database.
func (m *Meter) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	close(m.stop)
	<-m.done
	err := m.Flush(ctx)
	return errors.Join(err, m.db.Close())
}

// dayString is Unix day d as YYYY-MM-DD.
func dayString(d int64) string { return time.Unix(d*86400, 0).UTC().Format(time.DateOnly) }
