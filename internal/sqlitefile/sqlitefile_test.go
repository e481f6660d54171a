package sqlitefile_test

import (
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/isobox/isobox/internal/sqlitefile"
)

// TestDSNOpensExactlyThatFile opens databases whose paths hold the bytes a URI gives a
// meaning to, through the real driver: each is the file at its path, nothing else is
// created beside it, and its parameters apply.
func TestDSNOpensExactlyThatFile(t *testing.T) {
	names := []string{
		"plain.db",
		"data#1/isobox.db",
		"q?x=1/ws.db",
		"pct%41%2F/ws.db",
		"sp ace;a=b&c/ws.db",
		"ünï/ws.db",
		"a:b/ws.db",
		"#?%/x.db",
	}
	root := t.TempDir()
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			dsn, err := sqlitefile.DSN(path, q)
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE t (name TEXT); INSERT INTO t VALUES (?)", name); err != nil {
				t.Fatalf("%s: %v", dsn, err)
			}
			var mode string
			if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
				t.Fatalf("journal_mode %q, %v: the parameters did not apply", mode, err)
			}
			var file string
			if err := db.QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
				t.Fatal(err)
			}
			if file != path {
				t.Fatalf("the database is %q, want %q", file, path)
			}
			db.Close()
			entries, _ := os.ReadDir(filepath.Dir(path))
			var got []string
			for _, e := range entries {
				if !e.IsDir() {
					got = append(got, e.Name())
				}
			}
			base := filepath.Base(path)
			for _, g := range got {
				if g != base && g != base+"-wal" && g != base+"-shm" {
					t.Fatalf("files beside the database: %v", got)
				}
			}
			if !slices.Contains(got, base) {
				t.Fatalf("no %s in %v", base, got)
			}
		})
	}
	// Nothing was made outside the folders named.
	top, _ := os.ReadDir(root)
	for _, e := range top {
		if !e.IsDir() && e.Name() != "plain.db" && e.Name() != "plain.db-wal" && e.Name() != "plain.db-shm" {
			t.Fatalf("a file outside the paths given: %s", e.Name())
		}
	}
}

func TestDSNRelativeAndEmpty(t *testing.T) {
	if _, err := sqlitefile.DSN("", nil); err == nil {
		t.Fatal("an empty path gave a DSN")
	}
	rel, err := sqlitefile.DSN("x#y.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	abs, _ := sqlitefile.DSN(filepath.Join(wd, "x#y.db"), nil)
	if rel != abs {
		t.Fatalf("relative %q, from the working directory %q", rel, abs)
	}
}
