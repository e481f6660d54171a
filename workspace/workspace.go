// Package workspace is isobox's persistent virtual filesystem: named workspaces, each a
// tree of files, directories and symlinks, kept in one SQLite file of the data directory.
// Sandboxes reach a workspace only through a binding (env.FS, see Serve); the host keeps
// the store. Callers depend on the Store interface; SQLite (Open) implements it for one
// server, and a clustered store can implement it later without changing them.
//
// A write is durable when it returns: the database runs in WAL mode with
// synchronous=FULL, so a committed write survives kill -9 and a power cut alike. A file's
// content is kept in chunks of ChunkSize bytes: Write streams its reader into chunks that
// no file references yet, and one short transaction then checks the quota and the
// condition (IfMatch) and swaps the file to them, so a reader never sees a partial file and
// a failed or killed write leaves nothing visible (its chunks are collected at the next
// Open).
//
//	ws, err := workspace.Open(filepath.Join(dataDir, "workspaces.db"), workspace.Limits{})
//	info, err := ws.Write(ctx, "proj", "src/a.txt", strings.NewReader("hi"), workspace.WriteOptions{})
//	rc, _, err := ws.Read(ctx, "proj", "src/a.txt")
package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/internal/sqlitefile"
	"github.com/isobox/isobox/internal/sqlmigrate"
	"github.com/isobox/isobox/isoerr"
)

// ChunkSize is the size of the chunks a file's content is kept in.
const ChunkSize = 256 << 10

// stageBatch is how many chunks one staging transaction writes.
const stageBatch = 16

// maxLinks is how many symlinks one path may go through.
const maxLinks = 40

// Limits bound every workspace of a store (SetQuota changes one workspace's bytes and
// entries). Zero fields take the defaults.
type Limits struct {
	MaxBytes    int64 // content bytes per workspace (default 1 GiB)
	MaxFiles    int64 // entries (files, directories, symlinks) per workspace (default 100,000)
	MaxFileSize int64 // bytes of one file (default 100 MiB)
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 1 << 30
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 100_000
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = 100 << 20
	}
	return l
}

// Kind is what a path names.
type Kind string

// The kinds of entries.
const (
	File    Kind = "file"
	Dir     Kind = "directory"
	Symlink Kind = "symlink"
)

// Info describes one entry.
type Info struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	Type   Kind   `json:"type"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag,omitempty"`   // files: changes on every write
	Target string `json:"target,omitempty"` // symlinks: the link's text
	// ContentType is the media type the file was last written with (WriteOptions), if any.
	ContentType string    `json:"contentType,omitempty"`
	Created     time.Time `json:"createdAt"`
	Modified    time.Time `json:"updatedAt"`
}

// Usage is what a workspace holds, and its quota.
type Usage struct {
	Name     string `json:"name"`
	Bytes    int64  `json:"bytes"`
	Files    int64  `json:"files"` // entries: files, directories and symlinks (the root not counted)
	MaxBytes int64  `json:"maxBytes"`
	MaxFiles int64  `json:"maxFiles"`
}

// SQLite is the Store kept in one SQLite file (Open): the store of a single isobox
// server. It is safe for concurrent use.
type SQLite struct {
	db   *sql.DB
	lim  Limits
	grow atomic.Pointer[GrowCheck] // SetGrowCheck
	// wmu serialises write transactions in this process: SQLite has one writer anyway, and
	// waiting here instead of in SQLite's busy handler keeps writers in order.
	wmu sync.Mutex
}

var migrations = []string{
	`CREATE TABLE workspaces (
		name       TEXT PRIMARY KEY,
		bytes      INTEGER NOT NULL,
		files      INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		max_bytes  INTEGER NOT NULL DEFAULT 0, -- 0: Limits.MaxBytes
		max_files  INTEGER NOT NULL DEFAULT 0  -- 0: Limits.MaxFiles
	) WITHOUT ROWID;
	CREATE TABLE nodes (
		ws       TEXT NOT NULL,
		path     TEXT NOT NULL,
		parent   TEXT NOT NULL,
		kind     TEXT NOT NULL,
		size     INTEGER NOT NULL,
		blob     INTEGER,
		version  INTEGER NOT NULL,
		target   TEXT,
		created  INTEGER NOT NULL,
		modified INTEGER NOT NULL,
		PRIMARY KEY (ws, path)
	) WITHOUT ROWID;
	CREATE INDEX nodes_parent ON nodes (ws, parent);
	CREATE TABLE blobs (id INTEGER PRIMARY KEY AUTOINCREMENT);
	CREATE TABLE chunks (
		blob INTEGER NOT NULL,
		seq  INTEGER NOT NULL,
		data BLOB NOT NULL,
		PRIMARY KEY (blob, seq)
	) WITHOUT ROWID;`,
	// The media type a file was written with (WriteOptions.ContentType; '' for none).
	`ALTER TABLE nodes ADD COLUMN content_type TEXT NOT NULL DEFAULT '';`,
}

// Open opens (creating if needed) the workspace database at path, owner-readable only,
// brings its schema up to date and removes the chunks of writes that never committed.
//
// # Errors
//
// It fails when the file cannot be opened or written, or has a newer schema.
func Open(path string, lim Limits) (*SQLite, error) {
	q := url.Values{}
	// FULL: every commit fsyncs the WAL, so an acknowledged write survives a power cut, not
	// only kill -9 (which NORMAL would survive). RATIONALE §21 has the cost.
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(OFF)", "mmap_size(1073741824)"} {
		q.Add("_pragma", p)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("workspace: open %s: %w", path, err)
	}
	f.Close()
	dsn, err := sqlitefile.DSN(path, q)
	if err != nil {
		return nil, fmt.Errorf("workspace: open %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("workspace: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	s := &SQLite{db: db, lim: lim.withDefaults()}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("workspace: %s: %w", path, err)
	}
	if err := s.collect(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("workspace: %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// Limits returns the store's limits, defaults filled in.
func (s *SQLite) Limits() Limits { return s.lim }

func (s *SQLite) migrate() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return sqlmigrate.Apply(context.Background(), s.db, migrations)
}

// collect deletes staged chunks that no entry references: what writes that failed or
// were killed left behind.
func (s *SQLite) collect(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM chunks WHERE blob NOT IN (SELECT blob FROM nodes WHERE blob IS NOT NULL)`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE id NOT IN (SELECT blob FROM nodes WHERE blob IS NOT NULL)`)
		return err
	})
}

// write runs fn in a write transaction, one at a time.
func (s *SQLite) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("workspace: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("workspace: commit: %w", err)
	}
	return nil
}

// node is one row of nodes.
type node struct {
	path, kind, target string
	contentType        string
	size, version      int64
	blob               sql.NullInt64
	created, modified  int64
}

func (n *node) info() Info {
	i := Info{Path: n.path, Name: baseOf(n.path), Type: Kind(n.kind), Size: n.size, Target: n.target, ContentType: n.contentType,
		Created: time.Unix(0, n.created).UTC(), Modified: time.Unix(0, n.modified).UTC()}
	if n.kind == string(File) {
		i.ETag = etag(n.version)
	}
	return i
}

func etag(version int64) string { return "v" + strconv.FormatInt(version, 36) }

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const nodeCols = `path, kind, size, blob, version, COALESCE(target, ''), created, modified, content_type`

func scanNode(sc interface{ Scan(...any) error }) (*node, error) {
	n := &node{}
	err := sc.Scan(&n.path, &n.kind, &n.size, &n.blob, &n.version, &n.target, &n.created, &n.modified, &n.contentType)
	return n, err
}

// get returns the entry at clean path p (the root is a directory), or nil.
func get(ctx context.Context, q querier, ws, p string) (*node, error) {
	if p == "/" {
		return &node{path: "/", kind: string(Dir)}, nil
	}
	n, err := scanNode(q.QueryRowContext(ctx, `SELECT `+nodeCols+` FROM nodes WHERE ws = ? AND path = ?`, ws, p))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("workspace: %s: %w", p, err)
	}
	return n, nil
}

// resolve follows the symlinks of clean path p: every directory on the way and, when
// follow is set, the last name too. It returns the resolved path and its entry (nil when
// it, or a directory on the way, does not exist; the path is still the one a create
// would use).
func resolve(ctx context.Context, q querier, ws, p string, follow bool) (string, *node, error) {
	links := 0
	for {
		names := strings.Split(p, "/")[1:]
		if p == "/" {
			names = nil
		}
		cur := "/"
		restarted := false
		for i, name := range names {
			next := cur + name
			if cur != "/" {
				next = cur + "/" + name
			}
			last := i == len(names)-1
			n, err := get(ctx, q, ws, next)
			if err != nil {
				return "", nil, err
			}
			if n == nil {
				// Missing: nothing below can be a link, so the rest is the path a create uses.
				rest, err := join(next, strings.Join(names[i+1:], "/"))
				return rest, nil, err
			}
			if n.kind == string(Symlink) && (!last || follow) {
				links++
				if links > maxLinks {
					return "", nil, isoerr.New(isoerr.InvalidRequest, "%s: more than %d levels of symbolic links", p, maxLinks)
				}
				t, err := join(cur, n.target)
				if err != nil {
					return "", nil, err
				}
				rest := strings.Join(names[i+1:], "/")
				if p, err = join(t, rest); err != nil {
					return "", nil, err
				}
				if rest == "" {
					p = t
				}
				restarted = true
				break
			}
			if !last && n.kind != string(Dir) {
				return "", nil, isoerr.New(isoerr.Conflict, "%s: not a directory", next)
			}
			if last {
				return next, n, nil
			}
			cur = next
		}
		if !restarted {
			return "/", &node{path: "/", kind: string(Dir)}, nil
		}
	}
}

// check validates a workspace name (scoped to a tenant or not: api.CheckScoped) and cleans
// a path.
func check(ws, p string) (string, error) {
	if err := api.CheckScoped(ws, api.CheckWorkspaceName); err != nil {
		return "", err
	}
	return Clean(p)
}

// usage returns a workspace's totals and quota (zero for a new one; the store's limits
// where the workspace sets none).
func (s *SQLite) usage(ctx context.Context, q querier, ws string) (Usage, error) {
	u := Usage{Name: ws}
	err := q.QueryRowContext(ctx, `SELECT bytes, files, max_bytes, max_files FROM workspaces WHERE name = ?`, ws).Scan(&u.Bytes, &u.Files, &u.MaxBytes, &u.MaxFiles)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Usage{}, err
	}
	if u.MaxBytes <= 0 {
		u.MaxBytes = s.lim.MaxBytes
	}
	if u.MaxFiles <= 0 {
		u.MaxFiles = s.lim.MaxFiles
	}
	return u, nil
}

// GrowCheck is asked, inside the transaction of every write that grows workspace ws by
// dBytes content bytes (a file, an append, a copy, a replacement, an extraction, a shell
// command's writes: every write goes through it), whether it may: an error refuses the
// write and nothing of it is written. tenantBytes returns the content bytes all the
// workspaces of ws's tenant hold before the write (the tenant part of the scoped name,
// api.SplitScoped), read in the same transaction; a check that needs no total never pays
// for it.
type GrowCheck func(ctx context.Context, ws string, dBytes int64, tenantBytes func() (int64, error)) error

// SetGrowCheck makes f the store's GrowCheck (nil: none): the server's tenant storage quota.
func (s *SQLite) SetGrowCheck(f GrowCheck) {
	if f == nil {
		s.grow.Store(nil)
		return
	}
	s.grow.Store(&f)
}

// tenantBytes is the content bytes of every workspace of ws's tenant: a range of the
// primary key for a named tenant, the names without a tenant for the default one.
func tenantBytes(ctx context.Context, q querier, ws string) (int64, error) {
	var n int64
	var err error
	if t, _ := api.SplitScoped(ws); t == api.DefaultTenant && !strings.ContainsRune(ws, api.TenantSep) {
		err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(bytes), 0) FROM workspaces WHERE instr(name, '~') = 0`).Scan(&n)
	} else {
		lo := t + string(rune(api.TenantSep))
		err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(bytes), 0) FROM workspaces WHERE name >= ? AND name < ?`, lo, t+"\x7f").Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("workspace: tenant usage: %w", err)
	}
	return n, nil
}

// account adds dBytes and dFiles to ws's totals, refusing to go past the limits when they
// grow (the workspace's quota, then the store's GrowCheck).
func (s *SQLite) account(ctx context.Context, tx *sql.Tx, ws string, dBytes, dFiles int64) error {
	u, err := s.usage(ctx, tx, ws)
	if err != nil {
		return fmt.Errorf("workspace: usage: %w", err)
	}
	if dBytes > 0 && u.Bytes+dBytes > u.MaxBytes {
		return isoerr.New(isoerr.QuotaExceeded, "workspace %q would hold %d bytes; its quota is %d", ws, u.Bytes+dBytes, u.MaxBytes)
	}
	if g := s.grow.Load(); g != nil && dBytes > 0 {
		if err := (*g)(ctx, ws, dBytes, func() (int64, error) { return tenantBytes(ctx, tx, ws) }); err != nil {
			return err
		}
	}
	if dFiles > 0 && u.Files+dFiles > u.MaxFiles {
		return isoerr.New(isoerr.QuotaExceeded, "workspace %q would hold %d entries; its quota is %d", ws, u.Files+dFiles, u.MaxFiles)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO workspaces (name, bytes, files, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET bytes = bytes + excluded.bytes, files = files + excluded.files`,
		ws, dBytes, dFiles, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("workspace: usage: %w", err)
	}
	return nil
}

// mkdirs creates the missing directories of clean directory path dir (like mkdir -p),
// inside tx, and returns how many it created. A name on the way that is not a directory
// is a conflict.
func (s *SQLite) mkdirs(ctx context.Context, tx *sql.Tx, ws, dir string, now int64) (int64, error) {
	if dir == "/" {
		return 0, nil
	}
	n, err := get(ctx, tx, ws, dir)
	if err != nil {
		return 0, err
	}
	if n != nil {
		if n.kind != string(Dir) {
			return 0, isoerr.New(isoerr.Conflict, "%s: not a directory", dir)
		}
		return 0, nil
	}
	made, err := s.mkdirs(ctx, tx, ws, parentOf(dir), now)
	if err != nil {
		return 0, err
	}
	if err := insert(ctx, tx, ws, &node{path: dir, kind: string(Dir), version: now, created: now, modified: now}); err != nil {
		return 0, err
	}
	return made + 1, nil
}

func insert(ctx context.Context, tx *sql.Tx, ws string, n *node) error {
	var target any
	if n.kind == string(Symlink) {
		target = n.target
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO nodes (ws, path, parent, kind, size, blob, version, target, created, modified, content_type)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ws, n.path, parentOf(n.path), n.kind, n.size, n.blob, n.version, target, n.created, n.modified, n.contentType)
	if err != nil {
		return fmt.Errorf("workspace: %s: %w", n.path, err)
	}
	return nil
}

// dropBlob deletes a blob's chunks.
func dropBlob(ctx context.Context, tx *sql.Tx, blob sql.NullInt64) error {
	if !blob.Valid {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM chunks WHERE blob = ?`, blob.Int64); err != nil {
		return fmt.Errorf("workspace: drop content: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE id = ?`, blob.Int64); err != nil {
		return fmt.Errorf("workspace: drop content: %w", err)
	}
	return nil
}

// readAll is a helper for small reads: the whole content of r, at most max bytes.
func readAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, isoerr.New(isoerr.FileTooLarge, "the file is larger than %d bytes, the most that can be read at once", max)
	}
	return b, nil
}
