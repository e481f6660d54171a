package loader_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/loader"
)

// stateWasm is engine's test module of the same name (engine/wasmjs_snapshot_test.go): a
// memory, a mutable global that is not exported (bump adds one to it and answers it), and
// a start function that adds 100 to it.
const stateWasm = "AGFzbQEAAAABGwZgAAF/YAJ/fwBgAX8Bf2AAAGAAAX9gAX8BfwMHBgABAgMEBQQFAXABAQEFAwEAAQYGAX8BQQALBzIGBGJ1bXAAAARwb2tlAAEEcGVlawACBXNldmVuAAQIdmlhVGFibGUABQZtZW1vcnkCAAgBAwkHAQBBAAsBBAo3BgsAIwBBAWokACMACwkAIAAgAToAAAsHACAALQAACwoAIwBB5ABqJAALBABBBwsHACAAEQQACw=="

// wasmJSCode is a JavaScript worker that instantiates its wasm module at the top level.
func wasmJSCode(t *testing.T) loader.WorkerCode {
	bin, err := base64.StdEncoding.DecodeString(stateWasm)
	if err != nil {
		t.Fatal(err)
	}
	c := code(`import lib from "./lib.wasm";
globalThis.evaluations = (globalThis.evaluations ?? 0) + 1;
const x = new WebAssembly.Instance(lib).exports;
x.poke(5, 40);
export default { hit() { x.poke(5, x.peek(5) + 1); return [evaluations, x.bump(), x.peek(5)]; } };`)
	c.Modules["lib.wasm"] = loader.Module{Type: engine.ModuleWasm, Content: bin}
	return c
}

// A worker that holds WebAssembly instances gets a per-code image like any other: its
// third load starts from the image, with the instance's memory and globals as the top
// level left them, and its start function not run again.
func TestWasmJSWorkerCodeImage(t *testing.T) {
	l := newLoader(t, loader.Config{})
	codeFn := func() (loader.WorkerCode, error) { return wasmJSCode(t), nil }
	for i, want := range []bool{false, false, true, true} {
		id := fmt.Sprint("w", i)
		res, got := call(t, l.Get(id, codeFn), "hit", "[]")
		if got != "[1,101,41]" || !res.Cold || res.Restored != want {
			t.Fatalf("load %d: %s cold %v restored %v, want restored %v", i+1, got, res.Cold, res.Restored, want)
		}
		l.Forget(context.Background(), id)
	}
	if s := l.Stats(); s.CodeImages != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// It hibernates when idle and resumes with its instance's state, also in a new loader (the
// image on disk names the module of the worker's module map).
func TestWasmJSWorkerHibernates(t *testing.T) {
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, loader.Config{Images: dir, IdleTTL: 30 * time.Millisecond})
	codeFn := func() (loader.WorkerCode, error) { return wasmJSCode(t), nil }
	call(t, l.Get("h", codeFn), "hit", "[]")
	call(t, l.Get("h", codeFn), "hit", "[]")
	waitFor(t, func() bool { return l.Stats().Hibernated == 1 })
	res, got := call(t, l.Get("h", codeFn), "hit", "[]")
	if got != "[1,103,43]" || !res.Resumed {
		t.Fatalf("resume: %s resumed %v", got, res.Resumed)
	}
	l.Close(context.Background())
	l2 := newLoader(t, loader.Config{Images: dir})
	res, got = call(t, l2.Get("h", codeFn), "hit", "[]")
	if got != "[1,104,44]" || !res.Resumed {
		t.Fatalf("after restart: %s resumed %v", got, res.Resumed)
	}
}
