package loader

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
// Cloudflare's Worker Loader. Its JSON form is the one the HTTP API and `isobox run` use.
type WorkerCode struct {
	CompatibilityDate  string            `json:"compatibilityDate,omitempty"`
	CompatibilityFlags []string          `json:"compatibilityFlags,omitempty"`
	MainModule         string            `json:"mainModule"`
	Modules            map[string]Module `json:"modules"`
	// Env is the worker's env object: any JSON value map, at most 1 MiB serialized.
	Env map[string]any `json:"env,omitempty"`
	// Limits apply to every invocation (the lower of these and the entrypoint's wins).
	Limits *Limits `json:"limits,omitempty"`
	// Outbound carries fetch() (the globalOutbound of Dynamic Workers). nil: no network.
	Outbound http.RoundTripper `json:"-"`
	// Tenant, when set, keeps this code's images apart from identical code of other tenants.
	Tenant string `json:"-"`
}

// codeHash identifies what a worker's start-up depends on: its modules, main module, env,
// memory limit and tenant. Sandboxes of one hash may start from one image.
func codeHash(tenant, main string, mods engine.ModuleMap, env json.RawMessage, memory uint64) string {
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
		field(mods[k].Content)
	}
	field(env)
	field([]byte(strconv.FormatUint(memory, 10)))
	return hex.EncodeToString(h.Sum(nil))
}

// Limits is the JSON form of the per-worker limits.
type Limits struct {
	CPUMs       int `json:"cpuMs,omitempty"`
	WallMs      int `json:"wallMs,omitempty"`
	MemoryMB    int `json:"memoryMb,omitempty"`
	SubRequests int `json:"subRequests,omitempty"`
}

// Engine converts l to engine limits (zero fields stay unset).
func (l *Limits) Engine() engine.Limits {
	if l == nil {
		return engine.Limits{}
	}
	return engine.Limits{
		CPU:         time.Duration(l.CPUMs) * time.Millisecond,
		Wall:        time.Duration(l.WallMs) * time.Millisecond,
		Memory:      uint64(l.MemoryMB) << 20,
		Subrequests: l.SubRequests,
	}
}

// Module is one module of a worker. In JSON it is either a string (an ES module, for names
// ending in .js, .mjs, .ts, .mts, .tsx or .jsx; CommonJS for .cts) or an object with
// exactly one of js, cjs, text, data (base64) or json. A js or cjs module whose name ends
// in .ts, .mts, .cts, .tsx or .jsx is TypeScript or JSX, compiled by esbuild when the
// worker is loaded.
type Module struct {
	Type    engine.ModuleType
	Content []byte
}

// JS returns an ES module.
func JS(src string) Module { return Module{Type: engine.ModuleJS, Content: []byte(src)} }

// UnmarshalJSON implements json.Unmarshaler.
func (m *Module) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*m = Module{Type: "", Content: []byte(s)} // typed by name in prepare
		return nil
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("a module must be a string or an object with one of js, cjs, text, data, json")
	}
	if len(o) != 1 {
		return fmt.Errorf("a module object must have exactly one of js, cjs, text, data, json (got %d keys)", len(o))
	}
	for k, v := range o {
		switch t := engine.ModuleType(k); t {
		case engine.ModuleJS, engine.ModuleCJS, engine.ModuleText, engine.ModulePy:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("module %s content must be a string", k)
			}
			*m = Module{Type: t, Content: []byte(s)}
		case engine.ModuleData, engine.ModuleWasm:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("module %s content must be a base64 string", k)
			}
			d, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return fmt.Errorf("module %s content is not valid base64: %v", k, err)
			}
			*m = Module{Type: t, Content: d}
		case engine.ModuleJSON:
			*m = Module{Type: t, Content: append([]byte(nil), v...)}
		default:
			return fmt.Errorf("unknown module type %q (want js, cjs, text, data or json)", k)
		}
	}
	return nil
}

// MarshalJSON implements json.Marshaler.
func (m Module) MarshalJSON() ([]byte, error) {
	switch m.Type {
	case engine.ModuleJSON:
		return json.Marshal(map[string]json.RawMessage{"json": m.Content})
	case engine.ModuleData, engine.ModuleWasm:
		return json.Marshal(map[string]string{string(m.Type): base64.StdEncoding.EncodeToString(m.Content)})
	case "":
		return json.Marshal(string(m.Content))
	}
	return json.Marshal(map[string]string{string(m.Type): string(m.Content)})
}

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
	for name, m := range c.Modules {
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
	if n := mods.Size(); n > MaxCodeSize {
		return nil, nil, isoerr.New(isoerr.CodeTooLarge, "the modules total %d bytes compiled; the limit is %d", n, MaxCodeSize)
	}
	if err := mods.Validate(c.MainModule); err != nil {
		return nil, nil, err
	}
	if err := checkImports(mods, imports); err != nil {
		return nil, nil, err
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
	if err := c.Limits.Engine().Validate(); err != nil {
		return nil, nil, err
	}
	return mods, env, nil
}

// checkImports refuses a compiled module that imports what the worker does not have,
// whether the import is used or not; it resolves each import as the engine will when the
// code is loaded (import() is left to run time: it may never happen).
func checkImports(mods engine.ModuleMap, imports map[string][]jsnorm.Import) error {
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
			if _, err := mods.Resolve(name, imp.Path); err != nil {
				return isoerr.New(isoerr.InvalidWorkerCode, "%v", err)
			}
		}
	}
	return nil
}
