package workspace

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// List pages through the workspaces in name order; Lookup knows only those that exist;
// Delete drops one whole (its content too, nothing left to collect) and leaves the others.
func TestListLookupDelete(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ws.db"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	big := strings.Repeat("x", 5*ChunkSize)
	for _, ws := range []string{"c", "a", "b"} {
		if _, err := s.Write(ctx, ws, "d/f.txt", strings.NewReader(big), WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetQuota(ctx, "q", 10, 1); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, "", 2)
	if err != nil || len(page) != 2 || page[0].Name != "a" || page[1].Name != "b" || page[0].Bytes != int64(len(big)) || page[0].Files != 2 {
		t.Fatalf("first page: %+v %v", page, err)
	}
	page, err = s.List(ctx, "b", 10)
	if err != nil || len(page) != 2 || page[0].Name != "c" || page[1].Name != "q" || page[1].MaxBytes != 10 || page[0].MaxBytes != s.Limits().MaxBytes {
		t.Fatalf("second page: %+v %v", page, err)
	}
	if _, err := s.Lookup(ctx, "nobody"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("lookup of a missing workspace: %v", err)
	}
	if err := s.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, "b"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("lookup after delete: %v", err)
	}
	if err := s.Delete(ctx, "b"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.Delete(ctx, "../x"); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("bad name: %v", err)
	}
	var chunks int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM chunks`).Scan(&chunks); err != nil || chunks != 2*5 {
		t.Fatalf("%d chunks left for the 2 remaining files of 5 chunks (%v)", chunks, err)
	}
	if _, _, err := s.Read(ctx, "b", "d/f.txt"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("a file of the deleted workspace: %v", err)
	}
	if rc, _, err := s.Read(ctx, "a", "d/f.txt"); err != nil {
		t.Fatalf("another workspace: %v", err)
	} else {
		rc.Close()
	}
}
