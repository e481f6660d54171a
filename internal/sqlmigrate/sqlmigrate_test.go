package sqlmigrate_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/isobox/isobox/internal/sqlmigrate"
)

func version(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A database gets each migration once, in order; a failed migration applies nothing; a
// database newer than the migrations is refused, untouched.
func TestApply(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first := []string{"CREATE TABLE a (x)", "INSERT INTO a VALUES (1)"}
	for range 2 { // the second time: nothing to do
		if err := sqlmigrate.Apply(ctx, db, first); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM a").Scan(&n); err != nil || n != 1 {
			t.Fatalf("rows %d, %v: a migration ran again or not at all", n, err)
		}
		if v := version(t, db); v != 2 {
			t.Fatalf("version %d", v)
		}
	}
	bad := append(first, "CREATE TABLE b (y)", "NOT SQL")
	if err := sqlmigrate.Apply(ctx, db, bad); err == nil || !strings.Contains(err.Error(), "migration 4") {
		t.Fatalf("a failing migration: %v", err)
	}
	if v := version(t, db); v != 2 {
		t.Fatalf("version %d after a failed migration", v)
	}
	if _, err := db.Exec("SELECT * FROM b"); err == nil {
		t.Fatal("the migration before the failing one was kept")
	}
	if err := sqlmigrate.Apply(ctx, db, first[:1]); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("an older isobox: %v", err)
	}
}
