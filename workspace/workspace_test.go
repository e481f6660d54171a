package workspace_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func open(t *testing.T, lim workspace.Limits) *workspace.SQLite {
	t.Helper()
	s, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s *workspace.SQLite, ws, p, content string) workspace.Info {
	t.Helper()
	i, err := s.Write(context.Background(), ws, p, strings.NewReader(content), workspace.WriteOptions{})
	if err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
	return i
}

func cat(t *testing.T, s *workspace.SQLite, ws, p string) string {
	t.Helper()
	rc, _, err := s.Read(context.Background(), ws, p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantCode(t *testing.T, err error, code isoerr.Code) {
	t.Helper()
	if got := isoerr.CodeOf(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestClean(t *testing.T) {
	deep := strings.Repeat("a/", workspace.MaxDepth+1)
	for _, c := range []struct {
		in, want string
		code     isoerr.Code
	}{
		{in: "", want: "/"},
		{in: "/", want: "/"},
		{in: "a/b", want: "/a/b"},
		{in: "/a//b/./c/", want: "/a/b/c"},
		{in: "a/../b", want: "/b"},
		{in: "..", code: isoerr.InvalidRequest},
		{in: "/../etc/passwd", code: isoerr.InvalidRequest},
		{in: "a/../../b", code: isoerr.InvalidRequest},
		{in: "a\x00b", code: isoerr.InvalidRequest},
		{in: "a\xffb", code: isoerr.InvalidRequest},
		{in: strings.Repeat("x", workspace.MaxNameLength+1), code: isoerr.InvalidRequest},
		{in: strings.Repeat("x", workspace.MaxPathLength+1), code: isoerr.InvalidRequest},
		{in: deep, code: isoerr.InvalidRequest},
		{in: "%2e%2e/x", want: "/%2e%2e/x"}, // percent-decoding is the HTTP layer's; here it is a name
	} {
		got, err := workspace.Clean(c.in)
		if c.code != "" {
			wantCode(t, err, c.code)
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestHostilePathsChangeNothing(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "w", "keep.txt", "x")
	for _, p := range []string{"../x", "/../../x", "a/\x00", strings.Repeat("d/", 70) + "f"} {
		_, err := s.Write(ctx, "w", p, strings.NewReader("evil"), workspace.WriteOptions{})
		wantCode(t, err, isoerr.InvalidRequest)
		wantCode(t, s.Mkdir(ctx, "w", p, true), isoerr.InvalidRequest)
		wantCode(t, s.Rename(ctx, "w", "keep.txt", p), isoerr.InvalidRequest)
	}
	// A symlink whose target climbs out of the workspace is refused.
	wantCode(t, s.Symlink(ctx, "w", "../../etc/passwd", "link"), isoerr.InvalidRequest)
	wantCode(t, s.Symlink(ctx, "w", "../../../outside", "a/b"), isoerr.InvalidRequest)
	// Bad workspace names.
	for _, ws := range []string{"", "../x", "a/b", "x\x00"} {
		_, err := s.Write(ctx, ws, "f", strings.NewReader("x"), workspace.WriteOptions{})
		wantCode(t, err, isoerr.InvalidRequest)
	}
	u, _ := s.Usage(ctx, "w")
	if u.Files != 1 || u.Bytes != 1 {
		t.Fatalf("usage after refused writes: %+v, want 1 file of 1 byte", u)
	}
}

func TestFileOperations(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "w", "src/a/b.txt", "hello")
	if got := cat(t, s, "w", "/src/a/b.txt"); got != "hello" {
		t.Fatalf("read = %q", got)
	}
	if i, err := s.Stat(ctx, "w", "src/a"); err != nil || i.Type != workspace.Dir {
		t.Fatalf("parents made: %+v %v", i, err)
	}
	// Append, overwrite.
	if _, err := s.Write(ctx, "w", "src/a/b.txt", strings.NewReader(" world"), workspace.WriteOptions{Append: true}); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, s, "w", "src/a/b.txt"); got != "hello world" {
		t.Fatalf("after append: %q", got)
	}
	// ReadDir in name order.
	put(t, s, "w", "src/z.txt", "z")
	put(t, s, "w", "src/c.txt", "c")
	list, err := s.ReadDir(ctx, "w", "src")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		names = append(names, i.Name+":"+string(i.Type))
	}
	if got := strings.Join(names, ","); got != "a:directory,c.txt:file,z.txt:file" {
		t.Fatalf("readDir = %s", got)
	}
	// Copy a tree, then move it.
	if err := s.Copy(ctx, "w", "src", "copy", true); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, s, "w", "copy/a/b.txt"); got != "hello world" {
		t.Fatalf("copy: %q", got)
	}
	put(t, s, "w", "copy/a/b.txt", "changed")
	if got := cat(t, s, "w", "src/a/b.txt"); got != "hello world" {
		t.Fatalf("a copy's write changed the source: %q", got)
	}
	if err := s.Rename(ctx, "w", "copy", "moved/deep"); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, s, "w", "moved/deep/a/b.txt"); got != "changed" {
		t.Fatalf("after rename: %q", got)
	}
	if list, _ := s.ReadDir(ctx, "w", "moved/deep/a"); len(list) != 1 {
		t.Fatalf("renamed directory lists %d entries, want 1", len(list))
	}
	_, err = s.Stat(ctx, "w", "copy")
	wantCode(t, err, isoerr.NotFound)
	wantCode(t, s.Rename(ctx, "w", "src", "src/inside"), isoerr.InvalidRequest)
	// Remove: not empty without recursive, then recursive; usage comes back.
	wantCode(t, s.Remove(ctx, "w", "moved", false), isoerr.Conflict)
	if err := s.Remove(ctx, "w", "moved", true); err != nil {
		t.Fatal(err)
	}
	u, _ := s.Usage(ctx, "w")
	// src, src/a, src/a/b.txt, src/z.txt, src/c.txt
	if u.Files != 5 || u.Bytes != int64(len("hello world")+2) {
		t.Fatalf("usage = %+v", u)
	}
	// Errors of kind.
	_, _, err = s.Read(ctx, "w", "src")
	wantCode(t, err, isoerr.Conflict)
	_, _, err = s.Read(ctx, "w", "nope")
	wantCode(t, err, isoerr.NotFound)
	_, err = s.Write(ctx, "w", "src/z.txt/x", strings.NewReader(""), workspace.WriteOptions{})
	wantCode(t, err, isoerr.Conflict)
	wantCode(t, s.Mkdir(ctx, "w", "src", false), isoerr.Conflict)
	wantCode(t, s.Mkdir(ctx, "w", "no/parent", false), isoerr.NotFound)
	if err := s.Mkdir(ctx, "w", "src", true); err != nil {
		t.Fatalf("mkdir -p of an existing directory: %v", err)
	}
	// Workspaces are apart.
	_, _, err = s.Read(ctx, "other", "src/z.txt")
	wantCode(t, err, isoerr.NotFound)
}

func TestSymlinks(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "w", "data/real.txt", "real")
	if err := s.Symlink(ctx, "w", "../data", "links/d"); err != nil {
		t.Fatal(err)
	}
	if err := s.Symlink(ctx, "w", "/data/real.txt", "abs"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"links/d/real.txt", "abs"} {
		if got := cat(t, s, "w", p); got != "real" {
			t.Fatalf("read through %s: %q", p, got)
		}
	}
	if tgt, err := s.Readlink(ctx, "w", "links/d"); err != nil || tgt != "../data" {
		t.Fatalf("readlink = %q, %v", tgt, err)
	}
	// Writes through a link land on its target.
	put(t, s, "w", "links/d/new.txt", "n")
	if got := cat(t, s, "w", "data/new.txt"); got != "n" {
		t.Fatalf("write through a link: %q", got)
	}
	// Removing a link leaves its target.
	if err := s.Remove(ctx, "w", "links/d", true); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, s, "w", "data/real.txt"); got != "real" {
		t.Fatalf("target after removing the link: %q", got)
	}
	// Loops stop.
	if err := s.Symlink(ctx, "w", "b", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Symlink(ctx, "w", "a", "b"); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Read(ctx, "w", "a")
	wantCode(t, err, isoerr.InvalidRequest)
}

func TestGlob(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	for _, p := range []string{"a.ts", "src/b.ts", "src/x/c.ts", "src/x/d.js"} {
		put(t, s, "w", p, "")
	}
	for _, c := range []struct{ pat, want string }{
		{"**/*.ts", "/a.ts /src/b.ts /src/x/c.ts"},
		{"src/*.ts", "/src/b.ts"},
		{"src/**", "/src/b.ts /src/x /src/x/c.ts /src/x/d.js"},
		{"src/x/?.js", "/src/x/d.js"},
	} {
		got, err := s.Glob(ctx, "w", c.pat)
		if err != nil {
			t.Fatal(err)
		}
		var ps []string
		for _, i := range got {
			ps = append(ps, i.Path)
		}
		if strings.Join(ps, " ") != c.want {
			t.Errorf("glob %s = %v, want %s", c.pat, ps, c.want)
		}
	}
	_, err := s.Glob(ctx, "w", "src/[")
	wantCode(t, err, isoerr.InvalidRequest)
}

func TestConditionalWrites(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	i := put(t, s, "w", "f", "one")
	j, err := s.Write(ctx, "w", "f", strings.NewReader("two"), workspace.WriteOptions{IfMatch: i.ETag})
	if err != nil {
		t.Fatal(err)
	}
	if j.ETag == i.ETag {
		t.Fatal("the etag did not change on write")
	}
	_, err = s.Write(ctx, "w", "f", strings.NewReader("stale"), workspace.WriteOptions{IfMatch: i.ETag})
	wantCode(t, err, isoerr.PreconditionFailed)
	_, err = s.Write(ctx, "w", "f", strings.NewReader("new"), workspace.WriteOptions{IfNoneMatch: "*"})
	wantCode(t, err, isoerr.PreconditionFailed)
	_, err = s.Write(ctx, "w", "missing", strings.NewReader("x"), workspace.WriteOptions{IfMatch: "*"})
	wantCode(t, err, isoerr.PreconditionFailed)
	if got := cat(t, s, "w", "f"); got != "two" {
		t.Fatalf("a failed conditional write changed the file: %q", got)
	}
	// Of many writers holding the same etag, exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for k := 0; k < 8; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Write(ctx, "w", "f", strings.NewReader("race"), workspace.WriteOptions{IfMatch: j.ETag})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if isoerr.CodeOf(err) != isoerr.PreconditionFailed {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d writers with the same etag won, want 1", wins)
	}
}

func TestQuotas(t *testing.T) {
	ctx := context.Background()
	t.Run("file size", func(t *testing.T) {
		s := open(t, workspace.Limits{MaxFileSize: 1000})
		_, err := s.Write(ctx, "w", "big", bytes.NewReader(make([]byte, 1001)), workspace.WriteOptions{})
		wantCode(t, err, isoerr.FileTooLarge)
		put(t, s, "w", "ok", strings.Repeat("x", 1000))
		_, err = s.Write(ctx, "w", "ok", strings.NewReader("y"), workspace.WriteOptions{Append: true})
		wantCode(t, err, isoerr.FileTooLarge)
		if u, _ := s.Usage(ctx, "w"); u.Bytes != 1000 || u.Files != 1 {
			t.Fatalf("usage %+v", u)
		}
	})
	t.Run("files", func(t *testing.T) {
		s := open(t, workspace.Limits{MaxFiles: 3})
		put(t, s, "w", "d/a", "")
		put(t, s, "w", "d/b", "")
		_, err := s.Write(ctx, "w", "d/c", strings.NewReader(""), workspace.WriteOptions{})
		wantCode(t, err, isoerr.QuotaExceeded)
		wantCode(t, s.Copy(ctx, "w", "d/a", "e", false), isoerr.QuotaExceeded)
		put(t, s, "other", "x", "") // another workspace has its own quota
	})
	t.Run("per workspace", func(t *testing.T) {
		s := open(t, workspace.Limits{MaxBytes: 100})
		if err := s.SetQuota(ctx, "small", 10, 2); err != nil {
			t.Fatal(err)
		}
		put(t, s, "small", "a", "0123456789")
		_, err := s.Write(ctx, "small", "b", strings.NewReader("x"), workspace.WriteOptions{})
		wantCode(t, err, isoerr.QuotaExceeded)
		put(t, s, "big", "a", strings.Repeat("x", 100)) // the store's limit
		_, err = s.Write(ctx, "big", "b", strings.NewReader("x"), workspace.WriteOptions{})
		wantCode(t, err, isoerr.QuotaExceeded)
		if u, _ := s.Usage(ctx, "small"); u.MaxBytes != 10 || u.MaxFiles != 2 || u.Bytes != 10 {
			t.Fatalf("usage %+v", u)
		}
		wantCode(t, s.SetQuota(ctx, "small", -1, 0), isoerr.InvalidRequest)
	})
	t.Run("concurrent writers hold the byte quota", func(t *testing.T) {
		const quota, size, writers = 10_000, 1_000, 40
		s := open(t, workspace.Limits{MaxBytes: quota})
		var wg sync.WaitGroup
		for k := 0; k < writers; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Write(ctx, "w", "f"+strings.Repeat("x", k%7)+string(rune('a'+k)), bytes.NewReader(make([]byte, size)), workspace.WriteOptions{})
				if err != nil && isoerr.CodeOf(err) != isoerr.QuotaExceeded {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		u, _ := s.Usage(ctx, "w")
		if u.Bytes != quota || u.Files != quota/size {
			t.Fatalf("usage after %d racing writers: %+v, want exactly %d bytes in %d files", writers, u, quota, quota/size)
		}
		list, _ := s.ReadDir(ctx, "w", "/")
		if len(list) != quota/size {
			t.Fatalf("%d files listed, want %d", len(list), quota/size)
		}
	})
}

func TestLargeFileStreamsInChunks(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	want := make([]byte, 3*workspace.ChunkSize+123)
	rand.Read(want)
	if _, err := s.Write(ctx, "w", "big.bin", bytes.NewReader(want), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, info, err := s.Read(ctx, "w", "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	// Replace it while the reader is open: the reader keeps its snapshot.
	put(t, s, "w", "big.bin", "small")
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(want)) || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (stat %d), want the %d written", len(got), info.Size, len(want))
	}
	if got := cat(t, s, "w", "big.bin"); got != "small" {
		t.Fatalf("after replace: %q", got)
	}
}

// failingReader gives some bytes, then fails: a client that went away mid-upload.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.ErrClosedPipe
	}
	k := min(len(p), r.n)
	r.n -= k
	return k, nil
}

func TestFailedWriteLeavesOldContent(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "w", "f", "old")
	_, err := s.Write(ctx, "w", "f", &failingReader{n: 2 * workspace.ChunkSize * stageBatchForTest}, workspace.WriteOptions{})
	if err == nil {
		t.Fatal("a write whose reader failed succeeded")
	}
	if got := cat(t, s, "w", "f"); got != "old" {
		t.Fatalf("after a failed write: %q", got)
	}
	if u, _ := s.Usage(ctx, "w"); u.Bytes != 3 {
		t.Fatalf("usage %+v", u)
	}
}

const stageBatchForTest = 16
