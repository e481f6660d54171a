package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/runtime"
)

const namespace = "isobox"

// nodeBuiltins are Node's built-in modules, which a bare import names without "node:".
var nodeBuiltins = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`assert assert/strict async_hooks buffer child_process cluster console constants
		crypto dgram diagnostics_channel dns dns/promises domain events fs fs/promises http http2 https inspector
		module net os path path/posix path/win32 perf_hooks process punycode querystring readline readline/promises
		repl stream stream/consumers stream/promises stream/web string_decoder sys timers timers/promises tls
		trace_events tty url util util/types v8 vm wasi worker_threads zlib`) {
		nodeBuiltins[n] = true
	}
}

// linker holds one project's resolution state across its esbuild builds: the user's
// module and every package module it leads to.
type linker struct {
	fs         *vfs
	nodeCompat bool
	tsconfig   string
	inline     bool // Project.Inline: packages bundled into the main module
	mu         sync.Mutex
	formats    map[string]string // vfs path -> "esm", "cjs" or ""
	modules    map[string]string // package module name -> its file
	queue      []string          // package modules still to build
	builds     int               // esbuild builds run
}

// moduleName is the WorkerCode module of a package file: npm/<name>@<version>/<file>,
// ending in .js (a file named otherwise gets .js added: dist/x.mjs -> dist/x.mjs.js).
func moduleName(p string) string {
	name := strings.TrimPrefix(p, "/")
	if !strings.HasSuffix(name, ".js") {
		name += ".js"
	}
	return name
}

// display is a vfs path as a user reads it: the project's files by their relative path,
// a package's as name@version/file.
func display(p string) string {
	p = strings.TrimPrefix(p, namespace+":")
	if rel, ok := strings.CutPrefix(p, appRoot+"/"); ok {
		return rel
	}
	return strings.TrimPrefix(p, npmRoot+"/")
}

// who names the importer of a vfs path for an error: "src/index.ts" or "package
// foo@1.0.0 (foo@1.0.0/dist/x.js)".
func who(p string) string {
	if id := owner(p); id != "" {
		return fmt.Sprintf("package %s (%s)", id, display(p))
	}
	return display(p)
}

// resolve maps an import to a vfs path (inline), or a module name (external).
func (l *linker) resolve(self string, args api.OnResolveArgs) (api.OnResolveResult, error) {
	spec := args.Path
	if args.Kind == api.ResolveEntryPoint {
		return api.OnResolveResult{Path: spec, Namespace: namespace}, nil
	}
	from := args.Importer
	fromID := owner(from)
	require := args.Kind == api.ResolveJSRequireCall || args.Kind == api.ResolveJSRequireResolve
	var file string
	switch {
	case strings.HasPrefix(spec, "cloudflare:"):
		return api.OnResolveResult{Path: spec, External: true}, nil
	case strings.HasPrefix(spec, "node:"):
		return l.builtin(spec, from, require)
	case strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../") || spec == "." || spec == "..":
		p := path.Join(path.Dir(from), spec)
		root := pkgDir(fromID)
		if p != root && !strings.HasPrefix(p, root+"/") {
			return api.OnResolveResult{}, fmt.Errorf("%q, imported by %s, is outside its package", spec, who(from))
		}
		f, ok := l.fs.file(p)
		if !ok {
			return api.OnResolveResult{}, fmt.Errorf("cannot find %q imported by %s (no file %s)", spec, who(from), display(p))
		}
		file = f
	case strings.HasPrefix(spec, "/"):
		return api.OnResolveResult{}, fmt.Errorf("absolute import %q in %s: import project files by relative path", spec, who(from))
	case strings.HasPrefix(spec, "#"):
		m := l.fs.manifest(fromID)
		if len(m.Imports) == 0 {
			return api.OnResolveResult{}, fmt.Errorf("%q imported by %s: its package.json has no imports map", spec, who(from))
		}
		t, err := exportsTarget(m.Imports, spec, conditions(require))
		if err != nil || t == "" {
			return api.OnResolveResult{}, fmt.Errorf("%q imported by %s: its package.json imports map does not map it", spec, who(from))
		}
		if strings.HasPrefix(t, "#") {
			return api.OnResolveResult{}, fmt.Errorf("%q imported by %s: its imports map maps it to another #name, %q", spec, who(from), t)
		}
		if !strings.HasPrefix(t, "./") {
			return l.resolve(self, api.OnResolveArgs{Path: t, Importer: from, Kind: args.Kind})
		}
		f, ok := l.fs.file(path.Join(pkgDir(fromID), t))
		if !ok || !strings.HasPrefix(f, pkgDir(fromID)+"/") {
			return api.OnResolveResult{}, fmt.Errorf("%q imported by %s maps to %s, which does not exist in its package", spec, who(from), t)
		}
		file = f
	default:
		// A package's browser map may replace a package it imports, or drop it (false).
		if r, ok := l.fs.manifest(fromID).browserMap[spec]; ok && fromID != "" {
			switch r := r.(type) {
			case bool:
				return emptyModule, nil
			case string:
				if strings.HasPrefix(r, "./") {
					f, ok := l.fs.file(path.Join(pkgDir(fromID), r))
					if !ok || !strings.HasPrefix(f, pkgDir(fromID)+"/") {
						return api.OnResolveResult{}, fmt.Errorf("package %s maps %q to %s in its browser field, which does not exist", fromID, spec, r)
					}
					file = f
					break
				}
				if r != spec && !strings.HasPrefix(r, "#") {
					return l.resolve(self, api.OnResolveArgs{Path: r, Importer: from, Kind: args.Kind})
				}
			}
		}
		if file != "" {
			break
		}
		f, err := l.bare(spec, from, require)
		if err == errBareBuiltin {
			return l.builtin("node:"+spec, from, require)
		}
		if err != nil {
			return api.OnResolveResult{}, err
		}
		file = f
	}
	// A file of a package its browser map replaces (or drops).
	if id := owner(file); id != "" {
		if bm := l.fs.manifest(id).browserMap; bm != nil {
			rel := "./" + strings.TrimPrefix(file, pkgDir(id)+"/")
			for _, k := range []string{rel, strings.TrimSuffix(rel, path.Ext(rel))} {
				switch r := bm[k].(type) {
				case bool:
					return emptyModule, nil
				case string:
					if f, ok := l.fs.file(path.Join(pkgDir(id), r)); ok && strings.HasPrefix(f, pkgDir(id)+"/") {
						file = f
					}
				}
			}
		}
	}
	// Each ES module file of a package, imported as one, is a module of its own (one copy
	// of its classes and state, however it is reached; its bytes depend only on the
	// package version and what its imports resolve to); anything else (the project's own
	// files, CommonJS, JSON, a require()) is bundled into the importer.
	if !l.inline && owner(file) != "" && file != self && !require && l.format(file) == "esm" {
		name := moduleName(file)
		l.mu.Lock()
		if _, ok := l.modules[name]; !ok {
			l.modules[name] = file
			l.queue = append(l.queue, name)
		}
		l.mu.Unlock()
		return api.OnResolveResult{Path: "/" + name, External: true}, nil
	}
	return api.OnResolveResult{Path: file, Namespace: namespace}, nil
}

// emptyModule stands for what a browser map maps to false.
var emptyModule = api.OnResolveResult{Path: "empty", Namespace: "isobox-empty"}

// bare resolves an import of a package from a file: node_modules lookup from the
// importer's place in the tree, then the package's exports map, or its browser, module
// and main fields.
func (l *linker) bare(spec, from string, require bool) (string, error) {
	name, sub := splitBare(spec)
	fromID := owner(from)
	var id string
	if m := l.fs.manifest(fromID); fromID != "" && m.Name == name {
		id = fromID // a package importing itself by name
	} else if pk := l.fs.tree.Lookup(l.fs.treeDir(fromID), name); pk != nil {
		id = pk.ID()
	}
	if id == "" {
		if nodeBuiltins[spec] {
			return "", errBareBuiltin
		}
		if fromID == "" {
			if _, ok := l.fs.root.DevDeps[name]; ok {
				return "", fmt.Errorf("package %q, imported by %s, is in devDependencies: a worker's packages go in dependencies", name, who(from))
			}
			return "", fmt.Errorf("package %q, imported by %s, is not installed: add it to the dependencies of package.json", name, who(from))
		}
		return "", fmt.Errorf("package %q, imported by %s, is not installed: it is not among that package's dependencies", name, who(from))
	}
	m := l.fs.manifest(id)
	dir := pkgDir(id)
	if len(m.Exports) > 0 && string(m.Exports) != "null" {
		t, err := exportsTarget(m.Exports, sub, conditions(require))
		if err != nil {
			return "", fmt.Errorf("package %s %v (imported as %q by %s)", id, err, spec, who(from))
		}
		if t == "" {
			return "", fmt.Errorf("package %s exports %q under none of the conditions %s (imported by %s)", id, sub, strings.Join(conditions(require), ", "), who(from))
		}
		p := path.Join(dir, t)
		if !strings.HasPrefix(p, dir+"/") || !l.fs.isFile(p) {
			return "", fmt.Errorf("package %s maps %q to %s, which it does not contain (imported by %s)", id, sub, t, who(from))
		}
		return p, nil
	}
	if sub == "." {
		var browser string
		_ = json.Unmarshal(m.Browser, &browser)
		for _, f := range []string{browser, m.Module, m.Main} {
			if f == "" {
				continue
			}
			if p, ok := l.fs.file(path.Join(dir, f)); ok && strings.HasPrefix(p, dir+"/") {
				return p, nil
			}
		}
		if p, ok := l.fs.file(dir + "/index"); ok {
			return p, nil
		}
		return "", fmt.Errorf("package %s has no entry file (no exports, module, main or index.js; imported by %s)", id, who(from))
	}
	p := path.Join(dir, sub)
	if f, ok := l.fs.file(p); ok && strings.HasPrefix(f, dir+"/") {
		return f, nil
	}
	return "", fmt.Errorf("package %s has no file %q (imported as %q by %s)", id, strings.TrimPrefix(sub, "./"), spec, who(from))
}

// errBareBuiltin is bare's answer for a Node built-in named without "node:" that no
// installed package shadows: resolve treats it as "node:"+spec.
var errBareBuiltin = errors.New("a Node.js built-in")

// nodeShim is the namespace of the CommonJS stand-ins for Node built-ins that a require()
// reaches: esbuild's ES module output has no require of its own, so the stand-in asks the
// runtime's (the sandbox resolves "node:x" under nodejs_compat).
const nodeShim = "isobox-node"

// builtin resolves an import of Node built-in spec ("node:x"): under nodejs_compat, one
// the runtime provides stays an import of "node:x" for the engine to resolve (a require()
// goes through a stand-in); otherwise the error names the built-in and its importer.
func (l *linker) builtin(spec, from string, require bool) (api.OnResolveResult, error) {
	name := strings.TrimPrefix(spec, "node:")
	if _, ok := nodeModules[name]; !ok {
		// Checked before the flag: adding nodejs_compat would not help.
		if !nodeBuiltins[name] {
			return api.OnResolveResult{}, fmt.Errorf("%q, imported by %s, is not a Node.js built-in module", spec, who(from))
		}
		return api.OnResolveResult{}, fmt.Errorf("%q is a Node.js built-in module, imported by %s: isobox's runtime does not provide it, even under nodejs_compat (it has: %s)", spec, who(from), providedNames())
	}
	if !l.nodeCompat {
		return api.OnResolveResult{}, fmt.Errorf("%q is a Node.js built-in module, imported by %s: it needs the nodejs_compat compatibility flag", spec, who(from))
	}
	if require {
		return api.OnResolveResult{Path: "node:" + name, Namespace: nodeShim}, nil
	}
	return api.OnResolveResult{Path: "node:" + name, External: true}, nil
}

// nodeModules are the Node built-ins isobox's runtime provides under nodejs_compat.
var nodeModules = runtime.NodeModules()

func providedNames() string {
	names := make([]string, 0, len(nodeModules))
	for n := range nodeModules {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// format says whether a file is an ES module, from esbuild's metafile (never from its
// text): "esm", "cjs", or "" for a file with neither imports nor exports.
func (l *linker) format(p string) string {
	l.mu.Lock()
	f, ok := l.formats[p]
	l.mu.Unlock()
	if ok {
		return f
	}
	switch path.Ext(p) {
	case ".mjs", ".mts":
		f = "esm"
	case ".cjs", ".cts", ".json":
		f = "cjs"
	default:
		src, _ := l.fs.read(p)
		r := api.Build(api.BuildOptions{
			Stdin: &api.StdinOptions{Contents: string(src), Loader: loaderOf(p), Sourcefile: "in.js"},
			Write: false, Metafile: true, LogLevel: api.LogLevelSilent, Format: api.FormatDefault,
			Platform: api.PlatformNeutral,
		})
		var meta struct {
			Inputs map[string]struct {
				Format string `json:"format"`
			} `json:"inputs"`
		}
		if len(r.Errors) == 0 && json.Unmarshal([]byte(r.Metafile), &meta) == nil {
			for _, in := range meta.Inputs {
				f = in.Format
			}
		}
	}
	l.mu.Lock()
	l.formats[p] = f
	l.mu.Unlock()
	return f
}

// loaderOf picks esbuild's loader by file extension.
func loaderOf(p string) api.Loader {
	switch strings.ToLower(path.Ext(p)) {
	case ".ts", ".mts", ".cts":
		return api.LoaderTS
	case ".tsx":
		return api.LoaderTSX
	case ".jsx":
		return api.LoaderJSX
	case ".json":
		return api.LoaderJSON
	case ".txt", ".md", ".html", ".svg", ".css":
		return api.LoaderText
	case ".wasm", ".bin", ".png", ".jpg", ".gif", ".ico", ".woff", ".woff2":
		return api.LoaderBinary
	}
	return api.LoaderJS
}

// build bundles one module: the project's entry with all the project's files, or one
// ES module file of a package. Package ES modules it imports are external.
func (l *linker) build(entry string) (string, error) {
	plugin := api.Plugin{Name: "isobox", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(args api.OnResolveArgs) (api.OnResolveResult, error) {
			return l.resolve(entry, args)
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: emptyModule.Namespace}, func(api.OnLoadArgs) (api.OnLoadResult, error) {
			empty := "module.exports = {}"
			return api.OnLoadResult{Contents: &empty, Loader: api.LoaderJS}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: nodeShim}, func(args api.OnLoadArgs) (api.OnLoadResult, error) {
			q, _ := json.Marshal(args.Path)
			shim := "module.exports = globalThis.__isobox_internal.requireFrom(\"\", " + string(q) + ");\n"
			return api.OnLoadResult{Contents: &shim, Loader: api.LoaderJS}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: namespace}, func(args api.OnLoadArgs) (api.OnLoadResult, error) {
			src, ok := l.fs.read(args.Path)
			if !ok {
				return api.OnLoadResult{}, fmt.Errorf("no file %s", display(args.Path))
			}
			s := string(src)
			return api.OnLoadResult{Contents: &s, Loader: loaderOf(args.Path)}, nil
		})
	}}
	opts := api.BuildOptions{
		EntryPoints: []string{entry},
		Bundle:      true,
		Write:       false,
		Format:      api.FormatESModule,
		Platform:    api.PlatformNeutral,
		Target:      api.ES2022,
		Charset:     api.CharsetUTF8,
		LogLevel:    api.LogLevelSilent,
		Define:      map[string]string{"process.env.NODE_ENV": `"production"`},
		Plugins:     []api.Plugin{plugin},
	}
	if owner(entry) == "" {
		opts.TsconfigRaw = l.tsconfig
	}
	l.mu.Lock()
	l.builds++
	l.mu.Unlock()
	r := api.Build(opts)
	if len(r.Errors) > 0 {
		return "", buildError(r.Errors)
	}
	if len(r.OutputFiles) != 1 {
		return "", isoerr.New(isoerr.Internal, "esbuild wrote %d files for %s", len(r.OutputFiles), display(entry))
	}
	return string(r.OutputFiles[0].Contents), nil
}

// buildError turns esbuild's first error into a bundle_failed Error at its file, line
// and column.
func buildError(msgs []api.Message) error {
	m := msgs[0]
	e := &Error{Message: m.Text}
	if m.PluginName != "" && m.Text == "" {
		e.Message = "plugin error"
	}
	if loc := m.Location; loc != nil {
		e.File, e.Line, e.Column = display(loc.File), loc.Line, loc.Column+1
		e.LineText = strings.TrimRight(loc.LineText, " \t")
	}
	if len(msgs) > 1 {
		e.More = len(msgs) - 1
	}
	return e
}

// next returns a package module still to build, or "".
func (l *linker) next() (name, file string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		return "", ""
	}
	name = l.queue[0]
	l.queue = l.queue[1:]
	return name, l.modules[name]
}
