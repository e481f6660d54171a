package workspace

import (
	"strings"
	"unicode/utf8"

	"github.com/isobox/isobox/isoerr"
)

// Path limits: a path is at most MaxPathLength bytes, MaxDepth names deep, each name at
// most MaxNameLength bytes.
const (
	MaxPathLength = 4096
	MaxDepth      = 64
	MaxNameLength = 255
)

// Clean normalises p to the workspace's canonical form: "/" and the names separated by
// single slashes, with "." dropped and ".." taken lexically. A relative path is taken from
// the root. "" is the root.
//
// # Errors
//
// invalid_request when p is not UTF-8, holds a NUL, climbs above the root with "..", or is
// longer or deeper than the limits (MaxPathLength, MaxDepth, MaxNameLength).
func Clean(p string) (string, error) {
	if len(p) > MaxPathLength {
		return "", isoerr.New(isoerr.InvalidRequest, "path is %d bytes; the limit is %d", len(p), MaxPathLength)
	}
	if !utf8.ValidString(p) {
		return "", isoerr.New(isoerr.InvalidRequest, "path %q is not valid UTF-8", p)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", isoerr.New(isoerr.InvalidRequest, "path %q contains a NUL byte", p)
	}
	var names []string
	for _, n := range strings.Split(p, "/") {
		switch n {
		case "", ".":
		case "..":
			if len(names) == 0 {
				return "", isoerr.New(isoerr.InvalidRequest, "path %q leaves the workspace (\"..\" above its root)", p)
			}
			names = names[:len(names)-1]
		default:
			if len(n) > MaxNameLength {
				return "", isoerr.New(isoerr.InvalidRequest, "a name in path %q is %d bytes; the limit is %d", p, len(n), MaxNameLength)
			}
			names = append(names, n)
		}
	}
	if len(names) > MaxDepth {
		return "", isoerr.New(isoerr.InvalidRequest, "path %q is %d names deep; the limit is %d", p, len(names), MaxDepth)
	}
	return "/" + strings.Join(names, "/"), nil
}

// parentOf returns the directory of a clean path ("/" for the root itself).
func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// baseOf returns the last name of a clean path ("" for the root).
func baseOf(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// join joins a clean directory and a relative or absolute target, then cleans it.
func join(dir, target string) (string, error) {
	if strings.HasPrefix(target, "/") {
		return Clean(target)
	}
	return Clean(dir + "/" + target)
}

// under reports the key range [lo, hi) of the strict descendants of clean path p: every
// descendant starts with p + "/", and '0' is the byte after '/'.
func under(p string) (lo, hi string) {
	if p == "/" {
		return "/", "0"
	}
	return p + "/", p + "0"
}
