package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// Files over HTTP, through the Go client against a real server: create, replace,
// conditional writes and reads with etags, the content type from the name, the tree, the
// workspace's size and file count, removal, and typed errors that change nothing.
func TestWorkspaceFilesOverHTTP(t *testing.T) {
	ts := start(t, Config{})
	c, ctx := ts.c, context.Background()
	info, err := c.PutFile(ctx, "proj", "src/main.js", strings.NewReader("console.log(1)"), -1, client.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != "/src/main.js" || info.Size != 14 || info.ETag == "" || info.Type != "file" {
		t.Fatalf("put: %+v", info)
	}
	v1 := info.ETag
	// A stale etag and If-None-Match: * both refuse, and the file is as it was.
	_, err = c.PutFile(ctx, "proj", "src/main.js", strings.NewReader("x"), 1, client.FileOptions{IfMatch: "v0"})
	wantCode(t, err, isoerr.PreconditionFailed)
	_, err = c.PutFile(ctx, "proj", "src/main.js", strings.NewReader("x"), 1, client.FileOptions{IfNoneMatch: "*"})
	wantCode(t, err, isoerr.PreconditionFailed)
	info, err = c.PutFile(ctx, "proj", "src/main.js", strings.NewReader("console.log(2)"), 14, client.FileOptions{IfMatch: v1})
	if err != nil || info.ETag == v1 {
		t.Fatalf("conditional replace: %+v %v", info, err)
	}
	f, err := c.GetFile(ctx, "proj", "/src/main.js", client.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f.Body)
	f.Body.Close()
	if string(b) != "console.log(2)" || f.ETag != info.ETag || !strings.HasPrefix(f.ContentType, "text/javascript") || f.ContentLength != 14 {
		t.Fatalf("get: %q %+v", b, f)
	}
	if f, err := c.GetFile(ctx, "proj", "src/main.js", client.FileOptions{IfNoneMatch: info.ETag}); err != nil || !f.NotModified {
		t.Fatalf("If-None-Match with the etag: %+v %v", f, err)
	}
	_, err = c.GetFile(ctx, "proj", "src/main.js", client.FileOptions{IfMatch: v1})
	wantCode(t, err, isoerr.PreconditionFailed)
	_, err = c.GetFile(ctx, "proj", "src/missing.js", client.FileOptions{})
	wantCode(t, err, isoerr.NotFound)
	if r := ts.raw(t, "GET", "/v1/workspaces/proj/files/nope", nil, nil); r.status != 404 || r.err == nil || r.err.Code != isoerr.NotFound {
		t.Fatalf("missing file: %d %s", r.status, r.body)
	}
	_, err = c.GetFile(ctx, "proj", "src", client.FileOptions{})
	wantCode(t, err, isoerr.Conflict)
	if _, err := c.PutFile(ctx, "proj", "src/lib/util.js", strings.NewReader("export {}"), -1, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutFile(ctx, "proj", "name with spaces & ünicode?.txt", strings.NewReader("odd"), -1, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, err := c.ReadFile(ctx, "proj", "name with spaces & ünicode?.txt"); err != nil || string(b) != "odd" {
		t.Fatalf("odd name: %q %v", b, err)
	}
	tree, err := c.Tree(ctx, "proj", "")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range tree {
		paths = append(paths, e.Path+":"+e.Type)
	}
	want := "/name with spaces & ünicode?.txt:file /src:directory /src/lib:directory /src/lib/util.js:file /src/main.js:file"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("tree:\n got %s\nwant %s", got, want)
	}
	if sub, err := c.Tree(ctx, "proj", "src/lib"); err != nil || len(sub) != 1 || sub[0].Path != "/src/lib/util.js" {
		t.Fatalf("tree of src/lib: %+v %v", sub, err)
	}
	wsInfo, err := c.Workspace(ctx, "proj")
	if err != nil || wsInfo.Bytes != 14+9+3 || wsInfo.Files != 5 || wsInfo.QuotaBytes != 1<<30 {
		t.Fatalf("info: %+v %v", wsInfo, err)
	}
	err = c.DeleteFile(ctx, "proj", "src", false)
	wantCode(t, err, isoerr.Conflict)
	if err := c.DeleteFile(ctx, "proj", "src", true); err != nil {
		t.Fatal(err)
	}
	if tree, _ := c.Tree(ctx, "proj", "/"); len(tree) != 1 {
		t.Fatalf("after removing src: %+v", tree)
	}
	if _, err := c.PutFile(ctx, "other", "a", strings.NewReader("a"), -1, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListWorkspaces(ctx, client.ListOptions{})
	if err != nil || len(list.Workspaces) != 2 || list.Workspaces[0].Name != "other" || list.Workspaces[1].Name != "proj" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if page, err := c.ListWorkspaces(ctx, client.ListOptions{Limit: 1}); err != nil || len(page.Workspaces) != 1 || page.Next != "other" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	if err := c.DeleteWorkspace(ctx, "proj"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Workspace(ctx, "proj")
	wantCode(t, err, isoerr.NotFound)
	wantCode(t, c.DeleteWorkspace(ctx, "proj"), isoerr.NotFound)
	if b, err := c.ReadFile(ctx, "other", "a"); err != nil || string(b) != "a" {
		t.Fatalf("the other workspace: %q %v", b, err)
	}
	// Every route needs the API key.
	if _, err := c.WithAPIKey("wrong-key-0123456789").ReadFile(ctx, "other", "a"); isoerr.CodeOf(err) != isoerr.Unauthorized {
		t.Fatalf("wrong key: %v", err)
	}
}

// A hostile path is a typed 400 and changes nothing: "..", percent-encoded ".." in any
// case, an encoded slash hiding "..", ".", a NUL, a bad workspace name, and a path past

// A content type given at PUT is kept and answered by GET (a bad one is refused and
// changes nothing); a PUT without one keeps the file's; curl -d's form type is not taken
// for a file's.
func TestWorkspaceContentTypeOverHTTP(t *testing.T) {
	ts := start(t, Config{})
	c, ctx := ts.c, context.Background()
	var err error
	if di, err := c.PutFile(ctx, "typed", "data.bin", strings.NewReader("{}"), 2, client.FileOptions{ContentType: "application/vnd.x+json"}); err != nil || di.ContentType != "application/vnd.x+json" {
		t.Fatalf("put with a type: %+v %v", di, err)
	}
	_, err = c.PutFile(ctx, "typed", "data.bin", strings.NewReader("[]"), 2, client.FileOptions{ContentType: "text/plain\u0085"})
	wantCode(t, err, isoerr.InvalidRequest)
	if _, err = c.PutFile(ctx, "typed", "data.bin", strings.NewReader("[1]"), 3, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	if f, err := c.GetFile(ctx, "typed", "data.bin", client.FileOptions{}); err != nil || f.ContentType != "application/vnd.x+json" {
		t.Fatalf("get with a kept type: %+v %v", f, err)
	} else {
		f.Body.Close()
	}
	if r := ts.raw(t, "PUT", "/v1/workspaces/typed/files/form.txt", []byte("a=1"), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}); r.status != 201 {
		t.Fatalf("put as curl -d does: %d", r.status)
	}
	if f, err := c.GetFile(ctx, "typed", "form.txt", client.FileOptions{}); err != nil || !strings.HasPrefix(f.ContentType, "text/plain") {
		t.Fatalf("curl -d's form type is not a file's: %+v %v", f, err)
	} else {
		f.Body.Close()
	}
}

// the length limit.
func TestWorkspaceHostilePaths(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	if _, err := ts.c.PutFile(ctx, "w", "keep.txt", strings.NewReader("kept"), -1, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/v1/workspaces/w/files/../../etc/passwd",
		"/v1/workspaces/w/files/a/../../keep.txt",
		"/v1/workspaces/w/files/%2e%2e/x",
		"/v1/workspaces/w/files/%2E%2E/%2e%2E/x",
		"/v1/workspaces/w/files/a%2F..%2F..%2Fx",
		"/v1/workspaces/w/files/./keep.txt",
		"/v1/workspaces/w/files/x%00y",
		"/v1/workspaces/%2e%2e/files/x",
		"/v1/workspaces/bad%2Fname/files/x",
		"/v1/workspaces/w/files/" + strings.Repeat("a/", 2100) + "x",
		"/v1/workspaces/w/files/" + strings.Repeat("n", 300),
		"/v1/workspaces/w/tree?path=../..",
	} {
		for _, method := range []string{"PUT", "GET", "DELETE"} {
			if strings.Contains(p, "/tree") && method != "GET" {
				continue
			}
			r := ts.raw(t, method, p, []byte("evil"), nil)
			if r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidRequest {
				t.Errorf("%s %.80s: %d %.200s", method, p, r.status, r.body)
			}
		}
	}
	tree, err := ts.c.Tree(ctx, "w", "")
	if err != nil || len(tree) != 1 || tree[0].Path != "/keep.txt" || tree[0].Size != 4 {
		t.Fatalf("the workspace changed: %+v %v", tree, err)
	}
	if list, err := ts.c.ListWorkspaces(ctx, client.ListOptions{}); err != nil || len(list.Workspaces) != 1 {
		t.Fatalf("workspaces: %+v %v", list, err)
	}
}

// The operator's quota and the maximum file size hold over HTTP: a write past either is
// a typed 413, streamed or with a known length, and leaves nothing behind; a large file
// streams both ways intact.
func TestWorkspaceQuotaAndSizeOverHTTP(t *testing.T) {
	st, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), workspace.Limits{MaxFileSize: 3 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := start(t, Config{Workspaces: st})
	c, ctx := ts.c, context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16) // exactly the limit: 12 chunks
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeSlowly(pw, big)) }()
	if _, err := c.PutFile(ctx, "q", "big.bin", pr, -1, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := c.GetFile(ctx, "q", "big.bin", client.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, _ := io.Copy(h, f.Body)
	f.Body.Close()
	if n != int64(len(big)) || !bytes.Equal(h.Sum(nil), sum(big)) {
		t.Fatalf("read back %d bytes, a different content", n)
	}
	tooBig := append(big, 'x')
	_, err = c.PutFile(ctx, "q", "toobig.bin", bytes.NewReader(tooBig), int64(len(tooBig)), client.FileOptions{})
	wantCode(t, err, isoerr.FileTooLarge)
	_, err = c.PutFile(ctx, "q", "toobig.bin", io.MultiReader(bytes.NewReader(tooBig)), -1, client.FileOptions{})
	wantCode(t, err, isoerr.FileTooLarge)

	ws, err := c.SetWorkspaceQuota(ctx, "q", api.WorkspaceQuota{QuotaBytes: int64(len(big)) + 10, QuotaFiles: 3})
	if err != nil || ws.QuotaBytes != int64(len(big))+10 || ws.QuotaFiles != 3 {
		t.Fatalf("set quota: %+v %v", ws, err)
	}
	_, err = c.PutFile(ctx, "q", "more.txt", strings.NewReader(strings.Repeat("m", 11)), -1, client.FileOptions{})
	wantCode(t, err, isoerr.QuotaExceeded)
	if _, err := c.PutFile(ctx, "q", "a", strings.NewReader("1"), -1, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutFile(ctx, "q", "b", strings.NewReader("2"), -1, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutFile(ctx, "q", "c", strings.NewReader("3"), -1, client.FileOptions{})
	wantCode(t, err, isoerr.QuotaExceeded)
	_, err = c.SetWorkspaceQuota(ctx, "q", api.WorkspaceQuota{QuotaBytes: -1})
	wantCode(t, err, isoerr.InvalidRequest)
	if r := ts.raw(t, "PUT", "/v1/workspaces/q", []byte(`{"quotaBytes":1,"bogus":2}`), nil); r.status != 400 {
		t.Fatalf("unknown field: %d %s", r.status, r.body)
	}
	tree, err := c.Tree(ctx, "q", "")
	if err != nil || len(tree) != 3 {
		t.Fatalf("after the refusals: %+v %v", tree, err)
	}
	info, err := c.Workspace(ctx, "q")
	if err != nil || info.Bytes != int64(len(big))+2 || info.Files != 3 {
		t.Fatalf("usage: %+v %v", info, err)
	}
}

// writeSlowly writes b in small pieces, as a slow client's upload arrives.
func writeSlowly(w io.Writer, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), 100_000)
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func sum(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

// What a sandbox writes through its binding, HTTP reads, and the other way round: one
// store (with sandbox processes, the server process's).
func TestWorkspaceSharedWithSandboxes(t *testing.T) {
	for _, procs := range []int{-1, 1} {
		t.Run(fmt.Sprintf("processes=%d", max(procs, 0)), func(t *testing.T) {
			ts := start(t, Config{SandboxProcesses: procs})
			ctx := context.Background()
			code := js(`import { env } from "cloudflare:workers";
export default {
  async copy(from, to) { await env.FS.writeFile(to, (await env.FS.readFile(from)).toUpperCase()); return "ok"; },
};`)
			code.Bindings = map[string]api.Binding{"FS": {Workspace: "shared"}}
			if _, err := ts.c.PutWorker(ctx, "copier", code); err != nil {
				t.Fatal(err)
			}
			if _, err := ts.c.PutFile(ctx, "shared", "in.txt", strings.NewReader("from http"), -1, client.FileOptions{}); err != nil {
				t.Fatal(err)
			}
			if out, err := ts.c.Call(ctx, "copier", "copy", "in.txt", "out/up.txt"); err != nil {
				t.Fatalf("%v %+v", err, out)
			}
			if b, err := ts.c.ReadFile(ctx, "shared", "out/up.txt"); err != nil || string(b) != "FROM HTTP" {
				t.Fatalf("%q %v", b, err)
			}
		})
	}
}

// The curl examples of README.md's "Workspaces over HTTP" section, run in order against a
// real server: each answers with success, and the archive downloaded is the one uploaded.
func TestReadmeWorkspacesWalkthrough(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const first = `W=http://127.0.0.1:8787/v1/workspaces; H="Authorization: Bearer $K"`
	text := string(readme)
	i := strings.Index(text, first)
	if i < 0 {
		t.Fatalf("README.md has no workspace walkthrough starting with %s", first)
	}
	block := text[i+len(first):]
	block = block[:strings.Index(block, "```")]
	ts := start(t, Config{})
	vars := map[string]string{"K": testKey, "H": "Authorization: Bearer " + testKey, "W": ts.url + "/v1/workspaces"}
	files := map[string][]byte{} // curl -o FILE, --data-binary @FILE
	n := 0
	for _, line := range strings.Split(block, "\n") {
		for _, words := range shellCommands(t, line, vars) {
			n++
			var out string
			var kept []string
			for j := 0; j < len(words); j++ {
				switch words[j] {
				case "-o":
					j++
					out = words[j]
				case "--data-binary":
					j++
					kept = append(kept, "-d", string(files[strings.TrimPrefix(words[j], "@")]))
				default:
					kept = append(kept, words[j])
				}
			}
			method, url, body, header := curlRequest(t, kept)
			req, err := http.NewRequest(method, url, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 400 {
				t.Errorf("%s\n  answered %d %s", strings.TrimSpace(line), resp.StatusCode, b)
			}
			if out != "" {
				files[out] = b
			}
			if strings.Contains(url, "/copy/archive") && !strings.Contains(string(b), `"files":2`) {
				t.Errorf("the archive of proj extracted as %s, want its 2 files", b)
			}
		}
	}
	if n < 12 {
		t.Fatalf("only %d curl commands in the walkthrough", n)
	}
	if a := files["proj.tar.gz"]; len(a) < 2 || a[0] != 0x1f || a[1] != 0x8b {
		t.Fatalf("the archive downloaded is not gzip: %.20q", a)
	}
}
