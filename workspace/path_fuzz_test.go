package workspace_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/isobox/isobox/workspace"
)

// Whatever the input, a clean path is absolute, has no empty, "." or ".." name, no NUL,
// is within the limits, and cleaning it again changes nothing.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "/", "a/b", "../x", "a/../../b", "a//./b/", "a\x00b", "%2e%2e/x", "..\\..\\x", "/a/b/../c/./d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := workspace.Clean(in)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, "/") || !utf8.ValidString(p) || strings.ContainsRune(p, 0) || len(p) > workspace.MaxPathLength {
			t.Fatalf("Clean(%q) = %q", in, p)
		}
		if p != "/" {
			names := strings.Split(p[1:], "/")
			if len(names) > workspace.MaxDepth {
				t.Fatalf("Clean(%q) = %q: %d deep", in, p, len(names))
			}
			for _, n := range names {
				if n == "" || n == "." || n == ".." || len(n) > workspace.MaxNameLength {
					t.Fatalf("Clean(%q) = %q: name %q", in, p, n)
				}
			}
		}
		if again, err := workspace.Clean(p); err != nil || again != p {
			t.Fatalf("Clean(Clean(%q)) = %q, %v; want %q", in, again, err, p)
		}
	})
}
