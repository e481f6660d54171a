package jsnorm

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

func TestSnippetErrors(t *testing.T) {
	for _, c := range []struct {
		name, code string
		want       []string
	}{
		{"unused import", "import fs from \"fs\"\n1", []string{`"fs"`, "cloudflare:workers"}},
		{"used import", "import fs from \"fs\";\nfs.readFileSync(\"x\")", []string{`"fs"`, "cloudflare:workers"}},
		{"named import", "import { a } from \"./lib.js\";\na", []string{`"./lib.js"`, "built-in modules (cloudflare:workers)"}},
		{"export from", "export * from \"node:path\"", []string{`"node:path"`}},
		{"require", "const _ = require(\"lodash\");\n_.x", []string{`"lodash"`, "cloudflare:workers"}},
		{"require of a built-in", "const w = require(\"cloudflare:workers\")", []string{`require("cloudflare:workers")`, "use import"}},
		{"dynamic import", "await import(\"fs\")", []string{`"fs"`}},
		{"import beside return", "import fs from \"fs\";\nreturn 1", []string{"line 2", "SyntaxError"}},
		{"syntax", "const x = ;", []string{"SyntaxError", "line 1, column 11", "const x = ;\n            ^"}},
		{"syntax line 2", "const a = 1;\nconst b: = 2", []string{"line 2"}},
		{"syntax after return", "const a = 1;\nreturn a +", []string{"line 2"}},
		{"syntax after await and return", "await 1;\nconst b = 2;\nreturn b +", []string{"line 3"}},
		{"unclosed arrow", "async () => { return 1 ", []string{"SyntaxError"}},
		{"empty", "   \n", []string{"empty"}},
		{"empty fence", "```js\n```", []string{"empty"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Snippet(c.code, Options{Builtins: builtins})
			if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
				t.Fatalf("Snippet(%q) = %q, %v; want invalid_worker_code", c.code, out, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestSnippetWithoutBuiltins(t *testing.T) {
	_, err := Snippet("import { env } from \"cloudflare:workers\"; env", Options{})
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), "none here") {
		t.Fatalf("import with no built-ins: %v", err)
	}
}

// lastFunction must find the function declared last by the grammar, not by the look of
// the text: strings, templates, comments and nested functions hold look-alikes.
func TestLastFunction(t *testing.T) {
	for _, c := range []struct{ js, want string }{
		{"async function main() {\n  return 1;\n}\n", "main"},
		{"function* gen() {\n  yield 1;\n}\n", "gen"},
		{"function helper() {\n}\nasync function main() {\n  function inner() {\n  }\n  return inner;\n}\n", "main"},
		{"main();\nasync function main() {\n}\n", ""},
		{"const f = function g() {\n};\n", ""},
		{"x = async function f() {\n};\n", ""},
		{"const s = \"function fake() {}\";\n", ""},
		{"const t = `\nfunction fake() {}\n`;\n", ""},
		{"async function main() {\n}\n// function other() {}\n", "main"},
		{"/* function c() {} */\n", ""},
		{"function a() {\n}\na;\n", ""},
		{"obj.function = 1;\nfunction f() {\n}\n", "f"},
		{"1 + 2;\n", ""},
	} {
		if got := lastFunction(c.js); got != c.want {
			t.Errorf("lastFunction(%q) = %q, want %q", c.js, got, c.want)
		}
	}
}

func TestModuleErrors(t *testing.T) {
	_, err := Module("lib/main.ts", "const ok = 1;\nconst x: = 2;")
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), "SyntaxError in lib/main.ts") || !strings.Contains(err.Error(), "line 2, column 10") {
		t.Fatalf("TypeScript syntax error: %v", err)
	}
	_, err = Module("v.tsx", "export default <div>;")
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), "v.tsx") {
		t.Fatalf("JSX syntax error: %v", err)
	}
}

func TestImports(t *testing.T) {
	imps, err := Imports("main.js", "import a from \"./a.js\";\nexport * from \"../b.mjs\";\nimport \"./side.js\";\nconst c = require(\"./c.cjs\");\nconst d = await import(\"./d.json\");\nimport(`./e${x}`);\nimport w from \"cloudflare:workers\";")
	if err != nil {
		t.Fatal(err)
	}
	want := []Import{{"./a.js", ImportStatement}, {"../b.mjs", ImportStatement}, {"./side.js", ImportStatement}, {"./c.cjs", RequireCall}, {"./d.json", DynamicImport}, {"cloudflare:workers", ImportStatement}}
	if !reflect.DeepEqual(imps, want) {
		t.Fatalf("Imports = %v\nwant %v", imps, want)
	}
	imps, err = Imports("main.ts", "import type { T } from \"./types.ts\";\nimport { u } from \"./u.ts\";\nexport const x: T = 1;")
	if err != nil || !reflect.DeepEqual(imps, []Import{{"./u.ts", ImportStatement}}) {
		t.Fatalf("TypeScript imports = %v, %v", imps, err)
	}
	if !Compiles("a/b.TS") || !Compiles("x.tsx") || !Compiles("x.mts") || !Compiles("x.cts") || !Compiles("x.jsx") || Compiles("x.js") || Compiles("x.d") {
		t.Fatal("Compiles")
	}
}

// esbuild bundles import() of a template string by listing the files that match next to
// the importer. A snippet lives nowhere: it must never pull in the host's files.
func TestSnippetReadsNoFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.json"), []byte(`{"key": "host-secret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, code := range []string{
		"import { env } from \"cloudflare:workers\";\nconst name = \"secret\";\nawait import(`./${name}.json`)",
		"export default async () => import(`./${\"secret\"}.json`)",
		"export const a = 1;\nexport default await import(`./${\"secret\"}.json`)",
		"await import(`./${\"secret\"}.json`)",
	} {
		out, err := Snippet(code, Options{Builtins: builtins})
		if err == nil && strings.Contains(out, "host-secret") {
			t.Fatalf("Snippet(%q) read a file of the host:\n%s", code, out)
		}
		if err != nil && isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
			t.Fatalf("Snippet(%q): %v", code, err)
		}
	}
}
