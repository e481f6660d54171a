package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

func js(src string) engine.Module { return engine.Module{Type: engine.ModuleJS, Content: []byte(src)} }

func TestCompile(t *testing.T) {
	lim := engine.Limits{CPU: 5 * time.Second}
	tests := []struct {
		name string
		mods engine.ModuleMap
		want string // "" when the code compiles, else the start of the error message
	}{
		{"one module", engine.ModuleMap{"main.js": js(`export default { fetch() { return new Response("hi") } }`)}, ""},
		{"imports, json, text, cjs", engine.ModuleMap{
			"main.js":    js(`import { u } from "./lib/u.js"; import j from "./j.json"; import t from "./t.txt"; import c from "./c.cjs"; export default { v: [u, j, t, c] }`),
			"lib/u.js":   js(`export const u = 1;`),
			"j.json":     {Type: engine.ModuleJSON, Content: []byte(`{"a":1}`)},
			"t.txt":      {Type: engine.ModuleText, Content: []byte(`text`)},
			"c.cjs":      {Type: engine.ModuleCJS, Content: []byte("module.exports = { c: 1 };")},
			"unused.mjs": js(`export const x = 1;`),
		}, ""},
		{"top-level await", engine.ModuleMap{"main.js": js(`await 1; export default {}`)}, ""},
		{"cloudflare:workers", engine.ModuleMap{"main.js": js(`import { WorkerEntrypoint } from "cloudflare:workers"; export default class extends WorkerEntrypoint {}`)}, ""},
		{"syntax error in main", engine.ModuleMap{"main.js": js("export default {\n  fetch() {\n    return (;\n  }\n}")}, "main.js:3:"},
		{"syntax error in an import", engine.ModuleMap{"main.js": js(`import "./lib.js"; export default {}`), "lib.js": js("\n\nlet = ;")}, "lib.js:3:"},
		{"syntax error in an unused module", engine.ModuleMap{"main.js": js(`export default {}`), "other.js": js("export const = 1")}, "other.js:1:"},
		{"syntax error in a cjs module", engine.ModuleMap{"main.js": js(`export default {}`), "c.cjs": {Type: engine.ModuleCJS, Content: []byte("module.exports = {\n  a: ,\n};")}}, "c.cjs:2:"},
		{"missing module", engine.ModuleMap{"main.js": js(`import x from "./nope.js"; export default {}`)}, `TypeError: cannot find module "./nope.js"`},
		{"missing export", engine.ModuleMap{"main.js": js(`import { nope } from "./lib.js"; export default {}`), "lib.js": js(`export const yes = 1;`)}, "SyntaxError: Could not find export 'nope' in module 'lib.js'"},
		{"qjs:std", engine.ModuleMap{"main.js": js(`import * as std from "qjs:std"; export default {}`)}, `TypeError: module "qjs:std" is not available`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := testEngine.Compile(context.Background(), lim, tt.mods, "main.js")
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *isoerr.Error
			if e = isoerr.As(err); e == nil || e.Code != isoerr.InvalidWorkerCode || !strings.Contains(e.Message, tt.want) {
				t.Fatalf("got %v, want invalid_worker_code containing %q", err, tt.want)
			}
		})
	}
}

// The check runs none of the code: top-level side effects, loops and throws do not happen.
func TestCompileRunsNothing(t *testing.T) {
	mods := engine.ModuleMap{
		"main.js": js(`import "./loop.js"; import "./throws.cjs"; while (true) {} export default {}`),
		"loop.js": js(`for (;;) {}`),
		// Closing the wrapper early would run code if the wrapper were evaluated.
		"throws.cjs": {Type: engine.ModuleCJS, Content: []byte(`}); throw new Error("ran"); (function () {`)},
	}
	// A CPU limit that any evaluation of the loops would trip; compiling takes far less.
	if err := testEngine.Compile(context.Background(), engine.Limits{CPU: 2 * time.Second}, mods, "main.js"); err != nil {
		t.Fatal(err)
	}
}

// A user module cannot pose as the check's own modules (their names start with "/", which
// no module name may), so it cannot make a broken worker pass.
func TestCompileCannotBeFooled(t *testing.T) {
	mods := engine.ModuleMap{
		"main.js": js(`import { __isobox_compiled } from "/isobox:compile-check-end"; export default {}`),
	}
	err := testEngine.Compile(context.Background(), engine.Limits{CPU: 5 * time.Second}, mods, "main.js")
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), "cannot find module") {
		t.Fatalf("got %v, want the missing module reported", err)
	}
}

// BenchmarkCompile is what PUT /v1/workers adds before storing a worker: a throwaway
// sandbox that parses and links a small two-module worker.
func BenchmarkCompile(b *testing.B) {
	mods := engine.ModuleMap{
		"main.js": js(`import { greet } from "./lib.js"; export default { fetch(req) { return new Response(greet("you")) } }`),
		"lib.js":  js(`export const greet = (w) => "hello " + w;`),
	}
	for b.Loop() {
		if err := testEngine.Compile(context.Background(), engine.Limits{CPU: time.Second}, mods, "main.js"); err != nil {
			b.Fatal(err)
		}
	}
}
