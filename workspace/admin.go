package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/isobox/isobox/isoerr"
)

// List returns the workspaces of the store in name order, after the name after ("" from
// the start), at most limit of them (at least 1, at most 1,000): what each holds and its
// quota. A workspace is listed once something was written to it or its quota was set.
//
// # Errors
//
// The database's.
func (s *SQLite) List(ctx context.Context, after string, limit int) ([]Usage, error) {
	limit = min(max(limit, 1), 1000)
	rows, err := s.db.QueryContext(ctx, `SELECT name, bytes, files, max_bytes, max_files FROM workspaces WHERE name > ? ORDER BY name LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("workspace: list: %w", err)
	}
	defer rows.Close()
	out := []Usage{}
	for rows.Next() {
		var u Usage
		if err := rows.Scan(&u.Name, &u.Bytes, &u.Files, &u.MaxBytes, &u.MaxFiles); err != nil {
			return nil, fmt.Errorf("workspace: list: %w", err)
		}
		if u.MaxBytes <= 0 {
			u.MaxBytes = s.lim.MaxBytes
		}
		if u.MaxFiles <= 0 {
			u.MaxFiles = s.lim.MaxFiles
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Delete drops workspace ws: every entry, its content and its quota, in one transaction.
//
// # Errors
//
// invalid_request for a bad name, not_found when the store has no such workspace.
func (s *SQLite) Delete(ctx context.Context, ws string) error {
	if _, err := check(ws, "/"); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM workspaces WHERE name = ?`, ws)
		if err != nil {
			return fmt.Errorf("workspace: delete %s: %w", ws, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return isoerr.New(isoerr.NotFound, "no workspace %q", ws)
		}
		for _, q := range []string{
			`DELETE FROM chunks WHERE blob IN (SELECT blob FROM nodes WHERE ws = ? AND blob IS NOT NULL)`,
			`DELETE FROM blobs WHERE id IN (SELECT blob FROM nodes WHERE ws = ? AND blob IS NOT NULL)`,
			`DELETE FROM nodes WHERE ws = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, ws); err != nil {
				return fmt.Errorf("workspace: delete %s: %w", ws, err)
			}
		}
		return nil
	})
}

// Lookup returns what workspace ws holds and its quota, like Usage, but fails for a
// workspace the store does not have (nothing was ever written to it, nor its quota set).
//
// # Errors
//
// invalid_request for a bad name, not_found when there is no such workspace.
func (s *SQLite) Lookup(ctx context.Context, ws string) (Usage, error) {
	if _, err := check(ws, "/"); err != nil {
		return Usage{}, err
	}
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM workspaces WHERE name = ?`, ws).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return Usage{}, isoerr.New(isoerr.NotFound, "no workspace %q", ws)
	}
	if err != nil {
		return Usage{}, fmt.Errorf("workspace: lookup %s: %w", ws, err)
	}
	return s.Usage(ctx, ws)
}
