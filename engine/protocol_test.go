package engine_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// thenHijack makes every object a thenable that resolves to "T": the snippet of the issue
// that gave internal_error ("undecodable completion") and broke the worker for good.
const thenHijack = `Object.defineProperty(Object.prototype, 'then', {get(){return r => r('T')}, configurable: true});`

// guestAttacks break builtins the host protocol could rely on. None may give an error other
// than the worker's own (worker_exception), nor stop later calls from working.
var guestAttacks = []struct{ name, js string }{
	{"Object.prototype.then getter", thenHijack},
	{"Object.prototype.then method", `Object.prototype.then = function (ok) { ok("T") };`},
	{"Array iterator replaced", `Array.prototype[Symbol.iterator] = function () { throw new Error("no iterating") };`},
	{"JSON.stringify replaced", `JSON.stringify = () => '{"ok":true,"result":"forged"}';`},
	{"JSON.parse replaced", `JSON.parse = () => ({ type: "eval", code: "'forged'" });`},
	{"Object.prototype.toJSON", `Object.prototype.toJSON = function () { return "J" };`},
	{"Promise.prototype.then replaced", `Promise.prototype.then = function () { return this };`},
	{"Promise.prototype.then throws", `Promise.prototype.then = function () { throw new Error("no then") };`},
	{"Promise species", `Promise.prototype.constructor = { [Symbol.species]: function (exec) { exec(() => {}, () => {}) } };`},
	{"Promise.resolve replaced", `Promise.resolve = () => new Promise(() => {});`},
	{"Symbol.toPrimitive on Object.prototype", `Object.prototype[Symbol.toPrimitive] = function () { throw new Error("no primitive") };`},
	{"toString and valueOf throw", `Object.prototype.toString = Object.prototype.valueOf = function () { throw new Error("no string") };`},
	{"Map and WeakMap methods replaced", `Map.prototype.get = Map.prototype.set = Map.prototype.delete = WeakMap.prototype.get = function () { return () => {} };`},
	{"typed array getters replaced", `Object.defineProperty(Object.getPrototypeOf(Uint8Array.prototype), "byteLength", { get() { throw new Error("no length") } });`},
	{"Uint8Array.fromBase64 replaced", `Uint8Array.fromBase64 = () => { throw new Error("no base64") };`},
	{"protocol field getters", `for (const k of ["status", "statusText", "headers", "body", "value", "error", "ok", "code", "result", "head",
		"message", "name", "stack", "type", "id", "props", "request", "method", "url", "args", "entrypoint", "pending", "resolve", "reject"])
		Object.defineProperty(Object.prototype, k, { get() { throw new Error("getter " + k) }, set(v) { throw new Error("setter " + k) }, configurable: true });`},
	{"call, bind and apply replaced", `Function.prototype.call = Function.prototype.bind = Function.prototype.apply = function () { throw new Error("no call") };`},
	{"Reflect.apply and Object.hasOwn replaced", `Reflect.apply = () => { throw new Error("no apply") }; Object.hasOwn = () => { throw new Error("no hasOwn") };`},
	{"Set.prototype.has replaced", `Set.prototype.has = () => false;`},
	{"invocation field getters", `for (const k of ["completed", "waiting", "ctx", "waitUntil", "passThroughOnException", "fetch", "default"])
		Object.defineProperty(Object.prototype, k, { get() { throw new Error("getter " + k) }, set(v) { throw new Error("setter " + k) }, configurable: true });`},
	{"globals replaced", `globalThis.Response = globalThis.Promise = globalThis.Error = globalThis.TypeError = globalThis.SyntaxError = globalThis.JSON = function () { throw new Error("replaced") };`},
}

// sane fails unless the outcome is a normal result or the worker's own typed error, and
// returns whether it was a normal result.
func sane(t *testing.T, what string, res *engine.Result, err error) bool {
	t.Helper()
	if err == nil {
		return true
	}
	if c := isoerr.CodeOf(err); c != isoerr.WorkerException {
		t.Fatalf("%s: %v (%s), want a result or a worker_exception", what, err, c)
	}
	return false
}

func TestGuestCannotBreakTheProtocolEval(t *testing.T) {
	for _, a := range guestAttacks {
		t.Run(a.name, func(t *testing.T) {
			sb := newSandbox(t, engine.SandboxConfig{})
			for i := range 3 {
				res, err := eval(t, sb, engine.Limits{}, a.js+"; 42")
				if sane(t, "eval", res, err) && string(res.Value) != "42" {
					t.Fatalf("call %d: result %s, want 42 or a worker_exception", i, res.Value)
				}
				if sb.Broken() != nil {
					t.Fatalf("the sandbox broke: %v", sb.Broken())
				}
			}
		})
	}
}

// The snippet of the issue: a worker_exception that says why, never a wrong value.
func TestThenHijackEval(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	_, err := eval(t, sb, engine.Limits{}, thenHijack+" 42")
	if isoerr.CodeOf(err) != isoerr.WorkerException || !strings.Contains(err.Error(), "Object.prototype.then is defined") {
		t.Fatalf("got %v, want a worker_exception that names Object.prototype.then", err)
	}
	// An eval whose value is a primitive is not a thenable: the poisoned prototype does not
	// matter when the snippet deletes it again before it ends.
	res, err := eval(t, sb, engine.Limits{}, "delete Object.prototype.then; 6 * 7")
	if err != nil || string(res.Value) != "42" {
		t.Fatalf("after deleting it: %s %v", res.Value, err)
	}
}

const attackWorker = `let n = 0;
export default {
  poison() { ATTACK; return 42 },
  async poisonAsync() { ATTACK; return 42 },
  v() { return 42 },
  async av() { await null; return 42 },
  fetch(req) { return new Response("hi") },
};`

// A worker breaks a builtin inside a call (sync or async): that call and every later one
// get their normal result or a worker_exception; the sandbox stays usable, and RPC calls
// (which the protocol alone carries) keep their results.
func TestGuestCannotBreakTheProtocolWorker(t *testing.T) {
	ctx := context.Background()
	for _, a := range guestAttacks {
		for _, method := range []string{"poison", "poisonAsync"} {
			t.Run(a.name+"/"+method, func(t *testing.T) {
				mods := engine.ModuleMap{"main.js": js(strings.Replace(attackWorker, "ATTACK", a.js, 2))}
				sb := newSandbox(t, engine.SandboxConfig{Modules: mods})
				if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
					t.Fatal(err)
				}
				res, err := sb.Call(ctx, engine.Limits{}, "", method, nil, nil)
				if sane(t, method, res, err) && string(res.Value) != "42" {
					t.Fatalf("%s: %s, want 42", method, res.Value)
				}
				for _, m := range []string{"v", "av", "v"} {
					res, err := sb.Call(ctx, engine.Limits{}, "", m, nil, nil)
					if err != nil || string(res.Value) != "42" {
						t.Fatalf("%s after the attack: %s %v, want 42", m, res.Value, err)
					}
				}
				req := &engine.Request{Method: "POST", URL: "http://w/", Body: []byte("x")}
				res, err = sb.Fetch(ctx, engine.Limits{}, "", req, nil)
				if sane(t, "fetch", res, err) && (res.Status != 200 || string(res.Body) != "hi") {
					t.Fatalf("fetch after the attack: %d %q", res.Status, res.Body)
				}
				if sb.Broken() != nil {
					t.Fatalf("the sandbox broke: %v", sb.Broken())
				}
			})
		}
	}
}

// With the snippet of the issue in a worker, sync handlers keep their exact results, call
// after call.
func TestThenHijackWorker(t *testing.T) {
	ctx := context.Background()
	mods := engine.ModuleMap{"main.js": js(strings.Replace(attackWorker, "ATTACK", thenHijack, 2))}
	sb := newSandbox(t, engine.SandboxConfig{Modules: mods})
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		res, err := sb.Call(ctx, engine.Limits{}, "", "poison", nil, nil)
		if err != nil || string(res.Value) != "42" {
			t.Fatalf("call %d: %s %v", i, res.Value, err)
		}
		res, err = sb.Call(ctx, engine.Limits{}, "", "poisonAsync", nil, nil)
		if err != nil || string(res.Value) != "42" {
			t.Fatalf("async call %d: %s %v", i, res.Value, err)
		}
		res, err = sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://w/"}, nil)
		if err != nil || res.Status != 200 || string(res.Body) != "hi" {
			t.Fatalf("fetch %d: %d %q %v", i, res.Status, res.Body, err)
		}
	}
}

// An RPC method named like an accessor the guest put on Object.prototype is still called:
// checking that a method is not Object.prototype's own runs no getter.
func TestRPCMethodNamedLikeAnAccessor(t *testing.T) {
	ctx := context.Background()
	mods := engine.ModuleMap{"main.js": js(`
Object.defineProperty(Object.prototype, "value", { get() { throw new Error("getter value") }, configurable: true });
Object.prototype.inherited = function () { return 2 };
export default { value() { return 1 } };`)}
	sb := newSandbox(t, engine.SandboxConfig{Modules: mods})
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	res, err := sb.Call(ctx, engine.Limits{}, "", "value", nil, nil)
	if err != nil || string(res.Value) != "1" {
		t.Fatalf("%s %v", res.Value, err)
	}
	// A function every object inherits from Object.prototype is not an RPC method.
	if _, err := sb.Call(ctx, engine.Limits{}, "", "inherited", nil, nil); isoerr.CodeOf(err) != isoerr.MethodNotFound {
		t.Fatalf("inherited: %v", err)
	}
}

// The methods RPC refuses stay refused, and the others keep working, after the worker
// replaced the builtins the dispatcher's checks could have used.
func TestRPCRefusalsSurviveReplacedBuiltins(t *testing.T) {
	ctx := context.Background()
	mods := engine.ModuleMap{"main.js": js(`
Set.prototype.has = () => false;
Object.hasOwn = () => false;
Object.getOwnPropertyDescriptor = () => undefined;
Function.prototype.call = Function.prototype.bind = function () { throw new Error("no call") };
Reflect.apply = () => 7;
export default { toString() { return "own" }, hi() { return 1 } };`)}
	sb := newSandbox(t, engine.SandboxConfig{Modules: mods})
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"toString", "constructor", "hasOwnProperty", "__proto__", "__x"} {
		if _, err := sb.Call(ctx, engine.Limits{}, "", m, nil, nil); isoerr.CodeOf(err) != isoerr.MethodNotFound {
			t.Errorf("%s: %v, want method_not_found", m, err)
		}
	}
	for range 2 {
		if res, err := sb.Call(ctx, engine.Limits{}, "", "hi", nil, nil); err != nil || string(res.Value) != "1" {
			t.Fatalf("hi: %s %v", res.Value, err)
		}
	}
}

// A request reaches the handler the same whichever form its message takes: a record for
// plain strings, JSON for one a record cannot carry (the separator, a newline in a header).
func TestRequestReachesTheHandlerInEitherForm(t *testing.T) {
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": js(`
export default {
  async fetch(req, env, ctx) {
    return Response.json({ m: req.method, u: req.url, h: [...req.headers], b: await req.text(), p: ctx.props });
  },
  echo(...args) { return args },
};`)}})
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		header string
		body   []byte
		props  json.RawMessage
	}{
		{"plain", "v", nil, nil},
		{"body and props", "v", []byte("a\x1fb\x00c"), json.RawMessage(`{"k":[1,"\u001f"]}`)},
		{"empty body", "v", []byte{}, nil},
		{"separator in a header", "x\x1fy", []byte("z"), json.RawMessage(`{"k":2}`)},
		{"newline in a header", "x\ny", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := &engine.Request{Method: "POST", URL: "http://w/p?q=1", Headers: [][2]string{{"x-a", tt.header}, {"x-b", "é"}}, Body: tt.body}
			res, err := sb.Fetch(ctx, engine.Limits{}, "", req, tt.props)
			if err != nil {
				t.Fatal(err)
			}
			props := "{}"
			if tt.props != nil {
				props = string(tt.props)
			}
			var got, want any
			_ = json.Unmarshal(res.Body, &got)
			b, _ := json.Marshal(string(tt.body))
			h, _ := json.Marshal(tt.header)
			_ = json.Unmarshal([]byte(`{"m":"POST","u":"http://w/p?q=1","h":[["x-a",`+string(h)+`],["x-b","é"]],"b":`+string(b)+`,"p":`+props+`}`), &want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("the handler saw %s", res.Body)
			}
		})
	}
	for _, m := range []string{"echo", "ec\x1fho"} {
		res, err := sb.Call(ctx, engine.Limits{}, "", m, json.RawMessage(`[1,"\u001f",{"a":null}]`), nil)
		if m != "echo" {
			if isoerr.CodeOf(err) != isoerr.MethodNotFound {
				t.Fatalf("%q: %v, want method_not_found", m, err)
			}
			continue
		}
		if err != nil || string(res.Value) != `[1,"\u001f",{"a":null}]` {
			t.Fatalf("%q: %s %v", m, res.Value, err)
		}
	}
}

// A snippet reaches the guest intact in either form of its message: as it is, or as JSON
// when it holds a character a record cannot carry (NUL, U+001F).
func TestEvalReachesTheGuestInEitherForm(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	for _, tt := range []struct{ code, want string }{
		{"'x' + 'é😀'", `"xé😀"`},
		{"'x\x1fy'.charCodeAt(1)", "31"},
		{"'x\x00y'.charCodeAt(1)", "0"},
		{"`a\nb\\u001f`.length", "4"},
	} {
		res, err := eval(t, sb, engine.Limits{}, tt.code)
		if err != nil || string(res.Value) != tt.want {
			t.Fatalf("eval %q: %s %v, want %s", tt.code, res.Value, err, tt.want)
		}
	}
}
