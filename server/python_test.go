package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// runAnswer is the answer of POST /v1/run with code, as a client reads it.
type runAnswer struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Logs   []struct {
		Level, Message string
	} `json:"logs"`
	Error *isoerr.Error `json:"error"`
}

func (ts *testServer) run(t *testing.T, body string) (int, runAnswer) {
	t.Helper()
	r := ts.raw(t, "POST", "/v1/run", []byte(body), nil)
	var o runAnswer
	if err := json.Unmarshal(r.body, &o); err != nil {
		t.Fatalf("run %s: %d %s", body, r.status, r.body)
	}
	return r.status, o
}

// POST /v1/run runs Python with "language": "python", in process and in sandbox processes,
// with Python's exceptions and the same typed limit errors as JavaScript; POST /v1/sessions
// makes Python sessions that keep their state, fork, roll back after a limit and survive a
// restart. An unknown language is invalid_request on both.
func TestPythonOverHTTP(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{{"in process", Config{SandboxProcesses: -1}}, {"sandbox processes", Config{SandboxProcesses: 1}}} {
		t.Run(mode.name, func(t *testing.T) {
			ts := start(t, mode.cfg)
			status, o := ts.run(t, `{"language":"python","code":"import json\nprint('hi', 1)\njson.loads('[1, 2]') + [3]"}`)
			if status != 200 || !o.OK || string(o.Result) != "[1,2,3]" || len(o.Logs) != 1 || o.Logs[0].Message != "hi 1" {
				t.Fatalf("python run: %d %+v", status, o)
			}
			status, o = ts.run(t, `{"language":"python","code":"raise KeyError('k')"}`)
			if status == 200 || o.Error == nil || o.Error.Code != isoerr.WorkerException || o.Error.Message != "KeyError: 'k'" {
				t.Fatalf("python exception: %d %+v", status, o.Error)
			}
			status, o = ts.run(t, `{"language":"python","code":"while True:\n    pass","limits":{"cpuMs":20}}`)
			if o.Error == nil || o.Error.Code != isoerr.CPULimitExceeded {
				t.Fatalf("python loop: %d %+v", status, o.Error)
			}
			status, o = ts.run(t, `{"language":"javascript","code":"typeof print"}`)
			if status != 200 || string(o.Result) != `"undefined"` {
				t.Fatalf("javascript by name: %d %+v", status, o)
			}
			for _, body := range []string{`{"language":"ruby","code":"1"}`, `{"language":"python","worker":{"mainModule":"a.js","modules":{"a.js":"export default {}"}}}`} {
				if r := ts.raw(t, "POST", "/v1/run", []byte(body), nil); r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidRequest {
					t.Fatalf("run %s: %d %s, want 400 invalid_request", body, r.status, r.body)
				}
			}

			r := ts.createSession(t, `{"name":"py","language":"python","limits":{"memoryMb":64}}`)
			var info struct{ Language string }
			if err := json.Unmarshal(r.body, &info); err != nil || info.Language != "python" {
				t.Fatalf("created: %s", r.body)
			}
			ts.evalWant(t, "py", "import collections\ncounts = collections.Counter('abca')\ndef top():\n    return counts.most_common(1)", "")
			ts.evalWant(t, "py", "counts['z'] += 5\ntop()", `[["z",5]]`)
			if r := ts.raw(t, "POST", "/v1/sessions/py/fork", []byte(`{"name":"py2"}`), nil); r.status != 201 {
				t.Fatalf("fork: %d %s", r.status, r.body)
			}
			ts.evalWant(t, "py2", "counts.clear()\nlen(counts)", "0")
			status, a := ts.sessionEval(t, "py", "counts.clear()\nx = []\nwhile True:\n    x.append(' ' * 10**6)", `{"cpuMs":30000}`)
			if a.Error == nil || a.Error.Code != isoerr.MemoryLimitExceeded || !a.RolledBack {
				t.Fatalf("memory in a Python session: %d %+v", status, a)
			}
			ts.evalWant(t, "py", "top()", `[["z",5]]`)
			if r := ts.raw(t, "POST", "/v1/sessions", []byte(`{"name":"rb","language":"ruby"}`), nil); r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidRequest || !strings.Contains(r.err.Message, "ruby") {
				t.Fatalf("unknown session language: %d %s", r.status, r.body)
			}

			ts.stop(t)
			cfg := mode.cfg
			cfg.DataDir = ts.dir
			ts2 := start(t, cfg)
			ts2.evalWant(t, "py", "counts['a']", "2")
			ts2.evalWant(t, "py2", "len(counts)", "0")
		})
	}
}

// /mcp's run_code runs Python in the sandbox processes (the eval message carries the
// language).
func TestMCPRunCodePythonInSandboxProcesses(t *testing.T) {
	ts := start(t, Config{SandboxProcesses: 1})
	cs, err := mcpClient(t, ts, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "run_code", Arguments: map[string]any{
		"language": "python", "code": "import math\nprint('pi')\nround(math.pi, 3)"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError || res.Content[0].(*mcp.TextContent).Text != "3.142\n\nConsole output:\npi" {
		t.Fatalf("%+v", res.Content[0])
	}
}

// The Go client reaches Python through the language fields of its request types.
func TestClientPython(t *testing.T) {
	ctx := context.Background()
	ts := start(t, Config{})
	out, err := ts.c.Run(ctx, api.RunRequest{Language: api.LanguagePython, Code: "sum(range(10))"})
	if err != nil || !out.OK || string(out.Result) != "45" {
		t.Fatalf("Run: %+v %v", out, err)
	}
	info, err := ts.c.CreateSession(ctx, api.SessionOptions{Name: "cp", Language: api.LanguagePython})
	if err != nil || info.Language != api.LanguagePython {
		t.Fatalf("CreateSession: %+v %v", info, err)
	}
	ts.evalWant(t, "cp", "import sys\nsys.version_info[:2]", "[3,13]")
}

// POST /v1/codemode/execute with "language": "python" runs Python against the connectors'
// tools, in process and with the sandbox in a worker process (its tool calls come back to
// the server): keyword arguments, asyncio.gather, a tool's error as an exception.
func TestCodemodePythonOverHTTP(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{{"in process", Config{SandboxProcesses: -1}}, {"sandbox processes", Config{SandboxProcesses: 1}}} {
		t.Run(mode.name, func(t *testing.T) {
			cfg := mode.cfg
			cfg.Codemode = testConnectors(t)
			ts := start(t, cfg)
			status, a, raw := postCodemode(t, ts, testKey, map[string]any{"language": "python",
				"code": "import asyncio\np = await weather.forecast(city='Paris')\n" +
					"rest = await asyncio.gather(*(weather.forecast(city=c) for c in ['Oslo', 'Lima']))\n" +
					"await units.toF(c=p['temp'] + sum(f['temp'] for f in rest))"})
			if status != 200 || string(a.Result) != "118.4" || len(a.Calls) != 4 {
				t.Fatalf("%d %s", status, raw)
			}
			status, a, raw = postCodemode(t, ts, testKey, map[string]any{"language": "python", "code": "await weather.forecast(city='Atlantis')"})
			if status != 422 || a.Error == nil || a.Error.Code != "worker_exception" || !strings.Contains(a.Error.Message, "unknown city Atlantis") {
				t.Fatalf("tool error: %d %s", status, raw)
			}
			status, a, raw = postCodemode(t, ts, testKey, map[string]any{"language": "python", "code": "while True: pass", "limits": map[string]int{"cpuMs": 100}})
			if status != 422 || a.Error == nil || a.Error.Code != "cpu_limit_exceeded" {
				t.Fatalf("loop: %d %s", status, raw)
			}
			if status, _, raw := postCodemode(t, ts, testKey, map[string]any{"language": "ruby", "code": "1"}); status != 400 || !strings.Contains(raw, "ruby") {
				t.Fatalf("unknown language: %d %s", status, raw)
			}
		})
	}
}

// pyWorkerCode is a stored Python worker: fetch (reading the request and env) and RPC
// methods, with a helper module.
func pyWorkerCode() api.WorkerCode {
	return api.WorkerCode{MainModule: "main.py", Env: map[string]any{"TAG": "t1"}, Modules: map[string]api.Module{
		"main.py": {Content: []byte(`from workers import Response, WorkerEntrypoint
import util

calls = 0

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        global calls
        calls += 1
        print("handling", request.method)
        body = await request.text() if request.method not in ("GET", "HEAD") else ""
        return Response.json({"url": request.url, "method": request.method, "body": body,
                              "tag": self.env.TAG, "calls": calls, "auth": request.headers.get("authorization")})

    async def add(self, a, b):
        return util.add(a, b)

    async def boom(self):
        raise TypeError("kaput")

    async def spin(self):
        while True:
            pass
`)},
		"util.py": {Content: []byte("def add(a, b):\n    return a + b\n")},
	}}
}

// PUT /v1/workers/{id} stores a Python worker and /fetch, /call and /http invoke it, in
// process and in sandbox processes, with the same outcomes, statuses and typed errors as
// a JavaScript worker's; JavaScript beside Python is refused when it is stored.
func TestPythonWorkersOverHTTP(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{{"in process", Config{SandboxProcesses: -1}}, {"sandbox processes", Config{SandboxProcesses: 1}}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			ts := start(t, mode.cfg)
			if _, err := ts.c.PutWorker(ctx, "py", pyWorkerCode()); err != nil {
				t.Fatal(err)
			}
			out, err := ts.c.Fetch(ctx, "py", client.FetchRequest{Method: "POST", URL: "https://example.com/p?x=1",
				Headers: map[string]string{"Authorization": "mine"}, Body: "hi ✓"})
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			json.Unmarshal([]byte(*out.Body), &body)
			if !out.OK || out.Status != 200 || out.Headers["content-type"] != "application/json" || body["url"] != "https://example.com/p?x=1" ||
				body["body"] != "hi ✓" || body["tag"] != "t1" || body["auth"] != "mine" || body["calls"] != float64(1) ||
				len(out.Logs) != 1 || out.Logs[0].Message != "handling POST" {
				t.Fatalf("fetch: %+v %s", out, *out.Body)
			}
			out, err = ts.c.Call(ctx, "py", "add", 2, 40)
			if err != nil || string(out.Result) != "42" || out.Cold {
				t.Fatalf("call: %+v %v", out, err)
			}
			resp, err := ts.c.Forward(ctx, "py", "GET", "/a/b?c=d", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			json.Unmarshal(b, &body)
			if resp.StatusCode != 200 || !strings.HasSuffix(body["url"].(string), "/a/b?c=d") || body["calls"] != float64(2) {
				t.Fatalf("forward: %d %s", resp.StatusCode, b)
			}
			r := ts.raw(t, "POST", "/v1/workers/py/call/boom", nil, nil)
			var o loader.Outcome
			json.Unmarshal(r.body, &o)
			if r.status != 422 || o.OK || o.Error.Code != isoerr.WorkerException || o.Error.Message != "TypeError: kaput" {
				t.Fatalf("exception: %d %s", r.status, r.body)
			}
			_, err = ts.c.Call(ctx, "py", "spin")
			wantCode(t, err, isoerr.CPULimitExceeded)
			if out, err = ts.c.Call(ctx, "py", "nope"); err == nil {
				t.Fatalf("a method the worker lacks: %+v", out)
			}
			wantCode(t, err, isoerr.MethodNotFound)

			// A one-shot Python worker through POST /v1/run.
			run := map[string]any{"worker": pyWorkerCode(), "call": map[string]any{"method": "add", "args": []int{20, 22}}}
			if r := ts.raw(t, "POST", "/v1/run", mustMarshal(t, run), nil); r.status != 200 || !strings.Contains(string(r.body), `"result":42`) {
				t.Fatalf("run a Python worker: %d %s", r.status, r.body)
			}

			mixed := pyWorkerCode()
			mixed.Modules["lib.js"] = api.JS("export const x = 1")
			r = ts.raw(t, "PUT", "/v1/workers/mixed", mustMarshal(t, mixed), nil)
			if r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidWorkerCode || !strings.Contains(r.err.Message, "one language") {
				t.Fatalf("mixed languages: %d %s", r.status, r.body)
			}
			broken := pyWorkerCode()
			broken.Modules["util.py"] = api.Module{Content: []byte("def add(a, b):\n    return (a\n")}
			r = ts.raw(t, "PUT", "/v1/workers/broken", mustMarshal(t, broken), nil)
			if r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidWorkerCode || !strings.HasPrefix(r.err.Message, "util.py:2:") {
				t.Fatalf("syntax error at PUT: %d %s", r.status, r.body)
			}
			// New code under the id drops the warm Python sandbox.
			next := pyWorkerCode()
			next.Env = map[string]any{"TAG": "t2"}
			if _, err := ts.c.PutWorker(ctx, "py", next); err != nil {
				t.Fatal(err)
			}
			out, err = ts.c.Fetch(ctx, "py", client.FetchRequest{})
			json.Unmarshal([]byte(*out.Body), &body)
			if err != nil || body["tag"] != "t2" || body["calls"] != float64(1) {
				t.Fatalf("after PUT: %+v %v", out, err)
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A stored Python worker's fetch goes through the egress gateway like JavaScript's: its
// policy's secret is injected outside the sandbox and redacted from what the worker reads
// back; without a policy there is no network (an exception in the worker, egress_denied);
// in process and in sandbox processes.
func TestPythonWorkerEgress(t *testing.T) {
	const secret = "tok-py-8c1d2e3f4a-secret"
	var sawSecret atomic.Bool
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+secret {
			sawSecret.Store(true)
		}
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	defer echo.Close()
	u, _ := url.Parse(echo.URL)
	worker := func(policy string) []byte {
		src := "from workers import Response, fetch\n\nasync def on_fetch(request, env):\n" +
			"    r = await fetch(" + strconv.Quote(echo.URL+"/echo") + ", headers={'x-from': 'python'})\n" +
			"    return Response.json({'status': r.status, 'body': await r.text()})\n"
		b, _ := json.Marshal(map[string]any{"mainModule": "main.py", "modules": map[string]string{"main.py": src}, "globalOutbound": json.RawMessage(policy)})
		return b
	}
	allow := `{"rules":[{"action":"allow","host":"` + u.Hostname() + `","allowPrivate":true,"injectHeaders":{"Authorization":"Bearer {{secret:api_token}}"}}]}`
	for _, mode := range []struct {
		name string
		cfg  Config
	}{{"in process", Config{SandboxProcesses: -1}}, {"sandbox processes", Config{SandboxProcesses: 1}}} {
		t.Run(mode.name, func(t *testing.T) {
			sawSecret.Store(false)
			ts := start(t, mode.cfg)
			if r := ts.raw(t, "PUT", "/v1/secrets/api_token", []byte(`{"value":"`+secret+`"}`), nil); r.status != 204 {
				t.Fatalf("put secret: %d %s", r.status, r.body)
			}
			for id, policy := range map[string]string{"allowed": allow, "nopolicy": "null"} {
				if r := ts.raw(t, "PUT", "/v1/workers/"+id, worker(policy), nil); r.status != 201 {
					t.Fatalf("put %s: %d %s", id, r.status, r.body)
				}
			}
			res := ts.raw(t, "POST", "/v1/workers/allowed/fetch", []byte(`{}`), nil)
			if res.status != 200 || !sawSecret.Load() || strings.Contains(string(res.body), secret) || !strings.Contains(string(res.body), "[redacted]") ||
				!strings.Contains(string(res.body), `X-From\\\":[\\\"python`) {
				t.Fatalf("allowed fetch (upstream saw the secret: %v): %d %s", sawSecret.Load(), res.status, res.body)
			}
			res = ts.raw(t, "POST", "/v1/workers/nopolicy/fetch", []byte(`{}`), nil)
			if res.status == 200 || !strings.Contains(string(res.body), "egress_denied") {
				t.Fatalf("no policy: %d %s", res.status, res.body)
			}
			// A snippet's fetch is judged by the server's default policy (none here).
			run, _ := json.Marshal(map[string]string{"language": "python", "code": "from workers import fetch\nawait fetch(" + strconv.Quote(echo.URL) + ")"})
			res = ts.raw(t, "POST", "/v1/run", run, nil)
			if res.status == 200 || !strings.Contains(string(res.body), "egress_denied") {
				t.Fatalf("snippet without a default policy: %d %s", res.status, res.body)
			}
		})
	}
}
