package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
)

// depImage is the image of a sandbox that evaluated some package state: what every app on
// those packages starts from (the loader's dependency image).
func depImage(t *testing.T, e *engine.Engine, tag string) *engine.Image {
	t.Helper()
	ctx := context.Background()
	sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	if _, err := sb.Eval(ctx, engine.Limits{}, `globalThis.dep = { tag: "`+tag+`", routes: Array.from({ length: 3000 }, (_, i) => ({ path: "/r" + i })) }; 1`); err != nil {
		t.Fatal(err)
	}
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// An app on the packages: it reads and writes the package state (the pages a pool learns
// to copy), plants a secret and pollutes a prototype, and reports what it found of the
// apps before it.
const depApp = `
export default {
  fetch(req) {
    const seen = [String(globalThis.planted), typeof ({}).leak, dep.routes[7].hits ?? 0];
    for (const r of dep.routes) r.hits = (r.hits ?? 0) + 1;
    globalThis.planted = new URL(req.url).searchParams.get("secret");
    Object.prototype.leak = "leaked";
    return Response.json({ seen, tag: dep.tag, rand: Math.random() });
  },
};`

func depFetch(t *testing.T, e *engine.Engine, img *engine.Image, cfg engine.SandboxConfig, secret string) (map[string]any, *engine.Sandbox) {
	t.Helper()
	ctx := context.Background()
	cfg.Modules = engine.ModuleMap{"app.js": {Type: engine.ModuleJS, Content: []byte(depApp)}}
	sb, err := e.Restore(ctx, img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Load(ctx, engine.Limits{}, "app.js", nil); err != nil {
		t.Fatal(err)
	}
	res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/?secret=" + secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(res.Body, &out); err != nil {
		t.Fatalf("%s: %v", res.Body, err)
	}
	return out, sb
}

// Sandboxes kept restored from an image are that image and nothing else, whoever used
// the ones before: no app sees another's globals, prototypes or writes to the package
// state, none is handed out twice, each draws its own random numbers; once the pool has
// learned the pages apps write and copies them in advance, the entries still hold the
// image's state exactly. A sandbox with a memory limit of its own is not taken from the
// pool.
func TestKeptRestoredSandboxesAreTheImageOnly(t *testing.T) {
	ctx := context.Background()
	e := poolEngine(t, 0)
	img := depImage(t, e, "v1")
	e.KeepRestored(img, 2)
	ready := func() bool { n, _, _, _ := engine.RestoredPool(img); return n > 0 }
	seen := map[*engine.Sandbox]bool{}
	rands := map[any]bool{}
	// Past the samples that decide the hot pages (8), so later entries are copied too.
	for i := range 14 {
		waitFor(t, "a restored sandbox", ready)
		_, taken0, _, _ := engine.RestoredPool(img)
		got, sb := depFetch(t, e, img, engine.SandboxConfig{}, fmt.Sprint("secret-", i))
		if _, taken, _, _ := engine.RestoredPool(img); taken != taken0+1 {
			t.Fatalf("load %d: the pool handed out %d sandboxes, want %d", i, taken, taken0+1)
		}
		if seen[sb] {
			t.Fatalf("load %d: a sandbox handed out twice", i)
		}
		seen[sb] = true
		if s := fmt.Sprint(got["seen"]); s != "[undefined undefined 0]" || got["tag"] != "v1" {
			t.Fatalf("load %d found %s, tag %v: want the image's state only", i, s, got["tag"])
		}
		if rands[got["rand"]] {
			t.Fatalf("load %d drew a random number another load drew: %v", i, got["rand"])
		}
		rands[got["rand"]] = true
		sb.Close(ctx)
	}
	_, _, hot, _ := engine.RestoredPool(img)
	if hot == 0 || hot > 512 {
		t.Fatalf("%d hot pages learned, want some and at most 512", hot)
	}
	// A memory limit of its own: restored afresh, and the limit holds.
	_, taken0, _, _ := engine.RestoredPool(img)
	got, sb := depFetch(t, e, img, engine.SandboxConfig{Memory: 48 << 20}, "own-limit")
	defer sb.Close(ctx)
	if _, taken, _, _ := engine.RestoredPool(img); taken != taken0 {
		t.Fatalf("a sandbox with a memory limit of its own was taken from the pool")
	}
	if s := fmt.Sprint(got["seen"]); s != "[undefined undefined 0]" {
		t.Fatalf("restored afresh, found %s", s)
	}
	if _, err := sb.Eval(ctx, engine.Limits{}, `const a = []; for (;;) a.push(new Uint8Array(1 << 20)); 1`); err == nil {
		t.Fatal("a 48 MiB sandbox grew without bound")
	}
}

// An app whose load and first response recurse deep: its calls need more native stack
// than a pool grows an entry's to before it has learned (a hello's).
const deepApp = `
function deep(n) { return n === 0 ? dep.tag : deep(n - 1); }
const atLoad = deep(30);
export default { fetch() { return new Response(atLoad + deep(30)); } };`

// A pool learns how deep its apps' load and first response take the native stack, and
// grows its entries' stacks that deep while they wait: once it has learned, an app that
// recurses deep grows and copies no stack on the request path, where the first apps did.
func TestKeptRestoredSandboxesGrowTheStackAppsNeed(t *testing.T) {
	ctx := context.Background()
	e := poolEngine(t, 0)
	img := depImage(t, e, "deep")
	e.KeepRestored(img, 1)
	// load takes an entry of the pool and returns its native stack's size before the
	// app's load and after its first response.
	load := func(i int) (before, after int) {
		t.Helper()
		waitFor(t, "a restored sandbox", func() bool { n, _, _, _ := engine.RestoredPool(img); return n > 0 })
		_, taken0, _, _ := engine.RestoredPool(img)
		sb, err := e.Restore(ctx, img, engine.SandboxConfig{Modules: engine.ModuleMap{"app.js": {Type: engine.ModuleJS, Content: []byte(deepApp)}}})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close(ctx)
		if _, taken, _, _ := engine.RestoredPool(img); taken != taken0+1 {
			t.Fatalf("load %d was not given a pool entry", i)
		}
		before = engine.NativeStackLen(sb)
		if _, err := sb.Load(ctx, engine.Limits{}, "app.js", nil); err != nil {
			t.Fatal(err)
		}
		res, err := sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil)
		if err != nil || string(res.Body) != "deepdeep" {
			t.Fatalf("load %d answered %q, %v", i, res.Body, err)
		}
		return before, engine.NativeStackLen(sb)
	}
	// The first apps teach the pool (8 samples); their stacks grow as they run.
	for i := range 8 {
		before, after := load(i)
		t.Logf("learning load %d: native stack %d bytes before, %d after", i, before, after)
		if before <= 0 || after <= before {
			t.Fatalf("learning load %d: native stack %d bytes before the app, %d after: want it to grow", i, before, after)
		}
	}
	target, calls := engine.RestoredStack(img)
	t.Logf("learned: %d bytes, entries grown %d calls deep", target, calls)
	// The entry made before the pool had learned is handed out first (load 8); the next
	// ones are grown to what the apps need.
	load(8)
	for i := 9; i < 12; i++ {
		before, after := load(i)
		if after != before {
			t.Fatalf("load %d after learning: native stack %d bytes before the app, %d after: want the pool to have grown it", i, before, after)
		}
		if 3*before <= 2*target {
			t.Fatalf("load %d after learning: entry's stack %d bytes, the apps needed %d", i, before, target)
		}
	}
}

// At most four images have a pool, the least recently kept losing its own; DropRestored
// and Engine.Close close a pool and its entries, and the image still restores.
func TestRestoredPoolsAreBounded(t *testing.T) {
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{CacheDir: enginetest.CacheDir(), Defaults: enginetest.Defaults})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	var imgs []*engine.Image
	for i := range 5 {
		img := depImage(t, e, fmt.Sprint("v", i))
		imgs = append(imgs, img)
		e.KeepRestored(img, 1)
	}
	if _, _, _, ok := engine.RestoredPool(imgs[0]); ok {
		t.Fatal("a fifth image's pool did not take the place of the least recently kept")
	}
	for _, img := range imgs[1:] {
		if _, _, _, ok := engine.RestoredPool(img); !ok {
			t.Fatal("one of the four most recently kept images has no pool")
		}
	}
	waitFor(t, "a restored sandbox", func() bool { n, _, _, _ := engine.RestoredPool(imgs[4]); return n > 0 })
	e.DropRestored(imgs[4])
	if _, _, _, ok := engine.RestoredPool(imgs[4]); ok {
		t.Fatal("DropRestored left the pool")
	}
	for i, img := range []*engine.Image{imgs[0], imgs[4]} {
		got, sb := depFetch(t, e, img, engine.SandboxConfig{}, "after")
		sb.Close(ctx)
		if want := fmt.Sprint("v", 4*i); got["tag"] != want {
			t.Fatalf("an image without its pool restored %v, want %s", got["tag"], want)
		}
	}
}

// An image taken after Sandbox.Settle (as the loader takes a dependency image) stays
// shared through an app's first request that allocates a few MiB: the collection that such
// a request would otherwise set off writes into every object of the image, which makes
// each page of it the app's own copy (RATIONALE §96). The same image unsettled is the
// control: there the request does copy most of the image's pages.
func TestSettledImageStaysSharedThroughTheFirstRequest(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("private pages are read from /proc/self/pagemap")
	}
	ctx := context.Background()
	e := poolEngine(t, 0)
	// Package state that leaves the heap a little short of its next collection. It links
	// objects of one size until the collector runs (seen through a WeakRef to a cycle, which
	// only a collection frees), twice: the second run's count, gap, is half the heap at the
	// first collection. A collection sets the next at 1.5 times the heap, 1.5 gaps on, so it
	// links all but a tenth of a gap more. A settled image defers it by 4 MiB instead.
	deps := `
		let head = null;
		const link = (n) => { head = { n, s: "pad" + n, next: head }; };
		const untilCollection = () => {
			const ref = new WeakRef((() => { const c = {}; c.c = c; return c; })());
			let n = 0;
			while (ref.deref() !== undefined) link(n++);
			return n;
		};
		untilCollection();
		const gap = untilCollection();
		for (let i = 0; i < 1.4 * gap; i++) link(i);
		globalThis.dep = { head, gap };
		gap`
	// A first request that links 0.4 gaps of the same objects (~1 MiB): a collection is due
	// in the unsettled image, and not in the settled one.
	app := `export default { fetch() {
		let h = null, n = 0;
		for (; n < 0.4 * dep.gap; n++) h = { n, s: "pad" + n, next: h };
		return new Response(h.n === n - 1 ? "linked" : "?");
	} };`
	for _, settle := range []bool{true, false} {
		sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := sb.Eval(ctx, engine.Limits{CPU: 20 * time.Second}, deps); err != nil {
			t.Fatal(err)
		} else {
			t.Logf("settle %v: half the heap at the first collection was %s objects", settle, res.Value)
		}
		if settle {
			if err := sb.Settle(); err != nil {
				t.Fatal(err)
			}
		}
		img, err := sb.Snapshot()
		sb.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		app, err := e.Restore(ctx, img, engine.SandboxConfig{Modules: engine.ModuleMap{"app.js": {Type: engine.ModuleJS, Content: []byte(app)}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Load(ctx, engine.Limits{}, "app.js", nil); err != nil {
			t.Fatal(err)
		}
		res, err := app.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://x/"}, nil)
		if err != nil || string(res.Body) != "linked" {
			t.Fatalf("settle %v: %q %v", settle, res.Body, err)
		}
		copied, of, ok := engine.ImagePagesCopied(app, img)
		app.Close(ctx)
		if !ok {
			t.Skip("the pagemap cannot be read here")
		}
		t.Logf("settled %v: the first request copied %d of the image's %d pages", settle, copied, of)
		if settle && 4*copied > of {
			t.Errorf("restored from a settled image, the first request copied %d of its %d pages, want at most a quarter", copied, of)
		}
		if !settle && 2*copied < of {
			t.Errorf("control: restored from an unsettled image, the first request copied only %d of its %d pages; the test no longer sets off a collection", copied, of)
		}
	}
}
