package loader_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	mrand "math/rand/v2"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/runtime"
)

// nodeWorker imports every Node built-in of nodejs_compat, as ES imports and through
// require, and runs a test's JavaScript body with them as m.
const nodeWorker = `import { Buffer } from "node:buffer";
import EventEmitter, { once } from "node:events";
import * as util from "node:util";
import path from "node:path";
import assert from "node:assert";
import * as url from "node:url";
import { StringDecoder } from "node:string_decoder";
import process from "node:process";
import crypto from "node:crypto";
import timers from "node:timers";
import bareBuffer from "buffer";
import lib from "./lib.cjs";
const m = { Buffer, EventEmitter, once, util, path, assert, url, StringDecoder, process, crypto, timers, bareBuffer, helper: lib.helper };
export default {
  async run(body) { return await new Function("m", "return (async () => {" + body + "})()")(m); },
};`

const nodeLib = `const { inherits } = require("util");
const EE = require("node:events");
function Thing() { EE.call(this); }
inherits(Thing, EE);
exports.helper = () => { const t = new Thing(); let got = 0; t.on("x", (n) => { got = n; }); t.emit("x", 7); return [got, t instanceof EE, require("events") === EE]; };`

func nodeCode() loader.WorkerCode {
	c := code(nodeWorker)
	c.Modules["lib.cjs"] = loader.Module{Type: "cjs", Content: []byte(nodeLib)}
	c.CompatibilityFlags = []string{"nodejs_compat"}
	c.Env = map[string]any{"GREETING": "hi", "COUNT": 3}
	return c
}

// runNode runs body (an async function body with the modules as m) in s and returns its
// JSON result.
func runNode(t *testing.T, s *loader.Stub, body string) string {
	t.Helper()
	args, _ := json.Marshal([]string{body})
	res, err := s.Call(context.Background(), "run", args)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return string(res.Value)
}

func TestNodeCompatModules(t *testing.T) {
	l := newLoader(t, loader.Config{})
	s := l.Load(nodeCode())
	defer s.Close(context.Background())
	for _, tc := range []struct{ body, want string }{
		{`return m.helper()`, `[7,true,true]`},
		{`return m.bareBuffer.Buffer === m.Buffer`, `true`},
		{`return [globalThis.Buffer === m.Buffer, process === m.process, Object.keys(globalThis).includes("Buffer")]`, `[true,true,false]`},
		{`globalThis.Buffer = 1; const b = Buffer; globalThis.Buffer = m.Buffer; return b`, `1`},
		{`return m.process.env`, `{"GREETING":"hi"}`},
		{`return [m.process.platform, m.process.cwd(), typeof m.process.nextTick]`, `["linux","/","function"]`},
		{`return m.Buffer.from("héllo").toString("base64")`, `"aMOpbGxv"`},
	} {
		if got := runNode(t, s, tc.body); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.body, got, tc.want)
		}
	}
}

func TestNodeBuiltinWithoutFlag(t *testing.T) {
	l0 := newLoader(t, loader.Config{})
	res, err := l0.Load(code(`export default { f() { return [typeof Buffer, typeof process] } }`)).Call(context.Background(), "f", nil)
	if err != nil || string(res.Value) != `["undefined","undefined"]` {
		t.Fatalf("globals without the flag: %v %v", res, err)
	}
	// The runtime's require cannot be talked into a Node module without the flag either.
	res, err = l0.Load(code(`export default { f() { try { globalThis.__isobox_internal.requireFrom("", "node:buffer"); return "loaded" } catch (e) { return e.message } } }`)).Call(context.Background(), "f", nil)
	if err != nil || !strings.Contains(string(res.Value), `module \"node:buffer\" not found`) {
		t.Fatalf("requireFrom of node:buffer without the flag: %v %v", res, err)
	}
	l := newLoader(t, loader.Config{})
	c := code(`import { Buffer } from "node:buffer"; export default { f() { return 1 } }`)
	_, err = l.Load(c).Call(context.Background(), "f", nil)
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), `"node:buffer", imported by "main.js", is a Node.js built-in module, not available in isobox without the nodejs_compat compatibility flag`) {
		t.Fatalf("got %v", err)
	}
}

// runCases runs each body and compares its JSON result.
func runCases(t *testing.T, s *loader.Stub, cases []nodeCase) {
	t.Helper()
	for _, tc := range cases {
		got := runNode(t, s, tc.body)
		var g, w any
		if json.Unmarshal([]byte(got), &g) != nil || json.Unmarshal([]byte(tc.want), &w) != nil || !reflect.DeepEqual(g, w) {
			t.Errorf("%s\n got %s\nwant %s", tc.body, got, tc.want)
		}
	}
}

type nodeCase struct{ body, want string }

func jsq(v any) string { b, _ := json.Marshal(v); return string(b) }

func nodeStub(t *testing.T) *loader.Stub {
	t.Helper()
	l := newLoader(t, loader.Config{})
	s := l.Load(nodeCode())
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// Buffer's encodings agree with Go's encoders, both ways.
func TestNodeBufferEncodings(t *testing.T) {
	s := nodeStub(t)
	var cases []nodeCase
	inputs := [][]byte{{}, {0}, {0xff}, {1, 2}, []byte("hello, world"), {0xfb, 0xff, 0xbf, 0x00, 0x80, 0x7f, 0x3e, 0x3f}}
	r := mrand.New(mrand.NewPCG(1, 2))
	for n := range 40 {
		b := make([]byte, n*7%97)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		h := hex.EncodeToString(b)
		enc := map[string]string{
			"hex": h, "base64": base64.StdEncoding.EncodeToString(b), "base64url": base64.RawURLEncoding.EncodeToString(b),
			"latin1": latin1(b),
		}
		for name, want := range enc {
			cases = append(cases,
				nodeCase{fmt.Sprintf(`return m.Buffer.from(%q, "hex").toString(%q)`, h, name), jsq(want)},
				nodeCase{fmt.Sprintf(`return m.Buffer.from(%s, %q).toString("hex")`, jsq(want), name), jsq(h)})
		}
	}
	for _, str := range []string{"", "abc", "héllo wörld", "日本語", "emoji 🎉 and 𝄞", "\u0000\u007f\u0080\u07ff\u0800\uffff"} {
		u16 := utf16.Encode([]rune(str))
		le := make([]byte, 2*len(u16))
		for i, c := range u16 {
			binary.LittleEndian.PutUint16(le[2*i:], c)
		}
		cases = append(cases,
			nodeCase{fmt.Sprintf(`return m.Buffer.from(%s).toString("hex")`, jsq(str)), jsq(hex.EncodeToString([]byte(str)))},
			nodeCase{fmt.Sprintf(`return m.Buffer.from(%q, "hex").toString("utf8")`, hex.EncodeToString([]byte(str))), jsq(str)},
			nodeCase{fmt.Sprintf(`return m.Buffer.byteLength(%s)`, jsq(str)), fmt.Sprint(len(str))},
			nodeCase{fmt.Sprintf(`return m.Buffer.from(%s, "utf16le").toString("hex")`, jsq(str)), jsq(hex.EncodeToString(le))},
			nodeCase{fmt.Sprintf(`return m.Buffer.from(%q, "hex").toString("utf16le")`, hex.EncodeToString(le)), jsq(str)})
	}
	// Node's decoders are lenient: padding optional, either alphabet, junk skipped.
	cases = append(cases,
		nodeCase{`return m.Buffer.from("aGk", "base64").toString()`, `"hi"`},
		nodeCase{`return m.Buffer.from("-_8", "base64").toString("hex")`, `"fbff"`},
		nodeCase{`return m.Buffer.from("+/8=", "base64url").toString("hex")`, `"fbff"`},
		nodeCase{`return m.Buffer.from("aG k=\n", "base64").toString()`, `"hi"`},
		nodeCase{`return m.Buffer.from("abzz", "hex").toString("hex")`, `"ab"`},
		nodeCase{`return m.Buffer.from("é", "ascii").toString("hex")`, `"e9"`},
		nodeCase{`return m.Buffer.from([0xe9, 0x41]).toString("ascii")`, `"iA"`},
		nodeCase{`return m.Buffer.from("x", "nope")`, ""},
	)
	cases = cases[:len(cases)-1] // the last is an error case, run below
	runCases(t, s, cases)
	got := runNode(t, s, `try { m.Buffer.from("x", "nope"); return "no error" } catch (e) { return [e.name, e.message] }`)
	if got != `["TypeError","Unknown encoding: nope"]` {
		t.Errorf("unknown encoding: %s", got)
	}
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// Buffer's methods besides encodings: a Uint8Array subclass with Node's accessors.
func TestNodeBufferMethods(t *testing.T) {
	s := nodeStub(t)
	be := make([]byte, 8)
	binary.BigEndian.PutUint64(be, 0x0123456789abcdef)
	runCases(t, s, []nodeCase{
		{`const b = m.Buffer.alloc(4); return [b instanceof Uint8Array, m.Buffer.isBuffer(b), m.Buffer.isBuffer(new Uint8Array(2)), b.length]`, `[true,true,false,4]`},
		{`return m.Buffer.alloc(5, "ab").toString()`, `"ababa"`},
		{`return m.Buffer.concat([m.Buffer.from("ab"), new Uint8Array([99]), m.Buffer.from("d")]).toString()`, `"abcd"`},
		{`return m.Buffer.concat([m.Buffer.from("abcdef")], 3).toString()`, `"abc"`},
		{`return [m.Buffer.compare(m.Buffer.from("a"), m.Buffer.from("b")), m.Buffer.compare(m.Buffer.from("b"), m.Buffer.from("a")), m.Buffer.compare(m.Buffer.from("a"), m.Buffer.from("a"))]`, `[-1,1,0]`},
		{`const b = m.Buffer.from("hello"); const s = b.slice(1, 3); s[0] = 69; return [b.toString(), s instanceof m.Buffer, b.subarray(3).toString()]`, `["hEllo",true,"lo"]`},
		{`const b = m.Buffer.alloc(8); b.writeBigUInt64BE(0x0123456789abcdefn); return [b.toString("hex"), b.readUInt32BE(0), b.readUInt16LE(0), b.readInt8(7), String(b.readBigUInt64LE(0))]`,
			jsq([]any{hex.EncodeToString(be), binary.BigEndian.Uint32(be), binary.LittleEndian.Uint16(be), int8(be[7]), fmt.Sprint(binary.LittleEndian.Uint64(be))})},
		{`const b = m.Buffer.alloc(6); b.writeInt16LE(-2, 0); b.writeUInt32LE(4294967295, 2); return [b.toString("hex"), b.readInt16LE(0), b.readInt32LE(2), b.readUIntBE(0, 3), b.readIntLE(0, 2)]`, `["feffffffffff",-2,-1,16711679,-2]`},
		{`const b = m.Buffer.alloc(2); try { b.readUInt32LE(0) } catch (e) { return [e.name, e.code] }`, `["RangeError","ERR_OUT_OF_RANGE"]`},
		{`const b = m.Buffer.alloc(2); try { b.writeUInt8(256, 0) } catch (e) { return [e.name, e.code] }`, `["RangeError","ERR_OUT_OF_RANGE"]`},
		{`const b = m.Buffer.from("hello world"); return [b.indexOf("o"), b.indexOf("o", 5), b.indexOf(m.Buffer.from("wor")), b.includes("xyz"), b.lastIndexOf("o"), b.indexOf(0x77)]`, `[4,7,6,false,7,6]`},
		{`return [m.Buffer.from("abc").equals(m.Buffer.from("abc")), m.Buffer.from("abc").equals(m.Buffer.from("abd"))]`, `[true,false]`},
		{`return m.Buffer.from([1, 2, 3]).toJSON()`, `{"type":"Buffer","data":[1,2,3]}`},
		{`return m.Buffer.from(m.Buffer.from([1, 2, 3]).toJSON()).toString("hex")`, `"010203"`},
		{`const b = m.Buffer.alloc(4); return [b.write("héllo"), b.toString("hex")]`, `[4,"68c3a96c"]`},
		{`const b = m.Buffer.alloc(2); return [b.write("é", 1), b.toString("hex")]`, `[0,"0000"]`},
		{`const b = m.Buffer.alloc(6); return [b.write("ff00", 2, "hex"), b.toString("hex")]`, `[2,"0000ff000000"]`},
		{`const ab = new ArrayBuffer(4); const b = m.Buffer.from(ab, 1, 2); b[0] = 7; return [new Uint8Array(ab)[1], b.length]`, `[7,2]`},
		{`const a = m.Buffer.from("xy"); const b = m.Buffer.from(a); b[0] = 65; return a.toString() + b.toString()`, `"xyAy"`},
		{`const b = m.Buffer.from("abcdef"); const t = m.Buffer.alloc(3); return [b.copy(t, 0, 2), t.toString()]`, `[3,"cde"]`},
		{`return [m.Buffer.byteLength("aGk=", "base64"), m.Buffer.isEncoding("hex"), m.Buffer.isEncoding("nope")]`, `[2,true,false]`},
		{`return m.Buffer.from("hi").toString("utf8", 1)`, `"i"`},
	})
}

// A huge allocation is a RangeError the worker can catch, and the sandbox goes on.
func TestNodeBufferHugeAlloc(t *testing.T) {
	s := nodeStub(t)
	runCases(t, s, []nodeCase{
		{`try { m.Buffer.alloc(2 ** 40) } catch (e) { return e.name }`, `"RangeError"`},
		{`try { m.Buffer.alloc(-1) } catch (e) { return e.name }`, `"RangeError"`},
		{`try { m.Buffer.allocUnsafe(1.5) } catch (e) { return e.name }`, `"RangeError"`},
		{`try { m.Buffer.alloc(2 ** 31 - 1) } catch (e) { return e.name }`, `"RangeError"`},
		// Under Buffer's own cap, over the sandbox's 128 MiB: the allocation fails inside.
		{`try { m.Buffer.alloc(1e9) } catch (e) { return e.name }`, `"RangeError"`},
		{`try { m.Buffer.allocUnsafe(200e6) } catch (e) { return e.name }`, `"RangeError"`},
		{`try { m.Buffer.concat([m.Buffer.alloc(1)], 2 ** 31 - 1) } catch (e) { return e.name }`, `"RangeError"`},
		{`return m.Buffer.alloc(1024).length`, `1024`},
	})
}

func TestNodeEvents(t *testing.T) {
	s := nodeStub(t)
	runCases(t, s, []nodeCase{
		{`const e = new m.EventEmitter(); const log = []; e.on("x", (a) => log.push("on" + a)); e.prependListener("x", (a) => log.push("pre" + a)); e.once("x", (a) => log.push("once" + a));
		  e.emit("x", 1); e.emit("x", 2); return [log, e.listenerCount("x")]`, `[["pre1","on1","once1","pre2","on2"],2]`},
		{`const e = new m.EventEmitter(); const f = () => {}; e.on("x", f); e.on("x", f); e.off("x", f); return [e.listenerCount("x"), e.emit("x"), e.emit("nothing")]`, `[1,true,false]`},
		{`const e = new m.EventEmitter(); try { e.emit("error", new TypeError("boom")) } catch (err) { return [err.name, err.message] }`, `["TypeError","boom"]`},
		{`const e = new m.EventEmitter(); try { e.emit("error", "text") } catch (err) { return [err.code, err.message] }`, `["ERR_UNHANDLED_ERROR","Unhandled error. (text)"]`},
		{`const e = new m.EventEmitter(); const seen = []; e.on(m.EventEmitter.errorMonitor, (x) => seen.push("monitor " + x.message)); e.on("error", (x) => seen.push("handler " + x.message)); e.emit("error", new Error("b")); return seen`, `["monitor b","handler b"]`},
		{`const e = new m.EventEmitter(); const log = []; const a = () => { log.push("a"); e.off("x", b) }; const b = () => log.push("b"); e.on("x", a); e.on("x", b); e.emit("x"); e.emit("x"); return log`, `["a","b","a"]`},
		{`const e = new m.EventEmitter(); setTimeout(() => e.emit("ready", 1, 2), 1); return await m.once(e, "ready")`, `[1,2]`},
		{`const e = new m.EventEmitter(); setTimeout(() => e.emit("error", new Error("bad")), 1); try { await m.once(e, "ready") } catch (err) { return [err.message, e.listenerCount("ready")] }`, `["bad",0]`},
		{`const e = new m.EventEmitter({ captureRejections: true }); const p = new Promise((r) => e.on("error", (err) => r(err.message))); e.on("x", async () => { throw new Error("async") }); e.emit("x"); return await p`, `"async"`},
		{`const e = new m.EventEmitter(); const names = []; e.on("newListener", (n) => names.push(n)); e.on("a", () => {}); return [names, e.eventNames()]`, `[["a"],["newListener","a"]]`},
		{`try { new m.EventEmitter().on("x", 1) } catch (e) { return e.code }`, `"ERR_INVALID_ARG_TYPE"`},
		{`class C extends m.EventEmitter {} const c = new C(); let got; c.once("x", function () { got = this === c }); c.emit("x"); return got`, `true`},
	})
}

func TestNodeUtil(t *testing.T) {
	s := nodeStub(t)
	runCases(t, s, []nodeCase{
		{`return m.util.format("%s=%d", "a", 42)`, `"a=42"`},
		{`return m.util.format("%s:%s", "only")`, `"only:%s"`},
		{`return m.util.format("%%s %s", "x")`, `"%s x"`},
		{`return m.util.format("a", "b", 1)`, `"a b 1"`},
		{`return m.util.format("%j", { a: [1, "x"] })`, `"{\"a\":[1,\"x\"]}"`},
		{`return m.util.format("%i %f %d", "42.9", "1.5", 10n)`, `"42 1.5 10n"`},
		{`return m.util.format("%o", [1])`, `"[ 1 ]"`},
		{`return m.util.format(1, { a: 1 })`, `"1 { a: 1 }"`},
		{`return m.util.inspect({ a: 1, b: "x", "c-d": [null, undefined] })`, `"{ a: 1, b: 'x', 'c-d': [ null, undefined ] }"`},
		{`return m.util.inspect([1, [2, [3, [4]]]])`, `"[ 1, [ 2, [ 3, [Array] ] ] ]"`},
		{`const o = { n: 1 }; o.self = o; return m.util.inspect(o)`, `"{ n: 1, self: [Circular *1] }"`},
		{`return m.util.inspect(new Map([["k", 1]]))`, `"Map(1) { 'k' => 1 }"`},
		{`return [m.util.inspect(function foo() {}), m.util.inspect(class Bar {}), m.util.inspect(Symbol("s")), m.util.inspect(-0)]`, `["[Function: foo]","[class Bar]","Symbol(s)","-0"]`},
		{`function A() {} function B() { A.call(this) } m.util.inherits(B, A); return [new B() instanceof A, B.super_ === A]`, `[true,true]`},
		{`const f = m.util.promisify((a, cb) => cb(null, a * 2)); return await f(21)`, `42`},
		{`const f = m.util.promisify((cb) => cb(new Error("no"))); try { await f() } catch (e) { return e.message }`, `"no"`},
		{`const f = m.util.callbackify(async (x) => x + 1); return await new Promise((r) => f(1, (err, v) => r([err, v])))`, `[null,2]`},
		{`const f = m.util.callbackify(async () => { throw new Error("x") }); return await new Promise((r) => f((err) => r(err.message)))`, `"x"`},
		{`const t = m.util.types; return [t.isDate(new Date()), t.isRegExp(/x/), t.isPromise(Promise.resolve()), t.isUint8Array(m.Buffer.alloc(1)), t.isTypedArray([]), t.isAsyncFunction(async () => {}), t.isArrayBuffer(new ArrayBuffer(1))]`, `[true,true,true,true,false,true,true]`},
		{`const d = m.util.isDeepStrictEqual; return [d({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), d({ a: 1 }, { a: "1" }), d([1, 2], [1, 2, 3]), d(new Map([[1, { x: 1 }]]), new Map([[1, { x: 1 }]])), d(NaN, NaN), d(new Date(1), new Date(2)), d(m.Buffer.from("a"), m.Buffer.from("a"))]`, `[true,false,false,true,true,false,true]`},
		{`let n = 0; const f = m.util.deprecate(() => ++n, "old"); f(); f(); return n`, `2`},
		{`return [m.util.TextEncoder === TextEncoder, m.util.TextDecoder === TextDecoder]`, `[true,true]`},
		{`return [m.util.stripVTControlCharacters("\u001b[31mred\u001b[0m"), m.util.isString("x"), m.util.toUSVString("a\ud800")]`, `["red",true,"a\ufffd"]`},
	})
}

// path agrees with Go's path package where their semantics meet (no trailing slashes; Go's
// Clean is Node's normalize; filepath.Rel on Linux is relative).
func TestNodePath(t *testing.T) {
	s := nodeStub(t)
	var cases []nodeCase
	parts := [][]string{{"a", "b"}, {"/a", "b", "../c"}, {"a", "", "b"}, {"/", "x"}, {"a/./b", ".."}, {"..", "a"}, {"/a/b", "../../../c"}, {"a", "/b"}, {"x"}, {"a//b", "c/"}}
	for _, p := range parts {
		args, _ := json.Marshal(p)
		wantJoin := path.Join(p...)
		if strings.HasSuffix(p[len(p)-1], "/") {
			wantJoin += "/"
		}
		// resolve: from the last absolute argument, else from the cwd "/".
		base := "/"
		var rest []string
		for _, a := range p {
			if strings.HasPrefix(a, "/") {
				base, rest = a, nil
			} else {
				rest = append(rest, a)
			}
		}
		cases = append(cases,
			nodeCase{fmt.Sprintf(`return m.path.join(...%s)`, args), jsq(wantJoin)},
			nodeCase{fmt.Sprintf(`return m.path.resolve(...%s)`, args), jsq(path.Join(append([]string{base}, rest...)...))})
	}
	for _, p := range []string{"/a/b/c", "a/b", "a", "/a", "/", "a/../../b", "./a/./b.txt", "/x/y.tar.gz", "dir/file.", "a//b"} {
		cases = append(cases,
			nodeCase{fmt.Sprintf(`return m.path.normalize(%q)`, p), jsq(path.Clean(p))},
			nodeCase{fmt.Sprintf(`return m.path.extname(%q)`, p), jsq(path.Ext(p))},
			nodeCase{fmt.Sprintf(`return m.path.isAbsolute(%q)`, p), jsq(path.IsAbs(p))})
		if p != "/" {
			cases = append(cases, nodeCase{fmt.Sprintf(`return m.path.basename(%q)`, p), jsq(path.Base(p))})
		}
		if path.Clean(p) == p { // Node's dirname does not clean; Go's Dir does
			cases = append(cases, nodeCase{fmt.Sprintf(`return m.path.dirname(%q)`, p), jsq(path.Dir(p))})
		}
	}
	for _, ft := range [][2]string{{"/a/b/c", "/a/d"}, {"/a", "/a/b/c"}, {"/a/b", "/"}, {"/x/y", "/x/y"}, {"/a/b", "/c/d"}} {
		rel, err := filepath.Rel(ft[0], ft[1])
		if err != nil {
			t.Fatal(err)
		}
		if rel == "." {
			rel = ""
		}
		cases = append(cases, nodeCase{fmt.Sprintf(`return m.path.relative(%q, %q)`, ft[0], ft[1]), jsq(rel)})
	}
	cases = append(cases,
		nodeCase{`return m.path.parse("/home/u/file.txt")`, `{"root":"/","dir":"/home/u","base":"file.txt","ext":".txt","name":"file"}`},
		nodeCase{`return m.path.parse("file")`, `{"root":"","dir":"","base":"file","ext":"","name":"file"}`},
		nodeCase{`return m.path.format({ dir: "/home/u", name: "f", ext: ".txt" })`, `"/home/u/f.txt"`},
		nodeCase{`return m.path.format({ root: "/", base: "f" })`, `"/f"`},
		nodeCase{`return [m.path.dirname("./a/./b.txt"), m.path.dirname("a/b/"), m.path.dirname("/a")]`, `["./a/.","a","/"]`},
		nodeCase{`return [m.path.sep, m.path.delimiter, m.path.posix === m.path, m.path.basename("/a/b.js", ".js"), m.path.normalize("a/b/"), m.path.resolve()]`, `["/",":",true,"b","a/b/","/"]`},
		nodeCase{`try { m.path.win32.join("a") } catch (e) { return e.code }`, `"ERR_NOT_IMPLEMENTED"`},
		nodeCase{`try { m.path.join("a", 1) } catch (e) { return e.code }`, `"ERR_INVALID_ARG_TYPE"`},
	)
	runCases(t, s, cases)
}

func TestNodeAssert(t *testing.T) {
	s := nodeStub(t)
	runCases(t, s, []nodeCase{
		{`const a = m.assert; a(true); a.ok(1); a.equal(1, "1"); a.strictEqual(NaN, NaN); a.notStrictEqual(1, "1"); a.deepStrictEqual({ x: [1] }, { x: [1] }); a.match("abc", /b/); a.deepEqual({ a: 1 }, { a: "1" }); return "ok"`, `"ok"`},
		{`try { m.assert.strictEqual(1, 2) } catch (e) { return [e instanceof m.assert.AssertionError, e.name, e.code, e.actual, e.expected, e.operator] }`, `[true,"AssertionError","ERR_ASSERTION",1,2,"strictEqual"]`},
		{`try { m.assert.deepStrictEqual({ a: 1 }, { a: "1" }) } catch (e) { return e.code }`, `"ERR_ASSERTION"`},
		{`try { m.assert.ok(0, "custom") } catch (e) { return e.message }`, `"custom"`},
		{`try { m.assert.match("abc", /z/) } catch (e) { return e.code }`, `"ERR_ASSERTION"`},
		{`m.assert.throws(() => { throw new TypeError("bad") }, TypeError); m.assert.throws(() => { throw new Error("x1") }, /x1/); m.assert.throws(() => { throw Object.assign(new Error("m"), { code: "E" }) }, { code: "E" }); return "ok"`, `"ok"`},
		{`try { m.assert.throws(() => {}) } catch (e) { return [e.code, e.message] }`, `["ERR_ASSERTION","Missing expected exception."]`},
		{`try { m.assert.throws(() => { throw new RangeError("r") }, TypeError) } catch (e) { return e.name }`, `"RangeError"`},
		{`await m.assert.rejects(Promise.reject(new Error("no")), /no/); try { await m.assert.rejects(Promise.resolve(1)) } catch (e) { return e.code }`, `"ERR_ASSERTION"`},
		{`try { m.assert.strict.equal(1, "1") } catch (e) { return e.code }`, `"ERR_ASSERTION"`},
		{`try { m.assert.fail("stop") } catch (e) { return [e.code, e.message] }`, `["ERR_ASSERTION","stop"]`},
	})
}

// createHash and createHmac agree with Go's crypto packages.
func TestNodeCrypto(t *testing.T) {
	s := nodeStub(t)
	var cases []nodeCase
	hashes := map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha384": sha512.New384, "sha512": sha512.New}
	inputs := []string{"", "abc", "héllo", strings.Repeat("x", 1000)}
	keys := []string{"", "key", strings.Repeat("k", 200)} // 200 bytes: longer than a block
	for name, h := range hashes {
		for _, in := range inputs {
			d := h()
			d.Write([]byte(in))
			sum := d.Sum(nil)
			half := len(in) / 2
			cases = append(cases,
				nodeCase{fmt.Sprintf(`return m.crypto.createHash(%q).update(%s).digest("hex")`, name, jsq(in)), jsq(hex.EncodeToString(sum))},
				nodeCase{fmt.Sprintf(`return m.crypto.createHash(%q).update(%s).update(m.Buffer.from(%s)).digest("base64")`, strings.ToUpper(name), jsq(in[:half]), jsq(in[half:])), jsq(base64.StdEncoding.EncodeToString(sum))})
			for _, k := range keys {
				mac := hmac.New(h, []byte(k))
				mac.Write([]byte(in))
				cases = append(cases, nodeCase{fmt.Sprintf(`return m.crypto.createHmac(%q, %s).update(%s).digest("hex")`, name, jsq(k), jsq(in)), jsq(hex.EncodeToString(mac.Sum(nil)))})
			}
		}
	}
	cases = append(cases,
		nodeCase{`const b = m.crypto.randomBytes(100000); return [b.length, m.Buffer.isBuffer(b), b.some((x) => x !== 0)]`, `[100000,true,true]`},
		nodeCase{`return /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(m.crypto.randomUUID())`, `true`},
		nodeCase{`const v = m.crypto.randomInt(5, 7); return v === 5 || v === 6`, `true`},
		nodeCase{`return [m.crypto.timingSafeEqual(m.Buffer.from("ab"), m.Buffer.from("ab")), m.crypto.timingSafeEqual(m.Buffer.from("ab"), m.Buffer.from("ac"))]`, `[true,false]`},
		nodeCase{`try { m.crypto.timingSafeEqual(m.Buffer.from("a"), m.Buffer.from("ab")) } catch (e) { return e.name }`, `"RangeError"`},
		nodeCase{`try { m.crypto.createHash("md4") } catch (e) { return e.code }`, `"ERR_CRYPTO_INVALID_DIGEST"`},
		nodeCase{`const h = m.crypto.createHash("sha256"); h.digest(); try { h.update("x") } catch (e) { return e.code }`, `"ERR_CRYPTO_HASH_FINALIZED"`},
		nodeCase{`return m.crypto.createHash("sha256").digest() instanceof m.Buffer`, `true`},
	)
	runCases(t, s, cases)
}

func TestNodeURLStringDecoderProcess(t *testing.T) {
	s := nodeStub(t)
	runCases(t, s, []nodeCase{
		{`return [m.url.URL === URL, m.url.URLSearchParams === URLSearchParams]`, `[true,true]`},
		{`return [m.url.fileURLToPath("file:///a/b%20c.txt"), m.url.pathToFileURL("/x y/z").href]`, `["/a/b c.txt","file:///x%20y/z"]`},
		{`try { m.url.fileURLToPath("http://x/") } catch (e) { return e.code }`, `"ERR_INVALID_URL_SCHEME"`},
		{`const u = m.url.parse("https://user:pw@example.com:8080/p/a?x=1#h"); return [u.protocol, u.auth, u.host, u.port, u.hostname, u.pathname, u.search, u.query, u.hash, u.path]`,
			`["https:","user:pw","example.com:8080","8080","example.com","/p/a","?x=1","x=1","#h","/p/a?x=1"]`},
		{`return m.url.parse("/p?a=1&b=2", true).query`, `{"a":"1","b":"2"}`},
		{`return m.url.format({ protocol: "https", hostname: "example.com", pathname: "/x", query: { a: "1" } })`, `"https://example.com/x?a=1"`},
		{`return m.url.resolve("http://a/b/c", "../d")`, `"http://a/d"`},
		{`const d = new m.StringDecoder("utf8"); const b = m.Buffer.from("€uro"); return [d.write(b.subarray(0, 1)), d.write(b.subarray(1, 2)), d.write(b.subarray(2)), d.end()]`, `["","","€uro",""]`},
		{`const d = new m.StringDecoder("hex"); return d.write(m.Buffer.from([1, 255])) + d.end()`, `"01ff"`},
		{`const d = new m.StringDecoder("base64"); return d.write(m.Buffer.from("ab")) + d.end(m.Buffer.from("c"))`, `"YWJj"`},
		{`const d = new m.StringDecoder("utf8"); return d.write(m.Buffer.from([0xe2, 0x82])) + d.end()`, `"\ufffd"`},
		{`let order = []; m.process.nextTick(() => order.push("tick")); order.push("sync"); await null; await null; return order`, `["sync","tick"]`},
		{`return [m.process.version.startsWith("v"), typeof m.process.versions.node, m.process.hrtime().length]`, `[true,"string",2]`},
		{`try { m.process.exit(1) } catch (e) { return /not supported/.test(e.message) }`, `true`},
		{`return await new Promise((r) => m.timers.setImmediate(() => r("later")))`, `"later"`},
	})
}

// The flag is part of the code's identity: code loaded with it leaves an image that code
// without it must not start from, and the compile check honours it.
func TestNodeCompatFlagIsPartOfTheCode(t *testing.T) {
	l := newLoader(t, loader.Config{})
	ctx := context.Background()
	with := nodeCode()
	if err := l.Compile(ctx, with); err != nil {
		t.Fatalf("Compile with the flag: %v", err)
	}
	for range 2 { // the second load restores the per-code image
		if got := runNode(t, l.Load(with), `return m.Buffer.from("x").toString("hex")`); got != `"78"` {
			t.Fatalf("with the flag: %s", got)
		}
	}
	without := nodeCode()
	without.CompatibilityFlags = nil
	if err := l.Compile(ctx, without); isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), `"node:buffer"`) {
		t.Fatalf("Compile without the flag: %v", err)
	}
	if _, err := l.Load(without).Call(ctx, "run", json.RawMessage(`["return 1"]`)); isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
		t.Fatalf("load without the flag after an image with it: %v", err)
	}
}

// Built-ins isobox lacks, and imports without the flag, are invalid_worker_code errors
// that name the built-in and the importer; a worker's own module named like a built-in
// wins over it.
func TestNodeBuiltinErrors(t *testing.T) {
	l := newLoader(t, loader.Config{})
	ctx := context.Background()
	flag := []string{"nodejs_compat"}
	for _, c := range []struct {
		name  string
		flags []string
		mods  map[string]loader.Module
		want  string
	}{
		{"fs under the flag", flag, map[string]loader.Module{"main.js": loader.JS(`import fs from "node:fs"; export default {}`)},
			`"node:fs", imported by "main.js", is a Node.js built-in module not available in isobox, even under nodejs_compat (it has: assert,`},
		{"bare child_process", flag, map[string]loader.Module{"main.js": loader.JS(`import cp from "child_process"; export default {}`)},
			`"child_process", imported by "main.js", is a Node.js built-in module not available in isobox`},
		{"require without the flag", nil, map[string]loader.Module{"main.js": loader.JS(`import lib from "./lib.cjs"; export default { f() { return lib } }`),
			"lib.cjs": {Type: "cjs", Content: []byte(`module.exports = require("events");`)}},
			`"events", imported by "lib.cjs", is a Node.js built-in module, not available in isobox without the nodejs_compat compatibility flag`},
		{"require of net under the flag", flag, map[string]loader.Module{"main.js": loader.JS(`import lib from "./lib.cjs"; export default { f() { return lib } }`),
			"lib.cjs": {Type: "cjs", Content: []byte(`module.exports = require("node:net");`)}},
			`"node:net", imported by "lib.cjs", is a Node.js built-in module not available in isobox`},
		{"unknown node: name", flag, map[string]loader.Module{"main.js": loader.JS(`import x from "node:nope"; export default {}`)},
			`cannot find module "node:nope" imported from "main.js": it is not a Node.js built-in`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code := loader.WorkerCode{MainModule: "main.js", Modules: c.mods, CompatibilityFlags: c.flags}
			_, err := l.Load(code).Call(ctx, "f", nil)
			if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant invalid_worker_code with %q", err, c.want)
			}
		})
	}
	// The worker's own events.js is what a bare "events" means.
	code := loader.WorkerCode{MainModule: "main.js", CompatibilityFlags: flag, Modules: map[string]loader.Module{
		"main.js": loader.JS(`import e from "events"; export default { f() { return e } }`), "events.js": loader.JS(`export default "mine"`)}}
	res, err := l.Load(code).Call(ctx, "f", nil)
	if err != nil || string(res.Value) != `"mine"` {
		t.Fatalf("own events.js: %v %v", res, err)
	}
}

// BenchmarkNodeCompatColdLoad is a cold load + first call of a new unique worker: plain,
// with the flag but no Node import (the flag alone must cost nothing), and importing
// node:buffer, node:events and node:util (each evaluated on the worker's first import).
func BenchmarkNodeCompatColdLoad(b *testing.B) {
	for _, c := range []struct {
		name, imports string
		flag          bool
	}{
		{"plain", "", false},
		{"flag", "", true},
		{"buffer+events+util", `import { Buffer } from "node:buffer"; import EventEmitter from "node:events"; import util from "node:util";`, true},
		{"events", `import EventEmitter from "node:events";`, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			l, err := loader.New(loader.Config{Engine: testEngine, MaxWorkers: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			i := 0
			for b.Loop() {
				i++
				wc := code(fmt.Sprintf("%s\nexport default { f() { return %d } }", c.imports, i))
				if c.flag {
					wc.CompatibilityFlags = []string{"nodejs_compat"}
				}
				res, err := l.Get(fmt.Sprint("cold-", i), func() (loader.WorkerCode, error) { return wc, nil }).Call(context.Background(), "f", nil)
				if err != nil || !res.Cold {
					b.Fatalf("%v %v", err, res)
				}
			}
		})
	}
}

// Every name a Node module lists for ES imports is defined: a typo in a list would make
// an import of it undefined instead of an error.
func TestNodeModuleExportsDefined(t *testing.T) {
	var src, list strings.Builder
	i := 0
	for name := range runtime.NodeModules() {
		fmt.Fprintf(&src, "import * as n%d from %q;\n", i, "node:"+name)
		fmt.Fprintf(&list, "[%q, n%d],", name, i)
		i++
	}
	fmt.Fprintf(&src, `export default { f() {
  const bad = [];
  for (const [name, ns] of [%s]) {
    if (ns.default === undefined) bad.push(name + " has no default export");
    for (const k of Object.keys(ns)) if (ns[k] === undefined) bad.push(name + "." + k);
  }
  return bad;
} }`, list.String())
	c := code(src.String())
	c.CompatibilityFlags = []string{"nodejs_compat"}
	l := newLoader(t, loader.Config{})
	res, err := l.Load(c).Call(context.Background(), "f", nil)
	if err != nil || string(res.Value) != "[]" {
		t.Fatalf("%d modules: %v %v", i, res, err)
	}
}
