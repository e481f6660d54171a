package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isobox ws against a running server: put, cat, ls, grep, exec, rm, info, quota, and a
// local directory pushed and pulled back (symlinks kept), with typed errors.
func TestWSCommands(t *testing.T) {
	const key = "ws-test-key-0123456789"
	t.Setenv("ISOBOX_API_KEY", key)
	s := serve(t, "--data", t.TempDir())
	t.Setenv("ISOBOX_URL", s.url)
	ctx := context.Background()
	dir := writeFiles(t, map[string]string{
		"src/main.go": "package main\n// TODO: ship\n",
		"src/util.go": "package main\n",
		"notes.txt":   "todo: nothing\n",
		"local.txt":   "from a file\n",
	})
	if err := os.Symlink("src/main.go", filepath.Join(dir, "main-link")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args   []string
		code   int
		out    string // stdout contains
		errOut string // stderr contains
	}{
		{[]string{"ws", "push", dir, "proj"}, 0, "pushed 4 files, 1 directories, 1 symlinks", ""},
		{[]string{"ws", "ls"}, 0, "proj", ""},
		{[]string{"ws", "ls", "proj"}, 0, "/main-link -> src/main.go", ""},
		{[]string{"ws", "ls", "proj", "src"}, 0, "/src/util.go\t13", ""},
		{[]string{"ws", "cat", "proj", "main-link"}, 0, "// TODO: ship", ""},
		{[]string{"ws", "put", "proj", "docs/a.md", filepath.Join(dir, "local.txt")}, 0, "wrote /docs/a.md (12 bytes", ""},
		{[]string{"ws", "put", "--create", "proj", "docs/a.md", filepath.Join(dir, "local.txt")}, 1, "", "precondition_failed"},
		{[]string{"ws", "cat", "proj", "docs/a.md"}, 0, "from a file", ""},
		{[]string{"ws", "cat", "proj", "nope"}, 1, "", "not_found"},
		{[]string{"ws", "cat", "proj", "../etc/passwd"}, 1, "", "invalid_request"},
		{[]string{"ws", "grep", "proj", "TODO", "--glob", "*.go"}, 0, "/src/main.go:2:// TODO: ship", ""},
		{[]string{"ws", "grep", "-i", "proj", "todo"}, 0, "/notes.txt:1:todo: nothing", ""},
		{[]string{"ws", "grep", "proj", "absent"}, 1, "", ""},
		{[]string{"ws", "exec", "proj", "cat src/*.go | wc -l"}, 0, "3", ""},
		{[]string{"ws", "exec", "proj", "echo out; echo err >&2; exit 4"}, 4, "out", "err"},
		{[]string{"ws", "rm", "proj", "src"}, 1, "", "conflict"},
		{[]string{"ws", "rm", "-r", "proj", "src", "docs"}, 0, "", ""},
		{[]string{"ws", "quota", "proj", "--bytes", "100000", "--files", "50"}, 0, `"quotaFiles": 50`, ""},
		{[]string{"ws", "info", "proj"}, 0, `"files": 3`, ""},
		{[]string{"ws", "info", "nobody"}, 1, "", "not_found"},
		{[]string{"ws"}, 2, "", "Usage"},
		{[]string{"ws", "nope"}, 2, "", "unknown ws command"},
		{[]string{"ws", "cat", "proj"}, 2, "", "Usage: isobox ws cat"},
	} {
		out, errs, code := remoteCLI(t, ctx, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.errOut) {
			t.Errorf("isobox %q: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", tt.args, code, tt.code, out, tt.out, errs, tt.errOut)
		}
	}
	// Pull it back into a new directory: what is left, with the symlink as a symlink.
	dst := filepath.Join(t.TempDir(), "pulled")
	if out, errs, code := remoteCLI(t, ctx, "ws", "pull", "proj", dst); code != 0 {
		t.Fatalf("pull: %d %s %s", code, out, errs)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "notes.txt")); err != nil || string(b) != "todo: nothing\n" {
		t.Fatalf("pulled notes.txt: %q %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(dst, "main-link")); err != nil || target != "src/main.go" {
		t.Fatalf("pulled symlink: %q %v", target, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "src")); !os.IsNotExist(err) {
		t.Fatalf("src was removed on the server, but pulled: %v", err)
	}
	if out, _, code := remoteCLI(t, ctx, "ws", "drop", "proj"); code != 0 || !strings.Contains(out, "deleted workspace proj") {
		t.Fatalf("drop: %d %s", code, out)
	}
	if _, errs, code := remoteCLI(t, ctx, "ws", "pull", "proj", dst); code != 1 || !strings.Contains(errs, "not_found") {
		t.Fatalf("pull of a dropped workspace: %d %s", code, errs)
	}
}

// Pull never writes outside its directory, whatever the archive holds: names that climb
// or are absolute, a symlink that points out, and a file written through a symlink.
func TestExtractLocalStaysInside(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		entries []*tar.Header
	}{
		{"dotdot", []*tar.Header{{Name: "../outside/x", Typeflag: tar.TypeReg, Size: 1}}},
		{"absolute", []*tar.Header{{Name: filepath.Join(outside, "x"), Typeflag: tar.TypeReg, Size: 1}}},
		{"symlink out", []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../outside"}}},
		{"absolute symlink", []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: outside}}},
		{"through a symlink", []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "."}, {Name: "m", Typeflag: tar.TypeSymlink, Linkname: "l/../.."}, {Name: "m/outside/x", Typeflag: tar.TypeReg, Size: 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(base, "dst-"+strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			tw := tar.NewWriter(gz)
			for _, h := range tt.entries {
				h.Mode = 0o644
				tw.WriteHeader(h)
				if h.Size > 0 {
					tw.Write([]byte("x"))
				}
			}
			tw.Close()
			gz.Close()
			if _, err := extractLocal(&buf, dst); err == nil {
				t.Errorf("extracted without an error")
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Fatalf("wrote outside the directory: %v", ents)
			}
		})
	}
}
