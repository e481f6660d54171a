package workspace

import (
	"context"
	"fmt"

	"github.com/isobox/isobox/internal/udiff"
	"github.com/isobox/isobox/isoerr"
)

// Bounds of a diff: each side at most MaxDiffBytes and MaxDiffLines (the texts sit in
// memory while they are compared).
const (
	MaxDiffBytes = 8 << 20
	MaxDiffLines = 100_000
	diffContext  = 3
)

// Diff returns the unified diff (diff -u, three lines of context) that turns the file at
// pathA into the file at pathB, named a/<pathA> and b/<pathB>; "" when they are equal.
// Both are read from one snapshot.
//
//	d, err := ws.Diff(ctx, "proj", "src/old.go", "src/new.go")
//
// # Errors
//
// invalid_request for a bad path, not_found when a file is missing, conflict when one
// is not a file, file_too_large past MaxDiffBytes or MaxDiffLines.
//
// # Notes
//
// The diff is a shortest one (Myers) unless the files need more than udiff.MaxEdits
// changes, past which the rest is one replacement: still a correct diff.
func (s *SQLite) Diff(ctx context.Context, ws, pathA, pathB string) (string, error) {
	return s.diff(ctx, ws, pathA, pathB, nil)
}

// DiffText is Diff of the file at p against text (what the file would become): a/<p>
// against b/<p>.
//
// # Errors
//
// As Diff.
func (s *SQLite) DiffText(ctx context.Context, ws, p, text string) (string, error) {
	b := []byte(text)
	return s.diff(ctx, ws, p, p, b)
}

func (s *SQLite) diff(ctx context.Context, ws, pathA, pathB string, text []byte) (string, error) {
	pa, err := check(ws, pathA)
	if err != nil {
		return "", err
	}
	pb, err := Clean(pathB)
	if err != nil {
		return "", err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("workspace: diff: %w", err)
	}
	defer tx.Rollback()
	read := func(p string) ([]byte, error) {
		_, n, err := fileAt(ctx, tx, ws, p)
		if err != nil {
			return nil, err
		}
		return contentBytes(ctx, tx, n, MaxDiffBytes)
	}
	a, err := read(pa)
	if err != nil {
		return "", err
	}
	b := text
	if b == nil {
		if b, err = read(pb); err != nil {
			return "", err
		}
	}
	if err := diffable(pb, b); err != nil {
		return "", err
	}
	if err := diffable(pa, a); err != nil {
		return "", err
	}
	return udiff.Unified("a"+pa, "b"+pb, a, b, diffContext), nil
}

func diffable(p string, b []byte) error {
	if len(b) > MaxDiffBytes {
		return isoerr.New(isoerr.FileTooLarge, "diff: %s is %d bytes; the most a diff compares is %d", p, len(b), MaxDiffBytes)
	}
	lines := 0
	for _, c := range b {
		if c == '\n' {
			lines++
		}
	}
	if lines > MaxDiffLines {
		return isoerr.New(isoerr.FileTooLarge, "diff: %s has %d lines; the most a diff compares is %d", p, lines, MaxDiffLines)
	}
	return nil
}
