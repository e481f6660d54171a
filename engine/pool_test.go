package engine_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
)

// poolEngine is an engine of its own that keeps n blank sandboxes (the shared test engine
// keeps none, so other tests see no pool).
func poolEngine(t *testing.T, n int) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{CacheDir: enginetest.CacheDir(), Defaults: enginetest.Defaults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	e.KeepBlank(n)
	return e
}

// waitFor polls cond with a guard of minutes (a one-core CI machine under -race).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

const poolWorker = `
let calls = 0;
export default {
  fetch(req) {
    calls++;
    const seen = String(globalThis.planted);
    const leak = typeof ({}).leak;
    globalThis.planted = new URL(req.url).searchParams.get("secret");
    Object.prototype.leak = "leaked";
    return Response.json({ calls, seen, leak, rand: Math.random() });
  },
};`

func poolFetch(t *testing.T, e *engine.Engine, secret string) (body string, sb *engine.Sandbox) {
	t.Helper()
	ctx := context.Background()
	sb, err := e.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: []byte(poolWorker)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/?secret=" + secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Body), sb
}

// A blank sandbox is the base image and nothing else, whoever used the ones before it:
// state a worker leaves (globals, prototypes, module state) never reaches the next user,
// no sandbox is handed out twice, each draws its own random numbers, and once the pool
// copies the pages workers usually write, an entry's memory is still the base image byte
// for byte (outside the stack and the random seed).
func TestBlankPoolEntriesAreBlankAndNeverShared(t *testing.T) {
	e := poolEngine(t, 2)
	ctx := context.Background()
	seen := map[*engine.Sandbox]bool{}
	rands := map[string]bool{}
	// Past the samples that decide the hot pages (8), so entries made after are copied too.
	for i := range 12 {
		waitFor(t, "a blank sandbox", func() bool { return engine.BlankReady(e) > 0 })
		body, sb := poolFetch(t, e, "tenant-"+string(rune('a'+i)))
		if seen[sb] {
			t.Fatalf("sandbox handed out twice")
		}
		seen[sb] = true
		for _, leak := range []string{"tenant-", `"leak":"string"`, `"calls":2`} {
			if strings.Contains(body, leak) {
				t.Fatalf("load %d saw another user's state (%s): %s", i, leak, body)
			}
		}
		r := body[strings.Index(body, `"rand"`):]
		if rands[r] {
			t.Fatalf("two sandboxes drew the same random number: %s", r)
		}
		rands[r] = true
		sb.Close(ctx)
	}
	waitFor(t, "the hot pages", func() bool { return engine.HotPages(e) > 0 })
	if n := engine.HotPages(e); n > 512 {
		t.Fatalf("%d hot pages, more than the bound of 512", n)
	}
	// An entry made after the pages were learned: wait until the pool is topped up again.
	for range 2 {
		waitFor(t, "a blank sandbox", func() bool { return engine.BlankReady(e) > 0 })
		sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if seen[sb] {
			t.Fatalf("sandbox handed out twice")
		}
		t.Logf("hot pages %d; a blank sandbox differs from the base image in %d bytes", engine.HotPages(e), engine.BaseImageDiff(sb))
		if n := engine.BaseImageDiff(sb); n > 64 {
			t.Errorf("a blank sandbox differs from the base image in %d bytes", n)
		}
		res, err := sb.Eval(ctx, engine.Limits{}, `[typeof globalThis.planted, typeof ({}).leak]`)
		if err != nil || string(res.Value) != `["undefined","undefined"]` {
			t.Errorf("blank sandbox: %s, %v", res.Value, err)
		}
		sb.Close(ctx)
	}
}

// A sandbox from the pool has its limits like any other: a runaway loop is stopped with
// cpu_limit_exceeded; a sandbox that asks for a memory limit other than the default is
// not taken from the pool, and its limit holds.
func TestBlankPoolLimitsApply(t *testing.T) {
	e := poolEngine(t, 1)
	ctx := context.Background()
	waitFor(t, "a blank sandbox", func() bool { return engine.BlankReady(e) > 0 })
	sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	if engine.BlankTaken(e) != 1 {
		t.Fatalf("the pool's sandbox was not the one handed out")
	}
	_, err = sb.Eval(ctx, engine.Limits{CPU: 20 * time.Millisecond}, `while (true) {}`)
	if isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("runaway loop in a pooled sandbox: %v", err)
	}
	waitFor(t, "a blank sandbox", func() bool { return engine.BlankReady(e) > 0 })
	small, err := e.NewSandbox(ctx, engine.SandboxConfig{Memory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close(ctx)
	if engine.BlankTaken(e) != 1 {
		t.Fatalf("a sandbox with a memory limit of its own was taken from the pool")
	}
	_, err = small.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, `const a = []; for (;;) a.push(new Uint8Array(1 << 20)); 1`)
	if isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Fatalf("32 MiB in a 16 MiB sandbox: %v", err)
	}
}

// Growing a sandbox's native stack (what a pooled sandbox does while it waits) changes no
// byte of its memory, and the sandbox works as before.
func TestGrowStackLeavesMemoryAlone(t *testing.T) {
	ctx := context.Background()
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: []byte(poolWorker)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	before := bytes.Clone(engine.RawMemory(sb))
	engine.GrowStack(sb)
	after := engine.RawMemory(sb)
	if len(after) != len(before) {
		t.Fatalf("memory of %d bytes became %d", len(before), len(after))
	}
	if !bytes.Equal(before, after) {
		n := 0
		for i := range before {
			if before[i] != after[i] {
				n++
			}
		}
		t.Fatalf("growing the stack changed %d bytes of the sandbox's memory", n)
	}
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/?secret=s"}, nil)
	if err != nil || !strings.Contains(string(res.Body), `"calls":1`) {
		t.Fatalf("after growing the stack: %s %v", res.Body, err)
	}
}

// The pools read the size of the native stack wazero keeps for a sandbox's calls, an
// internal of the wazero this module pins (engine/nativestack.go): it reads, and it grows
// when the stack is grown. A wazero whose call engine changed fails here, and the pools
// would fall back to growing every entry to one fixed depth.
func TestNativeStackLen(t *testing.T) {
	ctx := context.Background()
	e := poolEngine(t, 0)
	sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	n0 := engine.NativeStackLen(sb)
	if n0 < 10<<10 {
		t.Fatalf("the native stack reads %d bytes, want wazero's initial 10 KiB or more", n0)
	}
	engine.GrowStack(sb)
	if n1 := engine.NativeStackLen(sb); n1 < 100<<10 || n1 <= n0 {
		t.Fatalf("grown, the native stack reads %d bytes (%d before), want 100 KiB or more", n1, n0)
	}
	sb.Trim()
	if n := engine.NativeStackLen(sb); n != -1 {
		t.Fatalf("trimmed, the sandbox still holds a native stack of %d bytes", n)
	}
}

// The blank pool, whose first sandboxes may be any tenant's, does not learn its entries'
// stack depth from them: after workers that recurse deep, its entries are grown to the
// fixed depth, as before them.
func TestBlankPoolKeepsItsStackDepth(t *testing.T) {
	ctx := context.Background()
	e := poolEngine(t, 1)
	deep := `function deep(n) { return n === 0 ? 0 : 1 + deep(n - 1); }
export default { fetch() { return new Response(String(deep(30))); } };`
	take := func() *engine.Sandbox {
		t.Helper()
		waitFor(t, "a blank sandbox", func() bool { return engine.BlankReady(e) > 0 })
		taken := engine.BlankTaken(e)
		sb, err := e.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: []byte(deep)}}})
		if err != nil {
			t.Fatal(err)
		}
		if engine.BlankTaken(e) != taken+1 {
			t.Fatal("the sandbox was not taken from the pool")
		}
		return sb
	}
	first := take()
	fixed := engine.NativeStackLen(first)
	first.Close(ctx)
	for i := range 10 {
		sb := take()
		if n := engine.NativeStackLen(sb); n != fixed {
			t.Fatalf("entry %d has a native stack of %d bytes, the first had %d", i, n, fixed)
		}
		if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
			t.Fatal(err)
		}
		res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil)
		if err != nil || string(res.Body) != "30" {
			t.Fatalf("entry %d answered %q, %v", i, res.Body, err)
		}
		if n := engine.NativeStackLen(sb); n <= fixed {
			t.Fatalf("entry %d: a 30-deep recursion left the stack at %d bytes; the test no longer needs more than the fixed depth", i, n)
		}
		sb.Close(ctx)
	}
}
