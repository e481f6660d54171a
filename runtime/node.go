package runtime

import (
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// js/node holds the Node.js built-in modules of the nodejs_compat compatibility flag, one
// CommonJS file per module (buffer.js is "node:buffer", path+posix.js "node:path/posix"). Each starts with a line
// "// exports: a b c" naming the properties of its module.exports that an ES import may
// name. They are not part of Source: a sandbox evaluates one only when its worker imports it.
//
//go:embed js/node/*.js
var nodeFiles embed.FS

// NodeModule is one Node.js built-in module of the runtime.
type NodeModule struct {
	Source  string   // CommonJS source: sets module.exports
	Exports []string // the names an ES module import may take from it
}

// NodeModules returns the Node.js built-in modules the runtime provides, by name without
// "node:" ("buffer", "events", ...).
func NodeModules() map[string]NodeModule {
	names, err := fs.Glob(nodeFiles, "js/node/*.js")
	if err != nil {
		panic(err) // the pattern is constant and valid
	}
	sort.Strings(names)
	out := make(map[string]NodeModule, len(names))
	for _, n := range names {
		src, err := nodeFiles.ReadFile(n)
		if err != nil {
			panic(err) // embedded files are always readable
		}
		first, _, _ := strings.Cut(string(src), "\n")
		list, _ := strings.CutPrefix(first, "// exports:")
		name := strings.TrimSuffix(path.Base(n), ".js")
		out[strings.ReplaceAll(name, "+", "/")] = NodeModule{Source: string(src), Exports: strings.Fields(list)}
	}
	return out
}
