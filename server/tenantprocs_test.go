package server

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
)

// With sandbox processes, no worker process ever runs sandboxes of two tenants: three
// tenants (default, alpha, beta) at once on two processes, through every route that puts
// work on the pool: PUT's compile check, stored workers' calls, /v1/run with a worker and
// with a snippet, sessions, Code Mode. The pids are seen through the pool's debugging
// hook (sandboxproc.Pool.Observe), which no tenant can reach.
func TestTenantsNeverShareAWorkerProcess(t *testing.T) {
	procs := 2
	if sandboxProcesses > 0 {
		procs = sandboxProcesses
	}
	ts := start(t, Config{SandboxProcesses: procs})
	pool := ts.sb.(inProcesses).Pool
	var mu sync.Mutex
	seen := map[int]string{}
	var bad []string
	pool.Observe(func(pid int, tenant string) {
		mu.Lock()
		defer mu.Unlock()
		if t, ok := seen[pid]; ok && t != tenant {
			bad = append(bad, fmt.Sprintf("process %d ran sandboxes of %q and of %q", pid, t, tenant))
		}
		seen[pid] = tenant
	})
	ctx := context.Background()
	clients := map[string]*client.Client{
		"default": ts.c,
		"alpha":   newTenant(t, ts, "alpha", api.TenantSettings{}, allScopes...),
		"beta":    newTenant(t, ts, "beta", api.TenantSettings{}, allScopes...),
	}
	counter := js(`let n = 0; export default { inc() { return ++n; } };`)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for name, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(what string, err error) { errs <- fmt.Errorf("%s: %s: %w", name, what, err) }
			if _, err := c.PutWorker(ctx, "same", counter); err != nil {
				fail("put", err)
				return
			}
			sess, err := c.CreateSession(ctx, client.SessionOptions{})
			if err != nil {
				fail("session", err)
				return
			}
			for range 2 {
				// Not 1, 2, 3: a warm sandbox dies with its process when the place goes
				// to another tenant (three tenants share two processes here).
				if _, err := c.Call(ctx, "same", "inc"); err != nil {
					fail("call", err)
					return
				}
				if _, err := c.Eval(ctx, "6 * 7", nil); err != nil {
					fail("eval", err)
					return
				}
				if _, err := c.Run(ctx, api.RunRequest{Worker: &counter, Call: &api.RunCall{Method: "inc"}}); err != nil {
					fail("run", err)
					return
				}
				if _, err := c.SessionEval(ctx, sess.Name, "globalThis.k = (globalThis.k || 0) + 1", nil); err != nil {
					fail("session eval", err)
					return
				}
				if res, err := c.Execute(ctx, api.ExecuteRequest{Code: "async () => 6 * 7"}); err != nil || res.Error != nil {
					fail("execute", fmt.Errorf("%v %+v", err, res))
					return
				}
			}
			if err := c.DeleteSession(ctx, sess.Name); err != nil {
				fail("delete session", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bad {
		t.Error(b)
	}
	tenants := map[string]bool{}
	for _, tn := range seen {
		tenants[tn] = true
	}
	if len(tenants) != 3 {
		t.Errorf("the processes ran sandboxes of %v, want default, alpha and beta", tenants)
	}
}
