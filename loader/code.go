package loader

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/jsnorm"
	"github.com/isobox/isobox/isoerr"
)

// Size limits on what a worker may be loaded with, as in Dynamic Workers.
const (
	MaxCodeSize = 64 << 20 // all modules together
	MaxEnvSize  = 1 << 20  // the serialized env
)

// WorkerCode is the code and configuration of a dynamic worker, mirroring the WorkerCode of
// Cloudflare's Worker Loader: the fields of api.WorkerCode (its wire form) that the loader
// runs, plus what only a Go caller can give, the transport of fetch() and a tenant. Its
// JSON is api.WorkerCode's; a globalOutbound policy needs an egress gateway, so a caller
// holding one decodes api.WorkerCode, calls FromAPI and sets Outbound.
type WorkerCode struct {
	CompatibilityDate  string
	CompatibilityFlags []string
	MainModule         string
	Modules            map[string]Module
	// Env is the worker's env object: any JSON value map, at most 1 MiB serialized.
	Env map[string]any
	// Limits apply to every invocation (the lower of these and the entrypoint's wins).
	Limits *Limits
	// Outbound carries fetch() (the globalOutbound of Dynamic Workers). nil: no network.
	Outbound http.RoundTripper
	// Tenant, when set, keeps this code's images apart from identical code of other tenants.
	Tenant string
	// Bindings are capabilities given to the worker as env properties (api.Binding):
	// {"FS": {"workspace": "proj"}} is env.FS over workspace "proj" of Config.Workspaces.
	Bindings map[string]api.Binding
	// FS, when set, answers the filesystem operations of Bindings instead of
	// Config.Workspaces, as Outbound carries fetch(): a sandbox process sends them to its
	// supervisor, which holds the store. A Go value, not part of the JSON.
	FS engine.FSFunc
}

// FromAPI returns the WorkerCode of w's wire form, without an Outbound: w.GlobalOutbound
// is the caller's to turn into one (the server does, with its egress gateway).
func FromAPI(w api.WorkerCode) WorkerCode {
	return WorkerCode{CompatibilityDate: w.CompatibilityDate, CompatibilityFlags: w.CompatibilityFlags,
		MainModule: w.MainModule, Modules: w.Modules, Env: w.Env, Limits: w.Limits, Bindings: w.Bindings}
}

// API returns c's wire form (without a globalOutbound: Outbound is a Go value).
func (c WorkerCode) API() api.WorkerCode {
	return api.WorkerCode{CompatibilityDate: c.CompatibilityDate, CompatibilityFlags: c.CompatibilityFlags,
		MainModule: c.MainModule, Modules: c.Modules, Env: c.Env, Limits: c.Limits, Bindings: c.Bindings}
}

// MarshalJSON writes c as api.WorkerCode.
func (c WorkerCode) MarshalJSON() ([]byte, error) { return json.Marshal(c.API()) }

// UnmarshalJSON reads api.WorkerCode's JSON. It refuses a globalOutbound, which only a
// caller with an egress gateway can honour (see FromAPI): dropping it silently would
// change what the worker may reach; and files, a project the bundler must turn into
// modules first.
func (c *WorkerCode) UnmarshalJSON(b []byte) error {
	var w api.WorkerCode
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if len(w.GlobalOutbound) > 0 && string(w.GlobalOutbound) != "null" {
		return isoerr.New(isoerr.InvalidWorkerCode, "globalOutbound needs an egress gateway: decode api.WorkerCode and set loader.WorkerCode.Outbound")
	}
	if len(w.Files) > 0 {
		return isoerr.New(isoerr.InvalidWorkerCode, "files is a project to bundle first (package bundle, `isobox bundle`): the loader runs modules")
	}
	*c = FromAPI(w)
	return nil
}

// codeHash identifies what a worker's start-up depends on: its modules, main module, env,
// memory limit and tenant. Sandboxes of one hash may start from one image. sums holds the
// SHA-256 of modules' contents computed already (moduleSums), so that the code's hash and
// its dependency set's (depsOf) read each module's bytes once; a module without one is
// hashed here.
func codeHash(tenant, main string, mods engine.ModuleMap, sums map[string][32]byte, env json.RawMessage, memory uint64) string {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(tenant))
	field([]byte(main))
	names := make([]string, 0, len(mods))
	for k := range mods {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		field([]byte(k))
		field([]byte(mods[k].Type))
		sum, ok := sums[k]
		if !ok {
			sum = sha256.Sum256(mods[k].Content)
		}
		field(sum[:])
	}
	field(env)
	field([]byte(strconv.FormatUint(memory, 10)))
	return hex.EncodeToString(h.Sum(nil))
}

// moduleSums returns the SHA-256 of each module's contents.
func moduleSums(mods engine.ModuleMap) map[string][32]byte {
	sums := make(map[string][32]byte, len(mods))
	for k, m := range mods {
		sums[k] = sha256.Sum256(m.Content)
	}
	return sums
}

// Limits is the wire form of the per-worker limits (api.Limits): whole milliseconds and
// MiB. EngineLimits converts it.
type Limits = api.Limits

// EngineLimits converts wire limits to the engine's (zero fields stay unset; nil: none).
func EngineLimits(l *Limits) engine.Limits { return engine.WireLimits(l) }

// Module is one module of a worker (api.Module: in JSON a string, typed by its name, or
// an object with one typed key). A js or cjs module whose name ends in .ts, .mts, .cts,
// .tsx or .jsx is TypeScript or JSX, compiled by esbuild when the worker is loaded.
type Module = api.Module

// JS returns an ES module.
func JS(src string) Module { return Module{Type: engine.ModuleJS, Content: []byte(src)} }

// Validate checks everything about the code that can be checked without running it:
// module names and types, UTF-8, JSON, sizes and limits, and the TypeScript and JSX
// modules, which are compiled (syntax errors, imports of modules the worker does not
// have). Other syntax errors are found when the code is loaded.
func (c *WorkerCode) Validate() error {
	_, _, err := c.prepare()
	return err
}

// prepare validates the code and turns it into what the engine runs: TypeScript and JSX
// modules (by name: .ts, .mts, .cts, .tsx, .jsx) are compiled to JavaScript.
func (c *WorkerCode) prepare() (engine.ModuleMap, json.RawMessage, error) {
	if c.MainModule == "" {
		return nil, nil, isoerr.New(isoerr.InvalidWorkerCode, "mainModule is required")
	}
	if len(c.Modules) == 0 {
		return nil, nil, isoerr.New(isoerr.InvalidWorkerCode, "modules is empty: give at least the main module")
	}
	size := 0
	for name, m := range c.Modules {
		size += len(name) + len(m.Content)
	}
	if size > MaxCodeSize {
		return nil, nil, isoerr.New(isoerr.CodeTooLarge, "the modules total %d bytes; the limit is %d", size, MaxCodeSize)
	}
	mods := make(engine.ModuleMap, len(c.Modules))
	imports := map[string][]jsnorm.Import{}
	// In name order, so that of two bad modules the same one is reported every time.
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		m := c.Modules[name]
		if m.Type == "" {
			switch {
			case strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".mjs"):
				m.Type = engine.ModuleJS
			case strings.HasSuffix(name, ".cts"):
				m.Type = engine.ModuleCJS
			case jsnorm.Compiles(name):
				m.Type = engine.ModuleJS
			case strings.HasSuffix(name, ".py"):
				m.Type = engine.ModulePy
			case strings.HasSuffix(name, ".wasm"):
				m.Type = engine.ModuleWasm
			default:
				return nil, nil, isoerr.New(isoerr.InvalidWorkerCode, "module %q is a plain string but its name does not end in .js, .mjs, .ts, .mts, .cts, .tsx or .jsx: give it as {\"js\": ...}, {\"text\": ...} or another typed module, or bundle it first", name)
			}
		}
		if (m.Type == engine.ModuleJS || m.Type == engine.ModuleCJS) && jsnorm.Compiles(name) {
			if !utf8.Valid(m.Content) {
				return nil, nil, isoerr.New(isoerr.InvalidWorkerCode, "module %q is not valid UTF-8", name)
			}
			cm, err := jsnorm.Module(name, string(m.Content))
			if err != nil {
				return nil, nil, err
			}
			m.Content = []byte(cm.Code)
			imports[name] = cm.Imports
		}
		mods[name] = engine.Module{Type: m.Type, Content: m.Content}
	}
	if err := checkOneLanguage(c, c.MainModule, mods); err != nil {
		return nil, nil, err
	}
	if n := mods.Size(); n > MaxCodeSize {
		return nil, nil, isoerr.New(isoerr.CodeTooLarge, "the modules total %d bytes compiled; the limit is %d", n, MaxCodeSize)
	}
	if err := mods.Validate(c.MainModule); err != nil {
		return nil, nil, err
	}
	if err := checkImports(mods, slices.Contains(c.CompatibilityFlags, engine.NodeCompatFlag), imports); err != nil {
		return nil, nil, err
	}
	if err := api.CheckScopedBindings(c.Bindings); err != nil { // the server scopes a tenant's names
		return nil, nil, err
	}
	for name := range c.Bindings {
		if _, ok := c.Env[name]; ok {
			return nil, nil, isoerr.New(isoerr.InvalidWorkerCode, "env.%s is both an env value and a binding: rename one", name)
		}
	}
	env := json.RawMessage("{}")
	if c.Env != nil {
		b, err := json.Marshal(c.Env)
		if err != nil {
			return nil, nil, isoerr.New(isoerr.InvalidRequest, "env cannot be serialized: %v", err)
		}
		if len(b) > MaxEnvSize {
			return nil, nil, isoerr.New(isoerr.EnvTooLarge, "env is %d bytes serialized; the limit is %d", len(b), MaxEnvSize)
		}
		env = b
	}
	if l := c.Limits; l != nil && (l.CPUMs < 0 || l.WallMs < 0 || l.MemoryMB < 0 || l.SubRequests < 0) {
		return nil, nil, isoerr.New(isoerr.InvalidRequest, "limits must not be negative")
	}
	if err := EngineLimits(c.Limits).Validate(); err != nil {
		return nil, nil, err
	}
	return mods, env, nil
}

// checkImports refuses a compiled module that imports what the worker does not have,
// whether the import is used or not; it resolves each import as the engine will when the
// code is loaded (import() is left to run time: it may never happen).
func checkImports(mods engine.ModuleMap, nodeCompat bool, imports map[string][]jsnorm.Import) error {
	names := make([]string, 0, len(imports))
	for name := range imports {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, imp := range imports[name] {
			if imp.Kind == jsnorm.DynamicImport {
				continue
			}
			if _, err := mods.ResolveWith(nodeCompat, name, imp.Path); err != nil {
				return isoerr.New(isoerr.InvalidWorkerCode, "%v", err)
			}
		}
	}
	return nil
}

// checkOneLanguage refuses a worker whose code modules are of two languages: a Python
// worker (its main module is .py) runs in CPython, which cannot import JavaScript, and a
// JavaScript worker cannot import Python. Text, data and JSON modules go with either. A
// WebAssembly worker is its main module alone, without bindings.
func checkOneLanguage(c *WorkerCode, main string, mods engine.ModuleMap) error {
	m, ok := mods[main]
	if !ok {
		return nil // Validate says the main module is missing
	}
	python := m.Type == engine.ModulePy
	if m.Type == engine.ModuleWasm {
		// A WebAssembly worker is its main module alone: nothing else is loaded.
		for _, name := range slices.Sorted(maps.Keys(mods)) {
			if name != main {
				return isoerr.New(isoerr.InvalidWorkerCode, "module %q: a WebAssembly worker (main module %q) is that one module; give no other modules", name, main)
			}
		}
		if len(c.Bindings) > 0 {
			return isoerr.New(isoerr.InvalidWorkerCode, "a WebAssembly worker has no bindings (it gets WASI only)")
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(mods)) {
		switch t := mods[name].Type; {
		case python && (t == engine.ModuleJS || t == engine.ModuleCJS):
			return isoerr.New(isoerr.InvalidWorkerCode, "module %q is JavaScript, but the main module %q is Python: a worker's code is in one language", name, main)
		case !python && t == engine.ModulePy:
			return isoerr.New(isoerr.InvalidWorkerCode, "module %q is Python, but the main module %q is JavaScript: a worker's code is in one language", name, main)
		}
	}
	return nil
}
