package workspace_test

import (
	"context"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// TestConditionalRemove: a delete with an etag removes the file only while it still has
// that etag; a stale or wrong condition fails with precondition_failed and removes nothing
// (the file, its content and the workspace's usage are as before).
func TestConditionalRemove(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		path    string
		ifMatch func(cur, old workspace.Info) string
		code    isoerr.Code // "" for success
	}{
		{name: "current etag", path: "f", ifMatch: func(cur, _ workspace.Info) string { return cur.ETag }},
		{name: "star on a file", path: "f", ifMatch: func(workspace.Info, workspace.Info) string { return "*" }},
		{name: "star on a directory", path: "d", ifMatch: func(workspace.Info, workspace.Info) string { return "*" }},
		{name: "stale etag", path: "f", ifMatch: func(_, old workspace.Info) string { return old.ETag }, code: isoerr.PreconditionFailed},
		{name: "made-up etag", path: "f", ifMatch: func(workspace.Info, workspace.Info) string { return "v999999" }, code: isoerr.PreconditionFailed},
		{name: "file etag on a directory", path: "d", ifMatch: func(cur, _ workspace.Info) string { return cur.ETag }, code: isoerr.PreconditionFailed},
		{name: "missing file", path: "nothing", ifMatch: func(workspace.Info, workspace.Info) string { return "*" }, code: isoerr.PreconditionFailed},
		{name: "no condition", path: "f", ifMatch: func(workspace.Info, workspace.Info) string { return "" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t, workspace.Limits{})
			old := put(t, s, "w", "f", "one")
			cur := put(t, s, "w", "f", "two")
			put(t, s, "w", "d/inner", "x")
			before, err := s.Usage(ctx, "w")
			if err != nil {
				t.Fatal(err)
			}
			err = s.RemoveIf(ctx, "w", c.path, workspace.RemoveOptions{Recursive: true, IfMatch: c.ifMatch(cur, old)})
			if c.code != "" {
				wantCode(t, err, c.code)
				if got := cat(t, s, "w", "f"); got != "two" {
					t.Fatalf("a failed conditional remove changed f: %q", got)
				}
				if got := cat(t, s, "w", "d/inner"); got != "x" {
					t.Fatalf("a failed conditional remove changed d/inner: %q", got)
				}
				after, err := s.Usage(ctx, "w")
				if err != nil {
					t.Fatal(err)
				}
				if after != before {
					t.Fatalf("usage %+v after a failed remove, was %+v", after, before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Stat(ctx, "w", c.path)
			wantCode(t, err, isoerr.NotFound)
		})
	}
}
