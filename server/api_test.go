package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

func TestWorkersCRUD(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	c := ts.c

	if _, err := c.GetWorker(ctx, "hello"); err != nil {
		wantCode(t, err, isoerr.NotFound)
	} else {
		t.Fatal("got a worker before any was put")
	}
	code := js(helloJS)
	code.Env = map[string]any{"TAG": "v1"}
	code.Limits = &loader.Limits{CPUMs: 1000}
	w, err := c.PutWorker(ctx, "hello", code)
	if err != nil {
		t.Fatal(err)
	}
	if w.ID != "hello" || !strings.HasPrefix(w.Hash, "sha256:") || w.Size == 0 || w.CreatedAt.IsZero() {
		t.Fatalf("put answered %+v", w)
	}
	if r := ts.raw(t, "PUT", "/v1/workers/created", []byte(`{"mainModule":"a.js","modules":{"a.js":"export default {}"}}`), nil); r.status != http.StatusCreated || r.header.Get("Location") != "/v1/workers/created" {
		t.Fatalf("new worker: status %d, Location %q, want 201", r.status, r.header.Get("Location"))
	}
	if r := ts.raw(t, "PUT", "/v1/workers/created", []byte(`{"mainModule":"a.js","modules":{"a.js":"export default {}"}}`), nil); r.status != http.StatusOK {
		t.Fatalf("replaced worker: status %d, want 200", r.status)
	}

	got, err := c.GetWorker(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != w.Hash || got.Code == nil || got.Code.MainModule != "main.js" || string(got.Code.Modules["main.js"].Content) != helloJS ||
		got.Code.Env["TAG"] != "v1" || got.Code.Limits.CPUMs != 1000 {
		t.Fatalf("get: %+v", got)
	}

	// Every module form round-trips.
	mods := map[string]loader.Module{
		"main.js":   loader.JS(`import t from "./t.txt"; import d from "./d.bin"; import j from "./j.json"; import c from "./c.cjs"; export default { get() { return [t, d.byteLength, j.x, c.y] } }`),
		"t.txt":     {Type: engine.ModuleText, Content: []byte("text ✓")},
		"d.bin":     {Type: engine.ModuleData, Content: []byte{0, 1, 0xff}},
		"j.json":    {Type: engine.ModuleJSON, Content: []byte(`{"x":1}`)},
		"c.cjs":     {Type: engine.ModuleCJS, Content: []byte(`module.exports = {y: 2}`)},
		"lib/u.mjs": loader.JS(`export const u = 1`),
	}
	if _, err := c.PutWorker(ctx, "mods", api.WorkerCode{MainModule: "main.js", Modules: mods}); err != nil {
		t.Fatal(err)
	}
	out, err := c.Call(ctx, "mods", "get")
	if err != nil || string(out.Result) != `["text ✓",3,1,2]` {
		t.Fatalf("modules: %s %v", out.Result, err)
	}
	gm, _ := c.GetWorker(ctx, "mods")
	for name, m := range mods {
		if g := gm.Code.Modules[name]; string(g.Content) != string(m.Content) || (g.Type != m.Type && !(g.Type == "" && m.Type == engine.ModuleJS)) {
			t.Errorf("module %s came back as %q %q", name, g.Type, g.Content)
		}
	}

	for i := range 5 {
		c.PutWorker(ctx, fmt.Sprintf("page-%d", i), js(`export default {}`))
	}
	var ids []string
	for after := ""; ; {
		l, err := c.ListWorkers(ctx, client.ListOptions{After: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range l.Workers {
			if w.Code != nil {
				t.Fatal("list carries code")
			}
			ids = append(ids, w.ID)
		}
		if l.Next == "" {
			break
		}
		after = l.Next
	}
	if want := "created hello mods page-0 page-1 page-2 page-3 page-4"; strings.Join(ids, " ") != want {
		t.Fatalf("listed %q, want %q", ids, want)
	}
	if _, err := c.ListWorkers(ctx, client.ListOptions{Limit: 5000}); err == nil {
		t.Fatal("limit 5000 accepted")
	} else {
		wantCode(t, err, isoerr.InvalidRequest)
	}

	if err := c.DeleteWorker(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DeleteWorker(ctx, "hello"), isoerr.NotFound)
	_, err = c.Fetch(ctx, "hello", client.FetchRequest{})
	wantCode(t, err, isoerr.NotFound)
}

// A worker put again with other code is never served by a warm sandbox of the old code.
func TestPutNewCodeDropsWarmSandbox(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	src := `let n = 0; export default { v() { return "%s:" + (++n) } }`
	ts.c.PutWorker(ctx, "w", js(fmt.Sprintf(src, "v1")))
	for i, want := range []string{`"v1:1"`, `"v1:2"`} {
		out, err := ts.c.Call(ctx, "w", "v")
		if err != nil || string(out.Result) != want || out.Cold != (i == 0) {
			t.Fatalf("call %d: %s cold=%v %v, want %s", i, out.Result, out.Cold, err, want)
		}
	}
	ts.c.PutWorker(ctx, "w", js(fmt.Sprintf(src, "v2")))
	out, err := ts.c.Call(ctx, "w", "v")
	if err != nil || string(out.Result) != `"v2:1"` || !out.Cold {
		t.Fatalf("after new code: %s cold=%v %v, want a cold v2:1", out.Result, out.Cold, err)
	}
}

func TestAuth(t *testing.T) {
	ts := start(t, Config{})
	for _, tt := range []struct {
		name, auth string
	}{
		{"no header", ""},
		{"wrong key", "Bearer not-the-key-0123456789"},
		{"basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+testKey))},
		{"bearer without key", "Bearer "},
		{"key alone", testKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/v1/workers", "/v1/openapi.json", "/v1/nope", "/v1/workers/x/http/"} {
				r := ts.raw(t, "GET", path, nil, http.Header{"Authorization": {tt.auth}})
				if r.status != http.StatusUnauthorized || r.err == nil || r.err.Code != isoerr.Unauthorized ||
					!strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("GET %s: %d %s, want 401 unauthorized", path, r.status, r.body)
				}
			}
		})
	}
	bad := ts.c.WithAPIKey("wrong-key-0123456789abcdef")
	_, err := bad.ListWorkers(context.Background(), client.ListOptions{})
	wantCode(t, err, isoerr.Unauthorized)
	_, err = bad.Fetch(context.Background(), "x", client.FetchRequest{})
	wantCode(t, err, isoerr.Unauthorized)
	// Health and metrics need no key.
	if _, err := bad.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Metrics(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := ts.raw(t, "GET", "/v1/workers", nil, http.Header{"Authorization": {"bearer " + testKey}}); r.status != 200 {
		t.Fatalf("lower-case scheme: %d", r.status)
	}
}

func TestRoutingErrors(t *testing.T) {
	ts := start(t, Config{})
	for _, tt := range []struct {
		method, path string
		status       int
		code         isoerr.Code
	}{
		{"GET", "/v1/nope", 404, isoerr.NotFound},
		{"GET", "/nope", 404, isoerr.NotFound},
		{"POST", "/v1/workers/x", 405, isoerr.MethodNotAllowed},
		{"GET", "/v1/workers/x/fetch", 405, isoerr.MethodNotAllowed},
		{"POST", "/v1/sessions/s1/eval", 400, isoerr.InvalidRequest},
		{"POST", "/v1/sessions/s1/fork", 404, isoerr.NotFound},
		{"DELETE", "/v1/sessions/s1", 404, isoerr.NotFound},
		{"GET", "/v1/sessions/s1", 405, isoerr.MethodNotAllowed},
	} {
		r := ts.raw(t, tt.method, tt.path, nil, nil)
		if r.status != tt.status || r.err == nil || r.err.Code != tt.code {
			t.Errorf("%s %s: %d %s, want %d %s", tt.method, tt.path, r.status, r.body, tt.status, tt.code)
		}
	}
	if r := ts.raw(t, "POST", "/v1/workers/x", nil, nil); r.header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	ts := start(t, Config{})
	s, err := ts.c.CreateSession(ctx, client.SessionOptions{Name: "repl"})
	if err != nil || s.Name != "repl" || !s.Live {
		t.Fatalf("create: %+v %v", s, err)
	}
	_, err = ts.c.CreateSession(ctx, client.SessionOptions{Name: "repl"})
	wantCode(t, err, isoerr.InvalidRequest)
	_, err = ts.c.CreateSession(ctx, client.SessionOptions{Name: "bad name"})
	wantCode(t, err, isoerr.InvalidRequest)
	gen, err := ts.c.CreateSession(ctx, client.SessionOptions{})
	if err != nil || gen.Name == "" {
		t.Fatalf("generated name: %+v %v", gen, err)
	}
	eval := func(id, code, want string) {
		t.Helper()
		o, err := ts.c.SessionEval(ctx, id, code, nil)
		if err != nil || !o.OK || string(o.Result) != want {
			t.Fatalf("eval %q in %s: %+v %v, want %s", code, id, o, err, want)
		}
	}
	eval("repl", "let total = 10; total", "10")
	eval("repl", "total += 5", "15")
	fork, err := ts.c.ForkSession(ctx, "repl", "branch")
	if err != nil || fork.Name != "branch" {
		t.Fatalf("fork: %+v %v", fork, err)
	}
	eval("branch", "total *= 2", "30")
	eval("repl", "total", "15")
	o, err := ts.c.SessionEval(ctx, "repl", "throw new Error('boom')", nil)
	if err == nil || o == nil || o.Error == nil || o.Error.Code != isoerr.WorkerException || o.RolledBack {
		t.Fatalf("exception: %+v %v", o, err)
	}
	eval("repl", "total", "15")
	o, err = ts.c.SessionEval(ctx, "repl", "total = 0; while (true) {}", &loader.Limits{CPUMs: 10})
	if err == nil || o == nil || !o.RolledBack || o.Error.Code != isoerr.CPULimitExceeded {
		t.Fatalf("runaway: %+v %v", o, err)
	}
	eval("repl", "total", "15")
	_, err = ts.c.SessionEval(ctx, "nope", "1", nil)
	wantCode(t, err, isoerr.NotFound)
	list, err := ts.c.ListSessions(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := ts.c.DeleteSession(ctx, "branch"); err != nil {
		t.Fatal(err)
	}
	_, err = ts.c.SessionEval(ctx, "branch", "1", nil)
	wantCode(t, err, isoerr.NotFound)
}

// Every kind of bad input is a 4xx with a typed code, and nothing stored changes.
func TestBadInput(t *testing.T) {
	ts := start(t, Config{MaxBodyBytes: 2 << 20})
	ctx := context.Background()
	if _, err := ts.c.PutWorker(ctx, "w", js(helloJS)); err != nil {
		t.Fatal(err)
	}
	before, _ := ts.c.GetWorker(ctx, "w")
	good := `"mainModule":"main.js","modules":{"main.js":"export default {}"}`
	bigEnv := `{` + good + `,"env":{"x":"` + strings.Repeat("a", 1100<<10) + `"}}`
	tests := []struct {
		name         string
		method, path string
		body         []byte
		status       int
		code         isoerr.Code
		msg          string
	}{
		{"oversized body", "PUT", "/v1/workers/w", []byte(`{"mainModule":"main.js","modules":{"main.js":"` + strings.Repeat("x", 3<<20) + `"}}`), 413, isoerr.RequestTooLarge, "limit"},
		{"oversized call body", "POST", "/v1/workers/w/call/add", []byte(`["` + strings.Repeat("x", 3<<20) + `"]`), 413, isoerr.RequestTooLarge, "limit"},
		{"oversized forward body", "POST", "/v1/workers/w/http/", []byte(strings.Repeat("x", 3<<20)), 413, isoerr.RequestTooLarge, "limit"},
		{"empty body", "PUT", "/v1/workers/w", nil, 400, isoerr.InvalidRequest, "empty"},
		{"malformed JSON", "PUT", "/v1/workers/w", []byte(`{"mainModule": "main.js", "modules": {`), 400, isoerr.InvalidRequest, "malformed JSON"},
		{"syntax error JSON", "PUT", "/v1/workers/w", []byte(`{"mainModule": main.js}`), 400, isoerr.InvalidRequest, "malformed JSON at byte"},
		{"trailing data", "PUT", "/v1/workers/w", []byte(`{` + good + `} {}`), 400, isoerr.InvalidRequest, "after the first value"},
		{"not an object", "PUT", "/v1/workers/w", []byte(`[1]`), 400, isoerr.InvalidRequest, "object"},
		{"wrong type", "PUT", "/v1/workers/w", []byte(`{"mainModule":5,"modules":{}}`), 400, isoerr.InvalidRequest, "mainModule"},
		{"unknown field", "PUT", "/v1/workers/w", []byte(`{` + good + `,"mainmodule":"x"}`), 400, isoerr.InvalidRequest, `unknown field "mainmodule" (did you mean "mainModule"?`},
		{"unknown nested field", "POST", "/v1/run", []byte(`{"worker":{` + good + `,"Limits":{}}}`), 400, isoerr.InvalidRequest, `unknown field "Limits" in worker`},
		{"unknown limits field", "PUT", "/v1/workers/w", []byte(`{` + good + `,"limits":{"cpu":5}}`), 400, isoerr.InvalidRequest, `unknown field "cpu"`},
		{"invalid worker id", "PUT", "/v1/workers/-bad", []byte(`{` + good + `}`), 400, isoerr.InvalidRequest, "invalid worker id"},
		{"worker id with space", "PUT", "/v1/workers/a%20b", []byte(`{` + good + `}`), 400, isoerr.InvalidRequest, "invalid worker id"},
		{"worker id too long", "PUT", "/v1/workers/" + strings.Repeat("a", 129), []byte(`{` + good + `}`), 400, isoerr.InvalidRequest, "invalid worker id"},
		{"no mainModule", "PUT", "/v1/workers/w", []byte(`{"modules":{"main.js":"export default {}"}}`), 400, isoerr.InvalidWorkerCode, "mainModule is required"},
		{"mainModule missing", "PUT", "/v1/workers/w", []byte(`{"mainModule":"index.js","modules":{"main.js":"export default {}"}}`), 400, isoerr.InvalidWorkerCode, `mainModule "index.js" is not in modules`},
		{"no modules", "PUT", "/v1/workers/w", []byte(`{"mainModule":"main.js","modules":{}}`), 400, isoerr.InvalidWorkerCode, "modules is empty"},
		{"text main module", "PUT", "/v1/workers/w", []byte(`{"mainModule":"a.txt","modules":{"a.txt":{"text":"hi"}}}`), 400, isoerr.InvalidWorkerCode, "must be a js or cjs module"},
		{"non-UTF-8 text module", "PUT", "/v1/workers/w", []byte("{" + good[:len(good)-1] + `,"t.txt":{"text":"a` + "\xff\xfe" + `b"}}}`), 400, isoerr.InvalidWorkerCode, "not valid UTF-8"},
		{"lone surrogate in a module", "PUT", "/v1/workers/w", []byte("{" + good[:len(good)-1] + `,"t.txt":{"text":"a\udc00b"}}}`), 400, isoerr.InvalidWorkerCode, "lone UTF-16 surrogate"},
		{"plain string not .js", "PUT", "/v1/workers/w", []byte("{" + good[:len(good)-1] + `,"t.txt":"hi"}}`), 400, isoerr.InvalidWorkerCode, "plain string"},
		{"two module types", "PUT", "/v1/workers/w", []byte("{" + good[:len(good)-1] + `,"t.txt":{"text":"a","js":"b"}}}`), 400, isoerr.InvalidWorkerCode, "exactly one"},
		{"unknown module type", "PUT", "/v1/workers/w", []byte("{" + good[:len(good)-1] + `,"t.x":{"ts":"a"}}}`), 400, isoerr.InvalidWorkerCode, "unknown module type"},
		{"bad base64 data", "PUT", "/v1/workers/w", []byte("{" + good[:len(good)-1] + `,"d.bin":{"data":"%%%"}}}`), 400, isoerr.InvalidWorkerCode, "base64"},
		{"bad module name", "PUT", "/v1/workers/w", []byte("{" + good[:len(good)-1] + `,"/abs.js":"x"}}`), 400, isoerr.InvalidWorkerCode, "invalid module name"},
		{"invalid wasm module", "PUT", "/v1/workers/w", []byte("{" + good[:len(good)-1] + `,"m.wasm":{"wasm":"AA=="}}}`), 400, isoerr.InvalidWorkerCode, "not a WebAssembly module"},
		{"limits out of range", "PUT", "/v1/workers/w", []byte(`{` + good + `,"limits":{"cpuMs":99999}}`), 400, isoerr.InvalidRequest, "limits.cpuMs"},
		{"negative limits", "PUT", "/v1/workers/w", []byte(`{` + good + `,"limits":{"memoryMb":-1}}`), 400, isoerr.InvalidRequest, "negative"},
		{"env too large", "PUT", "/v1/workers/w", []byte(bigEnv), 413, isoerr.EnvTooLarge, "env"},
		{"globalOutbound not a policy", "PUT", "/v1/workers/w", []byte(`{` + good + `,"globalOutbound":{"allow":["*"]}}`), 400, isoerr.InvalidWorkerCode, "globalOutbound"},
		{"globalOutbound invalid rule", "PUT", "/v1/workers/w", []byte(`{` + good + `,"globalOutbound":{"rules":[{"action":"allow","host":"*","injectHeaders":{"A":"{{secret:x}}"}}]}}`), 400, isoerr.InvalidWorkerCode, "globalOutbound"},

		{"fetch unknown field", "POST", "/v1/workers/w/fetch", []byte(`{"uri":"http://x/"}`), 400, isoerr.InvalidRequest, `unknown field "uri"`},
		{"fetch relative url", "POST", "/v1/workers/w/fetch", []byte(`{"url":"/x"}`), 400, isoerr.InvalidRequest, "absolute"},
		{"fetch bad method", "POST", "/v1/workers/w/fetch", []byte(`{"method":"GE T"}`), 400, isoerr.InvalidRequest, "invalid method"},
		{"fetch bad header", "POST", "/v1/workers/w/fetch", []byte(`{"headers":{"a b":"c"}}`), 400, isoerr.InvalidRequest, "header name"},
		{"fetch bad encoding", "POST", "/v1/workers/w/fetch", []byte(`{"body":"x","bodyEncoding":"gzip"}`), 400, isoerr.InvalidRequest, "bodyEncoding"},
		{"fetch bad base64", "POST", "/v1/workers/w/fetch", []byte(`{"body":"%%","bodyEncoding":"base64"}`), 400, isoerr.InvalidRequest, "base64"},
		{"fetch invalid id", "POST", "/v1/workers/-x/fetch", nil, 400, isoerr.InvalidRequest, "invalid worker id"},
		{"fetch missing worker", "POST", "/v1/workers/nobody/fetch", nil, 404, isoerr.NotFound, `worker "nobody" does not exist`},

		{"call not a function", "POST", "/v1/workers/w/call/notAFunction", nil, 404, isoerr.MethodNotFound, "not a function"},
		{"call missing method", "POST", "/v1/workers/w/call/nope", nil, 404, isoerr.MethodNotFound, "nope"},
		{"call args not an array", "POST", "/v1/workers/w/call/add", []byte(`{"a":1}`), 400, isoerr.InvalidRequest, "array"},
		{"call args malformed", "POST", "/v1/workers/w/call/add", []byte(`[1,`), 400, isoerr.InvalidRequest, "malformed JSON"},
		{"call method with control char", "POST", "/v1/workers/w/call/a%01b", nil, 400, isoerr.InvalidRequest, "invalid method name"},

		{"run neither", "POST", "/v1/run", []byte(`{}`), 400, isoerr.InvalidRequest, "exactly one"},
		{"run both", "POST", "/v1/run", []byte(`{"code":"1","worker":{` + good + `}}`), 400, isoerr.InvalidRequest, "exactly one"},
		{"run code with call", "POST", "/v1/run", []byte(`{"code":"1","call":{"method":"x"}}`), 400, isoerr.InvalidRequest, "apply to worker"},
		{"run mainModule missing", "POST", "/v1/run", []byte(`{"worker":{"mainModule":"x.js","modules":{"main.js":"1"}}}`), 400, isoerr.InvalidWorkerCode, "not in modules"},
		{"run syntax error", "POST", "/v1/run", []byte(`{"code":"let = ;"}`), 400, isoerr.InvalidWorkerCode, "SyntaxError"},
		{"run empty code", "POST", "/v1/run", []byte(`{"code":""}`), 400, isoerr.InvalidWorkerCode, "empty"},
		{"run call args not array", "POST", "/v1/run", []byte(`{"worker":{` + good + `},"call":{"method":"x","args":{}}}`), 400, isoerr.InvalidRequest, "array"},
		{"run bad limits", "POST", "/v1/run", []byte(`{"code":"1","limits":{"cpuMs":40000}}`), 400, isoerr.InvalidRequest, "limits.cpuMs"},
		{"logs bad since", "GET", "/v1/workers/w/logs?since=x", nil, 400, isoerr.InvalidRequest, "since"},
		{"logs bad follow", "GET", "/v1/workers/w/logs?follow=maybe", nil, 400, isoerr.InvalidRequest, "follow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.raw(t, tt.method, tt.path, tt.body, http.Header{"Content-Type": {"application/json"}})
			if r.status != tt.status || r.err == nil || r.err.Code != tt.code || !strings.Contains(r.err.Message, tt.msg) {
				t.Fatalf("%d %.300s\nwant %d %s containing %q", r.status, r.body, tt.status, tt.code, tt.msg)
			}
			after, err := ts.c.GetWorker(ctx, "w")
			if err != nil || after.Hash != before.Hash || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatalf("the stored worker changed: %+v %v", after, err)
			}
			l, _ := ts.c.ListWorkers(ctx, client.ListOptions{})
			if len(l.Workers) != 1 {
				t.Fatalf("workers stored: %+v", l.Workers)
			}
		})
	}
	// The client surfaces the same errors as *isoerr.Error.
	_, err := ts.c.PutWorker(ctx, "w", api.WorkerCode{MainModule: "x.js", Modules: map[string]loader.Module{"main.js": loader.JS("")}})
	wantCode(t, err, isoerr.InvalidWorkerCode)
	out, err := ts.c.Call(ctx, "w", "notAFunction")
	wantCode(t, err, isoerr.MethodNotFound)
	if out == nil || out.OK || out.Error == nil {
		t.Fatalf("failed call outcome: %+v", out)
	}
}

func TestFetchAndCall(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	code := js(helloJS + `
export class Extra {}`)
	code.Env = map[string]any{"TAG": "t1"}
	ts.c.PutWorker(ctx, "hello", code)
	ts.c.PutWorker(ctx, "bin", js(`export default {
  async fetch(req) {
    const b = new Uint8Array(await req.arrayBuffer());
    return new Response(new Uint8Array([0xff, 0x00, b.length]), { status: 201, headers: { "x-a": "1" } });
  },
  boom() { console.error("about to throw"); throw new TypeError("kaput") },
  spin() { while (true) {} },
}`))

	out, err := ts.c.Fetch(ctx, "hello", client.FetchRequest{Method: "POST", URL: "https://example.com/p?name=ada",
		Headers: map[string]string{"Content-Type": "text/plain", "Authorization": "mine"}, Body: "hi ✓"})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.Unmarshal([]byte(*out.Body), &body)
	if !out.OK || out.Status != 200 || out.Headers["content-type"] != "application/json" || body["hello"] != "ada" || body["body"] != "hi ✓" ||
		body["host"] != "example.com" || body["auth"] != "mine" || body["tag"] != "t1" || len(out.Logs) != 1 || out.Logs[0].Message != "handling POST /p" {
		t.Fatalf("fetch: %+v %s", out, *out.Body)
	}

	out, err = ts.c.Fetch(ctx, "bin", client.FetchRequest{Method: "PUT", Body: base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 4}), BodyEncoding: "base64"})
	if err != nil || out.Status != 201 || out.BodyEncoding != "base64" || *out.Body != base64.StdEncoding.EncodeToString([]byte{0xff, 0, 4}) || out.Headers["x-a"] != "1" {
		t.Fatalf("binary fetch: %+v %v", out, err)
	}

	out, err = ts.c.Call(ctx, "hello", "add", 2, 40)
	if err != nil || string(out.Result) != "42" || out.Cold {
		t.Fatalf("call: %+v %v", out, err)
	}
	out, err = ts.c.CallJSON(ctx, "hello", "add", nil)
	if err != nil || string(out.Result) != "null" && len(out.Result) != 0 {
		t.Fatalf("call without args: %s %v", out.Result, err)
	}

	r := ts.raw(t, "POST", "/v1/workers/bin/call/boom", nil, nil)
	var o loader.Outcome
	json.Unmarshal(r.body, &o)
	if r.status != 422 || o.OK || o.Error.Code != isoerr.WorkerException || !strings.Contains(o.Error.Message, "TypeError: kaput") ||
		len(o.Logs) != 1 || o.Logs[0].Level != "error" || r.header.Get("X-Isobox-Invocation") == "" {
		t.Fatalf("exception: %d %s", r.status, r.body)
	}
	// The sandbox is still usable after an exception; a CPU limit discards it.
	if _, err := ts.c.Fetch(ctx, "bin", client.FetchRequest{}); err != nil {
		t.Fatal(err)
	}
	out, err = ts.c.Call(ctx, "bin", "spin")
	wantCode(t, err, isoerr.CPULimitExceeded)
	if out.CPUMs < 40 {
		t.Fatalf("spin stopped after %v ms of CPU; the limit is 50", out.CPUMs)
	}
}

func TestRun(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	out, err := ts.c.Eval(ctx, "[1, 2, 3].map(x => x * 2)", nil)
	if err != nil || string(out.Result) != "[2,4,6]" || !out.Cold {
		t.Fatalf("eval: %+v %v", out, err)
	}
	out, err = ts.c.Eval(ctx, `async () => { console.log("hi"); await null; return {ok: true} }`, nil)
	if err != nil || string(out.Result) != `{"ok":true}` || len(out.Logs) != 1 {
		t.Fatalf("eval async: %+v %v", out, err)
	}
	out, err = ts.c.Eval(ctx, "while(true){}", &loader.Limits{CPUMs: 30})
	wantCode(t, err, isoerr.CPULimitExceeded)
	code := js(helloJS)
	out, err = ts.c.Run(ctx, client.RunRequest{Worker: &code, Request: &client.FetchRequest{URL: "http://h/?name=bo"}})
	if err != nil || !strings.Contains(*out.Body, `"hello":"bo"`) {
		t.Fatalf("run fetch: %+v %v", out, err)
	}
	out, err = ts.c.Run(ctx, client.RunRequest{Worker: &code})
	if err != nil || !strings.Contains(*out.Body, `"hello":"world"`) {
		t.Fatalf("run default request: %+v %v", out, err)
	}
	out, err = ts.c.Run(ctx, client.RunRequest{Worker: &code, Call: &client.RunCall{Method: "add", Args: json.RawMessage(`[1,2]`)}})
	if err != nil || string(out.Result) != "3" {
		t.Fatalf("run call: %+v %v", out, err)
	}
	bad := js("export default { fetch() { return new Response('x') } ")
	_, err = ts.c.Run(ctx, client.RunRequest{Worker: &bad})
	wantCode(t, err, isoerr.InvalidWorkerCode)
	// One-shot runs keep nothing.
	if st := ts.sb.Stats(); st.Workers != 0 || st.IdleSandboxes != 0 {
		t.Fatalf("run left sandboxes behind: %+v", st)
	}
}

func TestForward(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	ts.c.PutWorker(ctx, "hello", js(helloJS))
	ts.c.PutWorker(ctx, "headers", js(`export default { fetch(req) {
  const h = new Headers({ "content-type": "text/plain" });
  h.append("set-cookie", "a=1"); h.append("set-cookie", "b=2");
  h.set("connection", "close"); h.set("x-seen-connection-header", String(req.headers.has("x-hop")));
  return new Response("teapot", { status: 418, headers: h });
} }`))

	resp, err := ts.c.Forward(ctx, "hello", "POST", "/some/pa%2Fth?name=bob&x=1", http.Header{"X-Custom": {"v"}}, strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body map[string]any
	json.Unmarshal(b, &body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || body["path"] != "/some/pa%2Fth?name=bob&x=1" ||
		body["hello"] != "bob" || body["auth"] != nil || body["body"] != "payload" || body["method"] != "POST" ||
		body["host"] != strings.TrimPrefix(ts.url, "http://") || resp.Header.Get("X-Isobox-Cold") != "true" || resp.Header.Get("X-Isobox-Invocation") == "" {
		t.Fatalf("forward: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	for path, want := range map[string]string{"/v1/workers/hello/http": "/", "/v1/workers/hello/http/": "/", "/v1/workers/hello/http/a/b/": "/a/b/"} {
		r := ts.raw(t, "GET", path, nil, nil)
		json.Unmarshal(r.body, &body)
		if r.status != 200 || body["path"] != want {
			t.Errorf("GET %s: %d %s, want path %s", path, r.status, r.body, want)
		}
	}
	r := ts.raw(t, "DELETE", "/v1/workers/headers/http/x", nil, http.Header{"Connection": {"x-hop"}, "X-Hop": {"1"}})
	if r.status != 418 || string(r.body) != "teapot" || len(r.header.Values("Set-Cookie")) != 2 || r.header.Get("Connection") == "close" ||
		r.header.Get("X-Seen-Connection-Header") != "false" {
		t.Fatalf("worker status and headers: %d %v %s", r.status, r.header, r.body)
	}
	r = ts.raw(t, "HEAD", "/v1/workers/headers/http/", nil, nil)
	if r.status != 418 || len(r.body) != 0 {
		t.Fatalf("HEAD: %d %q", r.status, r.body)
	}
	r = ts.raw(t, "GET", "/v1/workers/nobody/http/", nil, nil)
	if r.status != 404 || r.err == nil || r.err.Code != isoerr.NotFound {
		t.Fatalf("forward to a missing worker: %d %s", r.status, r.body)
	}
	ts.c.PutWorker(ctx, "throws", js(`export default { fetch() { throw new Error("no") } }`))
	resp, err = ts.c.Forward(ctx, "throws", "GET", "/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 422 {
		t.Fatalf("forward to a throwing worker: %d", resp.StatusCode)
	}
	wantCode(t, client.ResponseError(resp), isoerr.WorkerException)
}
