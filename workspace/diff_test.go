package workspace_test

import (
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func TestDiff(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "p", "a.txt", "one\ntwo\nthree\n")
	put(t, s, "p", "b.txt", "one\n2\nthree\n")
	if err := s.Symlink(ctx, "p", "b.txt", "link"); err != nil {
		t.Fatal(err)
	}
	const ab = "--- a/a.txt\n+++ b/b.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"
	for _, c := range []struct {
		a, b, want string
		code       isoerr.Code
	}{
		{"a.txt", "b.txt", ab, ""},
		{"a.txt", "a.txt", "", ""},
		{"a.txt", "link", strings.Replace(ab, "b/b.txt", "b/link", 1), ""}, // followed
		{"a.txt", "missing", "", isoerr.NotFound},
		{"a.txt", "/", "", isoerr.Conflict},
		{"../x", "a.txt", "", isoerr.InvalidRequest},
	} {
		got, err := s.Diff(ctx, "p", c.a, c.b)
		if c.code != "" {
			wantCode(t, err, c.code)
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Diff(%s, %s) = %q, %v; want %q", c.a, c.b, got, err, c.want)
		}
	}
	got, err := s.DiffText(ctx, "p", "a.txt", "one\ntwo\nthree\nfour\n")
	if want := "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,4 @@\n one\n two\n three\n+four\n"; err != nil || got != want {
		t.Errorf("DiffText = %q, %v; want %q", got, err, want)
	}
	_, err = s.DiffText(ctx, "p", "a.txt", strings.Repeat("\n", workspace.MaxDiffLines+1))
	wantCode(t, err, isoerr.FileTooLarge)
}
