package workspace

import (
	"context"
	"database/sql"
	"io"

	"github.com/isobox/isobox/isoerr"
)

// This file holds what the whole-workspace operations (search, replace, archives, JSON
// edits) share: reading a file's content inside a transaction they already hold, and
// writing content that is already in memory inside one.

// content opens the content of file entry n inside q (a transaction of the caller's,
// which stays the caller's to end).
func content(ctx context.Context, q querier, n *node) io.ReadCloser {
	return &reader{ctx: ctx, q: q, blob: n.blob.Int64, empty: !n.blob.Valid}
}

// contentBytes reads the content of file entry n inside q, at most max bytes.
func contentBytes(ctx context.Context, q querier, n *node, max int64) ([]byte, error) {
	if n.size > max {
		return nil, isoerr.New(isoerr.FileTooLarge, "%s is %d bytes; at most %d can be read at once", n.path, n.size, max)
	}
	return readAll(content(ctx, q, n), max)
}

// inMemory makes data the content of a write, checked against the maximum file size.
func (s *SQLite) inMemory(p string, data []byte) (*staged, error) {
	if int64(len(data)) > s.lim.MaxFileSize {
		return nil, isoerr.New(isoerr.FileTooLarge, "%s would be %d bytes; the maximum file size is %d", p, len(data), s.lim.MaxFileSize)
	}
	st := &staged{size: int64(len(data))}
	for len(data) > 0 {
		n := min(len(data), ChunkSize)
		st.pending = append(st.pending, data[:n])
		data = data[n:]
	}
	return st, nil
}

// putTx writes data to the file at clean path p inside tx (the file and its parents are
// created when missing, the quota is checked).
func (s *SQLite) putTx(ctx context.Context, tx *sql.Tx, ws, p string, data []byte, opts WriteOptions) (Info, error) {
	st, err := s.inMemory(p, data)
	if err != nil {
		return Info{}, err
	}
	return s.writeTx(ctx, tx, ws, p, st, opts)
}

// fileAt resolves clean path p (following symlinks) inside q to a file entry.
func fileAt(ctx context.Context, q querier, ws, p string) (string, *node, error) {
	rp, n, err := resolve(ctx, q, ws, p, true)
	if err != nil {
		return "", nil, err
	}
	if n == nil {
		return "", nil, isoerr.New(isoerr.NotFound, "%s: no such file", p)
	}
	if n.kind != string(File) {
		return "", nil, isoerr.New(isoerr.Conflict, "%s: is a %s", rp, n.kind)
	}
	return rp, n, nil
}
