package loader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

var testEngine *engine.Engine

func TestMain(m *testing.M) { enginetest.Main(m, &testEngine) }

func newLoader(t *testing.T, cfg loader.Config) *loader.Loader {
	t.Helper()
	cfg.Engine = testEngine
	l, err := loader.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func code(main string, mods ...string) loader.WorkerCode {
	c := loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS(main)}}
	for i := 0; i+1 < len(mods); i += 2 {
		c.Modules[mods[i]] = loader.JS(mods[i+1])
	}
	return c
}

const counter = `let calls = 0;
export default {
  increment(by) { calls += by ?? 1; return calls; },
  slow(ms) { const end = Date.now() + ms; while (Date.now() < end) {} return calls; },
};`

func call(t *testing.T, s *loader.Stub, method, args string) (*loader.Result, string) {
	t.Helper()
	res, err := s.Call(context.Background(), method, json.RawMessage(args))
	if err != nil {
		t.Fatalf("%s(%s): %v", method, args, err)
	}
	return res, string(res.Value)
}

// Warm reuse is real: module state survives between calls to one id, and the code
// callback runs only when no warm sandbox exists.
func TestGetReusesWarmSandbox(t *testing.T) {
	l := newLoader(t, loader.Config{})
	var fetched atomic.Int32
	codeFn := func() (loader.WorkerCode, error) { fetched.Add(1); return code(counter), nil }
	for i := 1; i <= 5; i++ {
		res, got := call(t, l.Get("counter", codeFn), "increment", "[1]")
		if want := fmt.Sprint(i); got != want {
			t.Fatalf("call %d: counter = %s, want %s", i, got, want)
		}
		if res.Cold != (i == 1) {
			t.Fatalf("call %d: cold = %v", i, res.Cold)
		}
	}
	if n := fetched.Load(); n != 1 {
		t.Fatalf("code callback ran %d times, want 1", n)
	}
	// Another id is another worker with its own state.
	if _, got := call(t, l.Get("other", codeFn), "increment", "[10]"); got != "10" {
		t.Fatalf("other id shares state: %s", got)
	}
}

func TestLoadIsUncached(t *testing.T) {
	l := newLoader(t, loader.Config{})
	for range 2 {
		s := l.Load(code(counter))
		res, got := call(t, s, "increment", "[]")
		if got != "1" || !res.Cold {
			t.Fatalf("fresh Load: counter %s cold %v", got, res.Cold)
		}
		// Calls through one Load stub go to its sandbox.
		if _, got := call(t, s, "increment", "[]"); got != "2" {
			t.Fatalf("second call on one Load stub: %s", got)
		}
		s.Close(context.Background())
		if _, err := s.Call(context.Background(), "increment", nil); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Fatalf("call after Close: %v", err)
		}
	}
}

// Concurrent calls to one id never share a sandbox: extra sandboxes are made up to the
// per-worker cap, and further calls queue.
func TestConcurrentCallsGetTheirOwnSandbox(t *testing.T) {
	l := newLoader(t, loader.Config{MaxInstancesPerWorker: 3})
	var fetched atomic.Int32
	codeFn := func() (loader.WorkerCode, error) {
		fetched.Add(1)
		c := code(`let busy = false;
export default { work(ms) {
  if (busy) throw new Error("two calls in one sandbox at once");
  busy = true; const end = Date.now() + ms; while (Date.now() < end) {} busy = false; return "ok";
} };`)
		c.Limits = &loader.Limits{CPUMs: 5000}
		return c, nil
	}
	var wg sync.WaitGroup
	var cold atomic.Int32
	errs := make(chan error, 12)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := l.Get("busy", codeFn).Call(context.Background(), "work", json.RawMessage("[20]"))
			if err != nil {
				errs <- err
				return
			}
			if res.Cold {
				cold.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := cold.Load(); n < 1 || n > 3 {
		t.Fatalf("%d sandboxes were made for 12 concurrent calls with a cap of 3", n)
	}
	if n := fetched.Load(); n != 1 {
		t.Fatalf("code callback ran %d times", n)
	}
}

func TestQueueIsBounded(t *testing.T) {
	l := newLoader(t, loader.Config{MaxInstancesPerWorker: 1, MaxQueuePerWorker: 1})
	codeFn := func() (loader.WorkerCode, error) {
		c := code(counter)
		c.Limits = &loader.Limits{CPUMs: 5000}
		return c, nil
	}
	// Warm it up, then hold its only sandbox with a slow call.
	call(t, l.Get("q", codeFn), "increment", "[]")
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Get("q", codeFn).Call(context.Background(), "slow", json.RawMessage("[200]"))
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	var ok, overloaded int
	for err := range results {
		switch isoerr.CodeOf(err) {
		case "":
			ok++
		case isoerr.Overloaded:
			overloaded++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok < 1 || overloaded < 1 || ok+overloaded != 8 {
		t.Fatalf("ok %d overloaded %d: want both, a bounded queue refuses the excess", ok, overloaded)
	}
}

func TestIdleTTLEvicts(t *testing.T) {
	l := newLoader(t, loader.Config{IdleTTL: 30 * time.Millisecond})
	var fetched atomic.Int32
	codeFn := func() (loader.WorkerCode, error) { fetched.Add(1); return code(counter), nil }
	call(t, l.Get("ttl", codeFn), "increment", "[]")
	deadline := time.Now().Add(time.Minute) // a hang guard
	for l.Stats().IdleSandboxes > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := l.Stats().IdleSandboxes; n != 0 {
		t.Fatalf("%d idle sandboxes left after the TTL", n)
	}
	res, got := call(t, l.Get("ttl", codeFn), "increment", "[]")
	if got != "1" || !res.Cold || fetched.Load() != 2 {
		t.Fatalf("after eviction: counter %s cold %v fetched %d; want a fresh load", got, res.Cold, fetched.Load())
	}
}

func TestMemoryBudgetEvictsLeastRecentlyUsed(t *testing.T) {
	l := newLoader(t, loader.Config{MemoryBudget: 1}) // every idle sandbox is over budget
	call(t, l.Get("a", func() (loader.WorkerCode, error) { return code(counter), nil }), "increment", "[]")
	if s := l.Stats(); s.IdleSandboxes != 0 || s.IdleMemory != 0 {
		t.Fatalf("over budget but kept %+v", s)
	}
	l2 := newLoader(t, loader.Config{MaxWorkers: 2})
	for _, id := range []string{"a", "b", "c"} {
		call(t, l2.Get(id, func() (loader.WorkerCode, error) { return code(counter), nil }), "increment", "[]")
	}
	if s := l2.Stats(); s.IdleSandboxes != 2 {
		t.Fatalf("MaxWorkers 2 keeps %d idle sandboxes", s.IdleSandboxes)
	}
	// "a" was least recently used: it was evicted, so it starts over.
	if res, got := call(t, l2.Get("a", func() (loader.WorkerCode, error) { return code(counter), nil }), "increment", "[]"); got != "1" || !res.Cold {
		t.Fatalf("a was not evicted: %s cold %v", got, res.Cold)
	}
}

// After a trapped limit the sandbox is discarded: the next call gets a new one.
func TestTrappedSandboxIsDiscarded(t *testing.T) {
	l := newLoader(t, loader.Config{})
	codeFn := func() (loader.WorkerCode, error) {
		return code(`let calls = 0; export default { spin() { calls++; for (;;) {} }, count() { return ++calls } };`), nil
	}
	call(t, l.Get("trap", codeFn), "count", "[]")
	if _, err := l.Get("trap", codeFn).Call(context.Background(), "spin", nil); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("spin: %v", err)
	}
	res, got := call(t, l.Get("trap", codeFn), "count", "[]")
	if got != "1" || !res.Cold {
		t.Fatalf("after a CPU trap: count %s cold %v, want a fresh sandbox", got, res.Cold)
	}
}

func TestEntrypoints(t *testing.T) {
	l := newLoader(t, loader.Config{})
	src := `import { WorkerEntrypoint } from "cloudflare:workers";
export class Greeter extends WorkerEntrypoint {
  greet(name) { return this.ctx.props.greeting + ", " + name + " from " + this.env.PLACE; }
}
export default class extends WorkerEntrypoint {
  add(a, b) { return a + b; }
  who() { return this.ctx.props; }
}
export const notAClass = 42;`
	c := code(src)
	c.Env = map[string]any{"PLACE": "isobox"}
	s := l.Get("ep", func() (loader.WorkerCode, error) { return c, nil })
	if _, got := call(t, s, "add", "[2, 3]"); got != "5" {
		t.Fatalf("add = %s", got)
	}
	ep := s.Entrypoint("Greeter", loader.EntrypointOptions{Props: json.RawMessage(`{"greeting":"Hello"}`)})
	res, err := ep.Call(context.Background(), "greet", json.RawMessage(`["Ada"]`))
	if err != nil || string(res.Value) != `"Hello, Ada from isobox"` {
		t.Fatalf("greet = %s, %v", res.Value, err)
	}
	bad := []struct {
		ep, method string
	}{
		{"", "nope"}, {"", "constructor"}, {"", "toString"}, {"", "__proto__"},
		{"Missing", "greet"}, {"notAClass", "x"},
	}
	for _, b := range bad {
		_, err := s.Entrypoint(b.ep, loader.EntrypointOptions{}).Call(context.Background(), b.method, nil)
		if isoerr.CodeOf(err) != isoerr.MethodNotFound {
			t.Errorf("%s.%s: got %v, want method_not_found", b.ep, b.method, err)
		}
	}
}

func TestModulesAndTypes(t *testing.T) {
	l := newLoader(t, loader.Config{})
	c := loader.WorkerCode{MainModule: "src/main.js", Modules: map[string]loader.Module{
		"src/main.js": loader.JS(`import { twice } from "./lib/math.js";
import greeting from "../data/greeting.txt";
import config from "../data/config.json";
import bytes from "../data/blob.bin";
import legacy from "./legacy.cjs";
export default { run() { return [twice(21), greeting, config.name, new Uint8Array(bytes)[1], legacy.answer, legacy.viaRequire]; } };`),
		"src/lib/math.js":   loader.JS(`export const twice = (x) => x * 2;`),
		"data/greeting.txt": {Type: engine.ModuleText, Content: []byte("héllo")},
		"data/config.json":  {Type: engine.ModuleJSON, Content: []byte(`{"name":"cfg"}`)},
		"data/blob.bin":     {Type: engine.ModuleData, Content: []byte{1, 2, 3}},
		"src/legacy.cjs":    {Type: engine.ModuleCJS, Content: []byte(`const h = require("./helper.cjs"); module.exports = { answer: h.value + 1, viaRequire: require("../data/config.json").name };`)},
		"src/helper.cjs":    {Type: engine.ModuleCJS, Content: []byte(`exports.value = 41;`)},
	}}
	s := l.Load(c)
	defer s.Close(context.Background())
	if _, got := call(t, s, "run", "[]"); got != `[42,"héllo","cfg",2,42,"cfg"]` {
		t.Fatalf("run = %s", got)
	}
}

func TestBadWorkerCode(t *testing.T) {
	big := strings.Repeat("x", loader.MaxEnvSize)
	tests := []struct {
		name string
		code loader.WorkerCode
		want isoerr.Code
		msg  string
	}{
		{"syntax error", code("export default {"), isoerr.InvalidWorkerCode, "main.js:1"},
		{"missing import", code(`import x from "./nope.js"; export default {}`), isoerr.InvalidWorkerCode, "nope.js"},
		{"std module", code(`import * as std from "qjs:std"; export default {}`), isoerr.InvalidWorkerCode, "qjs:std"},
		{"top-level throw", code(`throw new Error("at start"); export default {}`), isoerr.WorkerException, "at start"},
		{"top-level loop", code(`while (true) {} export default {}`), isoerr.CPULimitExceeded, ""},
		{"no main module", loader.WorkerCode{MainModule: "x.js", Modules: map[string]loader.Module{"main.js": loader.JS("")}}, isoerr.InvalidWorkerCode, "x.js"},
		{"empty main name", loader.WorkerCode{Modules: map[string]loader.Module{"main.js": loader.JS("")}}, isoerr.InvalidWorkerCode, "mainModule"},
		{"invalid UTF-8", loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": {Type: engine.ModuleJS, Content: []byte{'a', 0xff, 'b'}}}}, isoerr.InvalidWorkerCode, "UTF-8"},
		{"bad json module", loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS(""), "c.json": {Type: engine.ModuleJSON, Content: []byte("{")}}}, isoerr.InvalidWorkerCode, "c.json"},
		{"untyped non-js string", loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS(""), "a.txt": {Content: []byte("x")}}}, isoerr.InvalidWorkerCode, "a.txt"},
		{"env over 1 MiB", loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS("")}, Env: map[string]any{"big": big}}, isoerr.EnvTooLarge, "limit"},
		{"code over 64 MiB", loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS(""), "big.txt": {Type: engine.ModuleText, Content: make([]byte, loader.MaxCodeSize)}}}, isoerr.CodeTooLarge, "limit"},
		{"cpu limit over max", loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS("")}, Limits: &loader.Limits{CPUMs: 30001}}, isoerr.InvalidRequest, "cpuMs"},
		{"invalid wasm module imported", loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS(`import m from "./m.wasm"; export default { fetch: () => new Response(String(m)) }`), "m.wasm": {Type: engine.ModuleWasm, Content: []byte("not wasm")}}}, isoerr.WorkerException, "CompileError: invalid WebAssembly module"},
	}
	l := newLoader(t, loader.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fetched int
			s := l.Get("bad-"+strings.ReplaceAll(tt.name, " ", "-"), func() (loader.WorkerCode, error) { fetched++; return tt.code, nil })
			for range 2 { // a failed load fails every call, and is never cached
				_, err := s.Call(context.Background(), "x", nil)
				e := isoerr.As(err)
				if e == nil || e.Code != tt.want || !strings.Contains(e.Message+e.Stack, tt.msg) {
					t.Fatalf("got %v, want %s mentioning %q", err, tt.want, tt.msg)
				}
			}
			if fetched != 2 {
				t.Fatalf("code callback ran %d times for 2 failed calls", fetched)
			}
		})
	}
	if _, err := l.Get("", nil).Call(context.Background(), "x", nil); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("empty id: %v", err)
	}
	if _, err := l.Get("bad\x00id", nil).Call(context.Background(), "x", nil); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("control character in id: %v", err)
	}
}

func TestModuleJSON(t *testing.T) {
	var c loader.WorkerCode
	err := json.Unmarshal([]byte(`{"mainModule":"a.js","modules":{
		"a.js":"export default {}", "b":{"cjs":"module.exports=1"}, "c":{"text":"t"},
		"d":{"data":"AQID"}, "e":{"json":{"k":[1]}}}}`), &c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		typ     engine.ModuleType
		content string
	}{
		"a.js": {"", "export default {}"}, "b": {engine.ModuleCJS, "module.exports=1"},
		"c": {engine.ModuleText, "t"}, "d": {engine.ModuleData, "\x01\x02\x03"}, "e": {engine.ModuleJSON, `{"k":[1]}`},
	}
	for name, w := range want {
		m := c.Modules[name]
		if m.Type != w.typ || string(m.Content) != w.content {
			t.Errorf("%s: got %s %q, want %s %q", name, m.Type, m.Content, w.typ, w.content)
		}
	}
	for _, bad := range []string{`{"js":"a","cjs":"b"}`, `{}`, `{"wat":"x"}`, `{"data":"!!"}`, `{"js":1}`, `5`} {
		var m loader.Module
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("module %s: accepted", bad)
		}
	}
}

func TestForget(t *testing.T) {
	l := newLoader(t, loader.Config{})
	var fetched atomic.Int32
	codeFn := func() (loader.WorkerCode, error) { fetched.Add(1); return code(counter), nil }
	call(t, l.Get("f", codeFn), "increment", "[]")
	call(t, l.Get("f", codeFn), "increment", "[]")
	l.Forget(context.Background(), "f")
	if s := l.Stats(); s.IdleSandboxes != 0 || s.Workers != 0 {
		t.Fatalf("after Forget: %+v", s)
	}
	res, got := call(t, l.Get("f", codeFn), "increment", "[]")
	if got != "1" || !res.Cold || fetched.Load() != 2 {
		t.Fatalf("after Forget: counter %s cold %v fetched %d", got, res.Cold, fetched.Load())
	}
	l.Forget(context.Background(), "never-loaded") // no-op
}

// A code loaded a second time gets an image of its state right after its modules were
// evaluated; from then on it starts from that image without evaluating them again.
func TestSeenCodeIsRestored(t *testing.T) {
	l := newLoader(t, loader.Config{})
	src := `let evaluations = (globalThis.evaluations ?? 0) + 1; globalThis.evaluations = evaluations;
let calls = 0; export default { hit() { return [evaluations, ++calls]; } };`
	codeFn := func() (loader.WorkerCode, error) { return code(src), nil }
	for i, want := range []bool{false, false, true, true} { // loads 1 and 2 evaluate; 3 and 4 restore
		id := fmt.Sprint("w", i)
		res, got := call(t, l.Get(id, codeFn), "hit", "[]")
		if got != "[1,1]" || !res.Cold || res.Restored != want {
			t.Fatalf("load %d: %s cold %v restored %v, want restored %v", i+1, got, res.Cold, res.Restored, want)
		}
		l.Forget(context.Background(), id)
	}
	if s := l.Stats(); s.CodeImages != 1 || s.CodeImageMemory == 0 {
		t.Fatalf("stats %+v", s)
	}
	// Different env is a different start-up: no image shared.
	c := code(src)
	c.Env = map[string]any{"X": 1}
	res, _ := call(t, l.Get("c", func() (loader.WorkerCode, error) { return c, nil }), "hit", "[]")
	if res.Restored {
		t.Fatal("code with another env was restored from the first one's image")
	}
	// Tenants never share images.
	c2 := code(src)
	c2.Tenant = "other"
	res, _ = call(t, l.Get("d", func() (loader.WorkerCode, error) { return c2, nil }), "hit", "[]")
	if res.Restored {
		t.Fatal("another tenant's identical code was restored from the first one's image")
	}
}

// Evicted idle workers hibernate to the image store and resume with their state, also in
// a new loader (a restart).
func TestHibernateAndResume(t *testing.T) {
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, loader.Config{Images: dir, IdleTTL: 30 * time.Millisecond})
	var fetched atomic.Int32
	codeFn := func() (loader.WorkerCode, error) { fetched.Add(1); return code(counter), nil }
	for i := 1; i <= 3; i++ {
		call(t, l.Get("h", codeFn), "increment", "[]")
	}
	waitFor(t, func() bool { return l.Stats().Hibernated == 1 })
	if s := l.Stats(); s.IdleSandboxes != 0 || s.Hibernations != 1 {
		t.Fatalf("after idle TTL: %+v", s)
	}
	res, got := call(t, l.Get("h", codeFn), "increment", "[]")
	if got != "4" || !res.Resumed {
		t.Fatalf("resume: counter %s resumed %v", got, res.Resumed)
	}
	if s := l.Stats(); s.Hibernated != 0 || s.Resumes != 1 {
		t.Fatalf("after resume: %+v", s)
	}
	// Closing the loader hibernates what is idle; a new loader (and engine state) resumes it.
	l.Close(context.Background())
	l2 := newLoader(t, loader.Config{Images: dir})
	res, got = call(t, l2.Get("h", codeFn), "increment", "[]")
	if got != "5" || !res.Resumed {
		t.Fatalf("after restart: counter %s resumed %v", got, res.Resumed)
	}
	// New code under the same id never resumes the old state.
	l2.Close(context.Background())
	l3 := newLoader(t, loader.Config{Images: dir})
	changed := code(counter + "\n// v2")
	res, got = call(t, l3.Get("h", func() (loader.WorkerCode, error) { return changed, nil }), "increment", "[]")
	if got != "1" || res.Resumed {
		t.Fatalf("changed code: counter %s resumed %v", got, res.Resumed)
	}
}

// A damaged hibernated image is discarded: the worker starts fresh.
func TestDamagedHibernatedImage(t *testing.T) {
	ctx := context.Background()
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, loader.Config{Images: dir})
	codeFn := func() (loader.WorkerCode, error) { return code(counter), nil }
	call(t, l.Get("d", codeFn), "increment", "[]")
	l.Close(ctx)
	keys, _ := dir.List(ctx, "worker:")
	if len(keys) != 1 {
		t.Fatalf("hibernated keys %v", keys)
	}
	b, _ := dir.Get(ctx, keys[0])
	b[len(b)/2] ^= 0xff
	if err := dir.Put(ctx, keys[0], b); err != nil {
		t.Fatal(err)
	}
	l2 := newLoader(t, loader.Config{Images: dir})
	res, got := call(t, l2.Get("d", codeFn), "increment", "[]")
	if got != "1" || res.Resumed {
		t.Fatalf("damaged image: counter %s resumed %v", got, res.Resumed)
	}
	if keys, _ := dir.List(ctx, "worker:"); len(keys) != 0 {
		t.Fatalf("damaged image kept: %v", keys)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a hang guard: one slow core under -race
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ctx.waitUntil work runs to its end (before the invocation ends); a rejected waitUntil
// promise is logged, not turned into a failure. RPC methods may answer with promises or
// thenables.
func TestWaitUntilAndAsyncAnswers(t *testing.T) {
	l := newLoader(t, loader.Config{})
	src := `const log = [];
export default {
  fetch(req, env, ctx) {
    ctx.waitUntil(new Promise((r) => setTimeout(() => { log.push("later"); r(); }, 5)));
    ctx.waitUntil(Promise.reject(new Error("background failure")));
    log.push("now");
    return new Response("answered");
  },
  log() { return log; },
  async add(a, b) { await null; return a + b; },
  thenable() { return { then(resolve) { resolve(42); } }; },
  async fails() { await null; throw new RangeError("async failure"); },
};`
	s := l.Get("wait", func() (loader.WorkerCode, error) { return code(src), nil })
	req, _ := http.NewRequest("GET", "http://localhost/", nil)
	res, err := s.Fetch(context.Background(), req)
	if err != nil || string(res.Body) != "answered" {
		t.Fatalf("fetch: %s %v", res.Body, err)
	}
	var sawError bool
	for _, lg := range res.Logs {
		sawError = sawError || (lg.Level == "error" && strings.Contains(lg.Message, "background failure"))
	}
	if !sawError {
		t.Fatalf("the rejected waitUntil promise was not logged: %+v", res.Logs)
	}
	if _, got := call(t, s, "log", "[]"); got != `["now","later"]` {
		t.Fatalf("waitUntil work did not finish with the invocation: %s", got)
	}
	if _, got := call(t, s, "add", "[2, 3]"); got != "5" {
		t.Fatalf("async method: %s", got)
	}
	if _, got := call(t, s, "thenable", "[]"); got != "42" {
		t.Fatalf("thenable: %s", got)
	}
	if _, err := s.Call(context.Background(), "fails", nil); isoerr.CodeOf(err) != isoerr.WorkerException || !strings.Contains(err.Error(), "RangeError: async failure") {
		t.Fatalf("async failure: %v", err)
	}
}
