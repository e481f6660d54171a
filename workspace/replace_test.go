package workspace_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func TestReplaceInFile(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, search, replace string
		opts                  workspace.ReplaceOptions
		want                  string
		count                 int
		code                  isoerr.Code
	}{
		{name: "text, all", search: "foo", replace: "bar", want: "bar(1) bar(2)\nFoo(3)\n", count: 2},
		{name: "once", search: "foo", replace: "bar", opts: workspace.ReplaceOptions{Once: true}, want: "bar(1) foo(2)\nFoo(3)\n", count: 1},
		{name: "ignore case", search: "FOO", replace: "$x", opts: workspace.ReplaceOptions{IgnoreCase: true}, want: "$x(1) $x(2)\n$x(3)\n", count: 3},
		{name: "regex template", search: `(\w+)\((\d)\)`, replace: "${2}:$1", opts: workspace.ReplaceOptions{Regex: true}, want: "1:foo 2:foo\n3:Foo\n", count: 3},
		{name: "text is not a template", search: "foo", replace: "$1", want: "$1(1) $1(2)\nFoo(3)\n", count: 2},
		{name: "no match", search: "zzz", replace: "y", want: "foo(1) foo(2)\nFoo(3)\n", count: 0},
		{name: "dry run", search: "foo", replace: "bar", opts: workspace.ReplaceOptions{DryRun: true}, want: "foo(1) foo(2)\nFoo(3)\n", count: 2},
		{name: "stale etag", search: "foo", replace: "bar", opts: workspace.ReplaceOptions{IfMatch: "v0"}, code: isoerr.PreconditionFailed},
		{name: "bad regex", search: "(", replace: "", opts: workspace.ReplaceOptions{Regex: true}, code: isoerr.InvalidRequest},
		// One match made large many times over is refused before it is built.
		{name: "growth bomb", search: "o", replace: strings.Repeat("x", 1<<20), code: isoerr.FileTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := open(t, workspace.Limits{MaxFileSize: 2 << 20})
			put(t, s, "p", "f.txt", "foo(1) foo(2)\nFoo(3)\n")
			e, err := s.ReplaceInFile(ctx, "p", "f.txt", c.search, c.replace, c.opts)
			if c.code != "" {
				wantCode(t, err, c.code)
				if got := cat(t, s, "p", "f.txt"); got != "foo(1) foo(2)\nFoo(3)\n" {
					t.Fatalf("the file changed: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cat(t, s, "p", "f.txt"); got != c.want || e.Count != c.count {
				t.Fatalf("file %q after %d replacements; want %q after %d", got, e.Count, c.want, c.count)
			}
			if c.count > 0 && !strings.Contains(e.Preview, "-foo(1)") {
				t.Errorf("preview %q", e.Preview)
			}
			if (e.ETag != "") != (c.count > 0 && !c.opts.DryRun) {
				t.Errorf("etag %q", e.ETag)
			}
		})
	}
}

// ReplaceInFiles is all or nothing: when the third file's growth passes the quota, the
// first two (which fit) are as they were, the workspace holds what it held, and the
// staged content is gone.
func TestReplaceInFilesAllOrNothing(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "p", "a/1.txt", "x\n")
	put(t, s, "p", "a/2.txt", "x\n")
	put(t, s, "p", "a/3.txt", "xxxxxxxx\n")
	put(t, s, "p", "a/bin", "x\x00")
	put(t, s, "p", "b/4.txt", "x\n")
	before, _ := s.Usage(ctx, "p")
	blobs := fmt.Sprint(s.Blobs())
	// Room for 12 more bytes: 1.txt and 2.txt grow by 3 each, 3.txt by 24.
	if err := s.SetQuota(ctx, "p", before.Bytes+12, 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.ReplaceInFiles(ctx, "p", "a/*", "x", "yyyy", workspace.ReplaceOptions{})
	wantCode(t, err, isoerr.QuotaExceeded)
	for p, want := range map[string]string{"a/1.txt": "x\n", "a/2.txt": "x\n", "a/3.txt": "xxxxxxxx\n", "b/4.txt": "x\n"} {
		if got := cat(t, s, "p", p); got != want {
			t.Errorf("%s = %q after a failed replace; want %q", p, got, want)
		}
	}
	if after, _ := s.Usage(ctx, "p"); after.Bytes != before.Bytes || after.Files != before.Files {
		t.Errorf("usage %+v after a failed replace; was %+v", after, before)
	}
	if got := fmt.Sprint(s.Blobs()); got != blobs {
		t.Errorf("blobs and chunks %s after a failed replace, %s before", got, blobs)
	}

	// The dry run reports what the real one then does.
	dry, err := s.ReplaceInFiles(ctx, "p", "*.txt", "x", "z", workspace.ReplaceOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.ReplaceInFiles(ctx, "p", "*.txt", "x", "z", workspace.ReplaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Replacements != 11 || res.Replacements != 11 || len(res.Files) != 4 || !dry.DryRun || res.DryRun {
		t.Fatalf("dry run %+v, run %+v", dry, res)
	}
	for i := range res.Files {
		if dry.Files[i].Path != res.Files[i].Path || dry.Files[i].Preview != res.Files[i].Preview || dry.Files[i].ETag != "" || res.Files[i].ETag == "" {
			t.Errorf("dry %+v vs real %+v", dry.Files[i], res.Files[i])
		}
	}
	if got := cat(t, s, "p", "a/3.txt"); got != "zzzzzzzz\n" {
		t.Errorf("a/3.txt = %q", got)
	}
	// Binary files are left alone and named.
	res, err = s.ReplaceInFiles(ctx, "p", "a/*", "x", "z", workspace.ReplaceOptions{})
	if err != nil || len(res.Skipped) != 1 || res.Skipped[0] != "/a/bin" || cat(t, s, "p", "a/bin") != "x\x00" {
		t.Errorf("binary: %+v, %v", res, err)
	}
}
