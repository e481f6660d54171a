// Package bundle turns a project — a package.json, TypeScript or JavaScript sources and
// their npm dependencies — into the WorkerCode of a dynamic worker, with esbuild and
// isobox's own npm installer (internal/npm): no node, no npm, no install scripts. The CLI
// (`isobox bundle`, `isobox run DIR`) and the server (PUT /v1/workers/{id} with files,
// POST /v1/bundle) share it.
//
// The user's code becomes one module (the main module); each ES module of an npm package
// that it imports becomes a module of its own, named npm/<name>@<version>/<file>, whose
// bytes depend only on that package version and the versions of the packages it imports.
// CommonJS packages are bundled into their importer. Bundles are cached by the hash of
// the project's files and the resolved dependency set.
package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/internal/npm"
	"github.com/isobox/isobox/isoerr"
)

// Limits on a project's own files.
const (
	MaxProjectFiles = 10000
	MaxProjectBytes = 64 << 20
)

// version is part of every cache key: a change to how bundles are made invalidates them.
const version = "isobox-bundle-2"

// maxMemoryEntries bounds the bundle cache of a Bundler without a CacheDir.
const maxMemoryEntries = 256

// MainModule is the name of the user's module in the WorkerCode.
const MainModule = "index.js"

// Error is a failed bundle: its message and, when it has one, the place in a file
// (File relative to the project, or name@version/file for a package). Its code is
// bundle_failed (isoerr.CodeOf and isoerr.As see it).
type Error struct {
	File     string
	Line     int // from 1
	Column   int // from 1
	LineText string
	Message  string
	More     int // further errors not shown
}

func (e *Error) Error() string { return e.isoerr().Error() }

// Unwrap gives the bundle_failed isoerr.Error, whose message is
// "file:line:col: message" followed by the line and a caret.
func (e *Error) Unwrap() error { return e.isoerr() }

func (e *Error) isoerr() *isoerr.Error {
	msg := e.Message
	if e.File != "" {
		msg = fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, msg)
		if e.LineText != "" && len(e.LineText) < 300 {
			msg += fmt.Sprintf("\n  %s\n  %s^", e.LineText, strings.Repeat(" ", min(e.Column-1, len(e.LineText))))
		}
	}
	if e.More > 0 {
		msg += fmt.Sprintf("\n(and %d more errors)", e.More)
	}
	return isoerr.New(isoerr.BundleFailed, "%s", msg)
}

// Options configure a Bundler.
type Options struct {
	// Registry is the npm registry (default npm.DefaultRegistry); Token its bearer token.
	Registry, Token string
	// Scopes are the scopes .npmrc sends to registries of their own (npm.ScopeRegistries):
	// their packages are refused unless that registry is Registry.
	Scopes map[string]string
	// CacheDir holds the npm caches and the bundles ("": memory only).
	CacheDir string
	// MetadataTTL is how long registry metadata, and a bundle resolved from ranges without
	// a package-lock.json, are trusted (default 5 minutes).
	MetadataTTL time.Duration
	// Limits bound downloads and tarballs (zero fields: npm's defaults).
	Limits npm.Limits
	// HTTPClient fetches from the registry (nil: a default client).
	HTTPClient *http.Client
}

// Bundler builds projects and keeps the caches between builds. It is safe for concurrent
// use.
type Bundler struct {
	opts   Options
	npm    *npm.Client
	mu     sync.Mutex
	memory map[string][]byte // the bundle cache when there is no CacheDir
	stats  Stats
	// slots bounds the builds that install or run esbuild at once (a server takes projects
	// from many callers; a cache hit needs no slot).
	slots chan struct{}
}

// Stats counts a Bundler's work, for tests and metrics.
type Stats struct {
	Builds      int // Build calls that returned a bundle
	CacheHits   int // of them, answered from the cache with no install and no esbuild
	EsbuildRuns int // esbuild builds (one per module)
}

// New returns a Bundler.
func New(opts Options) *Bundler {
	if opts.MetadataTTL <= 0 {
		opts.MetadataTTL = 5 * time.Minute
	}
	c := npm.NewClient(npm.Config{Registry: opts.Registry, Token: opts.Token, Scopes: opts.Scopes, CacheDir: opts.CacheDir,
		MetadataTTL: opts.MetadataTTL, Limits: opts.Limits}, opts.HTTPClient)
	return &Bundler{opts: opts, npm: c, memory: map[string][]byte{}, slots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
}

// Stats returns the counts so far.
func (b *Bundler) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// Project is what to bundle.
type Project struct {
	// Files by path relative to the project ("package.json", "src/index.ts"); a
	// node_modules folder among them is ignored (isobox installs the dependencies).
	Files map[string][]byte
	// CompatibilityDate and CompatibilityFlags are copied into the WorkerCode;
	// nodejs_compat changes how imports of Node.js built-ins are reported.
	CompatibilityDate  string
	CompatibilityFlags []string
	// Inline bundles the packages into the main module too, tree-shaken: the smallest
	// WorkerCode and the fastest first load for an app that imports a few functions of a
	// large package (date-fns' index), at the price of sharing nothing between apps.
	Inline bool
}

// Bundle is a built project.
type Bundle struct {
	Code api.WorkerCode
	// InputHash is "sha256:<hex>" of the project's files and options: equal for equal
	// inputs.
	InputHash string
	// Packages lists the installed packages as name@version, sorted.
	Packages []string
	// Cached says that the bundle came from the cache.
	Cached bool
}

// cacheEntry is a cached bundle: what it resolved to and when.
type cacheEntry struct {
	ResolvedAt time.Time      `json:"resolvedAt"`
	FromLock   bool           `json:"fromLock"`
	Packages   []string       `json:"packages"`
	Code       api.WorkerCode `json:"code"`
}

// Build bundles a project with a one-off Bundler (see Bundler.Build).
func Build(ctx context.Context, files map[string][]byte, opts Options) (api.WorkerCode, error) {
	r, err := New(opts).Build(ctx, Project{Files: files})
	if err != nil {
		return api.WorkerCode{}, err
	}
	return r.Code, nil
}

// Build installs a project's dependencies and bundles it into a WorkerCode. The entry is
// package.json's main, else src/index.ts, index.ts, src/index.js, index.js. A project
// whose files and options are unchanged is answered from the cache without any download
// or esbuild run, as long as its dependencies are locked (package-lock.json) or were
// resolved less than MetadataTTL ago.
//
// # Errors
//
// bundle_failed (an *Error, with File, Line and Column for a syntax error) when the
// project has no entry, a file path is invalid, a package, version or file does not
// exist, a tarball is refused, a Node.js built-in is imported, or the code does not
// parse; code_too_large when the project's files exceed MaxProjectBytes.
func (b *Bundler) Build(ctx context.Context, p Project) (*Bundle, error) {
	files, err := cleanFiles(p.Files)
	if err != nil {
		return nil, err
	}
	inHash := inputHash(files, p, b.npm.Config().Registry, b.opts.Scopes)
	key1 := "in-" + inHash
	if e, ok := b.load(key1); ok && (e.FromLock || time.Since(e.ResolvedAt) < b.opts.MetadataTTL) {
		b.count(func(s *Stats) { s.Builds++; s.CacheHits++ })
		return &Bundle{Code: e.Code, InputHash: "sha256:" + inHash, Packages: e.Packages, Cached: true}, nil
	}
	entry, err := findEntry(files)
	if err != nil {
		return nil, err
	}
	select {
	case b.slots <- struct{}{}:
		defer func() { <-b.slots }()
	case <-ctx.Done():
		return nil, isoerr.New(isoerr.Canceled, "waiting to bundle: %v", ctx.Err())
	}
	tree := &npm.Tree{Packages: map[string]*npm.Package{}}
	if pj, ok := files["package.json"]; ok {
		if tree, err = b.npm.Install(ctx, pj, files["package-lock.json"]); err != nil {
			return nil, err
		}
	}
	ids := []string{}
	for _, pk := range tree.Packages {
		ids = append(ids, pk.ID())
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	resolved := sha256.Sum256([]byte(strings.Join(tree.Resolved(), "\n")))
	key2 := "out-" + hex.EncodeToString(resolved[:]) + "-" + inHash
	now := time.Now()
	if e, ok := b.load(key2); ok {
		e.ResolvedAt, e.FromLock = now, tree.FromLock
		b.save(key1, e)
		b.count(func(s *Stats) { s.Builds++ })
		return &Bundle{Code: e.Code, InputHash: "sha256:" + inHash, Packages: ids}, nil
	}
	code, err := b.link(ctx, files, tree, entry, p)
	if err != nil {
		return nil, err
	}
	e := cacheEntry{ResolvedAt: now, FromLock: tree.FromLock, Packages: ids, Code: code}
	b.save(key2, e)
	b.save(key1, e)
	b.count(func(s *Stats) { s.Builds++ })
	return &Bundle{Code: code, InputHash: "sha256:" + inHash, Packages: ids}, nil
}

func (b *Bundler) count(f func(*Stats)) {
	b.mu.Lock()
	f(&b.stats)
	b.mu.Unlock()
}

// link runs esbuild: the user's module, then each package module it leads to.
func (b *Bundler) link(ctx context.Context, files map[string][]byte, tree *npm.Tree, entry string, p Project) (api.WorkerCode, error) {
	l := &linker{fs: newVFS(files, tree), formats: map[string]string{}, modules: map[string]string{},
		nodeCompat: slices.Contains(p.CompatibilityFlags, "nodejs_compat"), inline: p.Inline}
	if tc, ok := files["tsconfig.json"]; ok {
		l.tsconfig = string(tc)
	}
	defer func() { b.count(func(s *Stats) { s.EsbuildRuns += l.builds }) }()
	main, err := l.build(appRoot + "/" + entry)
	if err != nil {
		return api.WorkerCode{}, err
	}
	code := api.WorkerCode{MainModule: MainModule, CompatibilityDate: p.CompatibilityDate,
		CompatibilityFlags: p.CompatibilityFlags, Modules: map[string]api.Module{MainModule: api.JS(main)}}
	// The package modules, 4 builds at a time; each build may queue more.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errName string
		berr    error
		sem     = make(chan struct{}, 4)
	)
	var launch func()
	launch = func() {
		for {
			name, file := l.next()
			if name == "" {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				var src string
				err := ctx.Err()
				if err != nil {
					err = isoerr.New(isoerr.Canceled, "bundling: %v", err)
				} else {
					src, err = l.build(file)
				}
				<-sem
				mu.Lock()
				if err != nil {
					if berr == nil || name < errName { // the same error every time
						berr, errName = err, name
					}
				} else {
					code.Modules[name] = api.JS(src)
				}
				mu.Unlock()
				if err == nil {
					launch()
				}
			}()
		}
	}
	launch()
	wg.Wait()
	if berr != nil {
		return api.WorkerCode{}, berr
	}
	return code, nil
}

// cleanFiles checks the project's paths and drops node_modules.
func cleanFiles(in map[string][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(in))
	size := 0
	for name, b := range in {
		n := strings.TrimPrefix(name, "./")
		if n == "" || strings.HasPrefix(n, "/") || strings.ContainsAny(n, "\x00\\") || path.Clean(n) != n || n == "." || strings.HasPrefix(n, "../") || n == ".." {
			return nil, isoerr.New(isoerr.BundleFailed, "invalid file path %q in the project: paths are relative, with / and no . or .. parts", name)
		}
		if n == "node_modules" || strings.HasPrefix(n, "node_modules/") {
			continue
		}
		size += len(n) + len(b)
		out[n] = b
	}
	if len(out) > MaxProjectFiles {
		return nil, isoerr.New(isoerr.BundleFailed, "the project has %d files; the limit is %d", len(out), MaxProjectFiles)
	}
	if size > MaxProjectBytes {
		return nil, isoerr.New(isoerr.CodeTooLarge, "the project's files total %d bytes; the limit is %d", size, MaxProjectBytes)
	}
	return out, nil
}

// findEntry picks the entry: package.json's main, else the conventional names.
func findEntry(files map[string][]byte) (string, error) {
	fs := newVFS(files, nil)
	if fs.root.Main != "" {
		p := path.Join(appRoot, fs.root.Main)
		if f, ok := fs.file(p); ok && strings.HasPrefix(f, appRoot+"/") {
			return strings.TrimPrefix(f, appRoot+"/"), nil
		}
		return "", isoerr.New(isoerr.BundleFailed, "package.json's main is %q, which is not a file of the project", fs.root.Main)
	}
	if b, ok := files["package.json"]; ok && !json.Valid(b) {
		return "", isoerr.New(isoerr.BundleFailed, "package.json is not valid JSON")
	}
	for _, f := range []string{"src/index.ts", "index.ts", "src/index.js", "index.js"} {
		if _, ok := files[f]; ok {
			return f, nil
		}
	}
	return "", isoerr.New(isoerr.BundleFailed, "the project has no entry: set package.json's main, or add src/index.ts, index.ts, src/index.js or index.js")
}

// inputHash hashes everything a bundle depends on besides the registry's answers.
func inputHash(files map[string][]byte, p Project, registry string, scopes map[string]string) string {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(version))
	field([]byte(registry))
	for _, sc := range slices.Sorted(maps.Keys(scopes)) {
		field([]byte(sc + "=" + scopes[sc]))
	}
	field([]byte(p.CompatibilityDate))
	field([]byte(strings.Join(p.CompatibilityFlags, ",")))
	field([]byte(fmt.Sprint(p.Inline)))
	for _, n := range slices.Sorted(maps.Keys(files)) {
		field([]byte(n))
		field(files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// A cached bundle is stored as cacheMagic, the length of a JSON header (8 bytes, little
// endian), the header — the cacheEntry with the modules' contents left out, and their
// lengths in name order — and the contents, concatenated. Decoding a whole bundle as JSON
// (modules are JSON strings, escaped) was most of a warm build: 3.5 ms for the 200 KB of a
// Hono + zod app.
const cacheMagic = "isobox-bundle-cache\n"

type cacheHeader struct {
	cacheEntry
	Sizes []int `json:"sizes"`
}

func encodeEntry(e cacheEntry) ([]byte, error) {
	h := cacheHeader{cacheEntry: e}
	h.Code.Modules = make(map[string]api.Module, len(e.Code.Modules))
	names := slices.Sorted(maps.Keys(e.Code.Modules))
	total := 0
	for _, n := range names {
		m := e.Code.Modules[n]
		h.Code.Modules[n] = api.Module{Type: m.Type}
		h.Sizes = append(h.Sizes, len(m.Content))
		total += len(m.Content)
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(cacheMagic)+8+len(hj)+total)
	out = append(out, cacheMagic...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(hj)))
	out = append(out, hj...)
	for _, n := range names {
		out = append(out, e.Code.Modules[n].Content...)
	}
	return out, nil
}

// decodeEntry reads what encodeEntry wrote; false for anything else (a torn or foreign
// file is a cache miss).
func decodeEntry(raw []byte) (cacheEntry, bool) {
	rest, ok := bytes.CutPrefix(raw, []byte(cacheMagic))
	if !ok || len(rest) < 8 {
		return cacheEntry{}, false
	}
	n := binary.LittleEndian.Uint64(rest)
	if rest = rest[8:]; n > uint64(len(rest)) {
		return cacheEntry{}, false
	}
	var h cacheHeader
	if json.Unmarshal(rest[:n], &h) != nil || h.Code.MainModule == "" || len(h.Sizes) != len(h.Code.Modules) {
		return cacheEntry{}, false
	}
	rest = rest[n:]
	for i, name := range slices.Sorted(maps.Keys(h.Code.Modules)) {
		size := h.Sizes[i]
		if size < 0 || size > len(rest) {
			return cacheEntry{}, false
		}
		m := h.Code.Modules[name]
		m.Content, rest = rest[:size:size], rest[size:]
		h.Code.Modules[name] = m
	}
	if len(rest) != 0 {
		return cacheEntry{}, false
	}
	return h.cacheEntry, true
}

func (b *Bundler) load(key string) (cacheEntry, bool) {
	var raw []byte
	if b.opts.CacheDir == "" {
		b.mu.Lock()
		raw = b.memory[key]
		b.mu.Unlock()
	} else {
		raw, _ = os.ReadFile(filepath.Join(b.opts.CacheDir, "bundles", key+".bin"))
	}
	e, ok := decodeEntry(raw)
	if !ok {
		return e, false
	}
	if e.Packages == nil {
		e.Packages = []string{}
	}
	return e, true
}

func (b *Bundler) save(key string, e cacheEntry) {
	raw, err := encodeEntry(e)
	if err != nil {
		return
	}
	if b.opts.CacheDir == "" {
		b.mu.Lock()
		if len(b.memory) >= maxMemoryEntries {
			clear(b.memory) // a bound, not an LRU: memory-only bundlers are for tests and one-off runs
		}
		b.memory[key] = raw
		b.mu.Unlock()
		return
	}
	dir := filepath.Join(b.opts.CacheDir, "bundles")
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return
	}
	_, werr := f.Write(raw)
	if f.Close() != nil || werr != nil || os.Rename(f.Name(), filepath.Join(dir, key+".bin")) != nil {
		os.Remove(f.Name())
	}
}
