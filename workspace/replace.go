package workspace

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/isobox/isobox/internal/udiff"
	"github.com/isobox/isobox/isoerr"
)

// Bounds of a replace: a file is changed in memory, so one larger than
// MaxReplaceFileSize is left alone (ReplaceInFiles reports it as skipped), and one file
// takes at most MaxReplacements replacements. Previews are kept for the first
// maxPreviews files, each cut to maxPreviewBytes.
const (
	MaxReplaceFileSize = 32 << 20
	MaxReplacements    = 1_000_000
	maxPreviews        = 100
	maxPreviewBytes    = 4 << 10
)

// ReplaceOptions shape a replace.
type ReplaceOptions struct {
	// Regex makes search a regular expression (RE2) and replace a template: $1, ${name}
	// and $$ as in Go's regexp.Expand. Otherwise both are text.
	Regex bool `json:"regex,omitempty"`
	// IgnoreCase matches letters of either case.
	IgnoreCase bool `json:"ignoreCase,omitempty"`
	// Once replaces only the first match of each file (otherwise every match).
	Once bool `json:"once,omitempty"`
	// DryRun reports the edits and changes nothing.
	DryRun bool `json:"dryRun,omitempty"`
	// IfMatch (ReplaceInFile only), when set, is the etag the file must have.
	IfMatch string `json:"ifMatch,omitempty"`
}

// FileEdit is what a replace did (or, in a dry run, would do) to one file.
type FileEdit struct {
	Path  string `json:"path"`
	Count int    `json:"count"` // replacements made
	// Preview is the change as a unified diff with one line of context (cut to 4 KiB;
	// empty after the first 100 files).
	Preview string `json:"preview,omitempty"`
	// ETag is the file's new etag ("" in a dry run).
	ETag string `json:"etag,omitempty"`
}

// ReplaceResult is what a ReplaceInFiles did.
type ReplaceResult struct {
	Files        []FileEdit `json:"files"` // the files with at least one match, in path order
	Replacements int        `json:"replacements"`
	// Skipped are files left alone: binary (a NUL in their first 8000 bytes) or larger
	// than MaxReplaceFileSize.
	Skipped []string `json:"skipped,omitempty"`
	DryRun  bool     `json:"dryRun"`
}

// ReplaceInFile replaces the matches of search in the file at p (following symlinks) with
// replace, as one conditional write (opts.IfMatch).
//
//	e, err := ws.ReplaceInFile(ctx, "proj", "go.mod", "go 1.25", "go 1.26", workspace.ReplaceOptions{})
//
// # Errors
//
// invalid_request for a bad path or pattern, not_found, conflict when p is not a file,
// file_too_large past MaxReplaceFileSize, MaxReplacements or the maximum file size,
// quota_exceeded, precondition_failed when opts.IfMatch does not hold.
func (s *SQLite) ReplaceInFile(ctx context.Context, ws, p, search, replace string, opts ReplaceOptions) (FileEdit, error) {
	cp, err := check(ws, p)
	if err != nil {
		return FileEdit{}, err
	}
	res, err := s.replace(ctx, ws, search, replace, opts, false, func(q querier) ([]*node, error) {
		rp, n, err := fileAt(ctx, q, ws, cp)
		if err != nil {
			return nil, err
		}
		if err := precondition(rp, n, WriteOptions{IfMatch: opts.IfMatch}); err != nil {
			return nil, err
		}
		return []*node{n}, nil
	})
	if err != nil {
		return FileEdit{}, err
	}
	if len(res.Files) == 0 {
		return FileEdit{Path: cp}, nil
	}
	return res.Files[0], nil
}

// ReplaceInFiles replaces the matches of search with replace in every file glob selects
// (a glob without "/" matches names anywhere), all or nothing: the files change in one
// transaction, so when one cannot (the quota, the maximum file size) none does.
//
//	res, err := ws.ReplaceInFiles(ctx, "proj", "src/**/*.ts", "oldName", "newName", workspace.ReplaceOptions{DryRun: true})
//
// # Errors
//
// invalid_request for a bad glob or pattern, file_too_large past MaxReplacements or the
// maximum file size, quota_exceeded; nothing has changed after any of them.
func (s *SQLite) ReplaceInFiles(ctx context.Context, ws, glob, search, replace string, opts ReplaceOptions) (ReplaceResult, error) {
	if _, err := check(ws, "/"); err != nil {
		return ReplaceResult{}, err
	}
	if opts.IfMatch != "" {
		return ReplaceResult{}, isoerr.New(isoerr.InvalidRequest, "replaceInFiles: ifMatch is for one file (replaceInFile)")
	}
	prefix, match, err := fileFilter(glob)
	if err != nil {
		return ReplaceResult{}, err
	}
	return s.replace(ctx, ws, search, replace, opts, true, func(q querier) ([]*node, error) {
		list, _, err := files(ctx, q, ws, prefix, match)
		return list, err
	})
}

// replace runs a replace over the files targets picks. The files are read and replaced
// in a read transaction, the new content is staged outside the store's write lock (so a
// large replace does not hold up the writers of other workspaces), and one short write
// transaction then swaps every file to its new content, provided none changed meanwhile.
func (s *SQLite) replace(ctx context.Context, ws, search, replace string, opts ReplaceOptions, many bool, targets func(q querier) ([]*node, error)) (ReplaceResult, error) {
	m, err := newMatcher(search, opts.Regex, opts.IgnoreCase)
	if err != nil {
		return ReplaceResult{}, err
	}
	res := ReplaceResult{Files: []FileEdit{}, DryRun: opts.DryRun}
	type change struct {
		n    *node
		file int // the stager's number of the new content
		size int64
	}
	var changes []change
	st := &batchStager{s: s, ctx: ctx}
	fail := func(err error) (ReplaceResult, error) {
		if blobs := st.made(); len(blobs) > 0 {
			s.dropStaged(blobs)
		}
		return ReplaceResult{}, err
	}
	err = func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("workspace: replace: %w", err)
		}
		defer tx.Rollback()
		list, err := targets(tx)
		if err != nil {
			return err
		}
		for _, n := range list {
			if err := ctx.Err(); err != nil {
				return err
			}
			if many && n.size > MaxReplaceFileSize {
				res.Skipped = append(res.Skipped, n.path)
				continue
			}
			data, err := contentBytes(ctx, tx, n, MaxReplaceFileSize)
			if err != nil {
				return err
			}
			if many && bytes.IndexByte(data[:min(len(data), binaryProbe)], 0) >= 0 {
				res.Skipped = append(res.Skipped, n.path)
				continue
			}
			out, count, err := m.replace(data, []byte(replace), opts.Regex, opts.Once, s.lim.MaxFileSize)
			if err != nil {
				return fmt.Errorf("%s: %w", n.path, err)
			}
			if count == 0 {
				continue
			}
			e := FileEdit{Path: n.path, Count: count}
			if len(res.Files) < maxPreviews {
				e.Preview = udiff.Unified("a"+n.path, "b"+n.path, data, out, 1)
				if len(e.Preview) > maxPreviewBytes {
					e.Preview = e.Preview[:maxPreviewBytes] + "\n[preview cut]\n"
				}
			}
			if !opts.DryRun {
				file, err := st.add(bytes.NewReader(out), int64(len(out)))
				if err != nil {
					return err
				}
				changes = append(changes, change{n, file, int64(len(out))})
			}
			res.Files = append(res.Files, e)
			res.Replacements += count
		}
		return nil
	}()
	if err != nil {
		return fail(err)
	}
	if opts.DryRun || len(changes) == 0 {
		return res, nil
	}
	if err := st.flush(); err != nil {
		return fail(fmt.Errorf("workspace: replace: %w", err))
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixNano()
		var dBytes int64
		for i, c := range changes {
			cur, err := get(ctx, tx, ws, c.n.path)
			if err != nil {
				return err
			}
			if cur == nil || cur.kind != string(File) || cur.version != c.n.version {
				return isoerr.New(isoerr.PreconditionFailed, "%s changed while the replace ran; nothing was replaced", c.n.path)
			}
			if err := dropBlob(ctx, tx, cur.blob); err != nil {
				return err
			}
			blob := st.blobs[c.file]
			if _, err := tx.ExecContext(ctx, `UPDATE nodes SET size = ?, blob = ?, version = ?, modified = ? WHERE ws = ? AND path = ?`,
				c.size, blob, blob, now, ws, cur.path); err != nil {
				return fmt.Errorf("workspace: replace %s: %w", cur.path, err)
			}
			dBytes += c.size - cur.size
			res.Files[i].ETag = etag(blob)
		}
		return s.account(ctx, tx, ws, dBytes, 0)
	})
	if err != nil {
		return fail(err)
	}
	return res, nil
}

// replace returns data with the matches replaced by repl (a regexp.Expand template when
// template is set) and how many there were, refusing more than MaxReplacements matches or
// a result larger than maxSize before building it.
func (m *matcher) replace(data, repl []byte, template, once bool, maxSize int64) ([]byte, int, error) {
	limit := MaxReplacements + 1
	if once {
		limit = 1
	}
	tooLarge := func(size int64) error {
		return isoerr.New(isoerr.FileTooLarge, "the replaced file would be %d bytes or more; the maximum file size is %d", size, maxSize)
	}
	if m.re == nil {
		count := bytes.Count(data, m.lit)
		if once {
			count = min(count, 1)
		}
		if count > MaxReplacements {
			return nil, 0, isoerr.New(isoerr.FileTooLarge, "more than %d matches in one file", MaxReplacements)
		}
		if size := int64(len(data)) + int64(count)*int64(len(repl)-len(m.lit)); size > maxSize {
			return nil, 0, tooLarge(size)
		}
		return bytes.Replace(data, m.lit, repl, count), count, nil
	}
	locs := m.re.FindAllSubmatchIndex(data, limit)
	if len(locs) > MaxReplacements {
		return nil, 0, isoerr.New(isoerr.FileTooLarge, "more than %d matches in one file", MaxReplacements)
	}
	if len(locs) == 0 {
		return data, 0, nil
	}
	out := make([]byte, 0, len(data))
	last := 0
	for _, loc := range locs {
		out = append(out, data[last:loc[0]]...)
		if template {
			out = m.re.Expand(out, repl, data, loc)
		} else {
			out = append(out, repl...)
		}
		last = loc[1]
		if int64(len(out)) > maxSize {
			return nil, 0, tooLarge(int64(len(out)))
		}
	}
	out = append(out, data[last:]...)
	if int64(len(out)) > maxSize {
		return nil, 0, tooLarge(int64(len(out)))
	}
	return out, len(locs), nil
}
