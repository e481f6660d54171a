package runtime

import (
	"crypto/sha256"
	"embed"
	"io"
	"io/fs"
	"sort"
	"strings"
)

//go:embed js/*.js
var files embed.FS

// Source returns the whole runtime as one script: every file of js/ in name order, inside
// one function scope (see the package comment).
func Source() string {
	var b strings.Builder
	writeSource(&b)
	return b.String()
}

// SourceSum returns the SHA-256 of Source without building it: the key of anything derived
// from the runtime (its cached bytecode), for a process start that does not need the text.
func SourceSum() [sha256.Size]byte {
	h := sha256.New()
	writeSource(h)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// writeSource writes Source's text to w, one file at a time.
func writeSource(w io.Writer) {
	names, err := fs.Glob(files, "js/*.js")
	if err != nil {
		panic(err) // the pattern is constant and valid
	}
	sort.Strings(names)
	buf := make([]byte, 32<<10)
	io.WriteString(w, "(function () {\n\"use strict\";\n")
	for _, n := range names {
		f, err := files.Open(n)
		if err != nil {
			panic(err) // embedded files are always readable
		}
		io.WriteString(w, "// ---- "+n+"\n")
		if _, err := io.CopyBuffer(w, f, buf); err != nil {
			panic(err) // embedded files are always readable, and w does not fail
		}
		f.Close()
		io.WriteString(w, "\n")
	}
	io.WriteString(w, "})();\n")
}
