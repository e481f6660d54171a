package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// An eval result keeps what JSON cannot hold: such values come back tagged with "$type".
func TestEvalResultTags(t *testing.T) {
	for _, c := range []struct{ code, want string }{
		{"new Map([[1, 2]])", `{"$type":"Map","entries":[[1,2]]}`},
		{"new Set(['a', 1])", `{"$type":"Set","values":["a",1]}`},
		{"[undefined, , null]", `[{"$type":"undefined"},{"$type":"undefined"},null]`},
		{"({ u: undefined, f() {} })", `{"u":{"$type":"undefined"},"f":{"$type":"Function","name":"f"}}`},
		{"() => class Foo {}", `{"$type":"Function","name":"Foo"}`},
		{"[NaN, Infinity, -Infinity, -0, 0, 1.5]", `[{"$type":"Number","value":"NaN"},{"$type":"Number","value":"Infinity"},{"$type":"Number","value":"-Infinity"},{"$type":"Number","value":"-0"},0,1.5]`},
		{"2n ** 70n", `{"$type":"BigInt","value":"1180591620717411303424"}`},
		{"[Symbol('s'), Symbol()]", `[{"$type":"Symbol","description":"s"},{"$type":"Symbol","description":null}]`},
		{"[new Date(0), new Date(NaN)]", `[{"$type":"Date","value":"1970-01-01T00:00:00.000Z"},{"$type":"Date","value":null}]`},
		{"/a\\/b/gu", `{"$type":"RegExp","source":"a\\/b","flags":"gu"}`},
		{"new Int16Array([-1, 2])", `{"$type":"Int16Array","values":[-1,2]}`},
		{"new BigUint64Array([3n])", `{"$type":"BigUint64Array","values":[{"$type":"BigInt","value":"3"}]}`},
		{"new Uint8Array([1, 2, 255]).buffer", `{"$type":"ArrayBuffer","base64":"AQL/"}`},
		{"new DataView(new Uint8Array([9, 8, 7]).buffer, 1)", `{"$type":"DataView","base64":"CAc="}`},
		{"({ e: new TypeError('bad', { cause: 7 }) })", `"name":"TypeError","message":"bad","stack":`},
		{"({ e: new TypeError('bad', { cause: 7 }) }).e.cause", `7`},
		{"[Promise.resolve(1), new WeakMap(), new WeakSet(), new WeakRef({})]", `[{"$type":"Promise"},{"$type":"WeakMap"},{"$type":"WeakSet"},{"$type":"WeakRef"}]`},
		{"[new Number(NaN), new String('s'), Object(1n), new Boolean(false)]", `[{"$type":"Number","value":"NaN"},"s",{"$type":"BigInt","value":"1"},false]`},
		{"({ $type: 'Map', entries: [] })", `{"$type":"Object","value":{"$type":"Map","entries":[]}}`},
		{"const o = { a: [1] }; o.a.push(o.a); o.m = new Map([['k', o]]); o", `{"a":[1,{"$type":"Circular","path":"$.a"}],"m":{"$type":"Map","entries":[["k",{"$type":"Circular","path":"$"}]]}}`},
		{"const shared = [1]; [shared, shared]", `[[1],[1]]`}, // shared, not circular: written twice, as JSON does
		{"const w = { $type: 1 }; w.me = w; w", `{"$type":"Object","value":{"$type":1,"me":{"$type":"Circular","path":"$"}}}`},
		{"({ toJSON() { return new Map([[1, 1]]) } })", `{"$type":"Map","entries":[[1,1]]}`},
		{"new URL('https://example.com/a')", `"https://example.com/a"`},
		{"({ s: '2020-01-01T00:00:00.000Z' })", `{"s":"2020-01-01T00:00:00.000Z"}`},
		{"class P { constructor() { this.x = 1 } }; new P()", `{"x":1}`},
	} {
		sb := newSandbox(t, engine.SandboxConfig{})
		res, err := eval(t, sb, engine.Limits{}, c.code)
		if err != nil {
			t.Errorf("eval %q: %v", c.code, err)
			continue
		}
		if !strings.Contains(string(res.Value), c.want) {
			t.Errorf("eval %q = %s, want %s", c.code, res.Value, c.want)
		}
	}
}

// The writer relies on builtins captured before user code runs: a snippet that replaces
// them breaks only itself, and its result is still written faithfully.
func TestEvalResultIgnoresPollution(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	_, err := eval(t, sb, engine.Limits{}, `
		Object.getPrototypeOf(new Map().entries())[Symbol.iterator] = function* () { yield "fake" };
		JSON.stringify = () => "hijacked";
		Map.prototype.entries = function* () { yield ["fake", 1] };
		Map.prototype[Symbol.iterator] = Map.prototype.entries;
		Set.prototype.values = () => [][Symbol.iterator]();
		Array.from = () => ["fake"];
		Array.isArray = () => false;
		Object.keys = () => [];
		Object.getPrototypeOf = () => null;
		Object.hasOwn = () => true;
		WeakSet.prototype.has = () => true;
		Date.prototype.toISOString = () => "fake";
		Date.prototype.getTime = () => 0;
		Uint8Array.prototype.toBase64 = () => "fake";
		Reflect.apply = () => "fake";
		Object.defineProperty(Object.prototype, "$type", { value: "x", enumerable: false });
		Object.defineProperty(Array.prototype, "0", { set(v) { throw new Error("setter") }, configurable: true });
		Object.prototype[Symbol.iterator] = function* () { yield "fake" };
		1`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eval(t, sb, engine.Limits{}, `[new Map([[1, 2]]), new Set([3]), new Date(0), new Uint8Array([4]), new Uint8Array([5]).buffer, { a: undefined }]`)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"$type":"Map","entries":[[1,2]]},{"$type":"Set","values":[3]},{"$type":"Date","value":"1970-01-01T00:00:00.000Z"},{"$type":"Uint8Array","values":[4]},{"$type":"ArrayBuffer","base64":"BQ=="},{"a":{"$type":"undefined"}}]`
	if string(res.Value) != want {
		t.Fatalf("result after pollution:\n%s\nwant\n%s", res.Value, want)
	}
}

// A module the worker does not have is an error that names it, the importing module, and
// what could be imported instead, whether the import is used or not.
func TestMissingModuleNamesWhatIsAvailable(t *testing.T) {
	for _, main := range []string{
		`import fs from "left-pad"; export default {}`,
		`import { readFile } from "left-pad"; export default { f() { return readFile } }`,
		`export * from "./lib/missing.js"; export default {}`,
	} {
		sb := newSandbox(t, engine.SandboxConfig{Modules: engine.ModuleMap{
			"main.js":     {Type: engine.ModuleJS, Content: []byte(main)},
			"lib/util.js": {Type: engine.ModuleJS, Content: []byte(`export const u = 1`)},
		}})
		_, err := sb.Load(context.Background(), engine.Limits{}, "main.js", nil)
		if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
			t.Fatalf("load %q: %v, want invalid_worker_code", main, err)
		}
		for _, w := range []string{"cannot find module", `imported from "main.js"`, "lib/util.js", "main.js", "cloudflare:workers"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("load %q: %q lacks %q", main, err, w)
			}
		}
	}
	// An eval sandbox has no modules of its own; import() says what it can reach.
	sb := newSandbox(t, engine.SandboxConfig{})
	_, err := eval(t, sb, engine.Limits{}, `await import("./x.js")`)
	if err == nil || !strings.Contains(err.Error(), `"./x.js"`) || !strings.Contains(err.Error(), "no modules of its own") || !strings.Contains(err.Error(), "cloudflare:workers") {
		t.Fatalf("import() in an eval sandbox: %v", err)
	}
}

func TestResolveCandidates(t *testing.T) {
	m := engine.ModuleMap{
		"main.ts":        {Type: engine.ModuleJS},
		"lib/u.ts":       {Type: engine.ModuleJS},
		"lib/v.mts":      {Type: engine.ModuleJS},
		"lib/w/index.ts": {Type: engine.ModuleJS},
		"x.js":           {Type: engine.ModuleJS},
	}
	for _, c := range [][3]string{
		{"main.ts", "./lib/u.js", "lib/u.ts"}, // TypeScript's own convention
		{"main.ts", "./lib/u", "lib/u.ts"},
		{"main.ts", "./lib/v.mjs", "lib/v.mts"},
		{"main.ts", "./lib/w", "lib/w/index.ts"},
		{"lib/u.ts", "../x", "x.js"},
		{"lib/u.ts", "/x.js", "x.js"},
		{"lib/u.ts", "cloudflare:workers", "cloudflare:workers"},
	} {
		got, err := m.Resolve(c[0], c[1])
		if err != nil || got != c[2] {
			t.Errorf("Resolve(%q, %q) = %q, %v; want %q", c[0], c[1], got, err, c[2])
		}
	}
}
