package engine_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
)

// ResidentBytes counts the pages a sandbox wrote, not its linear memory: a new sandbox
// shares almost everything with the base image, memory the guest fills counts in full,
// trimming lowers it, and it never falls below what a snapshot must store (every page that
// differs from the image was written). (A sandbox restored into memory recycled from
// another holds the pages that one wrote, reset: TestRecycledMemory; none is kept here.)
func TestResidentBytes(t *testing.T) {
	testEngine.DropKeptMemory()
	sb := newSandbox(t, engine.SandboxConfig{})
	fresh := sb.ResidentBytes()
	if runtime.GOOS == "linux" && fresh > sb.MemoryBytes()/4 {
		t.Fatalf("a new sandbox holds %d KiB of its %d KiB on its own", fresh>>10, sb.MemoryBytes()>>10)
	}
	mustEval(t, sb, "globalThis.big = new Uint8Array(8 << 20).fill(1); big.length", "8388608")
	filled := sb.ResidentBytes()
	if filled < fresh+8<<20 {
		t.Fatalf("after filling 8 MiB: %d KiB resident, %d KiB before", filled>>10, fresh>>10)
	}
	mustEval(t, sb, "let s = 0; for (let i = 0; i < 1000; i++) s += String(i).length; s", "2890")
	before := sb.ResidentBytes()
	sb.Trim()
	trimmed := sb.ResidentBytes()
	if runtime.GOOS == "linux" && trimmed >= before {
		t.Fatalf("trim: %d KiB resident, %d KiB before", trimmed>>10, before>>10)
	}
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if trimmed < img.Size() || trimmed < 8<<20 {
		t.Fatalf("after trim %d KiB resident, but the snapshot holds %d KiB of changed pages", trimmed>>10, img.Size()>>10)
	}
}

// The base image's atoms are immortal (engine/js/build/patches/0003): a sandbox's uses of
// them raise no reference count. What a worker does with names must still be right: names
// of the runtime taken as values and dropped, thousands of new names (past the table's
// free room) made, collected and made again, registered symbols, a WeakMap keyed by
// objects named by them. And the image must come out of it unchanged: a second sandbox
// sees the same names.
func TestImageAtomsOutliveTheirUses(t *testing.T) {
	const code = `
	let s = 0;
	for (let r = 0; r < 50; r++) {
		for (const k of Object.getOwnPropertyNames(globalThis)) s += k.length;
		for (const k of Object.getOwnPropertyNames(Response.prototype)) s += String(k).length;
	}
	const made = new Set();
	for (let round = 0; round < 3; round++) {
		let keep = [];
		for (let i = 0; i < 6000; i++) {
			const o = {};
			o["fresh_" + round + "_" + i] = i;
			keep.push(Object.keys(o)[0]);
		}
		made.add(keep[5999]);
		keep = null;
		// garbage past the collection threshold, so the cycle collector runs
		let junk = [];
		for (let i = 0; i < 60000; i++) junk.push({a: [i], b: {c: i}});
		junk = null;
	}
	const sym = Symbol.for("isobox_atoms_" + "test");
	const wm = new WeakMap([[Response.prototype, 1]]);
	const names = Object.getOwnPropertyNames(Response.prototype).sort().join(",");
	JSON.stringify([s > 0, made.size, Symbol.keyFor(sym), wm.get(Response.prototype), names.length > 0, typeof fetch, new Response("x").status])`
	lim := engine.Limits{CPU: 60 * time.Second, Memory: 128 << 20}
	var first string
	for i := range 2 {
		sb := newSandbox(t, engine.SandboxConfig{Memory: 128 << 20})
		res, err := sb.Eval(context.Background(), lim, code)
		if err != nil {
			t.Fatalf("sandbox %d: %v", i, err)
		}
		if i == 0 {
			first = string(res.Value)
			if first != `"[true,3,\"isobox_atoms_test\",1,true,\"function\",200]"` {
				t.Fatalf("sandbox %d: %s", i, first)
			}
		}
		if string(res.Value) != first {
			t.Fatalf("sandbox %d saw %s, the first %s", i, res.Value, first)
		}
		mustEval(t, sb, `Object.getOwnPropertyNames(Response.prototype).sort().join(",") === `+
			`Object.getOwnPropertyNames(Response.prototype).sort().join(",")`, "true")
	}
}

// An idle worker that uses only the runtime's classes and names keeps sharing almost all of
// the base image: its new shapes do not make QuickJS relink every shape of the image, its
// names raise no reference counts there, and a trimmed sandbox keeps no image page it
// only read. Measured 38-40 pages (160 KiB) for this worker on Linux; the bound is 1.6x
// that, where the shape-table regrowth alone added ~23 pages to a simpler worker's 36.
func TestIdleWorkerKeepsImageShared(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("private pages are read from /proc/self/pagemap")
	}
	ctx := context.Background()
	src := `let calls = 0;
export default {
  fetch(req, env) {
    calls++;
    const n = Number(new URL(req.url).searchParams.get("n") ?? 1000);
    let s = 0;
    for (let k = 0; k < n; k++) s += k * k;
    return Response.json({ id: env.ID, tag: "7", calls, sum: s });
  },
};`
	sb := newSandbox(t, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: []byte(src)}}})
	if _, err := sb.Load(ctx, engine.DefaultLimits(), "main.js", json.RawMessage(`{"ID":"7"}`)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		res, err := sb.Fetch(ctx, engine.DefaultLimits(), "default", &engine.Request{Method: "GET", URL: "http://dynamic/?n=1000"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(res.Body), `"calls":`) {
			t.Fatalf("body %s", res.Body)
		}
	}
	sb.Trim()
	if got := sb.ResidentBytes(); got > 64*4096 {
		t.Fatalf("an idle trimmed hello worker holds %d KiB of its own (measured 160 KiB)", got>>10)
	}
}
