package jsnorm

import (
	"regexp"
	"sort"
	"strings"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/isobox/isobox/isoerr"
)

// snippetFile is a snippet's name in esbuild's view; syntax errors leave it out.
const snippetFile = "snippet.ts"

// Marker ends every script that Snippet produces. Snippet returns code that ends with it
// unchanged, so a caller may normalise code early (to report its errors first), put a
// prelude of plain JavaScript before it, and hand the result to a function that normalises
// again (loader.Eval) at no cost and with no change.
const Marker = "\n//# isobox-snippet\n"

// Options configure Snippet.
type Options struct {
	// Builtins are the modules a snippet may import, by specifier, with their ES module
	// source (engine.BuiltinModules()). Importing anything else is an error.
	Builtins map[string]string
	// REPL says that the snippet is one of a series run in one sandbox (a session): a
	// function that it declares last is kept for a later call, not called.
	REPL bool
}

// shape is how a snippet is turned into a script.
type shape int

const (
	shapeScript   shape = iota // a script as it is (types erased)
	shapeFunction              // a top-level return or CommonJS: the body of an async function
	shapeModule                // import or export statements: bundled with the built-ins it imports
)

var shapeNames = [...]string{"script", "function", "module"}

func (s shape) String() string { return shapeNames[s] }

// The wrapper of the function shape: the body of an async function, with CommonJS's module
// and exports, whose result is what the code returns, or else module.exports; a function
// result is called, as the runtime calls a snippet whose value is a function. It puts
// exactly one line before the user's code, which syntax errors take off their line numbers.
const (
	funcOpen  = `(async (body) => { const r = await body(); return typeof r === "function" ? r() : r; })(async () => { var module = { exports: {} }, exports = module.exports;` + "\n"
	funcClose = "\nreturn module.exports;\n})"
)

// Snippet turns a snippet, written the way people and models write one, into the script
// the runtime evaluates (engine.Sandbox.Eval: a global script with top-level await, whose
// last value is the result, called when it is a function). It takes:
//   - a Markdown code fence around the code (```js, ```ts, ```), which is taken off;
//   - TypeScript, whose types are erased;
//   - an expression, or statements, whose last value is the result; declarations stay
//     global, so that a session keeps them;
//   - top-level await;
//   - a top-level return, with or without await, and CommonJS (module.exports = X,
//     exports.x = ...): the code runs as the body of an async function, whose result is
//     what it returns, or else module.exports (its declarations are local to that call);
//   - export default X: the result is X (called if it is a function); other exports are
//     plain declarations, and a function declared last is called;
//   - imports of the built-in modules (import { env } from "cloudflare:workers");
//   - a function declared last and never called (async function main() {...}), which is
//     called, unless Options.REPL.
//
// For example:
//
//	js, err := jsnorm.Snippet("async function main(): Promise<number> { return 42 }", jsnorm.Options{})
//	// js: "async function main() {\n  return 42;\n}\nmain;\n" + jsnorm.Marker
//
// # Errors
//
// invalid_worker_code for code that does not parse (esbuild's message, with the line and
// column in the user's code), for empty code, and for an import of a module that is not
// built in (naming it and the modules that are), whether or not the import is used.
func Snippet(code string, opts Options) (string, error) {
	if strings.HasSuffix(code, Marker) {
		return code, nil
	}
	src := stripFences(code)
	if strings.TrimSpace(src) == "" {
		return "", isoerr.New(isoerr.InvalidWorkerCode, "the code is empty")
	}
	sh, a, err := classify(src)
	if err != nil {
		return "", err
	}
	if err := checkImports(a.imports, opts.Builtins); err != nil {
		return "", err
	}
	out := a.code
	switch sh {
	case shapeScript:
		if !opts.REPL {
			out = callLast(out)
		}
	case shapeModule:
		if out, err = moduleScript(src, a, opts); err != nil {
			return "", err
		}
	}
	return out + Marker, nil
}

// classify finds a snippet's shape from esbuild's metafile: the module format esbuild
// gives it ("esm" for import, export or top-level await; "cjs" for a top-level return or
// a use of module or exports; none for a plain script) and its exports and imports. The
// analysis it returns holds the script of the script and function shapes.
func classify(src string) (shape, *analysis, error) {
	a, err := analyse(src, snippetFile, api.LoaderTS, 0)
	if err == nil && a.format != "cjs" {
		if a.format == "esm" && len(a.exports) > 0 {
			return shapeModule, a, nil
		}
		for _, imp := range a.imports {
			if a.format == "esm" && imp.Kind == ImportStatement {
				return shapeModule, a, nil
			}
		}
		return shapeScript, a, nil
	}
	// CommonJS (a top-level return, module, exports), or code that does not parse as it
	// is, which a top-level return beside await does. As the body of an async function it
	// may; if not, the error about the code as written is the one to report.
	f, ferr := analyse(funcOpen+src+funcClose, snippetFile, api.LoaderTS, 1)
	if ferr != nil {
		if err != nil {
			return 0, nil, err
		}
		return 0, nil, ferr
	}
	return shapeFunction, f, nil
}

// checkImports refuses every import of a module that is not built in, used or not.
func checkImports(imps []Import, builtins map[string]string) error {
	for _, imp := range imps {
		_, ok := builtins[imp.Path]
		switch {
		case !ok:
			return isoerr.New(isoerr.InvalidWorkerCode, "cannot import module %q: a snippet has no modules of its own and can import only the built-in modules (%s)", imp.Path, builtinList(builtins))
		case imp.Kind == RequireCall || imp.Kind == RequireResolve:
			return isoerr.New(isoerr.InvalidWorkerCode, "require(%q): a snippet has no require(); use import ... from %q", imp.Path, imp.Path)
		}
	}
	return nil
}

func builtinList(builtins map[string]string) string {
	if len(builtins) == 0 {
		return "none here"
	}
	names := make([]string, 0, len(builtins))
	for k := range builtins {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// moduleScript turns a snippet with import or export statements into a script: esbuild
// bundles it with the built-in modules it imports, so no import is left.
//
//   - No exports: the snippet is the bundle's entry, whose every statement esbuild keeps,
//     so its last value is the result, as for a script.
//   - Exports: the snippet is the entry of a CommonJS bundle that runs in an async
//     function, whose result is module.exports.default, or else the function declared
//     last. CommonJS output cannot hold top-level await; when esbuild refuses it (the
//     code parsed, so that is the only reason left), an ES module bundle whose entry
//     imports the snippet's default export and names it last gives the default export
//     (statements without effects that nothing uses are then left out).
func moduleScript(src string, a *analysis, opts Options) (string, error) {
	if len(a.exports) == 0 {
		js, err := bundle(nil, src, api.FormatESModule, opts.Builtins)
		if err != nil {
			return "", err
		}
		if !opts.REPL {
			js = callLast(js)
		}
		return js, nil
	}
	js, err := bundle(nil, src, api.FormatCommonJS, opts.Builtins)
	if err == nil {
		result := ""
		if a.exportsDefault() {
			result = "return module.exports.default;\n"
		} else if name := lastFunction(js); name != "" && !opts.REPL {
			result = "return " + name + ";\n"
		}
		return funcOpen + js + result + "});\n", nil
	}
	entry := `import "isobox:snippet";` + "\n"
	if a.exportsDefault() {
		entry = `import __isobox_default from "isobox:snippet";` + "\n__isobox_default;\n"
	}
	return bundle(&entry, src, api.FormatESModule, opts.Builtins)
}

// noDir is where esbuild is told a snippet lives: a folder that does not exist, so that
// an import() of a template string (which esbuild bundles by listing the files that
// match) can never read the host's files.
const noDir = "/isobox-snippets-have-no-folder"

// bundle builds one script whose entry is entry, or the snippet itself when entry is nil
// (an entry keeps every statement: TreeShaking false applies to entries only). The module
// "isobox:snippet" is src; the built-in modules are inlined; import() of a built-in stays
// (the runtime resolves it when it runs).
func bundle(entry *string, src string, format api.Format, builtins map[string]string) (string, error) {
	plugin := api.Plugin{Name: "isobox-snippet", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: `^isobox:snippet$`}, func(api.OnResolveArgs) (api.OnResolveResult, error) {
			return api.OnResolveResult{Path: snippetFile, Namespace: "isobox-snippet"}, nil
		})
		b.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			if _, ok := builtins[a.Path]; ok && a.Kind != api.ResolveJSDynamicImport {
				return api.OnResolveResult{Path: a.Path, Namespace: "isobox-builtin"}, nil
			}
			return api.OnResolveResult{Path: a.Path, External: true}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: "isobox-snippet"}, func(api.OnLoadArgs) (api.OnLoadResult, error) {
			return api.OnLoadResult{Contents: &src, Loader: api.LoaderTS, ResolveDir: noDir}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: "isobox-builtin"}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
			s := builtins[a.Path]
			return api.OnLoadResult{Contents: &s, Loader: api.LoaderJS, ResolveDir: noDir}, nil
		})
	}}
	opts := api.BuildOptions{
		Bundle:      true,
		Write:       false,
		Format:      format,
		TreeShaking: api.TreeShakingFalse,
		Platform:    api.PlatformNeutral,
		Target:      api.ESNext,
		Charset:     api.CharsetUTF8,
		LogLevel:    api.LogLevelSilent,
		Plugins:     []api.Plugin{plugin},
		// Paths in the output's comments are relative to this: without it they depend on
		// the process's working directory.
		AbsWorkingDir: noDir,
	}
	if entry == nil {
		opts.EntryPoints = []string{"isobox:snippet"}
	} else {
		opts.Stdin = &api.StdinOptions{Contents: *entry, Sourcefile: "isobox-entry.js", Loader: api.LoaderJS, ResolveDir: noDir}
	}
	r := api.Build(opts)
	if len(r.Errors) > 0 {
		return "", syntaxError(snippetFile, r.Errors, 0)
	}
	if len(r.OutputFiles) != 1 {
		return "", isoerr.New(isoerr.Internal, "jsnorm: esbuild wrote %d files, want 1", len(r.OutputFiles))
	}
	return string(r.OutputFiles[0].Contents), nil
}

// callLast appends a call-by-value of the function that js declares last, when it never
// calls it itself, so that `async function main() {...}` runs.
func callLast(js string) string {
	if name := lastFunction(js); name != "" {
		return js + name + ";\n"
	}
	return js
}

var funcCandidate = regexp.MustCompile(`(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*\(`)

// maxCandidates bounds the parses lastFunction spends on one script.
const maxCandidates = 8

// lastFunction returns the name of the function that the script js declares last, when
// that declaration is its last statement and nothing before it calls the function.
//
// It relies on no layout of esbuild's output: for each place that reads like the start of
// a named function, from the last, it asks the parser whether everything from there to the
// end is exactly one function and everything before it whole statements. Both hold only
// at a statement that is a function declaration.
func lastFunction(js string) string {
	ms := funcCandidate.FindAllStringSubmatchIndex(js, -1)
	for i, tries := len(ms)-1, 0; i >= 0 && tries < maxCandidates; i-- {
		m := ms[i]
		if m[0] > 0 && (isWordByte(js[m[0]-1]) || js[m[0]-1] == '.') {
			continue // the tail of a longer word
		}
		tries++
		prefix, fn, name := js[:m[0]], js[m[0]:], js[m[2]:m[3]]
		// In parentheses, fn parses only if it is one function expression; after ";" with
		// no line break between, only if prefix does not end inside a comment, a string or
		// an unfinished statement.
		if !parses(prefix + ";(" + fn + "\n)") {
			continue
		}
		call := regexp.MustCompile(`(?:^|[^\w$.])` + regexp.QuoteMeta(name) + `\s*\(`)
		if call.MatchString(prefix) {
			return ""
		}
		return name
	}
	return ""
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

var fence = regexp.MustCompile("(?s)```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|$)")

// stripFences returns the code inside the first Markdown code fence (preferring a
// JavaScript or TypeScript one), or the text itself when it has none.
func stripFences(s string) string {
	t := strings.TrimSpace(s)
	if !strings.Contains(t, "```") {
		return s
	}
	ms := fence.FindAllStringSubmatch(t, -1)
	if len(ms) == 0 {
		return strings.Trim(t, "`")
	}
	for _, m := range ms {
		switch strings.ToLower(m[1]) {
		case "", "js", "javascript", "ts", "typescript", "jsx", "tsx", "mjs", "cjs":
			return m[2]
		}
	}
	return ms[0][2]
}
