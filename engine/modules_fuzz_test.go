package engine

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/isobox/isobox/internal/jsnorm"
	"github.com/isobox/isobox/isoerr"
)

// fuzzMap builds a module map from fuzzed names, types and contents: up to four modules.
func fuzzMap(names string, types []byte, content []byte) ModuleMap {
	all := []ModuleType{ModuleJS, ModuleCJS, ModuleText, ModuleData, ModuleJSON, ModuleWasm, ModulePy, "exe"}
	m := ModuleMap{}
	for i, name := range strings.SplitN(names, "|", 4) {
		t := ModuleJS
		if i < len(types) {
			t = all[int(types[i])%len(all)]
		}
		m[name] = Module{Type: t, Content: content}
	}
	return m
}

var moduleSeeds = []struct {
	names, main, spec string
	types             []byte
	content           string
}{
	{"main.js|lib/u.js", "main.js", "./lib/u.js", []byte{0, 0}, "export default 1"},
	{"main.js|u.ts", "main.js", "./u.js", []byte{0, 0}, "export const x = 1"},
	{"a/b/main.js|etc/passwd", "a/b/main.js", "../../../../etc/passwd", []byte{0, 2}, "root:x:0:0"},
	{"main.js|/abs.js", "main.js", "/abs.js", []byte{0, 0}, ""},
	{"main.js|nul\x00.js", "main.js", "./nul\x00.js", []byte{0, 0}, ""},
	{"main.js|d.json", "main.js", "./d.json", []byte{0, 4}, `{"a":1}); globalThis.pwned = (1`},
	{"main.js|t.txt", "main.js", "./t.txt", []byte{0, 2}, "\"; import x from \"qjs:os\"; \u2028</script>"},
	{"main.js|bin", "main.js", "./bin", []byte{0, 3}, "\x00\xff\xfe"},
	{"main.js|w.wasm", "main.js", "./w.wasm", []byte{0, 5}, "\x00asm"},
	{"main.js", "main.js", "qjs:os", []byte{0}, ""},
	{"main.js", "main.js", "cloudflare:workers", []byte{1}, "module.exports = 1"},
	{"main.js|x/index.ts", "main.js", "./x", []byte{0, 0}, ""},
	{"m.txt", "m.txt", "m", []byte{2}, "x"},
	{"main.js|a|b|c", "main.js", "./a", []byte{0, 7, 7, 7}, "x"},                         // three bad modules: one error, always the same
	{"main.wasm|x.txt", "main.wasm", "./x.txt", []byte{5, 2}, "\x00asm\x01\x00\x00\x00"}, // a WebAssembly worker
	{"main.py|lib.py", "main.py", "./lib.py", []byte{6, 6}, "print(1)"},                  // a Python worker
	{"main.py|bad.py", "main.py", "./bad.py", []byte{6, 6}, "\xff"},                      // a Python module that is not UTF-8
}

// A module map that validates has only sound names; with a JS main module, also UTF-8
// text and valid JSON; with a Python main, UTF-8 Python (a WebAssembly main is checked
// when the engine compiles it); Validate refuses with a typed error otherwise. Resolve only names a module
// of the map or a built-in, and a relative import never leaves the map's root. Every
// non-JavaScript module becomes an ES module with no imports, whatever its content.
func FuzzModuleMap(f *testing.F) {
	for _, s := range moduleSeeds {
		f.Add(s.names, s.main, s.spec, s.types, []byte(s.content))
	}
	f.Fuzz(func(t *testing.T, names, main, spec string, types, content []byte) {
		if len(content) > 4096 {
			return // esbuild parses the generated source below: keep each run short
		}
		m := fuzzMap(names, types, content)
		err := m.Validate(main)
		if err != nil {
			var e *isoerr.Error
			if !errors.As(err, &e) || (e.Code != isoerr.InvalidWorkerCode && e.Code != isoerr.NotImplemented) {
				t.Fatalf("Validate: %v (%T) is neither invalid_worker_code nor not_implemented", err, err)
			}
			for range 20 {
				if again := m.Validate(main); again == nil || again.Error() != err.Error() {
					t.Fatalf("Validate is not deterministic:\n%v\n%v", err, again)
				}
			}
		} else {
			mm, ok := m[main]
			if !ok {
				t.Fatalf("validated with main %q not in the map", main)
			}
			for name, mod := range m {
				if name == "" || name[0] == '/' || strings.ContainsRune(name, 0) {
					t.Fatalf("validated module name %q", name)
				}
				if mm.Type == ModuleWasm {
					continue // a WebAssembly worker is its main module; the engine compiles it on load
				}
				if mm.Type == ModulePy {
					if mod.Type == ModulePy && !utf8.Valid(mod.Content) {
						t.Fatalf("validated py module %q that is not UTF-8", name)
					}
					continue
				}
				if mm.Type != ModuleJS && mm.Type != ModuleCJS {
					t.Fatalf("validated with main %q of type %q", main, mm.Type)
				}
				switch mod.Type {
				case ModuleJS, ModuleCJS, ModuleText:
					if !utf8.Valid(mod.Content) {
						t.Fatalf("validated %s module %q that is not UTF-8", mod.Type, name)
					}
				case ModuleJSON:
					if !json.Valid(mod.Content) {
						t.Fatalf("validated json module %q that is not JSON", name)
					}
				case ModuleData, ModuleWasm: // a wasm module is compiled when imported
				default:
					t.Fatalf("validated module %q of type %q", name, mod.Type)
				}
			}
			for name, mod := range m {
				if mm.Type == ModuleWasm || mm.Type == ModulePy || mod.Type == ModuleJS || mod.Type == ModuleCJS {
					continue
				}
				src, err := m.esmSource(name)
				if err != nil {
					t.Fatalf("esmSource(%q): %v", name, err)
				}
				imps, err := jsnorm.Imports("generated.js", src)
				if err != nil {
					t.Fatalf("the ES module made of %s module %q does not parse: %v\n%s", mod.Type, name, err, src)
				}
				if len(imps) != 0 {
					t.Fatalf("the ES module made of %s module %q imports %v:\n%s", mod.Type, name, imps, src)
				}
			}
		}
		for _, base := range []string{main, "a/b/c.js"} {
			if strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../") || strings.HasPrefix(spec, "/") {
				for _, c := range ResolveCandidates(base, spec) {
					// A relative import names a clean path under the root: no "." or ".."
					// segment, no leading "/" (but for the root's own index files).
					if hasDotSegment(c) || strings.HasPrefix(c, "/") && c != "/index.js" && c != "/index.ts" {
						t.Fatalf("ResolveCandidates(%q, %q) gives %q", base, spec, c)
					}
				}
			}
			got, err := m.Resolve(base, spec)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("an error without a message")
				}
				continue
			}
			if _, ok := m[got]; !ok {
				if _, builtin := builtinModules[got]; !builtin {
					t.Fatalf("Resolve(%q, %q) = %q, which is neither a module nor a built-in", base, spec, got)
				}
			}
		}
	})
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
