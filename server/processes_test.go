//go:build unix

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/internal/sandboxproc"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// With sandbox processes, a call whose process is killed under it (here: another call on
// the same process overran its wall limit while the process was stuck) answers 503
// sandbox_restarted with Retry-After; the overrunning call answers 422 with its limit
// error; the worker answers again afterwards.
func TestSandboxRestartedIs503(t *testing.T) {
	ts := start(t, Config{SandboxProcesses: 1})
	ctx := context.Background()
	short := js(`export default { f() { return 1 } }`)
	short.Limits = &api.Limits{WallMs: 300}
	slow := js(`export default { async f() { await new Promise(r => setTimeout(r, 60000)); return 2 } }`)
	for id, code := range map[string]api.WorkerCode{"short": short, "slow": slow} {
		if _, err := ts.c.PutWorker(ctx, id, code); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.c.Call(ctx, "short", "f"); err != nil { // warm: its wall limit is known
		t.Fatal(err)
	}
	pool := ts.sb.(inProcesses).Pool
	pid := pool.Processes()[0]
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitProcessStopped(t, pid)
	slowDone := make(chan rawResult, 1)
	go func() { slowDone <- ts.raw(t, "POST", "/v1/workers/slow/call/f", nil, nil) }()
	waitFor(t, "the slow call to be sent", func() bool { return pool.InFlight() >= 1 })
	r := ts.raw(t, "POST", "/v1/workers/short/call/f", nil, nil)
	if r.status != 422 || r.err == nil || r.err.Code != isoerr.WallTimeExceeded {
		t.Fatalf("the overrunning call: %d %s", r.status, r.body)
	}
	r = <-slowDone
	if r.status != 503 || r.err == nil || r.err.Code != isoerr.SandboxRestarted || r.header.Get("Retry-After") == "" {
		t.Fatalf("the other call on the killed process: %d %s", r.status, r.body)
	}
	out, err := ts.c.Call(ctx, "short", "f")
	if err != nil || string(out.Result) != "1" {
		t.Fatalf("after the restart: %v", err)
	}
	m := ts.raw(t, "GET", "/metrics", nil, nil)
	for _, want := range []string{"isobox_sandbox_process_kills_total 1", "isobox_sandbox_process_restarts_total 1", "isobox_sandbox_processes 1"} {
		if !strings.Contains(string(m.body), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// waitProcessStopped waits until the kernel has stopped process pid.
func waitProcessStopped(t *testing.T, pid int) {
	t.Helper()
	for range 1000 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "T" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d did not stop", pid)
}

// With sandbox processes, a session's sandbox lives in a worker process and the session
// keeps its promises: state across evals, fork, hibernation, and a process killed under an
// eval (503 sandbox_restarted, rolled back: the next eval sees the state before that
// call). It survives a restart of the server too.
func TestSessionsInSandboxProcesses(t *testing.T) {
	ctx := context.Background()
	ts := start(t, Config{SandboxProcesses: 2})
	ts.createSession(t, `{"name":"repl"}`)
	ts.evalWant(t, "repl", "globalThis.x = 40; function inc() { return ++x }; x", "40")
	ts.evalWant(t, "repl", "inc()", "41")
	if r := ts.raw(t, "POST", "/v1/sessions/repl/fork", []byte(`{"name":"branch"}`), nil); r.status != 201 {
		t.Fatalf("fork: %d %s", r.status, r.body)
	}
	ts.evalWant(t, "branch", "inc(); inc()", "43")
	ts.evalWant(t, "repl", "x", "41")
	if err := ts.sessions.Hibernate(ctx, "repl"); err != nil {
		t.Fatal(err)
	}
	ts.evalWant(t, "repl", "inc()", "42")

	pool := ts.sb.(inProcesses).Pool
	pid := pool.Processes()[pool.PlaceSession("repl")]
	type answer struct {
		status int
		o      evalAnswer
	}
	done := make(chan answer, 1)
	go func() {
		status, o := ts.sessionEval(t, "repl", "x = 99; await new Promise(r => setTimeout(r, 600000))", `{"wallMs":60000}`)
		done <- answer{status, o}
	}()
	waitFor(t, "the eval to reach its process", func() bool { return pool.InFlight() >= 1 })
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.status != 503 || a.o.Error == nil || a.o.Error.Code != isoerr.SandboxRestarted || !a.o.RolledBack {
		t.Fatalf("the eval whose process was killed: %d %+v", a.status, a.o)
	}
	ts.evalWant(t, "repl", "x", "42")

	ts.stop(t)
	ts2 := start(t, Config{DataDir: ts.dir, SandboxProcesses: 2})
	ts2.evalWant(t, "repl", "inc()", "43")
	ts2.evalWant(t, "branch", "x", "43")
}

// PUT's compile check runs in a sandbox process and answers as the in-process check does:
// the same code and message (file:line:column). A process that does not answer (stopped)
// gets the check killed by the watchdog.
func TestCompileCheckInSandboxProcesses(t *testing.T) {
	ctx := context.Background()
	ts := start(t, Config{SandboxProcesses: 1})
	if ts.l != nil {
		t.Fatal("with sandbox processes the server made an engine of its own: it must run no guest code")
	}
	local := start(t, Config{SandboxProcesses: -1}) // in process: the reference answers
	for _, tt := range []struct {
		name string
		code api.WorkerCode
	}{
		{"ok", js(`export default { f() { return 1 } }`)},
		{"syntax", js("export default {\n  f() { return 1 +; }\n}")},
		{"missing module", js(`import "./nope.js"; export default {}`)},
		{"missing export", api.WorkerCode{MainModule: "main.js", Modules: map[string]api.Module{
			"main.js": api.JS(`import { f } from "./lib.js"; export default { g: f }`), "lib.js": api.JS("export const h = 1")}}},
	} {
		b, _ := json.Marshal(tt.code)
		r := ts.raw(t, "PUT", "/v1/workers/c-"+strings.ReplaceAll(tt.name, " ", "-"), b, nil)
		want := isoerr.As(local.sb.Compile(ctx, loader.FromAPI(tt.code)))
		if want == nil {
			if r.status != 201 {
				t.Errorf("%s: %d %s", tt.name, r.status, r.body)
			}
			continue
		}
		if r.status != 400 || r.err == nil || r.err.Code != want.Code || r.err.Message != want.Message {
			t.Errorf("%s: %d %s, in process %v", tt.name, r.status, r.body, want)
		}
	}
	pool := ts.sb.(inProcesses).Pool
	pid := pool.Processes()[0]
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitProcessStopped(t, pid)
	code := js(`export default {}`)
	code.Limits = &api.Limits{WallMs: 300}
	b, _ := json.Marshal(code)
	if r := ts.raw(t, "PUT", "/v1/workers/stuck", b, nil); r.err == nil || r.err.Code != isoerr.WallTimeExceeded {
		t.Fatalf("a check on a stopped process: %d %s", r.status, r.body)
	}
	if pool.Kills() != 1 {
		t.Fatalf("kills = %d", pool.Kills())
	}
}

// probeConnectors are testConnectors plus a tool that reports where it runs: the pid of
// its process and how many calls the sandbox processes have in flight while it runs.
func probeConnectors(t *testing.T, pool *atomic.Pointer[sandboxproc.Pool]) *codemode.Connectors {
	cs := testConnectors(t)
	type where struct {
		Pid      int `json:"pid"`
		InFlight int `json:"inFlight"`
	}
	if err := cs.Add(codemode.Provider{Name: "probe", Tools: []codemode.Tool{
		codemode.NewTool("where", "Where the tool runs.", func(ctx context.Context, _ struct{}) (where, error) {
			return where{Pid: os.Getpid(), InFlight: pool.Load().InFlight()}, nil
		}),
	}}, nil); err != nil {
		t.Fatal(err)
	}
	return cs
}

// With sandbox processes on, Code Mode runs its sandbox in a worker process and its tools
// here: while the tool runs, the pool has the call in flight, and the tool runs in the
// server's own process. /v1/codemode/execute and /mcp's execute both do, tool errors
// included; /mcp's run_code runs in a worker process too (it waits while that process is
// stopped).
func TestCodemodeInSandboxProcesses(t *testing.T) {
	var pool atomic.Pointer[sandboxproc.Pool]
	ts := start(t, Config{SandboxProcesses: 1, Codemode: probeConnectors(t, &pool)})
	pool.Store(ts.sb.(inProcesses).Pool)
	here := fmt.Sprintf(`{"pid":%d,"inFlight":1}`, os.Getpid())

	status, a, raw := postCodemode(t, ts, testKey, map[string]any{
		"code": "async () => { const w = await probe.where({}); const f = await weather.forecast({ city: 'Oslo' }); return [w, f.temp] }"})
	if status != 200 || string(a.Result) != "["+here+",9]" || len(a.Calls) != 2 {
		t.Fatalf("execute: %d %s", status, raw)
	}
	status, a, raw = postCodemode(t, ts, testKey, map[string]any{"code": "await weather.forecast({ city: 'Atlantis' })"})
	if status != 422 || a.Error == nil || a.Error.Code != "worker_exception" || !strings.Contains(a.Error.Message, "unknown city Atlantis") {
		t.Fatalf("tool error: %d %s", status, raw)
	}

	cs, err := mcpClient(t, ts, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ctx := context.Background()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "execute", Arguments: map[string]any{"code": "await probe.where({})"}})
	if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != here+"\n\n(1 tool calls)" {
		t.Fatalf("/mcp execute: %v %+v", err, res)
	}

	pid := pool.Load().Processes()[0]
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitProcessStopped(t, pid)
	type answer struct {
		res *mcp.CallToolResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_code", Arguments: map[string]any{"code": "[1, 2, 3].map(x => x * x)"}})
		done <- answer{r, err}
	}()
	waitFor(t, "run_code to be sent to the stopped process", func() bool { return pool.Load().InFlight() >= 1 })
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.res.IsError || r.res.Content[0].(*mcp.TextContent).Text != "[1,4,9]" {
		t.Fatalf("/mcp run_code: %v %+v", r.err, r.res)
	}
}
