package server

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
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
