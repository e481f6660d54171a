package workspace_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// tree lists a workspace as "path type size target" lines.
func tree(t *testing.T, s *workspace.SQLite, ws, glob string) string {
	t.Helper()
	all, err := s.Glob(context.Background(), ws, glob)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, i := range all {
		fmt.Fprintf(&b, "%s %s %d %s\n", i.Path, i.Type, i.Size, i.Target)
	}
	return b.String()
}

func TestArchiveRoundTrip(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	big := bytes.Repeat([]byte("chunky "), 2*workspace.ChunkSize/7+3)
	put(t, s, "p", "proj/a.txt", "hello\n")
	put(t, s, "p", "proj/src/main.go", "package main\n")
	put(t, s, "p", "proj/empty", "")
	if _, err := s.Write(ctx, "p", "proj/big.bin", bytes.NewReader(big), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Mkdir(ctx, "p", "proj/emptydir", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Symlink(ctx, "p", "src/main.go", "proj/link"); err != nil {
		t.Fatal(err)
	}
	// The archive is a file of the workspace; it does not hold itself.
	if _, err := s.CreateArchive(ctx, "p", []string{"proj"}, "proj/out.tar.gz"); err != nil {
		t.Fatal(err)
	}
	res, err := s.ExtractArchive(ctx, "p", "proj/out.tar.gz", "copy", workspace.ExtractLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 4 || res.Dirs != 3 || res.Symlinks != 1 || res.Bytes != int64(len(big))+6+13 {
		t.Errorf("extracted %+v", res)
	}
	orig := strings.ReplaceAll(strings.ReplaceAll(tree(t, s, "p", "proj/**"), "/proj/out.tar.gz file", "skip"), "/proj", "")
	var keep []string
	for _, l := range strings.Split(orig, "\n") {
		if !strings.HasPrefix(l, "skip") {
			keep = append(keep, l)
		}
	}
	if got := strings.ReplaceAll(tree(t, s, "p", "copy/proj/**"), "/copy/proj", ""); got != strings.Join(keep, "\n") {
		t.Errorf("extracted tree\n%s\nwant\n%s", got, strings.Join(keep, "\n"))
	}
	if cat(t, s, "p", "copy/proj/big.bin") != string(big) || cat(t, s, "p", "copy/proj/link") != "package main\n" {
		t.Error("extracted content differs")
	}

	// tar(1) reads what WriteArchive writes.
	if _, err := exec.LookPath("tar"); err == nil {
		var buf bytes.Buffer
		if err := s.WriteArchive(ctx, "p", []string{"proj/a.txt", "proj/src"}, &buf); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("tar", "-tzf", "-")
		cmd.Stdin = &buf
		out, err := cmd.Output()
		if err != nil || string(out) != "proj/a.txt\nproj/src/\nproj/src/main.go\n" {
			t.Errorf("tar -tz: %q, %v", out, err)
		}
	}
	_, err = s.CreateArchive(ctx, "p", []string{"nope"}, "x.tar.gz")
	wantCode(t, err, isoerr.NotFound)
}

type entry struct {
	name, body, link string
	typ              byte
	size             int64 // when set, the header's size (no body written)
	pax              map[string]string
}

// tgz writes entries as a tar.gz. A header that claims a size without a body ends the
// archive there, as a stream cut short would.
func tgz(w io.Writer, entries func(yield func(entry) bool)) error {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	var err error
	entries(func(e entry) bool {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body)), PAXRecords: e.pax}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
		}
		if err = tw.WriteHeader(h); err != nil {
			return false
		}
		if e.size != 0 {
			zw.Close()
			err = io.EOF
			return false
		}
		if _, err = io.WriteString(tw, e.body); err != nil {
			return false
		}
		return true
	})
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	tw.Close()
	return zw.Close()
}

func list(es ...entry) func(func(entry) bool) {
	return func(yield func(entry) bool) {
		for _, e := range es {
			if !yield(e) {
				return
			}
		}
	}
}

// Hostile archives are refused with a typed error, and nothing of them is written: not
// the good entries before the bad one, not their staged content.
func TestExtractHostile(t *testing.T) {
	ok := entry{name: "ok.txt", body: strings.Repeat("fine\n", 100_000)} // two chunks
	for _, c := range []struct {
		name  string
		es    []entry
		raw   []byte
		lim   workspace.ExtractLimits
		code  isoerr.Code
		setup func(s *workspace.SQLite)
	}{
		{name: "dot-dot", es: []entry{ok, {name: "../../x", body: "x"}}, code: isoerr.InvalidRequest},
		{name: "dot-dot inside", es: []entry{ok, {name: "a/../../x", body: "x"}}, code: isoerr.InvalidRequest},
		{name: "absolute", es: []entry{ok, {name: "/etc/passwd", body: "x"}}, code: isoerr.InvalidRequest},
		{name: "symlink out", es: []entry{ok, {name: "l", typ: tar.TypeSymlink, link: "../../etc"}}, code: isoerr.InvalidRequest},
		{name: "symlink absolute", es: []entry{ok, {name: "l", typ: tar.TypeSymlink, link: "/etc"}}, code: isoerr.InvalidRequest},
		{name: "write through own symlink", es: []entry{ok, {name: "d", typ: tar.TypeDir}, {name: "l", typ: tar.TypeSymlink, link: "d"}, {name: "l/x", body: "x"}}, code: isoerr.Conflict},
		{name: "write through existing symlink", es: []entry{ok, {name: "evil/x", body: "x"}}, code: isoerr.Conflict,
			setup: func(s *workspace.SQLite) { s.Symlink(context.Background(), "p", "/", "dst/evil") }},
		{name: "file over directory", es: []entry{ok, {name: "d", typ: tar.TypeDir}, {name: "d", body: "x"}}, code: isoerr.Conflict},
		{name: "hard link", es: []entry{ok, {name: "h", typ: tar.TypeLink, link: "ok.txt"}}, code: isoerr.InvalidRequest},
		{name: "fifo", es: []entry{ok, {name: "f", typ: tar.TypeFifo}}, code: isoerr.InvalidRequest},
		{name: "10 GB header", es: []entry{ok, {name: "huge", size: 10 << 30}}, code: isoerr.FileTooLarge},
		{name: "cut short", es: []entry{ok, {name: "short", size: 100}}, code: isoerr.InvalidRequest},
		{name: "over MaxBytes", es: []entry{ok, {name: "b", body: "0123456789"}}, lim: workspace.ExtractLimits{MaxBytes: int64(len(ok.body)) + 5}, code: isoerr.FileTooLarge},
		{name: "over MaxEntries", es: []entry{ok, {name: "b"}, {name: "c"}}, lim: workspace.ExtractLimits{MaxEntries: 2}, code: isoerr.FileTooLarge},
		{name: "quota", es: []entry{ok, {name: "b", body: "0123456789"}}, code: isoerr.QuotaExceeded,
			setup: func(s *workspace.SQLite) { s.SetQuota(context.Background(), "p", int64(len(ok.body))+10, 0) }},
		{name: "not gzip", raw: []byte("PK\x03\x04 a zip"), code: isoerr.InvalidRequest},
		{name: "gzip, not tar", raw: gzipOf("just text, not a tar archive at all"), code: isoerr.InvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := open(t, workspace.Limits{})
			ctx := context.Background()
			put(t, s, "p", "dst/keep.txt", "keep")
			if c.setup != nil {
				c.setup(s)
			}
			before, blobs := tree(t, s, "p", "**"), fmt.Sprint(s.Blobs())
			var buf bytes.Buffer
			if c.raw != nil {
				buf.Write(c.raw)
			} else if err := tgz(&buf, list(c.es...)); err != nil {
				t.Fatal(err)
			}
			_, err := s.Extract(ctx, "p", "dst", &buf, c.lim)
			wantCode(t, err, c.code)
			if after := tree(t, s, "p", "**"); after != before {
				t.Errorf("the workspace changed:\n%s\nwas\n%s", after, before)
			}
			if got := fmt.Sprint(s.Blobs()); got != blobs {
				t.Errorf("blobs and chunks %s after, %s before: staged content left behind", got, blobs)
			}
		})
	}
}

func gzipOf(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.Bytes()
}

// counting counts the bytes a generator has produced.
type counting struct {
	w io.Writer
	n *atomic.Int64
}

func (c counting) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// extractGenerated extracts an archive made as it is read, and returns the error and
// how many uncompressed tar bytes the generator produced.
func extractGenerated(t *testing.T, s *workspace.SQLite, lim workspace.ExtractLimits, entries func(func(entry) bool)) (error, int64) {
	t.Helper()
	pr, pw := io.Pipe()
	var produced atomic.Int64
	go func() {
		pw.CloseWithError(tgz(pw, func(yield func(entry) bool) {
			entries(func(e entry) bool {
				produced.Add(512 + int64(len(e.body)))
				return yield(e)
			})
		}))
	}()
	_, err := s.Extract(context.Background(), "p", "dst", pr, lim)
	pr.CloseWithError(io.ErrClosedPipe)
	return err, produced.Load()
}

// Bombs: an archive that expands to 10 GiB, one of a million entries and one whose
// headers are swollen with PAX records are each stopped early, with a typed error and
// nothing written; the work done is bounded by the limits, not by the archive.
func TestExtractBombs(t *testing.T) {
	// The million entries stop at the store's file limit (an extraction's default entry
	// limit): 2,000 here, 500x below the million, not the default 100,000, whose entries
	// took ~30 s of a one-core -race run to extract before the stop.
	s := open(t, workspace.Limits{MaxFiles: 2_000})
	before, blobs := tree(t, s, "p", "**"), fmt.Sprint(s.Blobs())
	zeros := string(make([]byte, 1<<20))

	err, produced := extractGenerated(t, s, workspace.ExtractLimits{MaxBytes: 16 << 20}, func(yield func(entry) bool) {
		for i := range 10 << 10 { // 10,240 files of 1 MiB of zeros: 10 GiB
			if !yield(entry{name: fmt.Sprintf("z%05d", i), body: zeros}) {
				return
			}
		}
	})
	wantCode(t, err, isoerr.FileTooLarge)
	if produced > 32<<20 {
		t.Errorf("the generator produced %d bytes before the extraction stopped", produced)
	}

	err, produced = extractGenerated(t, s, workspace.ExtractLimits{}, func(yield func(entry) bool) {
		for i := range 1_000_000 {
			if !yield(entry{name: fmt.Sprintf("e%07d", i)}) {
				return
			}
		}
	})
	wantCode(t, err, isoerr.FileTooLarge)
	if max := (s.Limits().MaxFiles + 200_000) * 512; produced > max {
		t.Errorf("the generator produced %d bytes of a million entries", produced)
	}

	record := strings.Repeat("p", 900<<10)
	err, _ = extractGenerated(t, s, workspace.ExtractLimits{MaxBytes: 1 << 20, MaxEntries: 1000}, func(yield func(entry) bool) {
		for i := range 1000 {
			if !yield(entry{name: fmt.Sprintf("x%04d", i), pax: map[string]string{"comment": record}}) {
				return
			}
		}
	})
	wantCode(t, err, isoerr.FileTooLarge)

	if after := tree(t, s, "p", "**"); after != before {
		t.Errorf("the workspace changed:\n%s", after)
	}
	if got := fmt.Sprint(s.Blobs()); got != blobs {
		t.Errorf("blobs and chunks %s after, %s before", got, blobs)
	}
}
