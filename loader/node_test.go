package loader_test

import (
	"context"
	"encoding/json"
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
