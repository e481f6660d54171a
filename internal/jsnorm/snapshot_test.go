package jsnorm

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with what jsnorm produces now")

// builtins stands in for engine.BuiltinModules (this package does not import the engine).
var builtins = map[string]string{
	"cloudflare:workers": "const w = globalThis.__isobox_internal;\nexport const env = w.env();\nexport default { env };\n",
}

// snippetShapes is one snippet per shape of code that Snippet takes. Their outputs are
// pinned in testdata/snippet-NAME.golden: an esbuild upgrade that changes one fails here.
var snippetShapes = []struct {
	name, code string
	repl       bool
	shape      shape
}{
	{"expression", "1 + 2", false, shapeScript},
	{"statements", "const xs: number[] = [1, 2, 3];\nlet s = 0;\nfor (const x of xs) s += x;\ns", false, shapeScript},
	{"async-arrow", "async () => { const r = await Promise.resolve(5); return r + 1 }", false, shapeScript},
	{"top-level-await", "const r = await Promise.resolve(3);\nr * 2", false, shapeScript},
	{"named-function", "function helper(x: number) { return x * 2 }\nasync function main(): Promise<number> {\n  return helper(4);\n}", false, shapeScript},
	{"named-function-called", "let n = 0;\nmain();\nasync function main() { n++; return n }", false, shapeScript},
	{"named-function-repl", "let x = 40;\nfunction inc() { return ++x }", true, shapeScript},
	{"function-in-comment", "async function main() { return 1 }\n// function other() {}", false, shapeScript},
	{"function-in-template", "const s = `\nfunction fake() {}\n`;\ns.length", false, shapeScript},
	{"typescript", "interface P { x: number }\nenum E { A = 18 }\nfunction id<T>(x: T): T { return x }\nconst p: P = { x: id<number>(E.A as number) };\np.x", false, shapeScript},
	{"fence", "Here is the code:\n```ts\nconst a: number = 2;\na * 3\n```\nIt returns 6.", false, shapeScript},
	{"return", "const a: number = 20; return a + 22", false, shapeFunction},
	{"return-await", "const x = await Promise.resolve(14);\nif (x > 1) return x;\nreturn 0", false, shapeFunction},
	{"module-exports", "module.exports = async () => 16", false, shapeFunction},
	{"exports-property", "exports.a = 1;\nexports.b = [2];", false, shapeFunction},
	{"export-default", "export default async function main(): Promise<number> { return 11 }", false, shapeModule},
	{"export-default-object", "const a = 12;\nexport default { a };", false, shapeModule},
	{"export-default-await", "const x = await Promise.resolve(1);\nexport default x + 1;", false, shapeModule},
	{"export-named", "export const k = 1;\nexport async function main() { return 13 + k }", false, shapeModule},
	{"import-builtin", "import { env } from \"cloudflare:workers\";\nimport type { Thing } from \"./types\";\nconst e: Thing = env;\nObject.keys(e).length", false, shapeModule},
	{"dynamic-import", "const m = await import(\"cloudflare:workers\");\ntypeof m.env", false, shapeScript},
}

func TestSnippetSnapshots(t *testing.T) {
	for _, c := range snippetShapes {
		t.Run(c.name, func(t *testing.T) {
			src := stripFences(c.code)
			sh, _, err := classify(src)
			if err != nil {
				t.Fatal(err)
			}
			if sh != c.shape {
				t.Errorf("shape %v, want %v", sh, c.shape)
			}
			out, err := Snippet(c.code, Options{Builtins: builtins, REPL: c.repl})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "snippet-"+c.name, "// shape: "+sh.String()+"\n"+out)
			if !parses(out) {
				t.Errorf("the output does not parse:\n%s", out)
			}
			again, err := Snippet(out, Options{Builtins: builtins, REPL: c.repl})
			if err != nil || again != out {
				t.Errorf("normalising the output again changed it (%v):\n%s", err, again)
			}
		})
	}
}

// moduleShapes are worker modules that Module compiles.
var moduleShapes = []struct{ name, file, code string }{
	{"ts", "main.ts", "import { double } from \"./lib/math.ts\";\nimport type { Env } from \"./env\";\nimport { unused } from \"./unused.js\";\nexport default {\n  fetch(req: Request, env: Env): Response {\n    return new Response(String(double(21)));\n  },\n};"},
	{"tsx", "view.tsx", "/** @jsx h */\nconst h = (tag: string, props: object | null, ...kids: unknown[]) => ({ tag, props, kids });\nexport const view = (name: string) => <p class=\"x\">hi {name}</p>;"},
	{"jsx", "view.jsx", "/** @jsx h */\nconst h = (tag, props, ...kids) => ({ tag, props, kids });\nexport default <b>bold</b>;"},
	{"cts", "lib.cts", "const fs: number = 1;\nmodule.exports = { fs };"},
}

func TestModuleSnapshots(t *testing.T) {
	for _, c := range moduleShapes {
		t.Run(c.name, func(t *testing.T) {
			m, err := Module(c.file, c.code)
			if err != nil {
				t.Fatal(err)
			}
			head := "// imports:"
			for _, imp := range m.Imports {
				head += " " + imp.Path + " (" + imp.Kind + ")"
			}
			golden(t, "module-"+c.name, head+"\n"+m.Code)
		})
	}
}

// golden compares got with testdata/NAME.golden, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/jsnorm -run Snapshots -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s changed (if on purpose, run go test ./internal/jsnorm -run Snapshots -update):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}
