package workspace

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/isobox/isobox/isoerr"
)

// hashes are the algorithms HashFile knows. md5 and sha1 are there to compare with
// checksums published elsewhere, not for security.
var hashes = map[string]func() hash.Hash{
	"sha256": sha256.New,
	"sha1":   sha1.New,
	"sha512": sha512.New,
	"md5":    md5.New,
}

// HashFile returns the hex digest of the file at p (following symlinks) under algo:
// "sha256" ("" too), "sha512", "sha1" or "md5". The content streams through the hash a
// chunk at a time, so a file of any size costs one chunk of memory.
//
//	sum, err := ws.HashFile(ctx, "proj", "dist/app.tar.gz", "sha256")
//
// # Errors
//
// invalid_request for a bad path or an unknown algorithm, not_found when p does not
// exist, conflict when it is not a file.
func (s *SQLite) HashFile(ctx context.Context, ws, p, algo string) (string, error) {
	if algo == "" {
		algo = "sha256"
	}
	mk, ok := hashes[algo]
	if !ok {
		return "", isoerr.New(isoerr.InvalidRequest, "hashFile: unknown algorithm %q (sha256, sha512, sha1, md5)", algo)
	}
	rc, _, err := s.Read(ctx, ws, p)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := mk()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("workspace: hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
