package workspace_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

const pkgJSON = `{"name": "app", "version": "1.0.0", "scripts": {"build": "tsc", "a.b": "dots"},
 "files": ["src", "dist"], "big": 12345678901234567890, "html": "<b>&</b>"}`

func TestQueryJSON(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "p", "package.json", pkgJSON)
	put(t, s, "p", "bad.json", `{"a": `)
	put(t, s, "p", "deep.json", strings.Repeat("[", 1002)+strings.Repeat("]", 1002))
	for _, c := range []struct {
		file, path, want string
		found            bool
		code             isoerr.Code
	}{
		{"package.json", "scripts.build", `"tsc"`, true, ""},
		{"package.json", "$.scripts.build", `"tsc"`, true, ""},
		{"package.json", `scripts["a.b"]`, `"dots"`, true, ""},
		{"package.json", "files[1]", `"dist"`, true, ""},
		{"package.json", "files[-1]", `"dist"`, true, ""},
		{"package.json", "files", `["src","dist"]`, true, ""},
		{"package.json", "big", `12345678901234567890`, true, ""}, // as written, not a float
		{"package.json", "html", `"<b>&</b>"`, true, ""},
		{"package.json", "scripts.missing", ``, false, ""},
		{"package.json", "files[2]", ``, false, ""},
		{"package.json", "name.x", ``, false, ""},
		{"package.json", "files[x]", "", false, isoerr.InvalidRequest},
		{"package.json", "a..b", "", false, isoerr.InvalidRequest},
		{"bad.json", "a", "", false, isoerr.InvalidRequest},
		{"deep.json", "", "", false, isoerr.InvalidRequest},
		{"missing.json", "a", "", false, isoerr.NotFound},
	} {
		got, found, err := s.QueryJSON(ctx, "p", c.file, c.path)
		if c.code != "" {
			wantCode(t, err, c.code)
			continue
		}
		if err != nil || string(got) != c.want || found != c.found {
			t.Errorf("QueryJSON(%s, %q) = %s, %v, %v; want %s, %v", c.file, c.path, got, found, err, c.want, c.found)
		}
	}
	whole, _, err := s.QueryJSON(ctx, "p", "package.json", "")
	if err != nil || !strings.HasPrefix(string(whole), `{"name":"app","version":"1.0.0","scripts"`) {
		t.Errorf("the whole document: %s, %v (keys in their order)", whole, err)
	}
}

func TestUpdateJSON(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		u    workspace.JSONUpdate
		want string // the file after, compacted
		code isoerr.Code
	}{
		{name: "set", u: workspace.JSONUpdate{Op: "set", Path: "scripts.test", Value: json.RawMessage(`"vitest"`)},
			want: `{"name":"app","scripts":{"build":"tsc","test":"vitest"},"files":["src"]}`},
		{name: "set creates objects", u: workspace.JSONUpdate{Op: "set", Path: "a.b.c", Value: json.RawMessage(`1`)},
			want: `{"name":"app","scripts":{"build":"tsc"},"files":["src"],"a":{"b":{"c":1}}}`},
		{name: "append", u: workspace.JSONUpdate{Op: "set", Path: "files[1]", Value: json.RawMessage(`"dist"`)},
			want: `{"name":"app","scripts":{"build":"tsc"},"files":["src","dist"]}`},
		{name: "merge", u: workspace.JSONUpdate{Op: "merge", Path: "scripts", Value: json.RawMessage(`{"build":null,"lint":"eslint"}`)},
			want: `{"name":"app","scripts":{"lint":"eslint"},"files":["src"]}`},
		{name: "merge root", u: workspace.JSONUpdate{Op: "merge", Value: json.RawMessage(`{"name":"b"}`)},
			want: `{"name":"b","scripts":{"build":"tsc"},"files":["src"]}`},
		{name: "delete", u: workspace.JSONUpdate{Op: "delete", Path: "files[0]"},
			want: `{"name":"app","scripts":{"build":"tsc"},"files":[]}`},
		{name: "delete missing", u: workspace.JSONUpdate{Op: "delete", Path: "nope"}, code: isoerr.NotFound},
		{name: "through a string", u: workspace.JSONUpdate{Op: "set", Path: "name.x", Value: json.RawMessage(`1`)}, code: isoerr.InvalidRequest},
		{name: "index out of range", u: workspace.JSONUpdate{Op: "set", Path: "files[5]", Value: json.RawMessage(`1`)}, code: isoerr.NotFound},
		{name: "bad value", u: workspace.JSONUpdate{Op: "set", Path: "a", Value: json.RawMessage(`{`)}, code: isoerr.InvalidRequest},
		{name: "bad op", u: workspace.JSONUpdate{Op: "patch", Path: "a"}, code: isoerr.InvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := open(t, workspace.Limits{})
			const orig = `{"name":"app","scripts":{"build":"tsc"},"files":["src"]}`
			put(t, s, "p", "package.json", orig)
			_, err := s.UpdateJSON(ctx, "p", "package.json", c.u, workspace.WriteOptions{})
			if c.code != "" {
				wantCode(t, err, c.code)
				if got := cat(t, s, "p", "package.json"); got != orig {
					t.Fatalf("the file changed: %s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cat(t, s, "p", "package.json")
			var buf strings.Builder
			var v any
			json.Unmarshal([]byte(got), &v)
			compact, _ := json.Marshal(json.RawMessage(got))
			buf.Write(compact)
			if buf.String() != c.want || !strings.HasSuffix(got, "\n") || !strings.Contains(got, "\n  \"") {
				t.Errorf("file after:\n%s\nwant (compacted) %s", got, c.want)
			}
		})
	}
}

// UpdateJSON with ifMatch: of two writers holding the same etag, the second fails and
// the first one's change stays.
func TestUpdateJSONIfMatch(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	info := put(t, s, "p", "c.json", `{"n":0}`)
	set := func(v string) error {
		_, err := s.UpdateJSON(ctx, "p", "c.json", workspace.JSONUpdate{Op: "set", Path: "n", Value: json.RawMessage(v)}, workspace.WriteOptions{IfMatch: info.ETag})
		return err
	}
	if err := set("1"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, set("2"), isoerr.PreconditionFailed)
	if got, _, _ := s.QueryJSON(ctx, "p", "c.json", "n"); string(got) != "1" {
		t.Fatalf("n = %s", got)
	}
	// A missing file is created by set (and refused by ifMatch).
	if _, err := s.UpdateJSON(ctx, "p", "new.json", workspace.JSONUpdate{Op: "set", Path: "a[0]", Value: json.RawMessage(`1`)}, workspace.WriteOptions{}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("an index into nothing: %v", err)
	}
	if _, err := s.UpdateJSON(ctx, "p", "new.json", workspace.JSONUpdate{Op: "set", Path: "a", Value: json.RawMessage(`[1]`)}, workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, s, "p", "new.json"); got != "{\n  \"a\": [\n    1\n  ]\n}\n" {
		t.Errorf("new.json = %q", got)
	}
}
