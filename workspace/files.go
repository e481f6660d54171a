package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// WriteOptions make a write conditional or an append.
type WriteOptions struct {
	// IfMatch, when set, is the etag the file must have now ("*": the file must exist);
	// otherwise the write fails with precondition_failed and changes nothing.
	IfMatch string
	// IfNoneMatch "*" makes the write fail with precondition_failed when the file exists.
	IfNoneMatch string
	// Append adds the content at the end of the file (creating it when missing).
	Append bool
	// ContentType, when set, is the media type kept with the file (Info.ContentType); a
	// write without one keeps the file's (a new file has none). At most MaxContentType
	// bytes of printable ASCII.
	ContentType string
}

// MaxContentType bounds WriteOptions.ContentType.
const MaxContentType = 256

// checkContentType refuses a media type that is too long or not printable ASCII (it goes
// back out in a header).
func checkContentType(ct string) error {
	if len(ct) > MaxContentType {
		return isoerr.New(isoerr.InvalidRequest, "the content type is %d bytes; the limit is %d", len(ct), MaxContentType)
	}
	for i := 0; i < len(ct); i++ {
		if ct[i] < 0x20 || ct[i] > 0x7e {
			return isoerr.New(isoerr.InvalidRequest, "the content type holds a byte that is not printable ASCII (%#x)", ct[i])
		}
	}
	return nil
}

// Write streams r into the file at p, creating it and its missing parent directories. The
// content is staged in chunks while r is read, then one transaction checks opts, the
// quota and the file count and makes it the file's content: a reader sees the old content
// or the new, never a part.
//
// # Errors
//
// invalid_request for a bad name, path or content type, file_too_large past
// Limits.MaxFileSize, quota_exceeded past the workspace's quota, precondition_failed when
// opts do not hold, conflict when p or a parent is of the wrong kind, and r's error.
func (s *SQLite) Write(ctx context.Context, ws, p string, r io.Reader, opts WriteOptions) (Info, error) {
	p, err := check(ws, p)
	if err != nil {
		return Info{}, err
	}
	if err := checkContentType(opts.ContentType); err != nil {
		return Info{}, err
	}
	if p == "/" {
		return Info{}, isoerr.New(isoerr.Conflict, "/: is a directory")
	}
	st, err := s.stage(ctx, r)
	if err != nil {
		return Info{}, err
	}
	var info Info
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		info, err = s.writeTx(ctx, tx, ws, p, &st, opts)
		return err
	})
	if err != nil {
		if st.blob != 0 {
			s.unstage(st.blob)
		}
		return Info{}, err
	}
	return info, nil
}

// writeTx is the transaction of a write: inside tx, it checks opts, the quota and the
// kinds on the way, and makes st the content of the file at clean path p.
func (s *SQLite) writeTx(ctx context.Context, tx *sql.Tx, ws, p string, st *staged, opts WriteOptions) (Info, error) {
	size := st.size
	rp, n, err := resolve(ctx, tx, ws, p, true)
	if err != nil {
		return Info{}, err
	}
	if err := precondition(rp, n, opts); err != nil {
		return Info{}, err
	}
	blob, err := st.commit(ctx, tx)
	if err != nil {
		return Info{}, err
	}
	now := time.Now().UnixNano()
	if n != nil && n.kind != string(File) {
		return Info{}, isoerr.New(isoerr.Conflict, "%s: is a %s", rp, n.kind)
	}
	if n == nil {
		made, err := s.mkdirs(ctx, tx, ws, parentOf(rp), now)
		if err != nil {
			return Info{}, err
		}
		if err := s.account(ctx, tx, ws, size, made+1); err != nil {
			return Info{}, err
		}
		n = &node{path: rp, kind: string(File), size: size, blob: sql.NullInt64{Int64: blob, Valid: true}, version: blob, created: now, modified: now, contentType: opts.ContentType}
		return n.info(), insert(ctx, tx, ws, n)
	}
	newSize := size
	if opts.Append {
		newSize = n.size + size
		if newSize > s.lim.MaxFileSize {
			return Info{}, isoerr.New(isoerr.FileTooLarge, "%s would be %d bytes; the maximum file size is %d", rp, newSize, s.lim.MaxFileSize)
		}
	}
	if err := s.account(ctx, tx, ws, newSize-n.size, 0); err != nil {
		return Info{}, err
	}
	if opts.Append && n.blob.Valid {
		// Move the staged chunks after the file's own: the file keeps its blob.
		if _, err := tx.ExecContext(ctx, `UPDATE chunks SET blob = ?, seq = seq + (SELECT COALESCE(MAX(seq) + 1, 0) FROM chunks WHERE blob = ?) WHERE blob = ?`,
			n.blob.Int64, n.blob.Int64, blob); err != nil {
			return Info{}, fmt.Errorf("workspace: append %s: %w", rp, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE id = ?`, blob); err != nil {
			return Info{}, fmt.Errorf("workspace: append %s: %w", rp, err)
		}
	} else {
		if err := dropBlob(ctx, tx, n.blob); err != nil {
			return Info{}, err
		}
		n.blob = sql.NullInt64{Int64: blob, Valid: true}
	}
	n.size, n.version, n.modified = newSize, blob, now
	if opts.ContentType != "" {
		n.contentType = opts.ContentType
	}
	if _, err := tx.ExecContext(ctx, `UPDATE nodes SET size = ?, blob = ?, version = ?, modified = ?, content_type = ? WHERE ws = ? AND path = ?`,
		n.size, n.blob, n.version, n.modified, n.contentType, ws, rp); err != nil {
		return Info{}, fmt.Errorf("workspace: write %s: %w", rp, err)
	}
	return n.info(), nil
}

func precondition(p string, n *node, opts WriteOptions) error {
	exists := n != nil
	switch {
	case opts.IfNoneMatch == "*" && exists:
		return isoerr.New(isoerr.PreconditionFailed, "%s exists (ifNoneMatch \"*\")", p)
	case opts.IfNoneMatch != "" && opts.IfNoneMatch != "*":
		return isoerr.New(isoerr.InvalidRequest, "ifNoneMatch must be \"*\"")
	case opts.IfMatch == "":
		return nil
	case !exists:
		return isoerr.New(isoerr.PreconditionFailed, "%s does not exist (ifMatch %q)", p, opts.IfMatch)
	case opts.IfMatch != "*" && (n.kind != string(File) || etag(n.version) != opts.IfMatch):
		return isoerr.New(isoerr.PreconditionFailed, "%s changed: its etag is %s, not %s", p, etag(n.version), opts.IfMatch)
	}
	return nil
}

// staged is a write's content: in the chunks of blob (staged by earlier transactions),
// or, for content of at most one batch, still in memory (blob 0, pending).
type staged struct {
	blob    int64
	pending [][]byte
	size    int64
}

// stage reads r into chunks. Content larger than one batch (stageBatch chunks) goes into
// the chunks of a new blob, in transactions of one batch each, so that a large file never
// sits whole in memory; nothing references that blob yet. Smaller content stays in memory
// and is written by the transaction that commits the write: one fsync for a small file.
func (s *SQLite) stage(ctx context.Context, r io.Reader) (staged, error) {
	var st staged
	var seq int64
	buf := make([]byte, ChunkSize)
	flush := func() error {
		err := s.write(ctx, func(tx *sql.Tx) error {
			if st.blob == 0 {
				if err := tx.QueryRowContext(ctx, `INSERT INTO blobs DEFAULT VALUES RETURNING id`).Scan(&st.blob); err != nil {
					return err
				}
			}
			for _, c := range st.pending {
				if _, err := tx.ExecContext(ctx, `INSERT INTO chunks (blob, seq, data) VALUES (?, ?, ?)`, st.blob, seq, c); err != nil {
					return err
				}
				seq++
			}
			return nil
		})
		st.pending = st.pending[:0]
		return err
	}
	fail := func(err error) (staged, error) {
		if st.blob != 0 {
			s.unstage(st.blob)
		}
		return staged{}, err
	}
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			st.size += int64(n)
			if st.size > s.lim.MaxFileSize {
				return fail(isoerr.New(isoerr.FileTooLarge, "the file is larger than the maximum file size, %d bytes", s.lim.MaxFileSize))
			}
			st.pending = append(st.pending, append([]byte(nil), buf[:n]...))
			if len(st.pending) == stageBatch {
				if err := flush(); err != nil {
					return fail(fmt.Errorf("workspace: write: %w", err))
				}
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fail(fmt.Errorf("workspace: reading the content: %w", rerr))
		}
	}
	if st.blob != 0 && len(st.pending) > 0 {
		if err := flush(); err != nil {
			return fail(fmt.Errorf("workspace: write: %w", err))
		}
	}
	return st, nil
}

// commit makes the content of st a blob inside tx (writing the chunks still in memory)
// and returns it.
func (st *staged) commit(ctx context.Context, tx *sql.Tx) (int64, error) {
	if st.blob != 0 {
		return st.blob, nil
	}
	var blob int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO blobs DEFAULT VALUES RETURNING id`).Scan(&blob); err != nil {
		return 0, fmt.Errorf("workspace: write: %w", err)
	}
	for i, c := range st.pending {
		if _, err := tx.ExecContext(ctx, `INSERT INTO chunks (blob, seq, data) VALUES (?, ?, ?)`, blob, i, c); err != nil {
			return 0, fmt.Errorf("workspace: write: %w", err)
		}
	}
	return blob, nil
}

// unstage drops a staged blob that will not be used (best effort: Open collects it
// otherwise). It must not be called with s.wmu held.
func (s *SQLite) unstage(blob int64) {
	_ = s.write(context.Background(), func(tx *sql.Tx) error {
		return dropBlob(context.Background(), tx, sql.NullInt64{Int64: blob, Valid: true})
	})
}

// Read opens the file at p (following symlinks) for reading. The reader sees the content
// of one moment even while writers replace it (it holds a read transaction: close it).
//
// # Errors
//
// invalid_request for a bad path, not_found when p does not exist, conflict when it is a
// directory.
func (s *SQLite) Read(ctx context.Context, ws, p string) (io.ReadCloser, Info, error) {
	p, err := check(ws, p)
	if err != nil {
		return nil, Info{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, Info{}, fmt.Errorf("workspace: read %s: %w", p, err)
	}
	rp, n, err := resolve(ctx, tx, ws, p, true)
	if err == nil && n == nil {
		err = isoerr.New(isoerr.NotFound, "%s: no such file", p)
	}
	if err == nil && n.kind != string(File) {
		err = isoerr.New(isoerr.Conflict, "%s: is a %s", rp, n.kind)
	}
	if err != nil {
		tx.Rollback()
		return nil, Info{}, err
	}
	return &reader{ctx: ctx, q: tx, end: tx.Rollback, blob: n.blob.Int64, empty: !n.blob.Valid}, n.info(), nil
}

// reader streams a blob's chunks, one query per chunk, inside one transaction (end, when
// set, ends it).
type reader struct {
	ctx   context.Context
	q     querier
	end   func() error
	blob  int64
	seq   int64
	buf   []byte
	empty bool
	done  bool
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done || r.empty {
			return 0, io.EOF
		}
		var data []byte
		err := r.q.QueryRowContext(r.ctx, `SELECT data FROM chunks WHERE blob = ? AND seq >= ? ORDER BY seq LIMIT 1`, r.blob, r.seq).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			r.done = true
			return 0, io.EOF
		}
		if err != nil {
			return 0, fmt.Errorf("workspace: read: %w", err)
		}
		r.buf = data
		r.seq++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *reader) Close() error {
	if r.end == nil {
		return nil
	}
	return r.end()
}

// Stat describes the entry at p, following symlinks (Lstat does not follow the last).
//
// # Errors
//
// invalid_request for a bad path, not_found when nothing is there.
func (s *SQLite) Stat(ctx context.Context, ws, p string) (Info, error) {
	return s.stat(ctx, ws, p, true)
}

// Lstat is Stat that describes a symlink itself.
//
// # Errors
//
// As Stat.
func (s *SQLite) Lstat(ctx context.Context, ws, p string) (Info, error) {
	return s.stat(ctx, ws, p, false)
}

func (s *SQLite) stat(ctx context.Context, ws, p string, follow bool) (Info, error) {
	p, err := check(ws, p)
	if err != nil {
		return Info{}, err
	}
	_, n, err := resolve(ctx, s.db, ws, p, follow)
	if err != nil {
		return Info{}, err
	}
	if n == nil {
		return Info{}, isoerr.New(isoerr.NotFound, "%s: no such file or directory", p)
	}
	return n.info(), nil
}

// ReadDir lists the directory at p (following symlinks), ordered by name.
//
// # Errors
//
// invalid_request for a bad path, not_found when it does not exist, conflict when it is
// not a directory.
func (s *SQLite) ReadDir(ctx context.Context, ws, p string) ([]Info, error) {
	p, err := check(ws, p)
	if err != nil {
		return nil, err
	}
	rp, n, err := resolve(ctx, s.db, ws, p, true)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, isoerr.New(isoerr.NotFound, "%s: no such directory", p)
	}
	if n.kind != string(Dir) {
		return nil, isoerr.New(isoerr.Conflict, "%s: not a directory", p)
	}
	return s.list(ctx, s.db, `SELECT `+nodeCols+` FROM nodes WHERE ws = ? AND parent = ? AND path != '/' ORDER BY path`, ws, rp)
}

func (s *SQLite) list(ctx context.Context, q querier, query string, args ...any) ([]Info, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("workspace: list: %w", err)
	}
	defer rows.Close()
	out := []Info{}
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("workspace: list: %w", err)
		}
		out = append(out, n.info())
	}
	return out, rows.Err()
}

// Mkdir creates the directory p; with parents, its missing parents too, and an existing
// directory is no error (mkdir -p).
//
// # Errors
//
// invalid_request for a bad path, conflict when p exists (without parents) or a name on
// the way is not a directory, not_found when a parent is missing (without parents),
// quota_exceeded past the file count.
func (s *SQLite) Mkdir(ctx context.Context, ws, p string, parents bool) error {
	p, err := check(ws, p)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		rp, n, err := resolve(ctx, tx, ws, p, true)
		if err != nil {
			return err
		}
		if n != nil {
			if parents && n.kind == string(Dir) {
				return nil
			}
			return isoerr.New(isoerr.Conflict, "%s: already exists", p)
		}
		now := time.Now().UnixNano()
		if !parents {
			par, err := get(ctx, tx, ws, parentOf(rp))
			if err != nil {
				return err
			}
			if par == nil {
				return isoerr.New(isoerr.NotFound, "%s: no such directory", parentOf(rp))
			}
		}
		made, err := s.mkdirs(ctx, tx, ws, rp, now)
		if err != nil {
			return err
		}
		return s.account(ctx, tx, ws, 0, made)
	})
}

// Remove deletes the entry at p (a symlink itself, not its target); a directory that is
// not empty only with recursive, with everything in it. Removing the root empties the
// workspace.
//
// # Errors
//
// invalid_request for a bad path, not_found when nothing is there, conflict for a
// non-empty directory without recursive.
func (s *SQLite) Remove(ctx context.Context, ws, p string, recursive bool) error {
	return s.RemoveIf(ctx, ws, p, RemoveOptions{Recursive: recursive})
}

// RemoveOptions are Remove's options, with a condition checked in the same transaction
// as the removal.
type RemoveOptions struct {
	// Recursive removes a non-empty directory with everything in it.
	Recursive bool
	// IfMatch, when set, is the etag the file at p must have now ("*": something must be
	// there); otherwise the removal fails with precondition_failed and removes nothing.
	IfMatch string
}

// RemoveIf is Remove with options: with opts.IfMatch, a delete that loses a race with
// another writer fails instead of discarding that writer's content.
//
//	err := s.RemoveIf(ctx, "proj", "notes.md", workspace.RemoveOptions{IfMatch: info.ETag})
//
// # Errors
//
// As Remove, and precondition_failed when opts.IfMatch does not hold (nothing removed;
// also when nothing is there).
func (s *SQLite) RemoveIf(ctx context.Context, ws, p string, opts RemoveOptions) error {
	recursive := opts.Recursive
	p, err := check(ws, p)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		rp, n, err := resolve(ctx, tx, ws, p, false)
		if err != nil {
			return err
		}
		if err := precondition(rp, n, WriteOptions{IfMatch: opts.IfMatch}); err != nil {
			return err
		}
		if n == nil {
			return isoerr.New(isoerr.NotFound, "%s: no such file or directory", p)
		}
		lo, hi := under(rp)
		if n.kind == string(Dir) && !recursive {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM nodes WHERE ws = ? AND path >= ? AND path < ? AND path != ? LIMIT 1`, ws, lo, hi, rp).Scan(&one)
			if err == nil {
				return isoerr.New(isoerr.Conflict, "%s: directory not empty (remove it recursively)", p)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("workspace: remove %s: %w", p, err)
			}
		}
		var bytes, count int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0), COUNT(*) FROM nodes WHERE ws = ? AND ((path >= ? AND path < ? AND path != ?) OR path = ?)`,
			ws, lo, hi, rp, rp).Scan(&bytes, &count); err != nil {
			return fmt.Errorf("workspace: remove %s: %w", p, err)
		}
		for _, q := range []string{
			`DELETE FROM chunks WHERE blob IN (SELECT blob FROM nodes WHERE ws = ?1 AND blob IS NOT NULL AND ((path >= ?2 AND path < ?3 AND path != ?4) OR path = ?4))`,
			`DELETE FROM blobs WHERE id IN (SELECT blob FROM nodes WHERE ws = ?1 AND blob IS NOT NULL AND ((path >= ?2 AND path < ?3 AND path != ?4) OR path = ?4))`,
			`DELETE FROM nodes WHERE ws = ?1 AND ((path >= ?2 AND path < ?3 AND path != ?4) OR path = ?4)`,
		} {
			if _, err := tx.ExecContext(ctx, q, ws, lo, hi, rp); err != nil {
				return fmt.Errorf("workspace: remove %s: %w", p, err)
			}
		}
		return s.account(ctx, tx, ws, -bytes, -count)
	})
}

// Rename moves the entry at from (a symlink itself) to to, with everything under it. An
// existing file at to is replaced by a file; anything else there is a conflict.
//
// # Errors
//
// invalid_request for bad paths or moving a directory into itself, not_found when from
// does not exist, conflict when to exists and cannot be replaced.
func (s *SQLite) Rename(ctx context.Context, ws, from, to string) error {
	from, err := check(ws, from)
	if err != nil {
		return err
	}
	if to, err = Clean(to); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		src, n, err := resolve(ctx, tx, ws, from, false)
		if err != nil {
			return err
		}
		if n == nil || src == "/" {
			return isoerr.New(isoerr.NotFound, "%s: no such file or directory", from)
		}
		dst, d, err := resolve(ctx, tx, ws, to, false)
		if err != nil {
			return err
		}
		if dst == src {
			return nil
		}
		if strings.HasPrefix(dst, src+"/") {
			return isoerr.New(isoerr.InvalidRequest, "cannot move %s into itself (%s)", from, to)
		}
		dBytes, dFiles, err := replaceFile(ctx, tx, ws, dst, d, n, to, "rename")
		if err != nil {
			return err
		}
		made, err := s.mkdirs(ctx, tx, ws, parentOf(dst), time.Now().UnixNano())
		if err != nil {
			return err
		}
		lo, hi := under(src)
		// Descendants first (their parent column moves too), then the entry itself.
		if _, err := tx.ExecContext(ctx, `UPDATE nodes SET path = ?1 || substr(path, ?2), parent = ?1 || substr(parent, ?2)
			WHERE ws = ?3 AND path >= ?4 AND path < ?5 AND path != ?6`, dst, len(src)+1, ws, lo, hi, src); err != nil {
			return fmt.Errorf("workspace: rename: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE nodes SET path = ?, parent = ?, modified = ? WHERE ws = ? AND path = ?`,
			dst, parentOf(dst), time.Now().UnixNano(), ws, src); err != nil {
			return fmt.Errorf("workspace: rename: %w", err)
		}
		return s.account(ctx, tx, ws, dBytes, dFiles+made)
	})
}

// replaceFile clears the way for a rename or copy (op) of n to dst, where d is (nil when
// nothing is there): a file may replace a file, nothing else may replace anything. It
// returns the change in bytes and entries that dropping d made.
func replaceFile(ctx context.Context, tx *sql.Tx, ws, dst string, d, n *node, to, op string) (dBytes, dFiles int64, err error) {
	if d == nil {
		return 0, 0, nil
	}
	if d.kind != string(File) || n.kind != string(File) {
		return 0, 0, isoerr.New(isoerr.Conflict, "%s: already exists", to)
	}
	if err := dropBlob(ctx, tx, d.blob); err != nil {
		return 0, 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE ws = ? AND path = ?`, ws, dst); err != nil {
		return 0, 0, fmt.Errorf("workspace: %s: %w", op, err)
	}
	return -d.size, -1, nil
}

// Copy copies the entry at from (following symlinks) to to: a file, or a directory with
// everything under it when recursive. An existing file at to is replaced by a file.
//
// # Errors
//
// As Rename, plus conflict for a directory without recursive and quota_exceeded.
func (s *SQLite) Copy(ctx context.Context, ws, from, to string, recursive bool) error {
	from, err := check(ws, from)
	if err != nil {
		return err
	}
	if to, err = Clean(to); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		src, n, err := resolve(ctx, tx, ws, from, true)
		if err != nil {
			return err
		}
		if n == nil {
			return isoerr.New(isoerr.NotFound, "%s: no such file or directory", from)
		}
		if n.kind == string(Dir) && !recursive {
			return isoerr.New(isoerr.Conflict, "%s: is a directory (copy it recursively)", from)
		}
		dst, d, err := resolve(ctx, tx, ws, to, true)
		if err != nil {
			return err
		}
		if dst == src || strings.HasPrefix(dst, src+"/") {
			return isoerr.New(isoerr.InvalidRequest, "cannot copy %s into itself (%s)", from, to)
		}
		now := time.Now().UnixNano()
		dBytes, dFiles, err := replaceFile(ctx, tx, ws, dst, d, n, to, "copy")
		if err != nil {
			return err
		}
		made, err := s.mkdirs(ctx, tx, ws, parentOf(dst), now)
		if err != nil {
			return err
		}
		dFiles += made
		srcs := []*node{n}
		if n.kind == string(Dir) {
			lo, hi := under(src)
			rows, err := tx.QueryContext(ctx, `SELECT `+nodeCols+` FROM nodes WHERE ws = ? AND path >= ? AND path < ? AND path != ? ORDER BY path`, ws, lo, hi, src)
			if err != nil {
				return fmt.Errorf("workspace: copy: %w", err)
			}
			for rows.Next() {
				c, err := scanNode(rows)
				if err != nil {
					rows.Close()
					return fmt.Errorf("workspace: copy: %w", err)
				}
				srcs = append(srcs, c)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("workspace: copy: %w", err)
			}
		}
		for _, c := range srcs {
			dBytes += c.size
			dFiles++
		}
		if err := s.account(ctx, tx, ws, dBytes, dFiles); err != nil {
			return err
		}
		for _, c := range srcs {
			cp := *c
			cp.path = dst + c.path[len(src):]
			cp.created, cp.modified = now, now
			if c.blob.Valid {
				var blob int64
				if err := tx.QueryRowContext(ctx, `INSERT INTO blobs DEFAULT VALUES RETURNING id`).Scan(&blob); err != nil {
					return fmt.Errorf("workspace: copy: %w", err)
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO chunks (blob, seq, data) SELECT ?, seq, data FROM chunks WHERE blob = ?`, blob, c.blob.Int64); err != nil {
					return fmt.Errorf("workspace: copy: %w", err)
				}
				cp.blob, cp.version = sql.NullInt64{Int64: blob, Valid: true}, blob
			}
			if err := insert(ctx, tx, ws, &cp); err != nil {
				return err
			}
		}
		return nil
	})
}

// Symlink creates the symlink p pointing at target. The target is taken inside the
// workspace: an absolute target from its root, a relative one from p's directory; one that
// would leave the workspace is refused.
//
// # Errors
//
// invalid_request for a bad path or target, conflict when p exists.
func (s *SQLite) Symlink(ctx context.Context, ws, target, p string) error {
	p, err := check(ws, p)
	if err != nil {
		return err
	}
	if target == "" {
		return isoerr.New(isoerr.InvalidRequest, "symlink target is empty")
	}
	if _, err := join(parentOf(p), target); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		rp, n, err := resolve(ctx, tx, ws, p, false)
		if err != nil {
			return err
		}
		if n != nil {
			return isoerr.New(isoerr.Conflict, "%s: already exists", p)
		}
		// The target was checked against p's directory as written; check it again against
		// the directory the link really lands in.
		if _, err := join(parentOf(rp), target); err != nil {
			return err
		}
		now := time.Now().UnixNano()
		made, err := s.mkdirs(ctx, tx, ws, parentOf(rp), now)
		if err != nil {
			return err
		}
		if err := s.account(ctx, tx, ws, 0, made+1); err != nil {
			return err
		}
		return insert(ctx, tx, ws, &node{path: rp, kind: string(Symlink), target: target, version: now, created: now, modified: now})
	})
}

// Readlink returns the target of the symlink p.
//
// # Errors
//
// invalid_request for a bad path or when p is not a symlink, not_found when nothing is there.
func (s *SQLite) Readlink(ctx context.Context, ws, p string) (string, error) {
	i, err := s.Lstat(ctx, ws, p)
	if err != nil {
		return "", err
	}
	if i.Type != Symlink {
		return "", isoerr.New(isoerr.InvalidRequest, "%s: not a symbolic link", i.Path)
	}
	return i.Target, nil
}

// Glob returns the entries whose paths match pattern, ordered by path: path.Match per
// name, and "**" for any number of names (src/**/*.ts). Symlinks are listed, not followed.
//
// # Errors
//
// invalid_request for a bad pattern.
func (s *SQLite) Glob(ctx context.Context, ws, pattern string) ([]Info, error) {
	pat, err := check(ws, pattern)
	if err != nil {
		return nil, err
	}
	parts, prefix, err := globParts(pattern, pat)
	if err != nil {
		return nil, err
	}
	lo, hi := under(prefix)
	all, err := s.list(ctx, s.db, `SELECT `+nodeCols+` FROM nodes WHERE ws = ? AND path >= ? AND path < ? AND path != ? ORDER BY path`, ws, lo, hi, prefix)
	if err != nil {
		return nil, err
	}
	out := []Info{}
	for _, i := range all {
		if matchGlob(parts, strings.Split(i.Path, "/")[1:]) {
			out = append(out, i)
		}
	}
	return out, nil
}

// matchGlob reports whether names match the glob's names pat ("**": any number of
// names). It fills ok[i][j] (pat[i:] matches names[j:]) from the end: O(len(pat) ×
// len(names)) steps whatever the pattern, where trying every split of every "**" would be
// exponential in their number.
func matchGlob(pat, names []string) bool {
	n := len(names)
	next := make([]bool, n+1) // row i+1
	cur := make([]bool, n+1)
	next[n] = true // the empty pattern matches the empty rest
	for i := len(pat) - 1; i >= 0; i-- {
		if pat[i] == "**" {
			cur[n] = next[n]
			for j := n - 1; j >= 0; j-- {
				cur[j] = next[j] || cur[j+1]
			}
		} else {
			cur[n] = false
			for j := n - 1; j >= 0; j-- {
				ok, _ := path.Match(pat[i], names[j])
				cur[j] = ok && next[j+1]
			}
		}
		next, cur = cur, next
	}
	return next[0]
}

// Usage returns what workspace ws holds (zero for one never written) and its quota.
//
// # Errors
//
// invalid_request for a bad name.
func (s *SQLite) Usage(ctx context.Context, ws string) (Usage, error) {
	if _, err := check(ws, "/"); err != nil {
		return Usage{}, err
	}
	u, err := s.usage(ctx, s.db, ws)
	if err != nil {
		return Usage{}, fmt.Errorf("workspace: usage: %w", err)
	}
	return u, nil
}

// SetQuota sets workspace ws's quota: at most maxBytes bytes of content and maxFiles
// entries (0: the store's Limits). A quota below what the workspace holds refuses further
// growth and deletes nothing.
//
// # Errors
//
// invalid_request for a bad name or a negative quota.
func (s *SQLite) SetQuota(ctx context.Context, ws string, maxBytes, maxFiles int64) error {
	if _, err := check(ws, "/"); err != nil {
		return err
	}
	if maxBytes < 0 || maxFiles < 0 {
		return isoerr.New(isoerr.InvalidRequest, "a quota must not be negative")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO workspaces (name, bytes, files, created_at, max_bytes, max_files) VALUES (?, 0, 0, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET max_bytes = excluded.max_bytes, max_files = excluded.max_files`,
			ws, time.Now().UnixNano(), maxBytes, maxFiles)
		if err != nil {
			return fmt.Errorf("workspace: set quota: %w", err)
		}
		return nil
	})
}
