package sandboxproc

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/session"
)

// pidTenants records, through Pool.Observe, the tenant of every call each process was
// sent; a process that was sent calls of two tenants is a failure.
type pidTenants struct {
	mu   sync.Mutex
	seen map[int]string
	bad  []string
}

func observeTenants(p *Pool) *pidTenants {
	o := &pidTenants{seen: map[int]string{}}
	p.Observe(func(pid int, tenant string) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if t, ok := o.seen[pid]; ok && t != tenant {
			o.bad = append(o.bad, fmt.Sprintf("process %d ran calls of %q and of %q", pid, t, tenant))
		}
		o.seen[pid] = tenant
	})
	return o
}

func (o *pidTenants) check(t *testing.T) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, b := range o.bad {
		t.Error(b)
	}
}

// Three tenants calling stored workers, one-shots and snippets at once on two processes:
// no process is ever sent calls of two tenants (in its whole life: a place changes tenant
// only by recycling its process), and every call answers.
func TestTenantsNeverShareAProcess(t *testing.T) {
	p := newPool(t, 2)
	o := observeTenants(p)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, tenant := range []string{"acme", "beta", "default"} {
		scoped := tenant + "~"
		if tenant == "default" {
			scoped = ""
		}
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stub := p.Get(fmt.Sprintf("%sw%d@v1", scoped, w), func() (loader.WorkerCode, error) { return jsCode(counter), nil })
				code := jsCode(counter)
				if tenant != "default" {
					code.Tenant = tenant
				}
				for i := range 6 {
					var err error
					switch i % 3 {
					case 0:
						_, err = stub.Call(ctx, "inc", nil)
					case 1:
						_, err = p.Load(code).Call(ctx, "inc", nil)
					case 2:
						_, err = p.Eval(ctx, "1 + 1", loader.EvalOptions{Tenant: tenant})
					}
					if err != nil {
						errs <- fmt.Errorf("tenant %s worker %d call %d: %w", tenant, w, i, err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	o.check(t)
	if p.Recycles() == 0 {
		t.Errorf("three tenants on two processes recycled none")
	}
}

// A place that goes to another tenant takes nothing of its last one along: the warm and
// hibernated sandboxes of tenant acme are gone (its counter starts again, not resumed),
// the place's images folder was emptied and records its new tenant, and the processes are
// confined (the spare takes the emptied folder).
func TestRecycledPlaceKeepsNothingOfItsTenant(t *testing.T) {
	images := t.TempDir()
	confined := func() *exec.Cmd {
		cmd := testCommand()
		cmd.Env = append(cmd.Env, confineEnv+"=1")
		return cmd
	}
	p, err := New(Config{Processes: 1, Command: confined, CacheDir: cacheDir, ImagesDir: images,
		MemoryBudget: 1, // every idle sandbox is hibernated at once
		Defaults:     enginetest.Defaults, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	o := observeTenants(p)
	ctx := context.Background()
	acme := p.Get("acme~counter@v1", func() (loader.WorkerCode, error) {
		c := jsCode(counter)
		c.Tenant = "acme"
		return c, nil
	})
	for i := 1; i <= 2; i++ {
		if res, err := acme.Call(ctx, "inc", nil); err != nil || string(res.Value) != fmt.Sprint(i) {
			t.Fatalf("acme call %d: %v", i, err)
		}
	}
	waitFor(t, "acme's sandbox hibernated", func() bool { return p.Stats().Hibernated >= 1 })
	folder := filepath.Join(images, "p0")
	if n := countFiles(t, folder); n == 0 {
		t.Fatalf("no image of acme's in %s", folder)
	}
	acmePid := p.Processes()[0]
	if _, err := p.Eval(ctx, "1", loader.EvalOptions{Tenant: "beta"}); err != nil {
		t.Fatal(err)
	}
	if pid := p.Processes()[0]; pid == acmePid {
		t.Fatalf("beta's call ran in acme's process %d", pid)
	}
	if n := countFiles(t, folder); n != 0 {
		t.Errorf("%d files of acme's left in the folder beta's process uses", n)
	}
	waitFor(t, "the folder's record", func() bool {
		b, _ := os.ReadFile(filepath.Join(images, "p0.tenant"))
		return string(b) == "beta"
	})
	if got := p.Tenants(); got[0] != "beta" {
		t.Errorf("tenants %q, want [beta]", got)
	}
	res, err := acme.Call(ctx, "inc", nil)
	if err != nil || string(res.Value) != "1" || res.Resumed {
		t.Fatalf("acme after beta: %v value %s resumed=%v, want 1 from a fresh sandbox", err, res.Value, res.Resumed)
	}
	if p.Recycles() != 2 {
		t.Errorf("recycles %d, want 2", p.Recycles())
	}
	o.check(t)
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}

// A tenant whose calls keep both processes busy without a pause cannot keep another
// tenant out: a place drains (its tenant's new calls go to its other place) and goes to
// the waiting tenant. Without draining the second tenant would wait for a place that never
// becomes idle.
func TestBusyTenantCannotStarveAnother(t *testing.T) {
	p, err := New(Config{Processes: 2, Command: testCommand, CacheDir: cacheDir, ImagesDir: t.TempDir(),
		Defaults: enginetest.Defaults, Logger: slog.New(slog.DiscardHandler),
		PlaceWait: 5 * time.Minute}) // the guard: the wait that must end does not time out
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	o := observeTenants(p)
	ctx, stop := context.WithCancel(context.Background())
	// acme's workers, found to prefer each place, so that acme binds both.
	var ids []string
	for i := 0; len(ids) < 2; i++ {
		id := fmt.Sprintf("acme~w%d@v1", i)
		if p.placeOf("", id) == len(ids) {
			ids = append(ids, id)
		}
	}
	var wg sync.WaitGroup
	var calls atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stub := p.Get(ids[g%2], func() (loader.WorkerCode, error) { c := jsCode(counter); c.Tenant = "acme"; return c, nil })
			for ctx.Err() == nil {
				if _, err := stub.Call(ctx, "wait", []byte("[5]")); err != nil && ctx.Err() == nil {
					t.Errorf("acme: %v", err)
					return
				}
				calls.Add(1)
			}
		}()
	}
	waitFor(t, "acme on both processes", func() bool {
		ts := p.Tenants()
		return ts[0] == "acme" && ts[1] == "acme" && calls.Load() > 20
	})
	res, err := p.Eval(context.Background(), "40 + 2", loader.EvalOptions{Tenant: "beta"})
	if err != nil || string(res.Value) != "42" {
		t.Fatalf("beta while acme is busy: %v", err)
	}
	before := calls.Load()
	waitFor(t, "acme's calls to go on", func() bool { return calls.Load() > before+10 })
	stop()
	wg.Wait()
	o.check(t)
}

// A call of another tenant waits while the only process runs a call, then gets overloaded
// with a Retry-After. A process killed under its tenant (as by the watchdog) comes back
// for that tenant. A session's sandbox does not keep its place from another tenant: the
// place is recycled and the sandbox dropped with the process (the session's state is
// saved after every eval; the session.Manager wakes it from there).
func TestPlaceWaitsKillsAndSessions(t *testing.T) {
	p, err := New(Config{Processes: 1, Command: testCommand, CacheDir: cacheDir, ImagesDir: t.TempDir(),
		Defaults: enginetest.Defaults, Logger: slog.New(slog.DiscardHandler), PlaceWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	o := observeTenants(p)
	ctx := context.Background()
	stub := p.Get("acme~c@v1", func() (loader.WorkerCode, error) { c := jsCode(counter); c.Tenant = "acme"; return c, nil })
	long, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := stub.Call(long, "wait", []byte("[600000]"))
		done <- err
	}()
	waitFor(t, "acme's call to run", func() bool { return p.InFlight() >= 1 })
	_, err = p.Eval(ctx, "1", loader.EvalOptions{Tenant: "beta"})
	if e := isoerr.As(err); e.Code != isoerr.Overloaded || e.RetryAfterSeconds != 1 {
		t.Fatalf("beta while acme's call holds the only process: %v, want overloaded with Retry-After", err)
	}
	cancel()
	<-done

	// The process dies (as when the watchdog kills it): the place stays acme's.
	if err := killProcess(p.Processes()[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an answer after the kill", func() bool {
		_, err := stub.Call(ctx, "inc", nil)
		if isoerr.CodeOf(err) == isoerr.SandboxRestarted {
			return false
		}
		if err != nil {
			t.Fatalf("acme after the kill: %v", err)
		}
		return true
	})
	if p.Restarts() != 1 || p.Recycles() != 0 || p.Tenants()[0] != "acme" {
		t.Errorf("restarts %d recycles %d tenants %q, want 1, 0, [acme]", p.Restarts(), p.Recycles(), p.Tenants())
	}

	sb, err := p.SessionHost().New(ctx, "acme~repl", session.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Eval(ctx, enginetest.Defaults, "globalThis.x = 41"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Snapshot(ctx); err != nil { // as the session.Manager saves after an eval
		t.Fatal(err)
	}
	if res, err := p.Eval(ctx, "2", loader.EvalOptions{Tenant: "beta"}); err != nil || string(res.Value) != "2" {
		t.Fatalf("beta beside acme's idle session: %v", err)
	}
	if sb.Broken() == nil {
		t.Error("acme's session sandbox is usable in the process beta took")
	}
	if _, err := sb.Eval(ctx, enginetest.Defaults, "x"); isoerr.CodeOf(err) != isoerr.SandboxRestarted {
		t.Errorf("an eval on the dropped sandbox: %v, want sandbox_restarted", err)
	}
	sb.Close(ctx)
	if p.Recycles() != 1 {
		t.Errorf("recycles %d, want 1", p.Recycles())
	}
	o.check(t)
}

// At start, a place whose images folder records its tenant serves that tenant (its images
// stay); a folder without a valid record (from before tenants had places, or a record a
// process could have forged) may hold anyone's images and is emptied.
func TestImagesFoldersKeepTheirTenant(t *testing.T) {
	images := t.TempDir()
	for _, f := range []struct{ name, content string }{
		{"p0/img", "x"},            // no record
		{"p1/img", "x"},            // acme's
		{"p1.tenant", "acme"},      //
		{"p2/img", "x"},            // a record that names no tenant
		{"p2.tenant", "../../etc"}, //
	} {
		path := filepath.Join(images, f.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(f.content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := New(Config{Processes: 3, Command: testCommand, CacheDir: cacheDir, ImagesDir: images,
		Defaults: enginetest.Defaults, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if got := p.Tenants(); got[0] != "" || got[1] != "acme" || got[2] != "" {
		t.Errorf("tenants %q, want [\"\" acme \"\"]", got)
	}
	for i, want := range []int{0, 1, 0} {
		if n := countFiles(t, filepath.Join(images, fmt.Sprintf("p%d", i))); n != want {
			t.Errorf("p%d holds %d files, want %d", i, n, want)
		}
	}
}

// killProcess kills process pid at once (SIGKILL on Unix), as a crash or the watchdog
// would.
func killProcess(pid int) error {
	proc, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer proc.Release()
	return proc.Kill()
}
