package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
)

func putFiles(t *testing.T, c *client.Client, ws string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		if _, err := c.PutFile(context.Background(), ws, p, strings.NewReader(body), -1, client.FileOptions{}); err != nil {
			t.Fatalf("put %s: %v", p, err)
		}
	}
}

// Search and the shell over HTTP: grep -rn with a glob, a script with pipes and
// redirects that writes into the workspace, a failing script (a 200 with its exit code)
// and one stopped by a limit (a typed 422 with the output so far).
func TestWorkspaceSearchAndExecOverHTTP(t *testing.T) {
	ts := start(t, Config{})
	c, ctx := ts.c, context.Background()
	putFiles(t, c, "p", map[string]string{"a.go": "package a\n// TODO: fix\n", "b/b.go": "package b\n", "b/notes.md": "TODO later\n"})
	res, err := c.Search(ctx, "p", api.WorkspaceSearch{Pattern: "TODO", Glob: "*.go"})
	if err != nil || len(res.Matches) != 1 || res.Matches[0].Path != "/a.go" || res.Matches[0].Line != 2 || res.FilesSearched != 2 {
		t.Fatalf("search: %+v %v", res, err)
	}
	_, err = c.Search(ctx, "p", api.WorkspaceSearch{Pattern: "(", Regex: true})
	wantCode(t, err, isoerr.InvalidRequest)

	out, err := c.Exec(ctx, "p", api.ExecRequest{Command: "grep -rl TODO . | sort > todo.txt && wc -l < todo.txt"})
	if err != nil || strings.TrimSpace(out.Stdout) != "2" || out.ExitCode != 0 {
		t.Fatalf("exec: %+v %v", out, err)
	}
	if b, err := c.ReadFile(ctx, "p", "todo.txt"); err != nil || !strings.Contains(string(b), "a.go") {
		t.Fatalf("the script's file: %q %v", b, err)
	}
	out, err = c.Exec(ctx, "p", api.ExecRequest{Command: "echo before; cat missing.txt; exit 3"})
	if err != nil || out.ExitCode != 3 || out.Stdout != "before\n" || out.Stderr == "" {
		t.Fatalf("failing script: %+v %v", out, err)
	}
	out, err = c.Exec(ctx, "p", api.ExecRequest{Command: "x=0123456789; while true; do x=\"$x$x\"; echo \"$x\"; done"})
	if e := isoerr.As(err); err == nil || out == nil || out.ExitCode != -1 || e.Code != isoerr.OutputLimitExceeded || !strings.HasPrefix(out.Stdout, "0123456789") {
		t.Fatalf("runaway script: %+v %v", out, err)
	}
	if r := ts.raw(t, "POST", "/v1/workspaces/p/exec", []byte(`{"command":"true"}`), nil); r.status != 200 {
		t.Fatalf("raw exec: %d %s", r.status, r.body)
	}
}

// tarGz builds an archive from entries, in order.
func tarGz(t *testing.T, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			if _, err := tw.Write(bytes.Repeat([]byte("z"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func file(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644}
}

// Archives both ways: a workspace downloaded as tar.gz and uploaded into another comes
// back the same; hostile uploads are typed 4xx and change nothing.
func TestWorkspaceArchivesOverHTTP(t *testing.T) {
	ts := start(t, Config{})
	c, ctx := ts.c, context.Background()
	files := map[string]string{"src/main.go": "package main\n", "README.md": "# hi\n", "data/big.bin": strings.Repeat("0123456789", 100_000)}
	putFiles(t, c, "src", files)
	var arc bytes.Buffer
	if err := c.DownloadArchive(ctx, "src", nil, &arc); err != nil {
		t.Fatal(err)
	}
	res, err := c.UploadArchive(ctx, "dst", "copy", bytes.NewReader(arc.Bytes()))
	if err != nil || res.Files != 3 {
		t.Fatalf("upload: %+v %v", res, err)
	}
	for p, want := range files {
		if b, err := c.ReadFile(ctx, "dst", "copy/"+p); err != nil || string(b) != want {
			t.Fatalf("%s: %d bytes, %v", p, len(b), err)
		}
	}
	var part bytes.Buffer
	if err := c.DownloadArchive(ctx, "src", []string{"src"}, &part); err != nil {
		t.Fatal(err)
	}
	if res, err := c.UploadArchive(ctx, "part", "", &part); err != nil || res.Files != 1 {
		t.Fatalf("one directory: %+v %v", res, err)
	}
	err = c.DownloadArchive(ctx, "src", []string{"nope"}, &bytes.Buffer{})
	wantCode(t, err, isoerr.NotFound)

	before, err := c.Tree(ctx, "dst", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetWorkspaceQuota(ctx, "dst", api.WorkspaceQuota{QuotaBytes: 2 << 20}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		arc  []byte
		code isoerr.Code
	}{
		{"dotdot", tarGz(t, file("ok.txt", 1), file("../../evil.txt", 1)), isoerr.InvalidRequest},
		{"absolute", tarGz(t, file("/etc/passwd", 1)), isoerr.InvalidRequest},
		{"symlink out", tarGz(t, &tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "../../etc"}), isoerr.InvalidRequest},
		{"through a symlink", tarGz(t, &tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "copy"}, file("l/x.txt", 1)), isoerr.Conflict},
		{"device", tarGz(t, &tar.Header{Name: "dev", Typeflag: tar.TypeChar}), isoerr.InvalidRequest},
		{"past the quota", tarGz(t, file("zeros.bin", 3<<20)), isoerr.QuotaExceeded},
		{"not gzip", []byte("plain text"), isoerr.InvalidRequest},
	} {
		_, err := c.UploadArchive(ctx, "dst", "", bytes.NewReader(tt.arc))
		if e := isoerr.As(err); err == nil || e.Code != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	after, err := c.Tree(ctx, "dst", "")
	if err != nil || len(after) != len(before) {
		t.Fatalf("the hostile uploads changed the workspace: %d entries before, %d after (%v)", len(before), len(after), err)
	}
	for i := range after {
		if after[i].Path != before[i].Path || after[i].ETag != before[i].ETag {
			t.Fatalf("entry %d: %+v, was %+v", i, after[i], before[i])
		}
	}
}
