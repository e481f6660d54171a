package workspace

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// DefaultExtractBytes is the most content one extraction writes unless ExtractLimits
// says otherwise.
const DefaultExtractBytes = 1 << 30

// extractBatch is how much content an extraction keeps in memory before it stages it.
const extractBatch = 4 << 20

// ExtractLimits bound one extraction; zero fields take the defaults. The workspace's
// quota and the maximum file size hold as well.
type ExtractLimits struct {
	// MaxBytes is the most file content the archive may hold (default
	// DefaultExtractBytes). A gzip stream that expands past it (plus an allowance for the
	// tar headers) is refused as it is read: a decompression bomb costs at most that much
	// work.
	MaxBytes int64
	// MaxEntries is the most entries (default: the store's MaxFiles).
	MaxEntries int
}

// ExtractResult counts what an extraction wrote.
type ExtractResult struct {
	Files    int   `json:"files"`
	Dirs     int   `json:"directories"`
	Symlinks int   `json:"symlinks"`
	Bytes    int64 `json:"bytes"`
}

// WriteArchive streams a tar.gz of the entries at paths (a directory with everything
// under it; symlinks as symlinks; "/" is the whole workspace) to w, read from one
// snapshot. Names in the archive are the workspace paths without the leading "/".
//
//	err := ws.WriteArchive(ctx, "proj", []string{"src", "go.mod"}, httpResponse)
//
// # Errors
//
// invalid_request for a bad path, not_found when one is missing, and w's error.
func (s *SQLite) WriteArchive(ctx context.Context, ws string, paths []string, w io.Writer) error {
	if _, err := check(ws, "/"); err != nil {
		return err
	}
	if len(paths) == 0 {
		return isoerr.New(isoerr.InvalidRequest, "createArchive: no paths")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("workspace: archive: %w", err)
	}
	defer tx.Rollback()
	var entries []*node
	seen := map[string]bool{}
	for _, p := range paths {
		cp, err := Clean(p)
		if err != nil {
			return err
		}
		rp, n, err := resolve(ctx, tx, ws, cp, true)
		if err != nil {
			return err
		}
		if n == nil {
			return isoerr.New(isoerr.NotFound, "%s: no such file or directory", p)
		}
		if rp != "/" && !seen[rp] {
			seen[rp] = true
			entries = append(entries, n)
		}
		if n.kind == string(Dir) {
			lo, hi := under(rp)
			rows, err := tx.QueryContext(ctx, `SELECT `+nodeCols+` FROM nodes WHERE ws = ? AND path >= ? AND path < ? AND path != ? ORDER BY path`, ws, lo, hi, rp)
			if err != nil {
				return fmt.Errorf("workspace: archive: %w", err)
			}
			for rows.Next() {
				c, err := scanNode(rows)
				if err != nil {
					rows.Close()
					return fmt.Errorf("workspace: archive: %w", err)
				}
				if !seen[c.path] {
					seen[c.path] = true
					entries = append(entries, c)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("workspace: archive: %w", err)
			}
		}
	}
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, n := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := &tar.Header{Name: strings.TrimPrefix(n.path, "/"), ModTime: time.Unix(0, n.modified).UTC(), Format: tar.FormatPAX}
		switch Kind(n.kind) {
		case Dir:
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
		case Symlink:
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, n.target, 0o777
		default:
			h.Typeflag, h.Size, h.Mode = tar.TypeReg, n.size, 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("workspace: archive %s: %w", n.path, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, content(ctx, tx, n)); err != nil {
				return fmt.Errorf("workspace: archive %s: %w", n.path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("workspace: archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("workspace: archive: %w", err)
	}
	return nil
}

// CreateArchive writes a tar.gz of the entries at paths (WriteArchive) to the file
// archivePath of the same workspace, streaming: the archive never sits whole in memory.
// The archive is taken from the snapshot before it is written, so it never holds itself.
//
// # Errors
//
// As WriteArchive and Write.
func (s *SQLite) CreateArchive(ctx context.Context, ws string, paths []string, archivePath string) (Info, error) {
	if _, err := check(ws, archivePath); err != nil {
		return Info{}, err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.WriteArchive(ctx, ws, paths, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	info, werr := s.Write(ctx, ws, archivePath, pr, WriteOptions{})
	pr.CloseWithError(errors.New("the write stopped"))
	if aerr := <-done; aerr != nil && isoerr.CodeOf(aerr) != "" {
		return Info{}, aerr // the archive's own error says more than the write's
	}
	return info, werr
}

// ExtractArchive extracts the tar.gz file archivePath of the workspace under dir
// (Extract).
//
// # Errors
//
// As Extract, and not_found when archivePath is missing.
func (s *SQLite) ExtractArchive(ctx context.Context, ws, archivePath, dir string, lim ExtractLimits) (ExtractResult, error) {
	rc, _, err := s.Read(ctx, ws, archivePath)
	if err != nil {
		return ExtractResult{}, err
	}
	defer rc.Close()
	return s.Extract(ctx, ws, dir, rc, lim)
}

// extracted is one entry of an archive on its way in: content already staged in blob.
type extracted struct {
	path, target string
	kind         Kind
	size         int64
	file         int // the batchStager's number of a file
	blob         int64
}

// Extract reads a tar.gz from r and writes its entries under dir, all or nothing: content
// is staged while r is read, and one transaction at the end makes every entry visible,
// or, when anything is wrong, none. An archive is hostile input, so:
//   - a name that is absolute or has a ".." in it, a hard link, a device or any other
//     special entry is refused;
//   - a symlink must point inside dir (relative, without leaving it), and no entry is
//     written through a symlink (one in the archive or one already in the workspace);
//   - the entry count, the content bytes (from the headers, before anything is read) and
//     the bytes the gzip stream expands to are bounded (lim), as are the quota and the
//     maximum file size.
//
// An existing file is replaced by a file of the same name; an existing directory stays.
//
//	res, err := ws.Extract(ctx, "proj", "vendor", req.Body, workspace.ExtractLimits{})
//
// # Errors
//
// invalid_request for a bad dir, an archive that is not tar.gz, or a refused entry;
// file_too_large past lim or the maximum file size; quota_exceeded; conflict when an
// entry meets an entry of another kind (a file where a directory is, a symlink on the
// way). Nothing is written after any of them.
func (s *SQLite) Extract(ctx context.Context, ws, dir string, r io.Reader, lim ExtractLimits) (ExtractResult, error) {
	dir, err := check(ws, dir)
	if err != nil {
		return ExtractResult{}, err
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultExtractBytes
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = int(s.lim.MaxFiles)
	}
	u, err := s.usage(ctx, s.db, ws)
	if err != nil {
		return ExtractResult{}, fmt.Errorf("workspace: extract: %w", err)
	}
	var entries []extracted
	st := &batchStager{s: s, ctx: ctx}
	fail := func(err error) (ExtractResult, error) {
		if blobs := st.made(); len(blobs) > 0 {
			s.dropStaged(blobs)
		}
		return ExtractResult{}, err
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fail(isoerr.New(isoerr.InvalidRequest, "extractArchive: not a gzip stream: %v", err))
	}
	// The stream may expand to the content, plus what the tar format adds around it: a
	// header (at most 1 MiB with its PAX records) and padding per entry, bounded again.
	budget := lim.MaxBytes + 64<<20 + int64(lim.MaxEntries)*2048
	cr := &capped{r: zr, left: budget}
	tr := tar.NewReader(cr)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if cr.over {
				return fail(isoerr.New(isoerr.FileTooLarge, "extractArchive: the archive expands past %d bytes", budget))
			}
			return fail(isoerr.New(isoerr.InvalidRequest, "extractArchive: not a valid tar.gz: %v", err))
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if len(entries) >= lim.MaxEntries {
			return fail(isoerr.New(isoerr.FileTooLarge, "extractArchive: the archive has more than %d entries", lim.MaxEntries))
		}
		p, err := entryPath(dir, h.Name)
		if err != nil {
			return fail(err)
		}
		e := extracted{path: p}
		switch h.Typeflag {
		case tar.TypeDir:
			e.kind = Dir
		case tar.TypeSymlink:
			e.kind, e.target = Symlink, h.Linkname
			if err := linkInside(dir, p, h.Linkname); err != nil {
				return fail(err)
			}
		case tar.TypeReg, tar.TypeRegA:
			e.kind, e.size = File, h.Size
			if h.Size > s.lim.MaxFileSize {
				return fail(isoerr.New(isoerr.FileTooLarge, "extractArchive: %s is %d bytes; the maximum file size is %d", h.Name, h.Size, s.lim.MaxFileSize))
			}
			if total += h.Size; total > lim.MaxBytes {
				return fail(isoerr.New(isoerr.FileTooLarge, "extractArchive: the archive holds more than %d bytes", lim.MaxBytes))
			}
			if u.Bytes+total > u.MaxBytes {
				return fail(isoerr.New(isoerr.QuotaExceeded, "workspace %q would hold %d bytes or more; its quota is %d", ws, u.Bytes+total, u.MaxBytes))
			}
			file, err := st.add(tr, h.Size)
			if err != nil {
				if cr.over {
					return fail(isoerr.New(isoerr.FileTooLarge, "extractArchive: the archive expands past %d bytes", budget))
				}
				return fail(err)
			}
			e.file = file
		default:
			return fail(isoerr.New(isoerr.InvalidRequest, "extractArchive: %s is a %s; only files, directories and symlinks can be extracted", h.Name, typeName(h.Typeflag)))
		}
		entries = append(entries, e)
	}
	if err := st.flush(); err != nil {
		return fail(fmt.Errorf("workspace: extract: %w", err))
	}
	for i := range entries {
		if entries[i].kind == File {
			entries[i].blob = st.blobs[entries[i].file]
		}
	}
	var res ExtractResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = s.commitExtract(ctx, tx, ws, dir, entries)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return res, nil
}

// commitExtract makes the extracted entries visible inside tx.
func (s *SQLite) commitExtract(ctx context.Context, tx *sql.Tx, ws, dir string, entries []extracted) (ExtractResult, error) {
	var res ExtractResult
	now := time.Now().UnixNano()
	made, err := s.mkdirs(ctx, tx, ws, dir, now)
	if err != nil {
		return res, err
	}
	dBytes, dFiles := int64(0), made
	for _, e := range entries {
		// mkdirs never follows a symlink: one on the way is a conflict.
		m, err := s.mkdirs(ctx, tx, ws, parentOf(e.path), now)
		if err != nil {
			return res, err
		}
		dFiles += m
		old, err := get(ctx, tx, ws, e.path)
		if err != nil {
			return res, err
		}
		switch {
		case old == nil:
		case e.kind == Dir && old.kind == string(Dir):
			continue
		case e.kind == File && old.kind == string(File):
			if err := dropBlob(ctx, tx, old.blob); err != nil {
				return res, err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE ws = ? AND path = ?`, ws, e.path); err != nil {
				return res, fmt.Errorf("workspace: extract: %w", err)
			}
			dBytes -= old.size
			dFiles--
		default:
			return res, isoerr.New(isoerr.Conflict, "extractArchive: %s: a %s is already there", e.path, old.kind)
		}
		n := &node{path: e.path, kind: string(e.kind), target: e.target, version: now, created: now, modified: now}
		switch e.kind {
		case File:
			n.size, n.blob, n.version = e.size, sql.NullInt64{Int64: e.blob, Valid: true}, e.blob
			res.Files++
			res.Bytes += e.size
		case Dir:
			res.Dirs++
		case Symlink:
			res.Symlinks++
		}
		if err := insert(ctx, tx, ws, n); err != nil {
			return res, err
		}
		dBytes += n.size
		dFiles++
	}
	return res, s.account(ctx, tx, ws, dBytes, dFiles)
}

// entryPath is where an archive entry named name lands under dir: refused when absolute,
// when any of its names is "..", or when it is not a valid path.
func entryPath(dir, name string) (string, error) {
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) {
		return "", isoerr.New(isoerr.InvalidRequest, "extractArchive: %q is an absolute path", name)
	}
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", isoerr.New(isoerr.InvalidRequest, "extractArchive: %q climbs out with \"..\"", name)
		}
	}
	p, err := join(dir, name)
	if err != nil {
		return "", err
	}
	if p == dir {
		return "", isoerr.New(isoerr.InvalidRequest, "extractArchive: an entry named %q", name)
	}
	return p, nil
}

// linkInside checks that the symlink p pointing at target stays inside dir.
func linkInside(dir, p, target string) error {
	if target == "" || strings.HasPrefix(target, "/") {
		return isoerr.New(isoerr.InvalidRequest, "extractArchive: the symlink %s points at %q: only relative targets inside the archive are allowed", p, target)
	}
	t, err := join(parentOf(p), target)
	if err != nil || !(t == dir || strings.HasPrefix(t, dir+"/") || dir == "/") {
		return isoerr.New(isoerr.InvalidRequest, "extractArchive: the symlink %s points at %q, outside %s", p, target, dir)
	}
	return nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}

// capped reads at most left bytes of r, then fails (over is set).
type capped struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.over = true
		return 0, errors.New("the archive expands past its bound")
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// batchStager stages the content of many files in few transactions: chunks gather in
// memory up to extractBatch bytes, then one transaction writes them, each file under a
// blob of its own that no entry references yet.
type batchStager struct {
	s       *SQLite
	ctx     context.Context
	blobs   []int64 // of each file added, 0 until its blob is made
	pending []pendingChunk
	size    int
}

type pendingChunk struct {
	file int
	seq  int64
	data []byte
}

// add reads size bytes of r as the content of a new file and returns the file's number
// (its blob is blobs[number] after the next flush).
func (b *batchStager) add(r io.Reader, size int64) (int, error) {
	file := len(b.blobs)
	b.blobs = append(b.blobs, 0)
	var seq int64
	for size > 0 {
		buf := make([]byte, min(size, ChunkSize))
		if _, err := io.ReadFull(r, buf); err != nil {
			return 0, isoerr.New(isoerr.InvalidRequest, "extractArchive: the archive ends inside a file: %v", err)
		}
		size -= int64(len(buf))
		b.pending = append(b.pending, pendingChunk{file, seq, buf})
		seq++
		if b.size += len(buf); b.size >= extractBatch {
			if err := b.flush(); err != nil {
				return 0, fmt.Errorf("workspace: extract: %w", err)
			}
		}
	}
	return file, nil
}

// flush makes the blobs of the files added since the last flush and writes the chunks
// held in memory.
func (b *batchStager) flush() error {
	var fresh []int
	err := b.s.write(b.ctx, func(tx *sql.Tx) error {
		for i := range b.blobs {
			if b.blobs[i] != 0 {
				continue
			}
			fresh = append(fresh, i)
			if err := tx.QueryRowContext(b.ctx, `INSERT INTO blobs DEFAULT VALUES RETURNING id`).Scan(&b.blobs[i]); err != nil {
				return err
			}
		}
		for _, c := range b.pending {
			if _, err := tx.ExecContext(b.ctx, `INSERT INTO chunks (blob, seq, data) VALUES (?, ?, ?)`, b.blobs[c.file], c.seq, c.data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// The blobs made in the failed transaction do not exist.
		for _, i := range fresh {
			b.blobs[i] = 0
		}
	}
	b.pending, b.size = b.pending[:0], 0
	return err
}

// made returns the blobs made so far.
func (b *batchStager) made() []int64 {
	var out []int64
	for _, id := range b.blobs {
		if id != 0 {
			out = append(out, id)
		}
	}
	return out
}

// dropStaged drops blobs staged for entries that will not be written (best effort: Open
// collects what is left).
func (s *SQLite) dropStaged(blobs []int64) {
	ctx := context.Background()
	_ = s.write(ctx, func(tx *sql.Tx) error {
		for _, b := range blobs {
			if err := dropBlob(ctx, tx, sql.NullInt64{Int64: b, Valid: true}); err != nil {
				return err
			}
		}
		return nil
	})
}
