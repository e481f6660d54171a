package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
)

// A conditional DELETE over HTTP: a stale etag is a 412 that removes nothing (raw HTTP
// and through the Go client), the current etag removes the file, and If-None-Match is
// refused as invalid.
func TestWorkspaceConditionalDeleteOverHTTP(t *testing.T) {
	ts := start(t, Config{})
	c, ctx := ts.c, context.Background()
	old, err := c.PutFile(ctx, "w", "notes.md", strings.NewReader("one"), -1, client.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := c.PutFile(ctx, "w", "notes.md", strings.NewReader("two"), -1, client.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := ts.raw(t, "DELETE", "/v1/workspaces/w/files/notes.md", nil, http.Header{"If-Match": {`"` + old.ETag + `"`}})
	if r.status != http.StatusPreconditionFailed || r.err == nil || r.err.Code != isoerr.PreconditionFailed {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	err = c.DeleteFileIf(ctx, "w", "notes.md", false, client.FileOptions{IfMatch: old.ETag})
	wantCode(t, err, isoerr.PreconditionFailed)
	r = ts.raw(t, "DELETE", "/v1/workspaces/w/files/notes.md", nil, http.Header{"If-None-Match": {"*"}})
	if r.status != http.StatusBadRequest || r.err == nil || r.err.Code != isoerr.InvalidRequest {
		t.Fatalf("If-None-Match: %d %s", r.status, r.body)
	}
	if got, err := c.ReadFile(ctx, "w", "notes.md"); err != nil || string(got) != "two" {
		t.Fatalf("a refused delete changed the file: %q %v", got, err)
	}
	if err := c.DeleteFileIf(ctx, "w", "notes.md", false, client.FileOptions{IfMatch: cur.ETag}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ReadFile(ctx, "w", "notes.md")
	wantCode(t, err, isoerr.NotFound)
	// Raw HTTP with the current etag, unquoted: 204.
	cur, err = c.PutFile(ctx, "w", "b", strings.NewReader("b"), -1, client.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := ts.raw(t, "DELETE", "/v1/workspaces/w/files/b", nil, http.Header{"If-Match": {cur.ETag}}); r.status != http.StatusNoContent {
		t.Fatalf("current If-Match: %d %s", r.status, r.body)
	}
}
