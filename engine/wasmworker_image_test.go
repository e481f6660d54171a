package engine_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// A reactor WebAssembly worker's state (its linear memory and globals) is in its images:
// a fork and a restored image go on from it, each on its own, without _initialize running
// again; an image on disk restores too, and a command's image is its loaded worker.
func TestWasmWorkerImages(t *testing.T) {
	ctx := context.Background()
	bin := wasmFile(t, "reactor.wasm")
	sb := wasmWorker(t, bin, "")
	incr := func(sb *engine.Sandbox, want string) {
		t.Helper()
		res, err := sb.Call(ctx, engine.Limits{}, "", "incr", json.RawMessage("[]"), nil)
		if err != nil || string(res.Value) != want {
			t.Fatalf("incr = %s, %v; want %s", res.Value, err, want)
		}
	}
	incr(sb, "1")
	incr(sb, "2")
	child, err := sb.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close(ctx)
	incr(child, "3")
	incr(child, "4")
	incr(sb, "3")
	img, err := child.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	img2, err := testEngine.UnmarshalImage(b)
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.SandboxConfig{Wasm: true, Modules: engine.ModuleMap{"main.wasm": {Type: engine.ModuleWasm, Content: bin}}}
	for _, im := range []*engine.Image{img, img2} {
		r, err := testEngine.Restore(ctx, im, cfg)
		if err != nil {
			t.Fatal(err)
		}
		incr(r, "5")
		r.Close(ctx)
	}
	// A forged state (past the checksum) is invalid_request, or restores a working sandbox.
	raw, err := engine.WasmStateRaw(img)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 40 {
		f := append([]byte(nil), raw...)
		if i%2 == 0 {
			f = f[:rng.IntN(len(f))]
		} else {
			f[rng.IntN(min(len(f), 200))] ^= byte(1 + rng.IntN(255))
		}
		bb, err := engine.ReplaceWasmState(b, f)
		if err != nil {
			t.Fatal(err)
		}
		im, err := testEngine.UnmarshalImage(bb)
		if err == nil {
			var r *engine.Sandbox
			if r, err = testEngine.Restore(ctx, im, cfg); err == nil {
				_, _ = r.Call(ctx, engine.Limits{}, "", "incr", json.RawMessage("[]"), nil)
				r.Close(ctx)
			}
		}
		if c := isoerr.CodeOf(err); err != nil && c != isoerr.InvalidRequest && c != isoerr.MemoryLimitExceeded {
			t.Errorf("forged state %d: %v", i, err)
		}
	}
	// Other bytes under the module's name are refused.
	other := engine.SandboxConfig{Wasm: true, Modules: engine.ModuleMap{"main.wasm": {Type: engine.ModuleWasm, Content: wasmFile(t, "cmd.wasm")}}}
	if _, err := testEngine.Restore(ctx, img2, other); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Fatalf("restore with other bytes: %v", err)
	}

	cmd := wasmWorker(t, wasmFile(t, "cmd.wasm"), `{"GREETING":"hi"}`)
	cimg, err := cmd.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := testEngine.Restore(ctx, cimg, engine.SandboxConfig{Wasm: true, Modules: engine.ModuleMap{"main.wasm": {Type: engine.ModuleWasm, Content: wasmFile(t, "cmd.wasm")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	res, err := wasmFetch(t, r, engine.Limits{}, "/env", "x")
	if err != nil || !strings.Contains(string(res.Body), "GREETING=hi\n") {
		t.Fatalf("restored command: %q %v", res.Body, err)
	}
}
