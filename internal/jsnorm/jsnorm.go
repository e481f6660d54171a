// Package jsnorm turns the JavaScript and TypeScript that people and models write into the
// JavaScript a sandbox runs, with esbuild. It is the one language front end of isobox:
// Snippet serves every eval entry point (`isobox eval`, `/v1/run` with code, sessions,
// Code Mode's run_code and execute) and Module the TypeScript and JSX modules of workers
// (`isobox run w.ts`, stored workers).
//
// Its decisions rest only on esbuild's structured results: the module format, exports and
// imports of its metafile, and the line and column of its errors, never the text of a
// message or the shape of its output. The snapshot tests (testdata/*.golden) pin what it
// produces for every shape of code, so an esbuild upgrade cannot change it silently.
package jsnorm

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/isobox/isobox/isoerr"
)

// Import is one import that a piece of code makes.
type Import struct {
	// Path is the specifier as written ("./lib/u.js", "cloudflare:workers").
	Path string
	// Kind is how it is imported: "import-statement" (import and export ... from),
	// "require-call", "require-resolve" or "dynamic-import" (import() of a string).
	Kind string
}

// The kinds of Import.
const (
	ImportStatement = "import-statement"
	RequireCall     = "require-call"
	RequireResolve  = "require-resolve"
	DynamicImport   = "dynamic-import"
)

// verbatim keeps every import that is not marked `type`, used or not, so that analysis
// sees the imports esbuild's TypeScript mode would otherwise drop before anything else
// could look at them.
const verbatim = `{"compilerOptions":{"verbatimModuleSyntax":true}}`

// analysis is what esbuild's metafile says about one piece of code.
type analysis struct {
	code    string   // esbuild's output: src with types erased (for a plain script, the script)
	format  string   // "esm", "cjs", or "" for a plain script
	exports []string // the names it exports, sorted
	imports []Import // in source order
}

// metafile is the part of esbuild's metafile that analyse reads.
type metafile struct {
	Inputs map[string]struct {
		Format string `json:"format"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Imports []struct {
			Path string `json:"path"`
			Kind string `json:"kind"`
		} `json:"imports"`
		Exports []string `json:"exports"`
	} `json:"outputs"`
}

// analyse parses src (without bundling: it touches no file and resolves no import), reads
// its format, exports and imports from esbuild's metafile, and keeps esbuild's output,
// which for a plain script (no import, export or module format) is the script with its
// types erased. shift is the number of
// lines a caller put before the user's code (error lines are the user's).
func analyse(src, file string, loader api.Loader, shift int) (*analysis, error) {
	r := api.Build(api.BuildOptions{
		Stdin:       &api.StdinOptions{Contents: src, Sourcefile: file, Loader: loader},
		Write:       false,
		Metafile:    true,
		Format:      api.FormatESModule,
		Platform:    api.PlatformNeutral,
		Target:      api.ESNext,
		Charset:     api.CharsetUTF8,
		LogLevel:    api.LogLevelSilent,
		TsconfigRaw: verbatim,
	})
	if len(r.Errors) > 0 {
		return nil, syntaxError(file, r.Errors, shift)
	}
	var m metafile
	if err := json.Unmarshal([]byte(r.Metafile), &m); err != nil {
		return nil, isoerr.New(isoerr.Internal, "jsnorm: esbuild's metafile: %v", err)
	}
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return nil, isoerr.New(isoerr.Internal, "jsnorm: esbuild's metafile has %d inputs and %d outputs, want 1 and 1", len(m.Inputs), len(m.Outputs))
	}
	if len(r.OutputFiles) != 1 {
		return nil, isoerr.New(isoerr.Internal, "jsnorm: esbuild wrote %d files, want 1", len(r.OutputFiles))
	}
	a := &analysis{code: string(r.OutputFiles[0].Contents)}
	for _, in := range m.Inputs {
		a.format = in.Format
	}
	for _, out := range m.Outputs {
		for _, imp := range out.Imports {
			a.imports = append(a.imports, Import{Path: imp.Path, Kind: imp.Kind})
		}
		a.exports = append(a.exports, out.Exports...)
	}
	sort.Strings(a.exports)
	return a, nil
}

func (a *analysis) exportsDefault() bool {
	i := sort.SearchStrings(a.exports, "default")
	return i < len(a.exports) && a.exports[i] == "default"
}

// transform strips types (and JSX) from src, keeping its module syntax as it is.
func transform(src, file string, loader api.Loader, shift int) (string, error) {
	r := api.Transform(src, api.TransformOptions{
		Sourcefile: file,
		Loader:     loader,
		Target:     api.ESNext,
		Charset:    api.CharsetUTF8,
		LogLevel:   api.LogLevelSilent,
	})
	if len(r.Errors) > 0 {
		return "", syntaxError(file, r.Errors, shift)
	}
	return string(r.Code), nil
}

// parses reports whether src is valid JavaScript (a script or a module).
func parses(src string) bool {
	r := api.Transform(src, api.TransformOptions{Loader: api.LoaderJS, Target: api.ESNext, LogLevel: api.LogLevelSilent})
	return len(r.Errors) == 0
}

// syntaxError is esbuild's first error as invalid_worker_code, with its position in the
// user's code (line shifted back by what the caller put before it) and the line itself.
func syntaxError(file string, msgs []api.Message, shift int) error {
	m := msgs[0]
	msg := m.Text
	if loc := m.Location; loc != nil {
		line := max(loc.Line-shift, 1)
		msg = fmt.Sprintf("%s (line %d, column %d)", msg, line, loc.Column+1)
		if t := strings.TrimRight(loc.LineText, " \t"); t != "" && len(t) < 300 {
			msg += fmt.Sprintf("\n  %s\n  %s^", t, strings.Repeat(" ", min(loc.Column, len(t))))
		}
	}
	if len(msgs) > 1 {
		msg += fmt.Sprintf("\n(and %d more errors)", len(msgs)-1)
	}
	if file != snippetFile && file != "" {
		return isoerr.New(isoerr.InvalidWorkerCode, "SyntaxError in %s: %s", file, msg)
	}
	return isoerr.New(isoerr.InvalidWorkerCode, "SyntaxError: %s", msg)
}

// Compiles reports whether a worker module of this name is TypeScript or JSX, which Module
// compiles to JavaScript before it runs: .ts, .mts, .cts, .tsx and .jsx.
func Compiles(name string) bool {
	_, ok := loaders[strings.ToLower(path.Ext(name))]
	return ok
}

var loaders = map[string]api.Loader{
	".ts": api.LoaderTS, ".mts": api.LoaderTS, ".cts": api.LoaderTS,
	".tsx": api.LoaderTSX, ".jsx": api.LoaderJSX,
}

// loaderFor picks esbuild's loader for a module name (plain JavaScript for other names).
func loaderFor(name string) api.Loader {
	if l, ok := loaders[strings.ToLower(path.Ext(name))]; ok {
		return l
	}
	return api.LoaderJS
}

// Compiled is a module compiled by Module.
type Compiled struct {
	// Code is the JavaScript: an ES module, or CommonJS for a CommonJS source.
	Code string
	// Imports are every import of the source that is not marked `type`, used or not.
	Imports []Import
}

// Module compiles a worker's TypeScript or JSX module (see Compiles) to JavaScript, keeping
// its imports and exports as they are. Types are erased as TypeScript does (an import that
// only brings types is dropped from Code), but Imports lists every import that is not
// marked `type`, so that a caller can refuse one that cannot be satisfied even when it is
// unused.
//
//	c, err := jsnorm.Module("main.ts", `import type { T } from "./t.ts"; import { u } from "./u.ts"; export const f = (x: T) => u(x);`)
//	// c.Code: "import { u } from \"./u.ts\";\nexport const f = (x) => u(x);\n"
//	// c.Imports: [{Path: "./u.ts", Kind: "import-statement"}]
//
// # Errors
//
// invalid_worker_code naming the module, with the line and column, for code that does
// not parse.
func Module(name, src string) (*Compiled, error) {
	l := loaderFor(name)
	a, err := analyse(src, name, l, 0)
	if err != nil {
		return nil, err
	}
	js, err := transform(src, name, l, 0)
	if err != nil {
		return nil, err
	}
	return &Compiled{Code: js, Imports: a.imports}, nil
}

// Imports lists the imports of a JavaScript, TypeScript or JSX module (by its name's
// extension): import and export-from statements, require() calls and import() of a
// string, in source order.
//
// # Errors
//
// invalid_worker_code naming the module for code that does not parse.
func Imports(name, src string) ([]Import, error) {
	a, err := analyse(src, name, loaderFor(name), 0)
	if err != nil {
		return nil, err
	}
	return a.imports, nil
}
