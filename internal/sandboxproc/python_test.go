package sandboxproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// warmPython makes the Python base image in the cache directory the processes share:
// under -race it takes longer than a call's budget.
func warmPython(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	sb, err := e.NewPythonSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sb.Close(ctx)
}

// A Python snippet in a worker process calls tools that run in the supervisor, as a
// JavaScript one does: concurrently, with JSON in and out, a tool's error raised in the
// snippet with its message.
func TestPoolPythonToolCalls(t *testing.T) {
	warmPython(t)
	p := newPool(t, 1)
	tools := func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
		switch name {
		case "double":
			var in struct{ N int }
			if err := json.Unmarshal(args, &in); err != nil {
				return nil, err
			}
			return json.RawMessage(fmt.Sprint(in.N * 2)), nil
		case "fail":
			return nil, errors.New("fail: the tool broke")
		}
		return nil, fmt.Errorf("no tool %q", name)
	}
	code := `import asyncio, isobox
vals = await asyncio.gather(*(isobox.tool("double", {"n": i}) for i in (1, 2, 3)))
try:
    await isobox.tool("fail", {})
    msg = None
except Exception as e:
    msg = str(e)
{"vals": vals, "msg": msg}`
	res, err := p.Eval(context.Background(), code, loader.EvalOptions{Tools: tools, Python: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Value) != `{"vals":[2,4,6],"msg":"fail: the tool broke"}` {
		t.Fatalf("got %s", res.Value)
	}
}

// A Python worker runs in a worker process: fetch and RPC through the pool's stubs, its
// module state kept warm there, and a loop stopped at the CPU limit.
func TestPoolPythonWorker(t *testing.T) {
	warmPython(t)
	p := newPool(t, 1)
	ctx := context.Background()
	code := loader.WorkerCode{MainModule: "main.py", Modules: map[string]loader.Module{"main.py": {Content: []byte(`from workers import Response, WorkerEntrypoint
n = 0
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("py " + request.method, status=202)
    async def incr(self):
        global n
        n += 1
        return n
    async def spin(self):
        while True:
            pass
`)}}}
	s := p.Get("pyw", func() (loader.WorkerCode, error) { return code, nil })
	req, _ := http.NewRequestWithContext(ctx, "PUT", "http://x/", strings.NewReader("b"))
	res, err := s.Fetch(ctx, req)
	if err != nil || res.Status != 202 || string(res.Body) != "py PUT" {
		t.Fatalf("fetch: %+v %v", res, err)
	}
	for want := 1; want <= 2; want++ {
		res, err := s.Call(ctx, "incr", nil)
		if err != nil || string(res.Value) != fmt.Sprint(want) {
			t.Fatalf("incr: %+v %v", res, err)
		}
	}
	lim := loader.Limits{CPUMs: 50}
	code.Limits = &lim
	spin := p.Get("pyspin", func() (loader.WorkerCode, error) { return code, nil })
	if _, err := spin.Call(ctx, "spin", nil); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("spin: %v", err)
	}
}

// The first Python snippet of a new sandbox process runs within its CPU limit: Python's
// start in that process (loading CPython's compiled module, reading or making its base
// image: ~0.3 s of CPU with a warm cache, more without its image, as here) is not charged
// to the snippet, neither by the engine nor by the watchdog. The watchdog counted it, so
// the first Python snippet of every new process overran its bound and was killed as
// cpu_limit_exceeded, and then the first of the process that replaced it, and so on.
func TestPoolPythonStartNotChargedToFirstSnippet(t *testing.T) {
	p := startPool(t, Config{Processes: 1, Command: testCommand, CacheDir: enginetest.FreshCacheDir(t), ImagesDir: t.TempDir(),
		// 250 ms: 20 times what `1 + 1` takes, less than Python's start in the process.
		Defaults: engine.Limits{CPU: 250 * time.Millisecond}, Logger: slog.New(slog.DiscardHandler)})
	res, err := p.Eval(context.Background(), "1 + 1", loader.EvalOptions{Python: true})
	if err != nil || string(res.Value) != "2" {
		t.Fatalf("first Python snippet of the process: %+v %v", res, err)
	}
	if n := p.Kills(); n != 0 {
		t.Fatalf("the watchdog killed %d processes", n)
	}
}

// The check a Python worker gets before it is stored (Compile) runs within its CPU bound
// in a new sandbox process: Python's start there (here with its base image still to make)
// is not charged to the check. It was, and under -race on a busy machine the first PUT of
// a Python worker to a new process failed as cpu_limit_exceeded.
func TestPoolPythonStartNotChargedToCompile(t *testing.T) {
	p := startPool(t, Config{Processes: 1, Command: testCommand, CacheDir: enginetest.FreshCacheDir(t), ImagesDir: t.TempDir(),
		Logger: slog.New(slog.DiscardHandler)})
	code := loader.WorkerCode{MainModule: "main.py", Modules: map[string]loader.Module{
		"main.py": {Content: []byte("from workers import WorkerEntrypoint\nclass Default(WorkerEntrypoint):\n    async def add(self, a, b):\n        return a + b\n")}}}
	if err := p.Compile(context.Background(), code); err != nil {
		t.Fatalf("compile check of the process's first Python worker: %v", err)
	}
	if n := p.Kills(); n != 0 {
		t.Fatalf("the watchdog killed %d processes", n)
	}
	code.Modules["main.py"] = loader.Module{Content: []byte("def broken(:\n")}
	if err := p.Compile(context.Background(), code); isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
		t.Fatalf("a syntax error: %v", err)
	}
}
