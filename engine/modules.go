package engine

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/isobox/isobox/isoerr"
)

// The module types a sandbox understands.
const (
	ModuleJS   ModuleType = "js"   // ES module
	ModuleCJS  ModuleType = "cjs"  // CommonJS: require/module.exports; its default export is module.exports
	ModuleText ModuleType = "text" // a string, as the default export
	ModuleData ModuleType = "data" // bytes, as an ArrayBuffer default export
	ModuleJSON ModuleType = "json" // a JSON value, as the default export
	ModuleWasm ModuleType = "wasm" // WebAssembly: a WebAssembly.Module default export; as main module, a WebAssembly worker (SandboxConfig.Wasm)
	ModulePy   ModuleType = "py"   // Python; a Python worker's modules (SandboxConfig.Python)
)

// Module is one entry of a module map.
type Module struct {
	Type    ModuleType
	Content []byte
}

// ModuleMap is a worker's code: module name -> module. Names are paths without a leading
// slash ("main.js", "lib/util.js"); imports resolve against them like URLs.
type ModuleMap map[string]Module

// builtinModules are provided by the runtime itself.
var builtinModules = map[string]string{
	"cloudflare:workers": `const w = globalThis.__isobox_internal;
export const WorkerEntrypoint = w.WorkerEntrypoint;
export const RpcTarget = w.RpcTarget;
export const DurableObject = w.DurableObject;
export const env = w.env();
export default { WorkerEntrypoint, RpcTarget, DurableObject, env };
`,
}

// Size returns the total bytes of all modules.
func (m ModuleMap) Size() int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v.Content)
	}
	return n
}

// Validate checks what can be checked before running anything: main exists, types are
// known, text is UTF-8 and JSON parses.
func (m ModuleMap) Validate(main string) error {
	if main == "" {
		return isoerr.New(isoerr.InvalidWorkerCode, "mainModule is required")
	}
	mod, ok := m[main]
	if !ok {
		return isoerr.New(isoerr.InvalidWorkerCode, "mainModule %q is not in modules (have: %s)", main, m.names())
	}
	if mod.Type == ModulePy {
		return m.validatePython(main)
	}
	if mod.Type == ModuleWasm {
		return m.validateWasm(main)
	}
	if mod.Type != ModuleJS && mod.Type != ModuleCJS {
		return isoerr.New(isoerr.InvalidWorkerCode, "mainModule %q must be a js or cjs module, not %s", main, mod.Type)
	}
	// In name order, so that of two bad modules the same one is reported every time.
	for _, name := range slices.Sorted(maps.Keys(m)) {
		mod := m[name]
		if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\x00") {
			return isoerr.New(isoerr.InvalidWorkerCode, "invalid module name %q", name)
		}
		switch mod.Type {
		case ModuleJS, ModuleCJS, ModuleText:
			if !utf8.Valid(mod.Content) {
				return isoerr.New(isoerr.InvalidWorkerCode, "module %q is not valid UTF-8", name)
			}
		case ModuleJSON:
			if !json.Valid(mod.Content) {
				return isoerr.New(isoerr.InvalidWorkerCode, "module %q is not valid JSON", name)
			}
		case ModuleData, ModuleWasm: // a wasm module is compiled when imported (a WebAssembly.Module)
		case ModulePy:
			return isoerr.New(isoerr.NotImplemented, "module %q: %s modules are not supported yet", name, mod.Type)
		default:
			return isoerr.New(isoerr.InvalidWorkerCode, "module %q has unknown type %q (want js, cjs, text, data, json or wasm)", name, mod.Type)
		}
	}
	return nil
}

func (m ModuleMap) names() string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 20 {
		names = append(names[:20], "...")
	}
	return strings.Join(names, ", ")
}

// BuiltinModules returns the modules the runtime itself provides, by specifier, with their
// ES module source (a copy). A worker's code may import these besides its own modules.
func BuiltinModules() map[string]string {
	m := make(map[string]string, len(builtinModules))
	for k, v := range builtinModules {
		m[k] = v
	}
	return m
}

func builtinNames() string {
	names := make([]string, 0, len(builtinModules))
	for k := range builtinModules {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// ResolveCandidates returns the module names that an import of spec from module base may
// mean, in the order Resolve tries them: the path itself (relative to base's folder for
// "./" and "../", to the root for "/"), then with an extension added (.js, .mjs, .cjs, .json,
// .ts, .tsx, .mts, .cts, .jsx, /index.js, /index.ts), then a TypeScript file for a
// JavaScript name (./u.js -> u.ts, as TypeScript's own resolution does). `isobox run` uses
// it to find imported files on disk by the same rules. A name that climbs above the root
// stays at the root, as in URLs.
func ResolveCandidates(base, spec string) []string {
	name := spec
	if strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../") || strings.HasPrefix(spec, "/") {
		if strings.HasPrefix(spec, "/") {
			name = path.Clean(spec)
		} else {
			name = path.Join(path.Dir("/"+base), spec)
		}
		name = strings.TrimPrefix(name, "/")
	}
	out := []string{name}
	for _, ext := range []string{".js", ".mjs", ".cjs", ".json", ".ts", ".tsx", ".mts", ".cts", ".jsx", "/index.js", "/index.ts"} {
		out = append(out, name+ext)
	}
	for _, m := range [][2]string{{".js", ".ts"}, {".js", ".tsx"}, {".mjs", ".mts"}, {".cjs", ".cts"}, {".jsx", ".tsx"}} {
		if stem, ok := strings.CutSuffix(name, m[0]); ok {
			out = append(out, stem+m[1])
		}
	}
	return out
}

// Resolve maps an import specifier seen in module base to a module name.
//
// # Errors
//
// When spec names neither a module of the map nor a built-in module, the error names it,
// the importing module, and everything that could have been imported instead.
func (m ModuleMap) Resolve(base, spec string) (string, error) {
	if _, ok := builtinModules[spec]; ok {
		return spec, nil
	}
	switch spec {
	case "qjs:std", "qjs:os", "qjs:bjson", "std", "os":
		return "", fmt.Errorf("module %q is not available in isobox: sandboxes have no file, process or environment access", spec)
	}
	for _, name := range ResolveCandidates(base, spec) {
		if _, ok := m[name]; ok {
			return name, nil
		}
	}
	if len(m) == 0 {
		return "", fmt.Errorf("cannot find module %q imported from %q: this sandbox has no modules of its own (an eval snippet); the built-in modules are: %s", spec, base, builtinNames())
	}
	return "", fmt.Errorf("cannot find module %q imported from %q; the worker's modules are: %s; the built-in modules are: %s", spec, base, m.names(), builtinNames())
}

// esmBytes is esmSource for the guest (module_source): an ES module's own bytes are
// handed over without the two copies a string would cost (a 73 KB bundle's ~150 KB). The
// host call copies them into the guest's memory and keeps nothing, so the module map
// stays the caller's, unchanged.
func (m ModuleMap) esmBytes(name string) ([]byte, error) {
	if _, builtin := builtinModules[name]; !builtin {
		if mod, ok := m[name]; ok && mod.Type == ModuleJS {
			return mod.Content, nil
		}
	}
	src, err := m.esmSource(name)
	return []byte(src), err
}

// esmSource returns a module as ES module source: non-JS types become a default export.
func (m ModuleMap) esmSource(name string) (string, error) {
	if src, ok := builtinModules[name]; ok {
		return src, nil
	}
	mod, ok := m[name]
	if !ok {
		return "", fmt.Errorf("module %q not found", name)
	}
	switch mod.Type {
	case ModuleJS:
		return string(mod.Content), nil
	case ModuleCJS:
		q, _ := json.Marshal(name)
		return "export default globalThis.__isobox_internal.requireFrom(\"\", " + string(q) + ");\n", nil
	case ModuleText:
		q, _ := json.Marshal(string(mod.Content))
		return "export default " + string(q) + ";\n", nil
	case ModuleJSON:
		return "export default (" + string(mod.Content) + ");\n", nil
	case ModuleData:
		b64 := base64.StdEncoding.EncodeToString(mod.Content)
		return `export default Uint8Array.fromBase64("` + b64 + `").buffer;` + "\n", nil
	case ModuleWasm:
		q, _ := json.Marshal(name)
		return "export default globalThis.__isobox_internal.wasmModule(" + string(q) + ");\n", nil
	}
	return "", fmt.Errorf("module %q: type %s cannot be imported", name, mod.Type)
}

// requireSource returns a module for require(): {"type","source"}; data is base64.
func (m ModuleMap) requireSource(name string) ([]byte, error) {
	mod, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("module %q not found", name)
	}
	src := string(mod.Content)
	switch mod.Type {
	case ModuleData:
		src = base64.StdEncoding.EncodeToString(mod.Content)
	case ModuleWasm:
		src = "" // the runtime asks for the compiled module by name (wasm_module)
	}
	return json.Marshal(map[string]string{"type": string(mod.Type), "source": src})
}
