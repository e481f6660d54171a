package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// pyWorker makes a Python worker's sandbox from .py sources (name -> source) and loads main.
func pyWorker(t *testing.T, cfg engine.SandboxConfig, main string, files map[string]string, env string) *engine.Sandbox {
	t.Helper()
	sb, err := newPyWorker(t, cfg, main, files, env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return sb
}

func newPyWorker(t *testing.T, cfg engine.SandboxConfig, main string, files map[string]string, env string) (*engine.Sandbox, error) {
	t.Helper()
	cfg.Python = true
	cfg.Modules = engine.ModuleMap{}
	for name, src := range files {
		cfg.Modules[name] = engine.Module{Type: engine.ModulePy, Content: []byte(src)}
	}
	sb, err := testEngine.NewSandbox(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewSandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	_, err = sb.Load(context.Background(), engine.Limits{}, main, json.RawMessage(env))
	return sb, err
}

const pyDefaultWorker = `from workers import Response, WorkerEntrypoint
import helpers
from pkg.util import shout

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        body = await request.text()
        return Response.json({
            "method": request.method, "url": request.url, "agent": request.headers.get("User-Agent"),
            "body": body, "greeting": self.env.GREETING, "nested": self.env.CONFIG["n"],
            "helper": helpers.double(21), "shout": shout("hi"), "props": self.ctx.props,
        }, status=201, headers={"X-Worker": "py"})

    async def add(self, a, b):
        return a + b

    def sync_method(self, xs):
        return {"sum": sum(xs), "tuple": (1, 2)}

    async def fails(self):
        raise ValueError("boom")

    async def not_json(self):
        return object()

class Admin(WorkerEntrypoint):
    async def whoami(self):
        return "admin"
`

func pyDefaultFiles() map[string]string {
	return map[string]string{
		"src/main.py":              pyDefaultWorker,
		"src/helpers.py":           "def double(x):\n    return 2 * x\n",
		"src/pkg/__init__.py":      "",
		"src/pkg/util.py":          "def shout(s):\n    return s.upper() + '!'\n",
		"src/unused.txt.py.bak":    "not python",
		"elsewhere/notimported.py": "raise RuntimeError('never imported')",
	}
}

func TestPythonWorkerFetchAndCall(t *testing.T) {
	ctx := context.Background()
	sb := pyWorker(t, engine.SandboxConfig{}, "src/main.py", pyDefaultFiles(), `{"GREETING": "hello", "CONFIG": {"n": 7}}`)
	res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "POST", URL: "https://example.com/p?q=1",
		Headers: [][2]string{{"User-Agent", "test"}}, Body: []byte("the body")}, json.RawMessage(`{"user": "ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 201 || !hasHeader(res.Headers, "x-worker", "py") || !hasHeader(res.Headers, "content-type", "application/json") {
		t.Fatalf("status %d headers %v", res.Status, res.Headers)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatalf("body %q: %v", res.Body, err)
	}
	want := `{"agent":"test","body":"the body","greeting":"hello","helper":42,"method":"POST","nested":7,"props":{"user":"ada"},"shout":"HI!","url":"https://example.com/p?q=1"}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Fatalf("body %s\nwant %s", b, want)
	}

	calls := []struct {
		entrypoint, method, args, want string
	}{
		{"", "add", `[2, 3]`, `5`},
		{"", "sync_method", `[[1, 2, 3]]`, `{"sum":6,"tuple":[1,2]}`},
		{"Admin", "whoami", ``, `"admin"`},
	}
	for _, c := range calls {
		res, err := sb.Call(ctx, engine.Limits{}, c.entrypoint, c.method, json.RawMessage(c.args), nil)
		if err != nil {
			t.Fatalf("%s.%s: %v", c.entrypoint, c.method, err)
		}
		if string(res.Value) != c.want {
			t.Fatalf("%s.%s = %s, want %s", c.entrypoint, c.method, res.Value, c.want)
		}
	}
}

func hasHeader(h [][2]string, k, v string) bool {
	for _, kv := range h {
		if strings.EqualFold(kv[0], k) && kv[1] == v {
			return true
		}
	}
	return false
}

// The failures of a Python worker have the codes JavaScript's have.
func TestPythonWorkerErrors(t *testing.T) {
	ctx := context.Background()
	sb := pyWorker(t, engine.SandboxConfig{}, "src/main.py", pyDefaultFiles(), `{"GREETING": "x", "CONFIG": {"n": 1}}`)
	tests := []struct {
		name, entrypoint, method string
		code                     isoerr.Code
		msg                      string
	}{
		{"exception", "", "fails", isoerr.WorkerException, "ValueError: boom"},
		{"result not JSON", "", "not_json", isoerr.WorkerException, "TypeError: the result cannot be returned as JSON"},
		{"missing method", "", "nope", isoerr.MethodNotFound, `the worker has no RPC method 'nope'`},
		{"private method", "", "_secret", isoerr.MethodNotFound, "cannot be called over RPC"},
		{"fetch over RPC", "", "fetch", isoerr.MethodNotFound, "cannot be called over RPC"},
		{"instance attribute", "", "env", isoerr.MethodNotFound, "no RPC method 'env'"},
		{"missing entrypoint", "Nope", "x", isoerr.MethodNotFound, `no entrypoint class named 'Nope'`},
		{"entrypoint that is not a WorkerEntrypoint", "shout", "x", isoerr.MethodNotFound, "not a class that extends WorkerEntrypoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sb.Call(ctx, engine.Limits{}, tt.entrypoint, tt.method, nil, nil)
			e := isoerr.As(err)
			if e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("err %v, want %s containing %q", err, tt.code, tt.msg)
			}
		})
	}
	_, err := sb.Call(ctx, engine.Limits{}, "", "fails", nil, nil)
	if st := isoerr.As(err).Stack; !strings.Contains(st, `File "src/main.py", line 21, in fails`) || !strings.Contains(st, `raise ValueError("boom")`) {
		t.Fatalf("stack %q lacks the worker's frame and line", st)
	}
	// The sandbox is still usable after its code's failures.
	if res, err := sb.Call(ctx, engine.Limits{}, "", "add", json.RawMessage(`[1, 1]`), nil); err != nil || string(res.Value) != "2" {
		t.Fatalf("after failures: %s %v", res.Value, err)
	}
}

func TestPythonWorkerOnFetchAndMissingHandler(t *testing.T) {
	ctx := context.Background()
	sb := pyWorker(t, engine.SandboxConfig{}, "main.py", map[string]string{"main.py": `from workers import Response
async def on_fetch(request, env):
    return Response("hi " + env.NAME + " " + request.method)
`}, `{"NAME": "ada"}`)
	res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Body) != "hi ada GET" || res.Status != 200 || !hasHeader(res.Headers, "content-type", "text/plain;charset=UTF-8") {
		t.Fatalf("got %d %v %q", res.Status, res.Headers, res.Body)
	}
	if _, err := sb.Call(ctx, engine.Limits{}, "", "x", nil, nil); isoerr.CodeOf(err) != isoerr.MethodNotFound {
		t.Fatalf("RPC without a Default class: %v, want method_not_found", err)
	}

	none := pyWorker(t, engine.SandboxConfig{}, "main.py", map[string]string{"main.py": "x = 1\n"}, "")
	_, err = none.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil)
	if e := isoerr.As(err); e.Code != isoerr.MethodNotFound || !strings.Contains(e.Message, "no fetch handler") {
		t.Fatalf("no handler: %v, want method_not_found", err)
	}

	bad := pyWorker(t, engine.SandboxConfig{}, "main.py", map[string]string{"main.py": "async def on_fetch(request, env):\n    return 'not a response'\n"}, "")
	_, err = bad.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil)
	if e := isoerr.As(err); e.Code != isoerr.WorkerException || !strings.Contains(e.Message, "must return a workers.Response") {
		t.Fatalf("bad answer: %v", err)
	}
}

func TestPythonWorkerLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		code  isoerr.Code
		msg   string
	}{
		{"syntax error", map[string]string{"main.py": "import helper\n", "helper.py": "def f(:\n"}, isoerr.InvalidWorkerCode, "helper.py:1:7: SyntaxError"},
		{"missing import", map[string]string{"main.py": "import not_there\n"}, isoerr.InvalidWorkerCode, "ModuleNotFoundError: No module named 'not_there'"},
		{"top-level exception", map[string]string{"main.py": "raise KeyError('k')\n"}, isoerr.WorkerException, "KeyError: 'k'"},
		{"no host files", map[string]string{"main.py": "open('/etc/passwd').read()\n"}, isoerr.WorkerException, "FileNotFoundError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newPyWorker(t, engine.SandboxConfig{}, "main.py", tt.files, "")
			if e := isoerr.As(err); e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("err %v, want %s containing %q", err, tt.code, tt.msg)
			}
		})
	}
	// A Python main needs a Python sandbox, and the other way round.
	js, err := testEngine.NewSandbox(context.Background(), engine.SandboxConfig{Modules: engine.ModuleMap{"main.py": {Type: engine.ModulePy, Content: []byte("x = 1")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close(context.Background())
	if _, err := js.Load(context.Background(), engine.Limits{}, "main.py", nil); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("a .py main in a JavaScript sandbox: %v, want invalid_request", err)
	}
}

// The limits hold in a worker's handlers as in snippets, and a limit breaks the sandbox.
func TestPythonWorkerLimits(t *testing.T) {
	ctx := context.Background()
	src := `from workers import Response, WorkerEntrypoint
import time
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
    def sleepy(self):
        time.sleep(60)
    def big(self):
        return "x" * 200000
    def hog(self):
        x = []
        while True:
            try:
                x.append(" " * 10**6)
            except MemoryError:
                pass
`
	sb := pyWorker(t, engine.SandboxConfig{}, "main.py", map[string]string{"main.py": src}, "")
	if _, err := sb.Call(ctx, engine.Limits{Output: 100000}, "", "big", nil, nil); isoerr.CodeOf(err) != isoerr.OutputLimitExceeded {
		t.Fatalf("big result: %v, want output_limit_exceeded", err)
	}
	if _, err := sb.Call(ctx, engine.Limits{Wall: 200 * time.Millisecond}, "", "sleepy", nil, nil); isoerr.CodeOf(err) != isoerr.WallTimeExceeded {
		t.Fatalf("sleep: %v, want wall_time_exceeded", err)
	}
	sb2 := pyWorker(t, engine.SandboxConfig{}, "main.py", map[string]string{"main.py": src}, "")
	_, err := sb2.Fetch(ctx, engine.Limits{CPU: 50 * time.Millisecond}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil)
	if isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("spin: %v, want cpu_limit_exceeded", err)
	}
	if _, err := sb2.Call(ctx, engine.Limits{}, "", "big", nil, nil); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("after the limit the sandbox is broken: %v", err)
	}
	sb3 := pyWorker(t, engine.SandboxConfig{Memory: 64 << 20}, "main.py", map[string]string{"main.py": src}, "")
	if _, err := sb3.Call(ctx, engine.Limits{CPU: 10 * time.Second}, "", "hog", nil, nil); isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Fatalf("hog: %v, want memory_limit_exceeded", err)
	}
}

// A Python worker's fetch goes through the sandbox's outbound, and its response can be
// passed straight back.
func TestPythonWorkerFetchesOut(t *testing.T) {
	srv := newPyServer(t)
	sb := pyWorker(t, engine.SandboxConfig{Outbound: http.DefaultTransport}, "main.py", map[string]string{"main.py": `from workers import WorkerEntrypoint, fetch
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await fetch(self.env.UPSTREAM + "/json")
`}, `{"UPSTREAM": "`+srv.URL+`"}`)
	res, err := sb.Fetch(context.Background(), engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 201 || !hasHeader(res.Headers, "x-answer", "42") || !strings.Contains(string(res.Body), "héllo") {
		t.Fatalf("got %d %v %q", res.Status, res.Headers, res.Body)
	}
}

// wait_until work runs after the response is made and before the invocation ends.
func TestPythonWorkerWaitUntil(t *testing.T) {
	sb := pyWorker(t, engine.SandboxConfig{}, "main.py", map[string]string{"main.py": `import asyncio
from workers import Response, WorkerEntrypoint
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        async def later():
            await asyncio.sleep(0.01)
            print("later ran")
        self.ctx.wait_until(later())
        return Response("now")
`}, "")
	res, err := sb.Fetch(context.Background(), engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Body) != "now" || len(res.Logs) != 1 || res.Logs[0].Message != "later ran" {
		t.Fatalf("body %q logs %v", res.Body, res.Logs)
	}
}

// A loaded Python worker survives Snapshot/Restore and Fork: the restored sandbox serves
// requests without loading again, and keeps module state.
func TestPythonWorkerSnapshot(t *testing.T) {
	ctx := context.Background()
	sb := pyWorker(t, engine.SandboxConfig{}, "main.py", map[string]string{"main.py": `from workers import WorkerEntrypoint
import random
count = 0
class Default(WorkerEntrypoint):
    def bump(self):
        global count
        count += 1
        return count
    def draw(self):
        return random.random()
`}, "")
	if res, err := sb.Call(ctx, engine.Limits{}, "", "bump", nil, nil); err != nil || string(res.Value) != "1" {
		t.Fatalf("bump: %s %v", res.Value, err)
	}
	b := marshalImage(t, sb)
	img2, err := testEngine.UnmarshalPythonImage(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := testEngine.Restore(ctx, img2, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if res, err := r.Call(ctx, engine.Limits{}, "", "bump", nil, nil); err != nil || string(res.Value) != "2" {
		t.Fatalf("restored bump: %s %v", res.Value, err)
	}
	f, err := sb.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	d1, err1 := f.Call(ctx, engine.Limits{}, "", "draw", nil, nil)
	d2, err2 := sb.Call(ctx, engine.Limits{}, "", "draw", nil, nil)
	if err1 != nil || err2 != nil || string(d1.Value) == string(d2.Value) {
		t.Fatalf("fork and parent draw %s %s (%v %v): the fork must be reseeded", d1.Value, d2.Value, err1, err2)
	}
}

// env.FS from Python against an in-memory filesystem binding.
func TestPythonWorkerFS(t *testing.T) {
	var mu sync.Mutex
	files := map[string]string{}
	fs := func(ctx context.Context, binding, op string, args json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		var a struct {
			Path, Data, Encoding string
			Base64, Append       bool
		}
		_ = json.Unmarshal(args, &a)
		switch op {
		case "write":
			if binding != "FS" {
				return nil, errors.New("read_only: binding " + binding + " is read-only")
			}
			if a.Append {
				files[a.Path] += a.Data
			} else {
				files[a.Path] = a.Data
			}
			return json.Marshal(map[string]any{"path": a.Path, "size": len(files[a.Path])})
		case "read":
			d, ok := files[a.Path]
			if !ok {
				return nil, errors.New("not_found: " + a.Path + " does not exist")
			}
			return json.Marshal(map[string]string{"data": d, "etag": "e"})
		case "stat":
			if _, ok := files[a.Path]; !ok {
				return json.RawMessage("null"), nil
			}
			return json.Marshal(map[string]any{"path": a.Path, "type": "file"})
		}
		return nil, errors.New("invalid_request: unsupported op " + op)
	}
	sb := pyWorker(t, engine.SandboxConfig{FS: fs, FSBindings: []string{"FS", "RO"}}, "main.py", map[string]string{"main.py": `from workers import WorkerEntrypoint, FSError
class Default(WorkerEntrypoint):
    async def run(self):
        fs = self.env.FS
        await fs.write_file("/a.txt", "hello")
        await fs.appendFile("/a.txt", " world")
        await fs.write_json("/b.json", {"k": [1, 2]})
        out = [await fs.read_file("/a.txt"), await fs.read_json("/b.json"), await fs.exists("/a.txt"), await fs.exists("/nope")]
        try:
            await fs.read_file("/nope")
        except FileNotFoundError as e:
            out.append([type(e).__name__, e.code])
        try:
            await self.env.RO.write_file("/x", "y")
        except PermissionError as e:
            out.append(e.code)
        try:
            await fs.op("mkdir", path="/d")
        except FSError as e:
            out.append(e.code)
        try:
            await fs.op("no_such_op")
        except TypeError as e:
            out.append(str(e))
        return out
`}, "")
	res, err := sb.Call(context.Background(), engine.Limits{}, "", "run", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `["hello world",{"k":[1,2]},true,false,["FSNotFoundError","not_found"],"read_only","invalid_request","unknown asynchronous operation \"fs_no_such_op\""]`
	if string(res.Value) != want {
		t.Fatalf("got %s\nwant %s", res.Value, want)
	}
	// Without SandboxConfig.FS a binding's call is a TypeError.
	nofs := pyWorker(t, engine.SandboxConfig{FSBindings: []string{"FS"}}, "main.py", map[string]string{"main.py": `from workers import WorkerEntrypoint
class Default(WorkerEntrypoint):
    async def run(self):
        try:
            await self.env.FS.read_file("/a")
        except TypeError as e:
            return str(e)
`}, "")
	res, err = nofs.Call(context.Background(), engine.Limits{}, "", "run", nil, nil)
	if err != nil || string(res.Value) != `"no filesystem bindings are available in this sandbox"` {
		t.Fatalf("no FS: %s %v", res.Value, err)
	}
}

// Engine.Compile of a Python worker compiles every .py module without running any.
func TestPythonWorkerCompile(t *testing.T) {
	ctx := context.Background()
	mods := func(files map[string]string) engine.ModuleMap {
		m := engine.ModuleMap{}
		for k, v := range files {
			m[k] = engine.Module{Type: engine.ModulePy, Content: []byte(v)}
		}
		return m
	}
	lim := engine.Limits{CPU: 5 * time.Second}
	if err := testEngine.Compile(ctx, lim, mods(map[string]string{"main.py": "import not_checked\nraise SystemExit('never runs')\n", "lib/a.py": "x = 1\n"}), "main.py"); err != nil {
		t.Fatalf("good code: %v", err)
	}
	err := testEngine.Compile(ctx, lim, mods(map[string]string{"main.py": "x = 1\n", "lib/a.py": "def f(:\n    pass\n"}), "main.py")
	if e := isoerr.As(err); e.Code != isoerr.InvalidWorkerCode || !strings.HasPrefix(e.Message, "lib/a.py:1:7: SyntaxError:") {
		t.Fatalf("syntax error: %v, want invalid_worker_code at lib/a.py:1:7", err)
	}
}
