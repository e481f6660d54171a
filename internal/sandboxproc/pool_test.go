package sandboxproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/confine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// workerEnv makes the test binary a worker process: the tests drive real processes, the
// same code `isobox sandbox-worker` runs.
const workerEnv = "ISOBOX_SANDBOXPROC_TEST_WORKER"

// confineEnv makes such a worker confine itself (confine.Apply), as `isobox
// sandbox-worker` does.
const confineEnv = "ISOBOX_SANDBOXPROC_TEST_CONFINE"

var cacheDir string

func TestMain(m *testing.M) {
	if os.Getenv(burnEnv) == "1" {
		burn()
	}
	if os.Getenv(workerEnv) == "1" {
		if prof := os.Getenv("ISOBOX_SANDBOXPROC_PROFILE_WORKER"); prof != "" { // bench_test.go
			// From 2 s after the start (the engine is up) for 3 s: the supervisor kills a
			// worker once its connection closes, so the profile cannot end with it.
			time.AfterFunc(2*time.Second, func() {
				f, err := os.Create(prof)
				if err != nil {
					panic(err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					panic(err)
				}
				time.AfterFunc(3*time.Second, func() { pprof.StopCPUProfile(); f.Close() })
			})
		}
		if tr := os.Getenv("ISOBOX_SANDBOXPROC_TRACE_WORKER"); tr != "" { // bench_test.go
			f, err := os.Create(tr)
			if err != nil {
				panic(err)
			}
			if err := trace.Start(f); err != nil {
				panic(err)
			}
			time.AfterFunc(2*time.Second, func() { trace.Stop(); f.Close() })
		}
		var hook ConfineHook
		if os.Getenv(confineEnv) == "1" { // as `isobox sandbox-worker` does
			hook = func(dirs []string) error {
				_, err := confine.Apply(confine.Policy{CacheDir: dirs[0], ReadWrite: dirs[1:], ReadOnly: []string{"/proc/self"}})
				return err
			}
		}
		if err := ServeWorkerFD(context.Background(), hook); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	cacheDir = enginetest.CacheDir()
	os.Exit(m.Run())
}

func testCommand() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	return cmd
}

// inProcessLoader is a loader on an engine of this process (what a worker process runs,
// for tests that compare with it or drive the worker's side directly), closed at the end.
func inProcessLoader(t testing.TB, defaults engine.Limits) *loader.Loader {
	t.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{CacheDir: cacheDir, Defaults: defaults})
	if err != nil {
		t.Fatal(err)
	}
	l, err := loader.New(loader.Config{Engine: e})
	if err != nil {
		e.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(ctx); e.Close(ctx) })
	return l
}

func newPool(t *testing.T, n int) *Pool {
	t.Helper()
	return startPool(t, Config{Processes: n, Command: testCommand, CacheDir: cacheDir, ImagesDir: t.TempDir(),
		Defaults: enginetest.Defaults, Logger: slog.New(slog.DiscardHandler)})
}

// startPool starts a pool with cfg, closed when the test ends.
func startPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return p
}

func jsCode(src string) loader.WorkerCode {
	return loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS(src)}}
}

const counter = `let n = 0;
export default {
  inc() { return ++n; },
  async fetch(req) { return new Response("hello " + new URL(req.url).pathname + " " + (await req.text())); },
  async wait(ms) { await new Promise(r => setTimeout(r, ms)); return ms; },
  async get(url) { const r = await fetch(url); const t = await r.text(); return {status: r.status, len: t.length, head: t.slice(0, 40), tail: t.slice(-5)}; },
};`

// A stored worker runs in its process: warm state survives between calls, the code is
// asked for once (on the cold start), and fetch and RPC calls both cross the boundary.
func TestPoolCallsWarmWorker(t *testing.T) {
	p := newPool(t, 2)
	var codeCalls int
	var mu sync.Mutex
	stub := p.Get("counter@v1", func() (loader.WorkerCode, error) {
		mu.Lock()
		codeCalls++
		mu.Unlock()
		return jsCode(counter), nil
	})
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		res, err := stub.Call(ctx, "inc", nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Value) != fmt.Sprint(i) || res.Cold != (i == 1) {
			t.Fatalf("call %d: value %s cold %v", i, res.Value, res.Cold)
		}
	}
	if codeCalls != 1 {
		t.Fatalf("the code was asked for %d times, want 1", codeCalls)
	}
	req, _ := http.NewRequest("POST", "http://example.com/path", strings.NewReader("body"))
	res, err := stub.Fetch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || string(res.Body) != "hello /path body" {
		t.Fatalf("fetch: %d %q", res.Status, res.Body)
	}
	if _, err := stub.Call(ctx, "nope", nil); isoerr.CodeOf(err) != isoerr.MethodNotFound {
		t.Fatalf("unknown method: %v", err)
	}
	st := p.Stats()
	if st.Workers != 1 || st.IdleSandboxes != 1 {
		t.Fatalf("stats: %+v", st)
	}
	p.Forget(ctx, "counter@v1")
	res, err = stub.Call(ctx, "inc", nil)
	if err != nil || string(res.Value) != "1" || !res.Cold {
		t.Fatalf("after Forget: %v %s cold=%v", err, res.Value, res.Cold)
	}
}

// The code function's own error comes back as it is (the server routes again on its
// sentinel), and a code error reaches the caller typed.
func TestPoolCodeErrors(t *testing.T) {
	p := newPool(t, 1)
	sentinel := errors.New("code changed")
	_, err := p.Get("a", func() (loader.WorkerCode, error) { return loader.WorkerCode{}, sentinel }).Call(context.Background(), "inc", nil)
	if !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want the code function's error", err)
	}
	_, err = p.Get("b", func() (loader.WorkerCode, error) { return jsCode("export default {"), nil }).Call(context.Background(), "inc", nil)
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
		t.Fatalf("syntax error: %v", err)
	}
}

// fetch() from a sandbox runs in the supervisor, through the transport the caller gave
// (where the egress gateway injects secrets): the header added there reaches the upstream
// and the worker only sees the response, streamed in chunks.
func TestPoolOutboundThroughSupervisor(t *testing.T) {
	big := strings.Repeat("0123456789", 30000) + "-end-" // 300 KB: several chunks
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Injected") != "s3cret" {
			w.WriteHeader(403)
			return
		}
		io.WriteString(w, big)
	}))
	defer up.Close()
	p := newPool(t, 1)
	code := jsCode(counter)
	code.Outbound = injecting{http.DefaultTransport}
	stub := p.Get("fetcher", func() (loader.WorkerCode, error) { return code, nil })
	args, _ := json.Marshal([]string{up.URL + "/x"})
	res, err := stub.Call(context.Background(), "get", args)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Status int
		Len    int
		Tail   string
	}
	if err := json.Unmarshal(res.Value, &got); err != nil || got.Status != 200 || got.Len != len(big) || got.Tail != "-end-" {
		t.Fatalf("got %s (%v)", res.Value, err)
	}
	// Without an outbound the sandbox has no network.
	stub2 := p.Load(jsCode(counter))
	res, err = stub2.Call(context.Background(), "get", args)
	if err == nil || !strings.Contains(err.Error(), "network") {
		t.Fatalf("no outbound: %v %s", err, res.Value)
	}
}

type injecting struct{ rt http.RoundTripper }

func (i injecting) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Injected", "s3cret")
	return i.rt.RoundTrip(r)
}

// Eval and one-shot loads run in a process too.
func TestPoolEvalAndLoad(t *testing.T) {
	p := newPool(t, 2)
	res, err := p.Eval(context.Background(), "1 + 2", loader.EvalOptions{})
	if err != nil || string(res.Value) != "3" {
		t.Fatalf("eval: %v %s", err, res.Value)
	}
	_, err = p.Eval(context.Background(), "while (true) {}", loader.EvalOptions{Limits: engine.Limits{CPU: 50 * time.Millisecond}})
	if isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("runaway eval: %v", err)
	}
	res, err = p.Load(jsCode(counter)).Call(context.Background(), "inc", nil)
	if err != nil || string(res.Value) != "1" {
		t.Fatalf("load: %v %s", err, res.Value)
	}
}

// idsOn returns n stored-worker ids that the pool places on process idx.
func idsOn(p *Pool, idx, n int, prefix string) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		id := fmt.Sprintf("%s%d@v1", prefix, i)
		if p.Place(id) == idx {
			out = append(out, id)
		}
	}
	return out
}

// The watchdog: a process that stops answering (SIGSTOP stands for a built-in that never
// polls: the whole process is stuck) is killed when a call on it passes its wall limit by
// the margin. That call gets wall_time_exceeded, the other call in flight there
// sandbox_restarted, a call on the other process is unaffected, and the same worker id
// works again on the replacement process.
func TestWatchdogKillsStuckProcess(t *testing.T) {
	p := newPool(t, 2)
	ctx := context.Background()
	victims, others := idsOn(p, 0, 2, "w"), idsOn(p, 1, 1, "o")
	short := jsCode(counter)
	short.Limits = &loader.Limits{WallMs: 300}
	stubs := map[string]*Stub{}
	for _, id := range append(victims, others...) {
		code := jsCode(counter)
		if id == victims[0] {
			code = short
		}
		stubs[id] = p.Get(id, func() (loader.WorkerCode, error) { return code, nil })
		if _, err := stubs[id].Call(ctx, "inc", nil); err != nil { // warm, and its wall limit known
			t.Fatal(err)
		}
	}
	pid := p.Processes()[0]
	if pid == 0 {
		t.Fatal("process 0 is not up")
	}
	if err := stopProcess(pid); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, pid)
	var wg sync.WaitGroup
	var errHung, errNeighbour error
	wg.Add(2)
	go func() { defer wg.Done(); _, errHung = stubs[victims[0]].Call(ctx, "inc", nil) }()
	go func() {
		defer wg.Done()
		_, errNeighbour = stubs[victims[1]].Call(ctx, "wait", json.RawMessage("[60000]"))
	}()
	// The other process answers meanwhile.
	res, err := stubs[others[0]].Call(ctx, "inc", nil)
	if err != nil || string(res.Value) != "2" {
		t.Fatalf("call on the other process: %v %s", err, res.Value)
	}
	wg.Wait()
	if isoerr.CodeOf(errHung) != isoerr.WallTimeExceeded {
		t.Fatalf("the overrunning call: %v, want wall_time_exceeded", errHung)
	}
	if isoerr.CodeOf(errNeighbour) != isoerr.SandboxRestarted {
		t.Fatalf("the other call on the killed process: %v, want sandbox_restarted", errNeighbour)
	}
	if p.Kills() != 1 {
		t.Fatalf("kills = %d", p.Kills())
	}
	res, err = stubs[victims[0]].Call(ctx, "inc", nil)
	if err != nil || string(res.Value) != "1" || !res.Cold {
		t.Fatalf("the same worker after the restart: %v %s cold=%v", err, res.Value, res.Cold)
	}
	if np := p.Processes()[0]; np == pid || np == 0 {
		t.Fatalf("process 0 was not replaced: pid %d, was %d", np, pid)
	}
	res, err = stubs[others[0]].Call(ctx, "inc", nil)
	if err != nil || string(res.Value) != "3" {
		t.Fatalf("the other process kept its warm worker: %v %s", err, res.Value)
	}
}

// A built-in that runs long without polling (about a minute of CPU here) ends with
// cpu_limit_exceeded long before its wall-time limit: stopped by the engine once QuickJS
// polls inside it, else by the watchdog, which reads the CPU time of the call's thread.
// Then the worker answers again.
func TestHostileBuiltinEndsOnCPU(t *testing.T) {
	p := newPool(t, 1)
	code := jsCode(`export default { run() { const s = "a".repeat(2e6), n = "a".repeat(2e3) + "b"; return s.indexOf(n); }, ok() { return 1 } };`)
	code.Limits = &loader.Limits{CPUMs: 50, WallMs: 15 * 60 * 1000}
	stub := p.Get("hostile", func() (loader.WorkerCode, error) { return code, nil })
	if _, err := stub.Call(context.Background(), "ok", nil); err != nil {
		t.Fatal(err)
	}
	_, err := stub.Call(context.Background(), "run", nil)
	if c := isoerr.CodeOf(err); c != isoerr.CPULimitExceeded {
		t.Fatalf("got %v, want cpu_limit_exceeded", err)
	}
	if res, err := stub.Call(context.Background(), "ok", nil); err != nil || string(res.Value) != "1" {
		t.Fatalf("after: %v", err)
	}
}

// waitStopped waits until the kernel has stopped process pid (SIGSTOP is asynchronous:
// the process may run on for a moment).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the command name in parentheses.
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "T" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d did not stop", pid)
}

// waitFor polls cond until it holds; it fails the test after a minute (a bound far above
// any process start, only so that a broken pool does not hang the suite).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 6000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// A pre-started spare takes the place of a killed process: the spare's pid becomes the
// index's, it uses the index's images folder (a worker hibernated by the killed process
// comes back from its image there: the spare, confined to its own folder by Landlock
// before it knew its place, reads it once the supervisor has renamed that folder to the
// index's), and a new spare appears.
func TestSpareTakesKilledPlace(t *testing.T) {
	images := t.TempDir()
	confined := func() *exec.Cmd {
		cmd := testCommand()
		cmd.Env = append(cmd.Env, confineEnv+"=1")
		return cmd
	}
	p, err := New(Config{Processes: 1, Command: confined, CacheDir: cacheDir, ImagesDir: images,
		MemoryBudget: 1, // every idle sandbox is evicted at once, and hibernated
		Defaults:     enginetest.Defaults, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	stub := p.Get("counter@v1", func() (loader.WorkerCode, error) { return jsCode(counter), nil })
	for i := 1; i <= 2; i++ {
		if res, err := stub.Call(ctx, "inc", nil); err != nil || string(res.Value) != fmt.Sprint(i) {
			t.Fatalf("call %d: %v %s", i, err, res.Value)
		}
	}
	waitFor(t, "a hibernated worker", func() bool { return p.Stats().Hibernated >= 1 })
	waitFor(t, "a spare", func() bool { return p.Spare() != 0 })
	spare, old := p.Spare(), p.Processes()[0]
	if spare == old {
		t.Fatalf("the spare is process 0 (%d)", spare)
	}
	if err := killProcess(old); err != nil {
		t.Fatal(err)
	}
	var res *loader.Result
	waitFor(t, "an answer after the kill", func() bool {
		res, err = stub.Call(ctx, "inc", nil)
		if isoerr.CodeOf(err) == isoerr.SandboxRestarted { // sent before the death was seen
			return false
		}
		if err != nil {
			t.Fatalf("after the kill: %v", err)
		}
		return true
	})
	if !res.Resumed || string(res.Value) != "3" {
		t.Fatalf("after the kill: value %s resumed=%v, want 3 from the image in the index's folder", res.Value, res.Resumed)
	}
	if now := p.Processes()[0]; now != spare {
		t.Fatalf("process 0 is %d, want the spare %d", now, spare)
	}
	if p.Restarts() != 1 {
		t.Fatalf("restarts = %d", p.Restarts())
	}
	waitFor(t, "a new spare", func() bool { s := p.Spare(); return s != 0 && s != spare && s != old })
}

// A spare that dies before it takes a place is replaced by another (after a pause), and
// the processes in place are untouched.
func TestDeadSpareIsReplaced(t *testing.T) {
	p := newPool(t, 1)
	waitFor(t, "a spare", func() bool { return p.Spare() != 0 })
	spare, proc0 := p.Spare(), p.Processes()[0]
	if err := killProcess(spare); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "another spare", func() bool { s := p.Spare(); return s != 0 && s != spare })
	if p.Processes()[0] != proc0 || p.Restarts() != 0 {
		t.Fatalf("process 0 is %d (was %d), restarts %d", p.Processes()[0], proc0, p.Restarts())
	}
	if res, err := p.Eval(context.Background(), "6 * 7", loader.EvalOptions{}); err != nil || string(res.Value) != "42" {
		t.Fatalf("eval: %v %v", err, res)
	}
}

// With one thread per process (Config.Threads 1), a call that waits (a timer) does not
// hold up another call on the same process: the waiting call's goroutine parks and the
// other runs.
func TestOneThreadProcessServesConcurrentCalls(t *testing.T) {
	p, err := New(Config{Processes: 1, Threads: 1, Command: testCommand, CacheDir: cacheDir,
		Defaults: enginetest.Defaults, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	stub := p.Get("counter@v1", func() (loader.WorkerCode, error) { return jsCode(counter), nil })
	if _, err := stub.Call(ctx, "inc", nil); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() { _, err := stub.Call(ctx, "wait", json.RawMessage("[600000]")); waiting <- err }()
	waitFor(t, "the waiting call to start", func() bool { return p.InFlight() == 1 })
	// (A second sandbox of the worker: the first is busy with the waiting call.)
	if res, err := stub.Call(ctx, "inc", nil); err != nil || string(res.Value) != "1" {
		t.Fatalf("a call beside a waiting one: %v %v", err, res)
	}
	select {
	case err := <-waiting:
		t.Fatalf("the waiting call ended: %v", err)
	default:
	}
}

// A call queued in its process behind its worker's other calls has not started: its wall
// time, for the watchdog as for the engine, starts when it takes the worker's slot. Three
// rounds of calls to one worker, each waiting 400 ms of its 800 ms wall limit (the rounds
// together 1.2 s), all answer, and no process is killed (the watchdog once counted the queue and killed the
// process under the third round, failing every call on it).
func TestPoolQueuedCallsAreNotOverdue(t *testing.T) {
	p := newPool(t, 1)
	code := jsCode(counter)
	code.Limits = &loader.Limits{WallMs: 800}
	stub := p.Get("queued", func() (loader.WorkerCode, error) { return code, nil })
	ctx := context.Background()
	if _, err := stub.Call(ctx, "inc", nil); err != nil { // cold start out of the way
		t.Fatal(err)
	}
	const calls = 3 * 4 // three rounds of the worker's four slots (loader's default)
	errs := make(chan error, calls)
	var wg sync.WaitGroup
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := stub.Call(ctx, "wait", json.RawMessage("[400]"))
			if err == nil && string(res.Value) != "400" {
				err = fmt.Errorf("answered %s", res.Value)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a queued call: %v", err)
		}
	}
	if k := p.Kills(); k != 0 {
		t.Fatalf("%d processes killed", k)
	}
}
