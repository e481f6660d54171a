package loader_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// Every shape of snippet that jsnorm's snapshot tests pin, run for real: loader.Eval is
// what `isobox eval`, /v1/run, run_code and execute share.
func TestEvalShapes(t *testing.T) {
	l := newLoader(t, loader.Config{})
	for _, c := range []struct{ name, code, want string }{
		{"expression", "1 + 2", "3"},
		{"statements", "const xs: number[] = [1, 2, 3];\nlet s = 0;\nfor (const x of xs) s += x;\ns", "6"},
		{"async arrow", "async () => { const r = await Promise.resolve(5); return r + 1 }", "6"},
		{"top-level await", "const r = await Promise.resolve(3);\nr * 2", "6"},
		{"named function", "function helper(x: number) { return x * 2 }\nasync function main(): Promise<number> {\n  return helper(4);\n}", "8"},
		{"named function called before", "let n = 0;\nmain();\nasync function main() { n++; return n }", "1"},
		{"typescript", "interface P { x: number }\nenum E { A = 18 }\nfunction id<T>(x: T): T { return x }\nconst p: P = { x: id<number>(E.A as number) };\np.x", "18"},
		{"fence", "Here is the code:\n```ts\nconst a: number = 2;\na * 3\n```\nIt returns 6.", "6"},
		{"return", "const a: number = 20; return a + 22", "42"},
		{"return with await", "const x = await Promise.resolve(14);\nif (x > 1) return x;\nreturn 0", "14"},
		{"return of a function", "return () => 'called'", `"called"`},
		{"module.exports", "module.exports = async () => 16", "16"},
		{"exports", "exports.a = 1;\nexports.b = [2];", `{"a":1,"b":[2]}`},
		{"export default function", "export default async function main(): Promise<number> { return 11 }", "11"},
		{"export default object", "const a = 12;\nexport default { a };", `{"a":12}`},
		{"export default with await", "const x = await Promise.resolve(1);\nexport default x + 1;", "2"},
		{"export named", "export const k = 1;\nexport async function main() { return 13 + k }", "14"},
		{"import built-in", "import { env, WorkerEntrypoint } from \"cloudflare:workers\";\nimport type { Thing } from \"./types\";\nconst e: Thing = env;\n[Object.keys(e).length, typeof WorkerEntrypoint]", `[0,"function"]`},
		{"import() of a built-in", "const m = await import(\"cloudflare:workers\");\ntypeof m.env", `"object"`},
		{"value JSON cannot hold", "new Map([[1, undefined]])", `{"$type":"Map","entries":[[1,{"$type":"undefined"}]]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := l.Eval(context.Background(), c.code, loader.EvalOptions{})
			if err != nil {
				t.Fatalf("Eval(%q): %v", c.code, err)
			}
			if string(res.Value) != c.want {
				t.Fatalf("Eval(%q) = %s, want %s", c.code, res.Value, c.want)
			}
		})
	}
}

func TestEvalImportOfAMissingModule(t *testing.T) {
	l := newLoader(t, loader.Config{})
	for _, code := range []string{"import fs from \"fs\"\n1", "import { x } from \"./x.js\";\nx"} {
		_, err := l.Eval(context.Background(), code, loader.EvalOptions{})
		if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), "cloudflare:workers") {
			t.Errorf("Eval(%q): %v; want invalid_worker_code naming the built-in modules", code, err)
		}
	}
}

// A stored worker may be TypeScript: .ts, .mts, .cts, .tsx and .jsx modules are compiled when
// the worker is loaded, and imports between them resolve the way TypeScript writes them.
func TestTypeScriptWorker(t *testing.T) {
	var c loader.WorkerCode
	err := json.Unmarshal([]byte(`{"mainModule": "src/main.ts", "modules": {
		"src/main.ts": "import { twice } from \"./lib/math.js\";\nimport type { Env } from \"./env.ts\";\nimport { view } from \"./view.tsx\";\nimport legacy from \"./legacy.cts\";\nimport { env } from \"cloudflare:workers\";\nexport default {\n  run(n: number): unknown[] { const e: Env = env as Env; return [twice(n), view(\"x\"), legacy.k, typeof e]; },\n};",
		"src/lib/math.ts": "export const twice = (x: number): number => x * 2;",
		"src/env.ts": "export interface Env { TOKEN?: string }",
		"src/view.tsx": "/** @jsx h */\nconst h = (tag: string, _props: null, ...kids: string[]) => tag + \":\" + kids.join(\"\");\nexport const view = (s: string) => <b>{s}</b>;",
		"src/legacy.cts": "const k: number = 7;\nmodule.exports = { k };"
	}}`), &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	l := newLoader(t, loader.Config{})
	s := l.Load(c)
	defer s.Close(context.Background())
	if _, got := call(t, s, "run", "[21]"); got != `[42,"b:x",7,"object"]` {
		t.Fatalf("run = %s", got)
	}
}

// What is wrong with a TypeScript module is found before anything runs (Validate, so that
// a server can refuse to store it), with the file, line and column; an import of a module
// the worker does not have is refused whether it is used or not, naming what it has.
func TestTypeScriptWorkerErrors(t *testing.T) {
	ts := func(main string, extra ...string) loader.WorkerCode {
		c := loader.WorkerCode{MainModule: "main.ts", Modules: map[string]loader.Module{"main.ts": {Content: []byte(main)}}}
		for i := 0; i+1 < len(extra); i += 2 {
			c.Modules[extra[i]] = loader.Module{Content: []byte(extra[i+1])}
		}
		return c
	}
	for _, c := range []struct {
		name string
		code loader.WorkerCode
		want []string
	}{
		{"syntax", ts("export default {\n  f(x: number): { return x },\n};"), []string{"SyntaxError in main.ts", "line 2, column"}},
		{"syntax in an imported module", ts(`import { u } from "./u.ts"; export default { u }`, "u.ts", "export const u: = 1;"), []string{"SyntaxError in u.ts", "line 1"}},
		{"unused import", ts("import fs from \"left-pad\";\nexport default {}"), []string{`cannot find module "left-pad" imported from "main.ts"`, "main.ts", "cloudflare:workers"}},
		{"used import", ts("import { readFile } from \"node:fs\";\nexport default { f() { return readFile } }"), []string{`"node:fs"`, "nodejs_compat"}},
		{"missing relative module", ts("import { u } from \"./lib/u.js\";\nexport default { u }", "lib/v.ts", "export const v = 1"), []string{`"./lib/u.js"`, "lib/v.ts"}},
		{"require", loader.WorkerCode{MainModule: "main.cts", Modules: map[string]loader.Module{"main.cts": {Content: []byte(`const x = require("./nope.cjs"); module.exports = { x };`)}}}, []string{`"./nope.cjs"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.code.Validate()
			if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
				t.Fatalf("Validate: %v; want invalid_worker_code", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %q lacks %q", err, w)
				}
			}
			l := newLoader(t, loader.Config{})
			s := l.Load(c.code)
			defer s.Close(context.Background())
			if _, err := s.Call(context.Background(), "f", nil); isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
				t.Fatalf("call: %v; want invalid_worker_code", err)
			}
		})
	}
}

// JavaScript modules are not compiled: the engine's module loader refuses a missing module
// when it links them, used or not, with the same message.
func TestJavaScriptWorkerMissingImport(t *testing.T) {
	l := newLoader(t, loader.Config{})
	s := l.Load(code(`import fs from "left-pad"; export default { f() { return 1 } }`, "lib/u.js", "export const u = 1"))
	defer s.Close(context.Background())
	_, err := s.Call(context.Background(), "f", nil)
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
		t.Fatalf("call: %v", err)
	}
	for _, w := range []string{`cannot find module "left-pad" imported from "main.js"`, "lib/u.js", "cloudflare:workers"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
}
