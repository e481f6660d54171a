package loader_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"unicode/utf16"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
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
	l := newLoader(t, loader.Config{})
	c := code(`import { Buffer } from "node:buffer"; export default { f() { return 1 } }`)
	_, err := l.Load(c).Call(context.Background(), "f", nil)
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
