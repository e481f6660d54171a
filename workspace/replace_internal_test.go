package workspace

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// A file written between a replace's read and its commit makes the replace fail whole:
// the other writer's content stays, and so does every other file.
func TestReplaceLosesNoConcurrentWrite(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ws.db"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, p := range []string{"a.txt", "b.txt"} {
		if _, err := s.Write(ctx, "p", p, strings.NewReader("old"), WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	prefix, match, _ := fileFilter("*.txt")
	_, err = s.replace(ctx, "p", "old", "new", ReplaceOptions{}, true, func(q querier) ([]*node, error) {
		list, _, err := files(ctx, q, "p", prefix, match)
		// Another writer, after the replace took its snapshot.
		if _, err := s.Write(ctx, "p", "b.txt", strings.NewReader("theirs"), WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		return list, err
	})
	if isoerr.CodeOf(err) != isoerr.PreconditionFailed {
		t.Fatalf("replace over a concurrent write: %v", err)
	}
	for p, want := range map[string]string{"a.txt": "old", "b.txt": "theirs"} {
		rc, _, err := s.Read(ctx, "p", p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != want {
			t.Errorf("%s = %q, want %q", p, b, want)
		}
	}
}
