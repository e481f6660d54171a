package loader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// pyCounter is a Python worker with module state: a fetch handler and RPC methods, and a
// helper module imported by name.
const pyCounter = `from workers import Response, WorkerEntrypoint
import util

calls = 0

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        global calls
        calls += 1
        return Response(util.label(calls) + " " + request.method + " " + request.url, headers={"x-n": str(calls)})

    async def increment(self, by=1):
        global calls
        calls += by
        return calls

    async def spin(self):
        while True:
            pass

    async def boom(self):
        raise ValueError("boom")
`

func pyCode(main string) loader.WorkerCode {
	return loader.WorkerCode{MainModule: "main.py", Modules: map[string]loader.Module{
		"main.py": {Content: []byte(main)},
		"util.py": {Content: []byte("def label(n):\n    return f'call {n}'\n")},
	}}
}

// A worker whose main module is .py loads as a Python worker: fetch and RPC through a
// stub, module state kept between the calls of a warm sandbox, Cold and the loader's
// statistics as for JavaScript.
func TestPythonWorker(t *testing.T) {
	ctx := context.Background()
	l := newLoader(t, loader.Config{})
	var fetched atomic.Int32
	codeFn := func() (loader.WorkerCode, error) { fetched.Add(1); return pyCode(pyCounter), nil }
	s := l.Get("py", codeFn)
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://example.test/a?b=1", strings.NewReader("x"))
	res, err := s.Fetch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Body); res.Status != 200 || got != "call 1 POST http://example.test/a?b=1" || !res.Cold {
		t.Fatalf("fetch: %d %q cold %v", res.Status, got, res.Cold)
	}
	for i, want := range []string{"3", "8"} {
		res, got := call(t, s, "increment", []string{"[2]", "[5]"}[i])
		if got != want || res.Cold {
			t.Fatalf("increment %d: %s cold %v", i, got, res.Cold)
		}
	}
	if st := l.Stats(); st.Workers != 1 || st.IdleSandboxes != 1 || st.IdleMemory == 0 {
		t.Fatalf("stats %+v", st)
	}
	if fetched.Load() != 1 {
		t.Fatalf("code fetched %d times", fetched.Load())
	}
	// A one-shot Load is a Python worker of its own.
	one := l.Load(pyCode(pyCounter))
	defer one.Close(ctx)
	if _, got := call(t, one, "increment", "[]"); got != "1" {
		t.Fatalf("one-shot: %s", got)
	}
}

// A Python worker's errors and limits are JavaScript's: its exception as
// worker_exception (with the traceback), a loop as cpu_limit_exceeded (and the broken
// sandbox dropped), a method it lacks as method_not_found, code that does not compile
// as invalid_worker_code.
func TestPythonWorkerErrors(t *testing.T) {
	ctx := context.Background()
	l := newLoader(t, loader.Config{})
	s := l.Get("pyerr", func() (loader.WorkerCode, error) { return pyCode(pyCounter), nil })
	_, err := s.Call(ctx, "boom", nil)
	if e := isoerr.As(err); e.Code != isoerr.WorkerException || e.Message != "ValueError: boom" || !strings.Contains(e.Stack, "Traceback") {
		t.Fatalf("boom: %v (stack %q)", err, e.Stack)
	}
	lim := loader.Limits{CPUMs: 50}
	c := pyCode(pyCounter)
	c.Limits = &lim
	spin := l.Get("pyspin", func() (loader.WorkerCode, error) { return c, nil })
	start := time.Now()
	if _, err := spin.Call(ctx, "spin", nil); isoerr.As(err).Code != isoerr.CPULimitExceeded {
		t.Fatalf("spin: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("spin took %v", d)
	}
	if _, got := call(t, spin, "increment", "[]"); got != "1" { // a new sandbox: the broken one was dropped
		t.Fatalf("after the limit: %s", got)
	}
	if _, err := s.Call(ctx, "nope", nil); isoerr.As(err).Code != isoerr.MethodNotFound {
		t.Fatalf("nope: %v", err)
	}
	bad := l.Get("pybad", func() (loader.WorkerCode, error) { return pyCode("def (:\n"), nil })
	if _, err := bad.Call(ctx, "x", nil); isoerr.As(err).Code != isoerr.InvalidWorkerCode {
		t.Fatalf("syntax error: %v", err)
	}
}

// A worker's code is in one language: JavaScript beside a Python main module (or Python
// beside a JavaScript one) is invalid_worker_code naming the module, before anything runs.
func TestMixedLanguagesAreRefused(t *testing.T) {
	py := pyCode(pyCounter)
	py.Modules["lib.js"] = loader.JS("export const x = 1")
	js := code(counter)
	js.Modules["lib.py"] = loader.Module{Content: []byte("x = 1\n")}
	for _, c := range []struct {
		code loader.WorkerCode
		want string
	}{{py, `module "lib.js" is JavaScript, but the main module "main.py" is Python`}, {js, `module "lib.py" is Python, but the main module "main.js" is JavaScript`}} {
		err := c.code.Validate()
		if e := isoerr.As(err); e.Code != isoerr.InvalidWorkerCode || !strings.Contains(e.Message, c.want) {
			t.Fatalf("%v, want invalid_worker_code %q", err, c.want)
		}
	}
	// Text and JSON modules go with either language.
	ok := pyCode(pyCounter)
	ok.Modules["data.json"] = loader.Module{Type: "json", Content: []byte(`{"a":1}`)}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Per-code images and hibernation keep a Python worker's state as they do a JavaScript
// worker's.
func TestPythonWorkerImages(t *testing.T) {
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, loader.Config{Images: dir, IdleTTL: 30 * time.Millisecond})
	codeFn := func() (loader.WorkerCode, error) { return pyCode(pyCounter), nil }
	for i := 1; i <= 3; i++ {
		call(t, l.Get("h", codeFn), "increment", "[]")
	}
	waitFor(t, func() bool { return l.Stats().Hibernated == 1 })
	res, got := call(t, l.Get("h", codeFn), "increment", "[]")
	if got != "4" || !res.Resumed {
		t.Fatalf("resume: counter %s resumed %v", got, res.Resumed)
	}
	// Closing the loader hibernates what is idle; a new loader resumes it.
	l.Close(context.Background())
	l = newLoader(t, loader.Config{Images: dir, IdleTTL: 30 * time.Millisecond})
	res, got = call(t, l.Get("h", codeFn), "increment", "[]")
	if got != "5" || !res.Resumed {
		t.Fatalf("after restart: counter %s resumed %v", got, res.Resumed)
	}
	// A code loaded a second time keeps an image, from which the later loads start.
	for i, want := range []bool{false, false, true} {
		id := fmt.Sprint("seen", i)
		res, got := call(t, l.Get(id, codeFn), "increment", "[]")
		if got != "1" || res.Restored != want {
			t.Fatalf("load %d: %s restored %v, want %v", i+1, got, res.Restored, want)
		}
		l.Forget(context.Background(), id)
	}
}

// An idle Python worker is trimmed like a JavaScript one and keeps working after it.
func TestPythonWorkerTrim(t *testing.T) {
	ctx := context.Background()
	l := newLoader(t, loader.Config{})
	s := l.Get("trim", func() (loader.WorkerCode, error) { return pyCode(pyCounter), nil })
	call(t, s, "increment", "[]")
	before := l.Stats().IdleMemory
	l.TrimIdle()
	if after := l.Stats().IdleMemory; after > before {
		t.Fatalf("trim grew the idle memory: %d -> %d", before, after)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://x/", nil)
	res, err := s.Fetch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(strings.NewReader(string(res.Body))); string(b) != "call 2 GET http://x/" {
		t.Fatalf("after trim: %q", b)
	}
}

// Compile (what the server runs before it stores a worker) checks a Python worker with
// CPython's compiler: a syntax error in any module is invalid_worker_code naming the file,
// line and column, and nothing of the code runs.
func TestPythonCompileCheck(t *testing.T) {
	ctx := context.Background()
	l := newLoader(t, loader.Config{})
	if err := l.Compile(ctx, pyCode(pyCounter)); err != nil {
		t.Fatalf("good code: %v", err)
	}
	runs := pyCode("raise SystemExit('ran')\n")
	if err := l.Compile(ctx, runs); err != nil {
		t.Fatalf("code that raises when run is still code that compiles: %v", err)
	}
	bad := pyCode(pyCounter)
	bad.Modules["util.py"] = loader.Module{Content: []byte("def label(n):\n    return (n\n")}
	err := l.Compile(ctx, bad)
	if e := isoerr.As(err); e.Code != isoerr.InvalidWorkerCode || !strings.HasPrefix(e.Message, "util.py:2:") || !strings.Contains(e.Message, "SyntaxError") {
		t.Fatalf("syntax error: %v", err)
	}
}

// WorkerCode.Outbound carries a Python worker's fetch (and EvalOptions.Outbound a Python
// snippet's); without it, fetch fails inside the code.
func TestPythonWorkerFetch(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream saw %s %s", r.Method, r.URL.Path)
	}))
	defer srv.Close()
	l := newLoader(t, loader.Config{})
	c := pyCode(`from workers import Response, WorkerEntrypoint, fetch

class Default(WorkerEntrypoint):
    async def get(self, url):
        r = await fetch(url, method="POST", body="x")
        return [r.status, await r.text()]
`)
	c.Outbound = http.DefaultTransport
	s := l.Load(c)
	defer s.Close(ctx)
	res, err := s.Call(ctx, "get", json.RawMessage(`["`+srv.URL+`/p"]`))
	if err != nil || string(res.Value) != `[200,"upstream saw POST /p"]` {
		t.Fatalf("worker fetch: %v %v", res, err)
	}
	c.Outbound = nil
	none := l.Load(c)
	defer none.Close(ctx)
	if _, err := none.Call(ctx, "get", json.RawMessage(`["`+srv.URL+`/p"]`)); isoerr.As(err).Code != isoerr.WorkerException {
		t.Fatalf("fetch without Outbound: %v", err)
	}
	r, err := l.Eval(ctx, "from workers import fetch\nr = await fetch("+strconv.Quote(srv.URL+"/s")+")\nawait r.text()",
		loader.EvalOptions{Python: true, Outbound: http.DefaultTransport})
	if err != nil || string(r.Value) != `"upstream saw GET /s"` {
		t.Fatalf("snippet fetch: %v %v", r, err)
	}
}
