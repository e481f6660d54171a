package runtime

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed js/*.js
var files embed.FS

// Source returns the whole runtime as one script: every file of js/ in name order, inside
// one function scope (see the package comment).
func Source() string {
	names, err := fs.Glob(files, "js/*.js")
	if err != nil {
		panic(err) // the pattern is constant and valid
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("(function () {\n\"use strict\";\n")
	for _, n := range names {
		src, err := files.ReadFile(n)
		if err != nil {
			panic(err) // embedded files are always readable
		}
		b.WriteString("// ---- " + n + "\n")
		b.Write(src)
		b.WriteString("\n")
	}
	b.WriteString("})();\n")
	return b.String()
}
