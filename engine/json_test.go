package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
)

// JSON.stringify gives what the standard says (each expected string is Node's) through
// QuickJS-ng's generic path and through the plain-object path of patch 0005: key order
// with array-index keys, symbols, non-enumerable and deleted keys, getters and toJSON that
// change the object while it is written, indentation, replacers, cycles, proxies, escapes,
// more keys than the path's small array holds, nesting deeper than its first cycle stack,
// and the errors thrown on the way.
func TestJSONStringify(t *testing.T) {
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{})
	for _, tt := range []struct{ name, code, want string }{
		{"plain", `(() => JSON.stringify({ id: "1", tag: "t", calls: 5, sum: 332833500 }))()`, "{\"id\":\"1\",\"tag\":\"t\",\"calls\":5,\"sum\":332833500}"},
		{"nested", `(() => JSON.stringify({ a: { b: [1, { c: "x\ny\"z" }], d: null }, e: true }))()`, "{\"a\":{\"b\":[1,{\"c\":\"x\\ny\\\"z\"}],\"d\":null},\"e\":true}"},
		{"indexKeys", `(() => JSON.stringify({ b: 1, 2: "two", a: 2, 1: "one", "4294967294": 3, "4294967295": 4 }))()`, "{\"1\":\"one\",\"2\":\"two\",\"4294967294\":3,\"b\":1,\"a\":2,\"4294967295\":4}"},
		{"symbolsAndNonEnum", `(() => { const o = { a: 1, [Symbol("s")]: 2 }; Object.defineProperty(o, "h", { value: 3, enumerable: false }); return JSON.stringify(o); })()`, "{\"a\":1}"},
		{"getters", `(() => JSON.stringify({ get g() { return { x: 1 }; }, a: 1 }))()`, "{\"g\":{\"x\":1},\"a\":1}"},
		{"toJSON", `(() => JSON.stringify({ d: new Date(0), t: { toJSON(k) { return "key:" + k; } } }))()`, "{\"d\":\"1970-01-01T00:00:00.000Z\",\"t\":\"key:t\"}"},
		{"undefinedFuncs", `(() => JSON.stringify({ u: undefined, f() {}, s: Symbol("x"), n: null, nan: NaN, inf: -Infinity }))()`, "{\"n\":null,\"nan\":null,\"inf\":null}"},
		{"deleted", `(() => { const o = { a: 1, b: 2, c: 3 }; delete o.b; return JSON.stringify(o); })()`, "{\"a\":1,\"c\":3}"},
		{"mutatingGetter", `(() => { const o = { a: 1, get b() { delete this.c; this.z = 9; return 2; }, c: 3 }; return JSON.stringify(o); })()`, "{\"a\":1,\"b\":2}"},
		{"mutatingToJSON", `(() => { const o = { a: { toJSON() { o.b = "changed"; delete o.c; return 1; } }, b: 2, c: 3 }; return JSON.stringify(o); })()`, "{\"a\":1,\"b\":\"changed\"}"},
		{"indent", `(() => JSON.stringify({ a: [1, { b: 2 }], c: {} , d: []}, null, 2))()`, "{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}"},
		{"indentStr", `(() => JSON.stringify({ a: { b: { c: 1 } } }, null, "--"))()`, "{\n--\"a\": {\n----\"b\": {\n------\"c\": 1\n----}\n--}\n}"},
		{"replacerArray", `(() => JSON.stringify({ a: 1, b: 2, c: { a: 3, d: 4 } }, ["a", "c"]))()`, "{\"a\":1,\"c\":{\"a\":3}}"},
		{"replacerFunc", `(() => JSON.stringify({ a: 1, b: [2, 3] }, (k, v) => typeof v === "number" ? v * 10 : v))()`, "{\"a\":10,\"b\":[20,30]}"},
		{"cycle", `(() => { const o = { a: 1 }; o.self = o; try { return JSON.stringify(o); } catch (e) { return e.name; } })()`, "TypeError"},
		{"deepCycle", `(() => { const o = { a: { b: {} } }; o.a.b.c = o.a; try { return JSON.stringify(o); } catch (e) { return e.name; } })()`, "TypeError"},
		{"proxy", `(() => JSON.stringify(new Proxy({ a: 1, b: 2 }, { get: (t, k) => k === "a" ? "proxied" : t[k] })))()`, "{\"a\":\"proxied\",\"b\":2}"},
		{"nullProto", `(() => { const o = Object.create(null); o.x = 1; o.y = "2"; return JSON.stringify(o); })()`, "{\"x\":1,\"y\":\"2\"}"},
		{"inherited", `(() => { const o = Object.create({ inh: 1 }); o.own = 2; return JSON.stringify(o); })()`, "{\"own\":2}"},
		{"class", `(() => { class A { constructor() { this.x = 1; } get y() { return 2; } } return JSON.stringify(new A()); })()`, "{\"x\":1}"},
		{"escapes", `(() => JSON.stringify({ "k\u0001\"\\": "\ud800 \udc00 \u2028 \t\b\f\r", "é": "日本" }))()`, "{\"k\\u0001\\\"\\\\\":\"\\ud800 \\udc00   \\t\\b\\f\\r\",\"é\":\"日本\"}"},
		{"manyKeys", `(() => { const o = {}; for (let i = 0; i < 40; i++) o["k" + i] = i; return JSON.stringify(o); })()`, "{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17\":17,\"k18\":18,\"k19\":19,\"k20\":20,\"k21\":21,\"k22\":22,\"k23\":23,\"k24\":24,\"k25\":25,\"k26\":26,\"k27\":27,\"k28\":28,\"k29\":29,\"k30\":30,\"k31\":31,\"k32\":32,\"k33\":33,\"k34\":34,\"k35\":35,\"k36\":36,\"k37\":37,\"k38\":38,\"k39\":39}"},
		{"bigint", `(() => { try { return JSON.stringify({ a: 1n }); } catch (e) { return e.name; } })()`, "TypeError"},
		{"boxed", `(() => JSON.stringify({ s: new String("s"), n: new Number(1), b: new Boolean(false) }))()`, "{\"s\":\"s\",\"n\":1,\"b\":false}"},
		{"rope", `(() => { let s = "a".repeat(300); s += "b".repeat(300); return JSON.stringify({ s }) === "{\"s\":\"" + s + "\"}" ? "equal" : "differs"; })()`, "equal"},
		{"emptyObjIndent", `(() => JSON.stringify({ a: {}, b: { c: undefined } }, null, 1))()`, "{\n \"a\": {},\n \"b\": {}\n}"},
		{"arrayProps", `(() => { const a = [1, 2]; a.x = 3; return JSON.stringify({ a }); })()`, "{\"a\":[1,2]}"},
		{"rawJSON", `(() => JSON.stringify({ r: JSON.rawJSON("1e3") }))()`, "{\"r\":1e3}"},
		{"numericStringKey", `(() => JSON.stringify({ "01": 1, "1.5": 2, "-1": 3, "10": 4, "9": 5 }))()`, "{\"9\":5,\"10\":4,\"01\":1,\"1.5\":2,\"-1\":3}"},
		{"getterThrows", `(() => { try { return JSON.stringify({ get a() { throw new RangeError("r"); } }); } catch (e) { return e.name; } })()`, "RangeError"},
		{"toJSONThrows", `(() => { try { return JSON.stringify({ a: { toJSON() { throw new EvalError("x"); } } }); } catch (e) { return e.name; } })()`, "EvalError"},
		{"frozen", `(() => JSON.stringify(Object.freeze({ a: 1, b: [Object.freeze({ c: 2 })] })))()`, "{\"a\":1,\"b\":[{\"c\":2}]}"},
		{"accessorNonEnum", `(() => { const o = { a: 1 }; Object.defineProperty(o, "g", { get() { return 5; }, enumerable: true }); return JSON.stringify(o); })()`, "{\"a\":1,\"g\":5}"},
		{"deep", `(() => { let o = { v: 0 }; for (let i = 1; i < 40; i++) o = { v: i, o }; return JSON.stringify(o).length + ":" + JSON.stringify(o).slice(0, 20); })()`, "505:{\"v\":39,\"o\":{\"v\":38,"},
		{"deepCycleAt30", `(() => { const top = {}; let o = top; for (let i = 0; i < 30; i++) o = o.n = {}; o.back = top; try { return JSON.stringify(top); } catch (e) { return e.name; } })()`, "TypeError"},
		{"sameObjectTwice", `(() => { const s = { x: 1 }; return JSON.stringify({ a: s, b: [s, s] }); })()`, "{\"a\":{\"x\":1},\"b\":[{\"x\":1},{\"x\":1}]}"},
	} {
		res, err := sb.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, tt.code)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got string
		if err := json.Unmarshal(res.Value, &got); err != nil || got != tt.want {
			t.Errorf("%s: got %s, want %q", tt.name, res.Value, tt.want)
		}
	}
}
