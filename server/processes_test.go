package server

import (
	"context"
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
