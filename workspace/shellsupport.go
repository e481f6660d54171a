package workspace

import (
	"context"
	"fmt"

	"github.com/isobox/isobox/isoerr"
)

// ReadTree calls fn with every entry under directory dir (following dir itself if it is
// a symlink; symlinks under it are listed, not followed), in path order, with the whole
// content of each file of at most maxSize bytes (larger files: nil content, whole
// false; read them with Read). It is one query in one read transaction: what a
// recursive search (the shell's grep -r) needs instead of a Read per file.
//
// # Errors
//
// invalid_request for a bad path, not_found when dir does not exist, conflict when it
// is not a directory, and fn's error.
func (s *SQLite) ReadTree(ctx context.Context, ws, dir string, maxSize int64, fn func(info Info, content []byte, whole bool) error) error {
	p, err := check(ws, dir)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("workspace: read tree %s: %w", p, err)
	}
	defer tx.Rollback()
	rp, n, err := resolve(ctx, tx, ws, p, true)
	if err != nil {
		return err
	}
	if n == nil && rp != "/" {
		return isoerr.New(isoerr.NotFound, "%s: no such directory", p)
	}
	if n != nil && n.kind != string(Dir) {
		return isoerr.New(isoerr.Conflict, "%s: not a directory", p)
	}
	lo, hi := under(rp)
	rows, err := tx.QueryContext(ctx, `SELECT n.path, n.kind, n.size, n.blob, n.version, COALESCE(n.target, ''), n.created, n.modified, c.data
		FROM nodes n LEFT JOIN chunks c ON c.blob = n.blob AND n.size <= ?
		WHERE n.ws = ? AND n.path >= ? AND n.path < ? AND n.path != ?
		ORDER BY n.path, c.seq`, maxSize, ws, lo, hi, rp)
	if err != nil {
		return fmt.Errorf("workspace: read tree %s: %w", p, err)
	}
	defer rows.Close()
	var cur *node
	var content []byte
	flush := func() error {
		if cur == nil {
			return nil
		}
		whole := cur.kind != string(File) || cur.size <= maxSize
		if !whole {
			content = nil
		}
		return fn(cur.info(), content, whole)
	}
	for rows.Next() {
		var r node
		var data []byte
		if err := rows.Scan(&r.path, &r.kind, &r.size, &r.blob, &r.version, &r.target, &r.created, &r.modified, &data); err != nil {
			return fmt.Errorf("workspace: read tree %s: %w", p, err)
		}
		if cur == nil || cur.path != r.path {
			if err := flush(); err != nil {
				return err
			}
			cur, content = &r, nil
		}
		content = append(content, data...)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("workspace: read tree %s: %w", p, err)
	}
	return flush()
}
