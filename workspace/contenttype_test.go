package workspace_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobox/isobox/internal/sqlmigrate"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// A file keeps the media type it was written with: a write without one keeps it, a write
// with another replaces it, copies and moves carry it; a bad one is refused and changes
// nothing.
func TestContentTypeIsKept(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	write := func(p, body, ct string) (workspace.Info, error) {
		return s.Write(ctx, "w", p, strings.NewReader(body), workspace.WriteOptions{ContentType: ct})
	}
	stat := func(p string) string {
		i, err := s.Stat(ctx, "w", p)
		if err != nil {
			t.Fatal(err)
		}
		return i.ContentType
	}
	if i, err := write("a.json", "{}", "application/json"); err != nil || i.ContentType != "application/json" {
		t.Fatalf("%+v %v", i, err)
	}
	if _, err := write("a.json", "[]", ""); err != nil || stat("a.json") != "application/json" {
		t.Fatalf("a write without a type dropped it: %q %v", stat("a.json"), err)
	}
	if err := s.Copy(ctx, "w", "a.json", "b.json", false); err != nil || stat("b.json") != "application/json" {
		t.Fatalf("copy: %q %v", stat("b.json"), err)
	}
	if err := s.Rename(ctx, "w", "b.json", "c.json"); err != nil || stat("c.json") != "application/json" {
		t.Fatalf("move: %q %v", stat("c.json"), err)
	}
	if _, err := write("a.json", "x", "text/plain; charset=utf-8"); err != nil || stat("a.json") != "text/plain; charset=utf-8" {
		t.Fatalf("replace: %q %v", stat("a.json"), err)
	}
	if put(t, s, "w", "plain", "x"); stat("plain") != "" {
		t.Fatalf("a file written without a type has %q", stat("plain"))
	}
	for _, bad := range []string{"text/plain\r\nX-Evil: 1", strings.Repeat("a", workspace.MaxContentType+1), "text/\x00", "tëxt/plain"} {
		_, err := write("a.json", "changed", bad)
		if isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if stat("a.json") != "text/plain; charset=utf-8" {
		t.Fatalf("a refused write changed the type: %q", stat("a.json"))
	}
}

// A database made by the first schema opens and gets the content type column: its files
// are kept, without a type.
func TestSchemaUpgradeKeepsFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ws.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := sqlmigrate.Apply(ctx, db, workspace.FirstSchema); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO workspaces (name, bytes, files, created_at) VALUES ('w', 2, 1, 0);
		INSERT INTO nodes (ws, path, parent, kind, size, blob, version, target, created, modified) VALUES ('w', '/old.txt', '/', 'file', 0, NULL, 1, NULL, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := workspace.Open(path, workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	i, err := s.Stat(ctx, "w", "old.txt")
	if err != nil || i.ContentType != "" || i.Type != workspace.File {
		t.Fatalf("%+v %v", i, err)
	}
	if _, err := s.Write(ctx, "w", "old.txt", strings.NewReader("new"), workspace.WriteOptions{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	if i, _ := s.Stat(ctx, "w", "old.txt"); i.ContentType != "text/plain" {
		t.Fatalf("%+v", i)
	}
}
