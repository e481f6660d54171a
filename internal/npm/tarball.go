package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	"github.com/isobox/isobox/isoerr"
)

// Integrity is a parsed Subresource Integrity string as npm writes it
// ("sha512-<base64>"), or a legacy sha1 shasum.
type Integrity struct {
	Algo   string // "sha512" or "sha1"
	Digest []byte
}

// ParseIntegrity reads the strongest hash of an SRI string (sha512 over sha1); a bare
// 40-hex shasum is read as sha1.
//
// # Errors
//
// bundle_failed when the string holds no sha512 or sha1 hash.
func ParseIntegrity(sri, shasum string) (Integrity, error) {
	var best Integrity
	for _, f := range strings.Fields(sri) {
		algo, b64, ok := strings.Cut(f, "-")
		if !ok {
			continue
		}
		if i := strings.IndexByte(b64, '?'); i >= 0 {
			b64 = b64[:i]
		}
		d, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		switch {
		case algo == "sha512" && len(d) == sha512.Size:
			return Integrity{"sha512", d}, nil
		case algo == "sha1" && len(d) == sha1.Size && best.Algo == "":
			best = Integrity{"sha1", d}
		}
	}
	if best.Algo == "" && len(shasum) == 40 {
		if d, err := hex.DecodeString(shasum); err == nil {
			best = Integrity{"sha1", d}
		}
	}
	if best.Algo == "" {
		return best, isoerr.New(isoerr.BundleFailed, "no sha512 or sha1 integrity in %q", sri)
	}
	return best, nil
}

// String is the SRI form.
func (i Integrity) String() string { return i.Algo + "-" + base64.StdEncoding.EncodeToString(i.Digest) }

// key names the integrity in a file name.
func (i Integrity) key() string { return i.Algo + "-" + hex.EncodeToString(i.Digest) }

func (i Integrity) newHash() hash.Hash {
	if i.Algo == "sha1" {
		return sha1.New()
	}
	return sha512.New()
}

// Check reports whether b hashes to the integrity.
func (i Integrity) Check(b []byte) bool {
	h := i.newHash()
	h.Write(b)
	return subtle.ConstantTimeCompare(h.Sum(nil), i.Digest) == 1
}

// Unpack reads an npm package tarball (gzip'd tar whose entries sit under one top folder,
// usually package/) into files by path relative to the package. Only regular files are
// kept; folders are implied.
//
// # Errors
//
// bundle_failed, naming the package and the entry, for anything a real `npm pack` never
// produces or that exceeds the limits (see UnpackFiles), and for a package without a
// package.json.
func Unpack(pkg string, tgz []byte, lim Limits) (map[string][]byte, error) {
	all, err := UnpackFiles("the tarball of "+pkg, tgz, lim, true)
	if err != nil {
		return nil, err
	}
	if _, ok := all["package.json"]; !ok {
		return nil, isoerr.New(isoerr.BundleFailed, "refusing the tarball of %s: it has no package.json", pkg)
	}
	return all, nil
}

// UnpackFiles reads a gzip'd tar into its regular files by cleaned path (without the top
// folder when stripTop), refusing what could escape a folder or exhaust memory. what
// names the archive in errors.
//
// # Errors
//
// bundle_failed, naming the entry: a path that is absolute, climbs out with "..", holds a
// NUL or a backslash, is too long or too deep; a symbolic or hard link, a device or FIFO; a
// file or archive over the size limits; too many files; a corrupt archive.
func UnpackFiles(what string, tgz []byte, lim Limits, stripTop bool) (map[string][]byte, error) {
	lim = lim.withDefaults()
	fail := func(format string, args ...any) error {
		return isoerr.New(isoerr.BundleFailed, "refusing %s: %s", what, fmt.Sprintf(format, args...))
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fail("not gzip: %v", err)
	}
	// The tar stream may not decompress to more than the limit plus headers.
	tr := tar.NewReader(io.LimitReader(zr, lim.UnpackedBytes+int64(lim.Files+16)*1024))
	files := map[string][]byte{}
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fail("corrupt or oversized archive: %v", err)
		}
		name := h.Name
		switch {
		case name == "" || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\x00\\") || len(name) > 1 && name[1] == ':':
			return nil, fail("entry %q has an absolute or invalid path", name)
		case len(name) > lim.PathLength:
			return nil, fail("entry path is %d bytes long; the limit is %d", len(name), lim.PathLength)
		}
		for _, part := range strings.Split(name, "/") {
			if part == ".." {
				return nil, fail("entry %q climbs out of the archive", name)
			}
		}
		rel := path.Clean(name)
		if stripTop {
			// The top folder, whatever its name, as npm does.
			_, rel, _ = strings.Cut(rel, "/")
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old tarballs use TypeRegA
		case tar.TypeDir, tar.TypeXGlobalHeader, tar.TypeXHeader:
			continue
		case tar.TypeSymlink, tar.TypeLink:
			return nil, fail("entry %q is a link (to %q); links are not accepted", name, h.Linkname)
		default:
			return nil, fail("entry %q is not a regular file (type %q)", name, h.Typeflag)
		}
		if rel == "" || rel == "." {
			continue
		}
		if d := strings.Count(rel, "/"); d > lim.PathDepth {
			return nil, fail("entry %q is %d folders deep; the limit is %d", name, d, lim.PathDepth)
		}
		if h.Size > lim.FileBytes || h.Size < 0 {
			return nil, fail("entry %q is %d bytes; the limit per file is %d", name, h.Size, lim.FileBytes)
		}
		if total += h.Size; total > lim.UnpackedBytes {
			return nil, fail("the files total more than %d bytes", lim.UnpackedBytes)
		}
		if len(files) >= lim.Files {
			return nil, fail("more than %d files", lim.Files)
		}
		// Grown as the bytes arrive, not allocated at the size the header claims: a few
		// bytes of archive claiming a file at the limit must not cost the limit in memory.
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err == nil && int64(len(b)) != h.Size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, fail("entry %q is truncated: %v", name, err)
		}
		files[rel] = b
	}
	return files, nil
}
