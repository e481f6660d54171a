// Package sqlmigrate brings a SQLite database's schema up to date: the one migration
// routine of isobox's databases (the store, the workspaces).
package sqlmigrate

import (
	"context"
	"database/sql"
	"fmt"
)

// Apply runs, in one transaction, the migrations the database has not had yet: its
// `PRAGMA user_version` counts those it has, so migrations[i] runs once, when the version
// is i, and the version ends at len(migrations).
//
// # Errors
//
// When the database is newer than migrations (a later isobox wrote it), and when a
// migration fails (nothing is applied then).
func Apply(ctx context.Context, db *sql.DB, migrations []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this isobox knows (%d)", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return err
	}
	return tx.Commit()
}
