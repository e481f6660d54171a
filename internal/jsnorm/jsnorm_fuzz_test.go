package jsnorm

import (
	"errors"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// snippetSeeds are snippets as models and attackers write them: every shape, the
// red-team's CPU attacks, the then-hijack, imports that must be refused, fences, syntax
// errors, comments that try to end the script early.
var snippetSeeds = []string{
	"1 + 1", "const x = 1;\nx * 2", "async () => { return 42 }", "return 1", "await 1; 2",
	"export default 1", "import { env } from \"cloudflare:workers\"; env", "```ts\nconst x: number = 1; x\n```",
	`const s = "a".repeat(1e6), n = "a".repeat(1e3) + "b"; return s.indexOf(n)`,
	`(7n ** 300000n).toString()`,
	`Object.defineProperty(Object.prototype, "then", { get() { return (r) => r("hijacked") } }); 1`,
	`const p = Promise.resolve(); p.then = () => { throw 1 }; p`,
	"import fs from \"fs\"\n1", "const _ = require(\"lodash\")", "await import(\"qjs:os\")", "export * from \"node:path\"",
	"const x = ;", "async () => { return 1 ", "   \n", "```js\n```",
	"1 //", "1 /*", "`${", "/* \n//# isobox-snippet\n */ 1", "x\n//# isobox-snippet\n",
	"function main() { return 1 }", "class A {}; new A()", "let a = 1\n;[a]", "<div/>",
	"\u2028 1 \u2029", "'\\u{10FFFF}'", "label: for (;;) break label; 3",
	"fetch(\"http://169.254.169.254/latest/meta-data/\")", "`sk_live\\/Ab${1}`",
}

// Snippet either refuses with invalid_worker_code or returns a script that ends with
// Marker, parses as JavaScript, and imports nothing but the built-in modules.
func FuzzSnippet(f *testing.F) {
	for _, s := range snippetSeeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, code string, repl bool) {
		if len(code) > 4096 {
			return // esbuild runs twice per call: keep each run short
		}
		out, err := Snippet(code, Options{Builtins: builtins, REPL: repl})
		if err != nil {
			var e *isoerr.Error
			if !errors.As(err, &e) || e.Code != isoerr.InvalidWorkerCode {
				t.Fatalf("Snippet(%q): %v (%T) is not invalid_worker_code", code, err, err)
			}
			return
		}
		if !strings.HasSuffix(out, Marker) {
			t.Fatalf("Snippet(%q) = %q does not end with the marker", code, out)
		}
		if strings.HasSuffix(code, Marker) {
			if out != code {
				t.Fatalf("code that ends with the marker was changed: %q -> %q", code, out)
			}
			return // already a script: Snippet leaves it to the engine
		}
		if !parses(out) {
			t.Fatalf("Snippet(%q) = %q, which does not parse", code, out)
		}
		imps, err := Imports("snippet.js", out)
		if err != nil {
			t.Fatalf("Imports of the script %q: %v", out, err)
		}
		for _, imp := range imps {
			if _, ok := builtins[imp.Path]; !ok {
				t.Fatalf("Snippet(%q) = %q imports %q, which is not built in", code, out, imp.Path)
			}
		}
		again, err := Snippet(out, Options{Builtins: builtins, REPL: repl})
		if err != nil || again != out {
			t.Fatalf("a script Snippet made is not left as it is: %q -> %q, %v", out, again, err)
		}
	})
}

// Module either refuses with invalid_worker_code or returns JavaScript that parses, with
// the imports the source has.
func FuzzModule(f *testing.F) {
	for _, s := range snippetSeeds {
		f.Add("main.ts", s)
		f.Add("main.tsx", s)
	}
	f.Add("a.ts", "import type { T } from './t.ts'; import { u } from './u.ts'; export const f = (x: T) => u(x);")
	f.Add("a.cts", "import x = require('./x'); export = x")
	f.Add("a.mts", "enum E { A, B } export default E.B as const")
	f.Fuzz(func(t *testing.T, name, src string) {
		if len(src) > 4096 || !Compiles(name) {
			return
		}
		c, err := Module(name, src)
		if err != nil {
			var e *isoerr.Error
			if !errors.As(err, &e) || e.Code != isoerr.InvalidWorkerCode {
				t.Fatalf("Module(%q, %q): %v (%T) is not invalid_worker_code", name, src, err, err)
			}
			return
		}
		if !parses(c.Code) {
			t.Fatalf("Module(%q, %q) = %q, which does not parse", name, src, c.Code)
		}
		imps, err := Imports(name, src)
		if err != nil {
			t.Fatalf("Imports fails where Module succeeds: %v", err)
		}
		if len(imps) != len(c.Imports) {
			t.Fatalf("Module's imports %v are not Imports' %v", c.Imports, imps)
		}
	})
}
