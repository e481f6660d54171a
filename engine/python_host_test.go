package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// pyServer is a real HTTP server on 127.0.0.1 for the Python sandboxes' fetches: /json
// answers JSON and a header, /echo the request, /slow waits for a second request to be in
// flight at once, /hang never answers (/hanging counts those whose client is still there).
type pyServer struct {
	*httptest.Server
	inFlight, maxInFlight atomic.Int32
	hanging               atomic.Int32 // /hang requests not yet given up by their client
}

func newPyServer(t *testing.T) *pyServer {
	t.Helper()
	s := &pyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Answer", "42")
			w.WriteHeader(201)
			fmt.Fprint(w, `{"greeting": "héllo", "n": [1, 2]}`)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.RawQuery, r.Header.Get("X-Test"), b)
		case "/slow":
			// Two requests that are both in flight at once prove the fetches ran
			// concurrently: each waits (up to 10 s) for the other to arrive.
			n := s.inFlight.Add(1)
			defer s.inFlight.Add(-1)
			for {
				if m := s.maxInFlight.Load(); n <= m || s.maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			deadline := time.After(time.Minute) // a hang guard: the second fetch must arrive
			for s.maxInFlight.Load() < 2 {
				select {
				case <-deadline:
					fmt.Fprint(w, "alone")
					return
				case <-r.Context().Done():
					return
				case <-time.After(time.Millisecond):
				}
			}
			fmt.Fprint(w, "together "+r.URL.RawQuery)
		case "/hang":
			s.hanging.Add(1)
			defer s.hanging.Add(-1)
			<-r.Context().Done()
		case "/hanging":
			fmt.Fprint(w, s.hanging.Load())
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func pyEvalWith(t *testing.T, cfg engine.SandboxConfig, lim engine.Limits, code string) (*engine.Result, error) {
	t.Helper()
	return newPySandbox(t, cfg).Eval(context.Background(), lim, code)
}

func TestPythonFetch(t *testing.T) {
	srv := newPyServer(t)
	cfg := engine.SandboxConfig{Outbound: http.DefaultTransport}
	tests := []struct{ name, code, want string }{
		{"status, headers, json", `from workers import fetch
r = await fetch("` + srv.URL + `/json")
[r.status, r.ok, r.headers["x-answer"], r.headers.get("Content-Type"), await r.json()]`,
			`[201,true,"42","application/json",{"greeting":"héllo","n":[1,2]}]`},
		{"text, method, headers and body", `from workers import fetch
r = await fetch("` + srv.URL + `/echo?q=1", method="post", headers={"X-Test": "yes"}, body="payload")
await r.text()`, `"POST q=1 yes payload"`},
		{"bytes body", `from workers import fetch
r = await fetch("` + srv.URL + `/echo", method="PUT", body=b"\x00\x01")
await r.bytes()`, `"b'PUT   \\x00\\x01'"`},
		{"two fetches at once under gather", `import asyncio
from workers import fetch
async def get(q):
    return await (await fetch("` + srv.URL + `/slow?" + q)).text()
await asyncio.gather(get("a"), get("b"))`, `["together a","together b"]`},
		{"asyncio.run in a snippet", `import asyncio
from workers import fetch
async def main():
    return (await fetch("` + srv.URL + `/json")).status
asyncio.run(main())`, `201`},
		{"timers and fetches interleave", `import asyncio
from workers import fetch
order = []
async def tick():
    await asyncio.sleep(0.01)
    order.append("tick")
async def get():
    await (await fetch("` + srv.URL + `/json")).text()
    order.append("fetch")
await asyncio.gather(tick(), get())
sorted(order)`, `["fetch","tick"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := pyEvalWith(t, cfg, engine.Limits{}, tt.code)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if string(res.Value) != tt.want {
				t.Fatalf("got %s, want %s", res.Value, tt.want)
			}
		})
	}
}

// Without outbound access fetch raises a TypeError the code can catch; the sandbox is fine.
func TestPythonFetchWithoutNetwork(t *testing.T) {
	sb := newPySandbox(t, engine.SandboxConfig{})
	res, err := sb.Eval(context.Background(), engine.Limits{}, `from workers import fetch
try:
    await fetch("http://127.0.0.1:1/")
    r = "fetched"
except TypeError as e:
    r = "TypeError: " + str(e)
r`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.Value), "TypeError: fetch() is not permitted") {
		t.Fatalf("got %s", res.Value)
	}
	// Uncaught, it is the snippet's exception.
	_, err = sb.Eval(context.Background(), engine.Limits{}, `from workers import fetch
await fetch("http://127.0.0.1:1/")`)
	if e := isoerr.As(err); e.Code != isoerr.WorkerException || !strings.HasPrefix(e.Message, "TypeError: fetch() is not permitted") {
		t.Fatalf("err %v, want worker_exception TypeError", err)
	}
}

// A fetch that never answers ends at the wall-time limit; cancelling the caller's context
// ends it as canceled. Neither can be caught by the code.
func TestPythonFetchLimits(t *testing.T) {
	srv := newPyServer(t)
	cfg := engine.SandboxConfig{Outbound: http.DefaultTransport}
	hang := `from workers import fetch
await fetch("` + srv.URL + `/hang")`
	t.Run("wall", func(t *testing.T) {
		_, err := pyEvalWith(t, cfg, engine.Limits{Wall: 300 * time.Millisecond}, hang)
		if isoerr.As(err).Code != isoerr.WallTimeExceeded {
			t.Fatalf("err %v, want wall_time_exceeded", err)
		}
	})
	t.Run("wall, with except BaseException around the fetch", func(t *testing.T) {
		res, err := pyEvalWith(t, cfg, engine.Limits{Wall: 300 * time.Millisecond}, `from workers import fetch
while True:
    try:
        await fetch("`+srv.URL+`/hang")
    except BaseException as e:
        print("caught", type(e).__name__)`)
		if isoerr.As(err).Code != isoerr.WallTimeExceeded {
			t.Fatalf("err %v, want wall_time_exceeded", err)
		}
		if len(res.Logs) != 0 {
			t.Fatalf("the code caught the stop: %v", res.Logs)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		sb := newPySandbox(t, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := sb.Eval(ctx, engine.Limits{Wall: time.Minute}, hang)
		if isoerr.As(err).Code != isoerr.Canceled {
			t.Fatalf("err %v, want canceled", err)
		}
	})
	t.Run("asyncio.sleep past the wall limit", func(t *testing.T) {
		_, err := pyEvalWith(t, engine.SandboxConfig{}, engine.Limits{Wall: 300 * time.Millisecond}, "import asyncio\nawait asyncio.sleep(60)")
		if isoerr.As(err).Code != isoerr.WallTimeExceeded {
			t.Fatalf("err %v, want wall_time_exceeded", err)
		}
	})
	t.Run("waiting for nothing", func(t *testing.T) {
		_, err := pyEvalWith(t, engine.SandboxConfig{}, engine.Limits{}, "import asyncio\nawait asyncio.get_running_loop().create_future()")
		if isoerr.As(err).Code != isoerr.NoResponse {
			t.Fatalf("err %v, want no_response", err)
		}
	})
}

// A cancelled task drops its fetch on the host (op_cancel: the request is abandoned while
// the invocation still runs), and the snippet carries on.
func TestPythonFetchCancelledTask(t *testing.T) {
	srv := newPyServer(t)
	res, err := pyEvalWith(t, engine.SandboxConfig{Outbound: http.DefaultTransport}, engine.Limits{Wall: 20 * time.Second, SubRequests: 1000}, `import asyncio
from workers import fetch
try:
    await asyncio.wait_for(fetch("`+srv.URL+`/hang"), 0.1)
    r = "answered"
except TimeoutError:
    r = "timed out"
for _ in range(200):  # the server sees the abandoned request end (up to 10 s)
    still = await (await fetch("`+srv.URL+`/hanging")).text()
    if still == "0":
        break
    await asyncio.sleep(0.05)
[r, still, (await fetch("`+srv.URL+`/json")).status]`)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Value) != `["timed out","0",201]` {
		t.Fatalf("got %s", res.Value)
	}
}

// Code Mode's mechanism: a Python snippet awaits the host's tools concurrently and gets
// their results and errors.
func TestPythonTools(t *testing.T) {
	var inFlight, most atomic.Int32
	tools := func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		switch name {
		case "add":
			var a struct{ A, B int }
			if err := json.Unmarshal(args, &a); err != nil {
				return nil, err
			}
			// Wait (briefly) for the other call, so that the two overlap.
			for i := 0; i < 2000 && most.Load() < 2; i++ {
				time.Sleep(time.Millisecond)
			}
			return json.Marshal(a.A + a.B)
		case "fail":
			return nil, errors.New("not_found: no such record")
		}
		return nil, fmt.Errorf("unknown tool %q", name)
	}
	cfg := engine.SandboxConfig{Tools: tools}
	res, err := pyEvalWith(t, cfg, engine.Limits{}, `import asyncio
from isobox import tools, tool, IsoboxError
a, b = await asyncio.gather(tools.add(a=1, b=2), tool("add", {"a": 10, "b": 20}))
try:
    await tools["fail"]()
    e = None
except IsoboxError as x:
    e = [x.code, str(x)]
[a, b, e]`)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Value) != `[3,30,["not_found","not_found: no such record"]]` {
		t.Fatalf("got %s", res.Value)
	}
	if most.Load() < 2 {
		t.Fatalf("the tool calls did not overlap (most in flight: %d)", most.Load())
	}
	// Without Tools, calling one is a TypeError.
	res, err = pyEvalWith(t, engine.SandboxConfig{}, engine.Limits{}, `from isobox import tools
try:
    await tools.add(a=1)
except TypeError as e:
    r = str(e)
r`)
	if err != nil || string(res.Value) != `"no tools are available in this sandbox"` {
		t.Fatalf("got %s %v", res.Value, err)
	}
}

// The guest's raw way to the host: garbage op names and payloads are Python exceptions,
// never a host failure, and the sandbox stays usable.
func TestPythonHostCallHostile(t *testing.T) {
	sb := newPySandbox(t, engine.SandboxConfig{})
	res, err := sb.Eval(context.Background(), engine.Limits{}, `import _isobox
out = []
for op, data in [("nope", b""), ("op_start", b"{garbage"), ("op_start", b'{"id":1,"kind":"nope"}'), ("op_wait", b"[]"),
                 ("op_cancel", b"\xff"), ("random", b"99999999"), ("x" * 1000, b""), ("body_read", b"{}"),
                 ("complete", b""), ("op_wait", b'{"timeoutMs": 0}')]:
    try:
        _isobox.call(op, data)
        out.append("ok")
    except Exception as e:
        out.append(type(e).__name__)
try:
    _isobox.call("console", b"x" * (64 << 20))
except BaseException as e:
    out.append(type(e).__name__)
try:
    _isobox.call(1, 2)
except TypeError:
    out.append("TypeError")
out`)
	if err != nil {
		t.Fatal(err)
	}
	want := `["HostError","HostError","HostError","HostError","HostError","HostError","ValueError","HostError","ok","ok","HostError","TypeError"]`
	if string(res.Value) != want {
		t.Fatalf("got %s\nwant %s", res.Value, want)
	}
	if _, err := sb.Eval(context.Background(), engine.Limits{}, "1 + 1"); err != nil {
		t.Fatalf("the sandbox broke: %v", err)
	}
	// An absurd wait is still bounded by the wall-time limit.
	_, err = pyEvalWith(t, engine.SandboxConfig{}, engine.Limits{Wall: 200 * time.Millisecond}, `import _isobox
_isobox.call("op_wait", b'{"timeoutMs": 1e300}')`)
	if isoerr.CodeOf(err) != isoerr.WallTimeExceeded {
		t.Fatalf("huge op_wait: %v, want wall_time_exceeded", err)
	}
}

// Tasks a snippet's statements create run on the same event loop as its last expression,
// which can await them.
func TestPythonTasksAcrossTheSnippet(t *testing.T) {
	res, err := pyEval(t, engine.Limits{}, `import asyncio
async def f(x):
    await asyncio.sleep(0.01)
    return x
t1 = asyncio.create_task(f(1))
t2 = asyncio.create_task(f(2))
[await t1, await t2]`)
	if err != nil || string(res.Value) != "[1,2]" {
		t.Fatalf("got %s %v", res.Value, err)
	}
	// Without a top-level await the snippet is plain code, and may run its own loop.
	res, err = pyEval(t, engine.Limits{}, "import asyncio\nasync def g():\n    return 5\nasyncio.run(g())")
	if err != nil || string(res.Value) != "5" {
		t.Fatalf("asyncio.run: %s %v", res.Value, err)
	}
}

// A tool call the code started and did not await still finishes before the invocation
// ends (as in JavaScript), and the logs say so; a worker's handler gets the same.
func TestPythonUnawaitedToolCallFinishes(t *testing.T) {
	var finished atomic.Int32
	tools := func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
		select {
		case <-time.After(50 * time.Millisecond):
			finished.Add(1)
			return json.RawMessage(`true`), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	const warning = "isobox: 1 tool call was still running when the code returned; isobox waited for them (await every tool call to use its result)"
	res, err := pyEvalWith(t, engine.SandboxConfig{Tools: tools}, engine.Limits{}, `import asyncio
from isobox import tools
task = asyncio.create_task(tools.record(x=1))
await asyncio.sleep(0)
"returned"`)
	if err != nil || string(res.Value) != `"returned"` {
		t.Fatalf("got %s %v", res.Value, err)
	}
	if finished.Load() != 1 {
		t.Fatal("the un-awaited tool call was cancelled instead of finishing")
	}
	if len(res.Logs) != 1 || res.Logs[0].Level != "warn" || res.Logs[0].Message != warning {
		t.Fatalf("logs %v, want the warning", res.Logs)
	}
	sb := pyWorker(t, engine.SandboxConfig{Tools: tools}, "main.py", map[string]string{"main.py": `import asyncio
from isobox import tools
from workers import WorkerEntrypoint
class Default(WorkerEntrypoint):
    async def go(self):
        asyncio.create_task(tools.record(x=2))
        await asyncio.sleep(0)
        return "ok"
`}, "")
	res, err = sb.Call(context.Background(), engine.Limits{}, "", "go", nil, nil)
	if err != nil || string(res.Value) != `"ok"` || finished.Load() != 2 {
		t.Fatalf("worker: %s %v, finished %d", res.Value, err, finished.Load())
	}
}
