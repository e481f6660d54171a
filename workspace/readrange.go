package workspace

import (
	"context"
	"fmt"
	"io"

	"github.com/isobox/isobox/isoerr"
)

// ReadRange opens the file at p (following symlinks) for reading from byte off on (past
// the end: nothing to read), skipping the chunks before off without reading them. With
// ifMatch the file must still have that etag ("*": exist): a reader that goes through a
// large file in several ranges passes the etag of its first so that it never mixes two
// versions of the file. Close the reader.
//
// # Errors
//
// As Read; invalid_request for a negative off, precondition_failed when ifMatch does not
// hold.
func (s *SQLite) ReadRange(ctx context.Context, ws, p string, off int64, ifMatch string) (io.ReadCloser, Info, error) {
	if off < 0 {
		return nil, Info{}, isoerr.New(isoerr.InvalidRequest, "a read's offset must not be negative")
	}
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
	if err == nil {
		err = precondition(rp, n, WriteOptions{IfMatch: ifMatch})
	}
	if err != nil {
		tx.Rollback()
		return nil, Info{}, err
	}
	r := &reader{ctx: ctx, q: tx, end: tx.Rollback, blob: n.blob.Int64, empty: !n.blob.Valid || off >= n.size}
	if r.empty || off == 0 {
		return r, n.info(), nil
	}
	// Chunks have no fixed size (appends add short ones): find the one holding off from
	// their lengths, which SQLite knows without reading the content.
	rows, err := tx.QueryContext(ctx, `SELECT seq, length(data) FROM chunks WHERE blob = ? ORDER BY seq`, r.blob)
	if err != nil {
		tx.Rollback()
		return nil, Info{}, fmt.Errorf("workspace: read %s: %w", p, err)
	}
	var start, seq, size int64
	found := false
	for rows.Next() {
		if err := rows.Scan(&seq, &size); err != nil {
			break
		}
		if off < start+size {
			found = true
			break
		}
		start += size
	}
	err = rows.Err()
	rows.Close()
	if err == nil && found {
		var data []byte
		if err = tx.QueryRowContext(ctx, `SELECT data FROM chunks WHERE blob = ? AND seq = ?`, r.blob, seq).Scan(&data); err == nil {
			r.buf, r.seq = data[off-start:], seq+1
		}
	}
	if err != nil {
		tx.Rollback()
		return nil, Info{}, fmt.Errorf("workspace: read %s: %w", p, err)
	}
	r.done = !found
	return r, n.info(), nil
}
