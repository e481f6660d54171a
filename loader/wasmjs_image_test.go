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

// linkLibWasm and linkDispatchWasm are engine's test modules of those names (see
// session/wasmjs_test.go); linkUserWasm imports a funcref table env.tbl and exports call0,
// calling its element 0.
const (
	linkLibWasm      = "AGFzbQEAAAABFARgAAF/YAF/AX9gAXABcGABcAF/AwUEAAECAwQFAXABAgoHHwUCZjEAAAJmMgABAmlkAAIGaXNudWxsAAMDdGJsAQAJBwEAQQALAQAKGQQEAEEBCwcAIABBAmwLBAAgAAsFACAA0Qs="
	linkDispatchWasm = "AGFzbQEAAAABDAJgAX8Bf2ACf38BfwMDAgABBAUBcAECCgcPAgVjYWxsaQABA3RibAEACQcBAEEACwEAChQCCAAgAEHkAGoLCQAgASAAEQAACw=="
	linkUserWasm     = "AGFzbQEAAAABFARgAAF/YAJ/fwF/YAF/AGABfwF/Ag4BA2VudgN0YmwBcAEBCgMFBAAAAQIHGwQBZwAABWNhbGwwAAEFY2FsbGkAAgNwdXQAAwohBAQAQQcLBwBBABEAAAsJACABIAARAwALCAAgANIAJgAL"
)

// A worker whose top level links instances by function references gets a per-code image
// (its third load is restored, the links and identities with it); one whose top level
// imports a Table made in JavaScript cannot (not_implemented): it is loaded cold each time,
// and answers the same.
func TestWasmJSLinkedWorkerCodeImage(t *testing.T) {
	mods := func() map[string]loader.Module {
		m := map[string]loader.Module{}
		for name, b64 := range map[string]string{"lib.wasm": linkLibWasm, "disp.wasm": linkDispatchWasm, "user.wasm": linkUserWasm} {
			bin, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			m[name] = loader.Module{Type: engine.ModuleWasm, Content: bin}
		}
		return m
	}
	for _, tc := range []struct {
		name, src, want string
		imaged          bool
	}{
		{name: "funcrefs", imaged: true, want: "[42,101,true,true]",
			src: `import lib from "./lib.wasm"; import disp from "./disp.wasm";
const A = new WebAssembly.Instance(lib).exports, D = new WebAssembly.Instance(disp).exports;
D.tbl.set(1, A.f2); const h = D.tbl.get(0);
export default { hit() { return [D.calli(1, 21), h(1), D.tbl.get(1) === A.f2, D.tbl.get(0) === h]; } };`},
		{name: "a Table made in JavaScript", want: "[1,true,true,true]",
			src: `import lib from "./lib.wasm"; import user from "./user.wasm";
const A = new WebAssembly.Instance(lib).exports;
const T = new WebAssembly.Table({ element: "anyfunc", initial: 1, maximum: 2 }, A.f1);
const B = new WebAssembly.Instance(user, { env: { tbl: T } }).exports;
export default { hit() { return [B.call0(), T.get(0) === A.f1, true, true]; } };`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoader(t, loader.Config{})
			codeFn := func() (loader.WorkerCode, error) {
				c := code(tc.src)
				for k, v := range mods() {
					c.Modules[k] = v
				}
				return c, nil
			}
			for i := range 4 {
				id := fmt.Sprint("w", i)
				res, got := call(t, l.Get(id, codeFn), "hit", "[]")
				if want := tc.imaged && i >= 2; got != tc.want || !res.Cold || res.Restored != want {
					t.Fatalf("load %d: %s cold %v restored %v, want %s restored %v", i+1, got, res.Cold, res.Restored, tc.want, want)
				}
				l.Forget(context.Background(), id)
			}
		})
	}
}
