package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// One language surface: what `isobox eval` takes (the same front end as /v1/run, sessions,
// run_code and execute), and how it prints what JSON cannot hold.
func TestEvalLanguage(t *testing.T) {
	for _, c := range []struct {
		name, code, out string
	}{
		{"top-level return", "const a = 20; return a + 22", "42\n"},
		{"typescript", "const x: number = 1; interface P { y: string }\nx", "1\n"},
		{"return with await", "const v = await Promise.resolve(2);\nif (v > 1) return v * 3;\nreturn 0", "6\n"},
		{"export default", "export default async function main(): Promise<string> { return 'ok' }", "\"ok\"\n"},
		{"module.exports", "module.exports = { a: 1 }", "{\"a\":1}\n"},
		{"named function", "async function main() { return [1, 2] }", "[1,2]\n"},
		{"code fence", "```ts\nconst n: number = 7;\nn * 6\n```", "42\n"},
		{"built-in import", "import { WorkerEntrypoint } from \"cloudflare:workers\";\ntypeof WorkerEntrypoint", "\"function\"\n"},
		{"map", "new Map([[1, 2]])", "Map(1) {1 => 2}\n"},
		{"set and bigint", "new Set([1n, 'x'])", "Set(2) {1n, \"x\"}\n"},
		{"function", "() => function f() {}", "[Function: f]\n"},
		{"undefined inside", "({a: undefined, b: [NaN, -0, Infinity]})", "{\"a\":undefined,\"b\":[NaN,-0,Infinity]}\n"},
		{"date", "new Date(0)", "1970-01-01T00:00:00.000Z\n"},
		{"error value", "new RangeError('r')", "[RangeError: r]\n"},
		{"typed array", "new Uint8Array([1, 2])", "Uint8Array(2) [1,2]\n"},
		{"cycle", "const o = {n: 1}; o.me = o; o", "{\"n\":1,\"me\":[Circular $]}\n"},
		{"plain JSON stays JSON", "({b: 'x', a: [true, null]})", "{\"b\":\"x\",\"a\":[true,null]}\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := cli(t, "eval", c.code)
			if code != 0 || out != c.out {
				t.Fatalf("isobox eval %q: exit %d, stdout %q, stderr %q; want %q", c.code, code, out, errs, c.out)
			}
		})
	}
}

func TestEvalJSONTagsWhatJSONCannotHold(t *testing.T) {
	out, _, code := cli(t, "eval", "--json", "[new Map([[1, 2]]), undefined, 10n, {$type: 'mine'}]")
	var o struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil || code != 0 || !o.OK {
		t.Fatalf("exit %d: %q", code, out)
	}
	want := `[{"$type":"Map","entries":[[1,2]]},{"$type":"undefined"},{"$type":"BigInt","value":"10"},{"$type":"Object","value":{"$type":"mine"}}]`
	if string(o.Result) != want {
		t.Fatalf("result %s\nwant   %s", o.Result, want)
	}
}

func TestEvalImportErrors(t *testing.T) {
	for _, code := range []string{
		"import fs from \"fs\"\n1",                     // unused: esbuild would drop it
		"import fs from \"fs\";\nfs.readFileSync('x')", // used
		"const fs = require(\"fs\")",
	} {
		_, errs, status := cli(t, "eval", code)
		if status != 1 || !strings.Contains(errs, "invalid_worker_code") || !strings.Contains(errs, `"fs"`) || !strings.Contains(errs, "cloudflare:workers") {
			t.Errorf("isobox eval %q: exit %d, stderr %q; want invalid_worker_code naming \"fs\" and the built-in modules", code, status, errs)
		}
	}
}

// `isobox run` finds the files a worker imports by itself, TypeScript included.
func TestRunFindsImports(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"app/main.ts": `import { double } from "./lib/math.js";
import { greet } from "./lib/greet";
import type { Shape } from "./types.ts";
import words from "./words.txt";
export default {
  fetch(req: Request): Response {
    const s: Shape = { n: double(21) };
    return new Response(greet(words) + " " + s.n);
  },
};`,
		"app/lib/math.ts":  `import m from "../deep/one.cjs"; export const double = (x: number): number => x * 2 * m.one;`,
		"app/lib/greet.js": `export const greet = (w) => "hi " + w;`,
		"app/deep/one.cjs": `module.exports = { one: 1 };`,
		"app/words.txt":    "there",
		"app/unused.js":    `throw new Error("never loaded")`,
	})
	out, errs, code := cli(t, "run", filepath.Join(dir, "app/main.ts"))
	if code != 0 || out != "hi there 42" {
		t.Fatalf("run main.ts: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// Listing a file that is also imported is fine.
	out, errs, code = cli(t, "run", filepath.Join(dir, "app/main.ts"), filepath.Join(dir, "app/lib/greet.js"))
	if code != 0 || out != "hi there 42" {
		t.Fatalf("run with a listed import: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	bad := writeFiles(t, map[string]string{
		"w/missing.js": `import { x } from "./nope.js"; export default { fetch() { return new Response(x) } }`,
		"w/escape.js":  `import "../secret.js"; export default {}`,
		"w/types.ts":   "const x: = 1;\nexport default {}",
		"secret.js":    `export const s = 1`,
	})
	for _, c := range []struct {
		file string
		code int
		want []string
	}{
		{"w/missing.js", 1, []string{"invalid_worker_code", `"./nope.js"`, "missing.js", "cloudflare:workers"}},
		{"w/escape.js", 2, []string{`"../secret.js"`, "outside"}},
		{"w/types.ts", 1, []string{"invalid_worker_code", "types.ts", "line 1"}},
	} {
		_, errs, code := cli(t, "run", filepath.Join(bad, c.file))
		if code != c.code {
			t.Errorf("run %s: exit %d (want %d), stderr %q", c.file, code, c.code, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("run %s: stderr %q lacks %q", c.file, errs, w)
			}
		}
	}
}

// Sessions take the same language and keep their declarations.
func TestSessionLanguage(t *testing.T) {
	data := t.TempDir()
	steps := []struct{ code, out string }{
		{"let n: number = 40;\nfunction inc(): number { return ++n }", "undefined\n"},
		{"inc()", "41\n"},
		{"const later = await Promise.resolve(1); later", "1\n"},
		{"return inc() + later", "43\n"},
		{"new Map([[n, later]])", "Map(1) {42 => 1}\n"},
	}
	if _, errs, code := cli(t, "session", "--data", data, "create", "lang"); code != 0 {
		t.Fatalf("session create: exit %d: %s", code, errs)
	}
	for _, s := range steps {
		out, errs, code := cli(t, "eval", "--data", data, "--session", "lang", s.code)
		if code != 0 || out != s.out {
			t.Fatalf("eval --session %q: exit %d, stdout %q, stderr %q; want %q", s.code, code, out, errs, s.out)
		}
	}
}
