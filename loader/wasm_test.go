package loader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// wasmCode is a WebAssembly worker of one of engine's test modules (built from C by
// engine/testdata/wasm/build.sh).
func wasmCode(t *testing.T, file string) loader.WorkerCode {
	t.Helper()
	b, err := os.ReadFile("../engine/testdata/wasm/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return loader.WorkerCode{MainModule: "app.wasm", Modules: map[string]loader.Module{"app.wasm": {Type: api.ModuleWasm, Content: b}},
		Env: map[string]any{"GREETING": "hi"}}
}

// A worker whose main module is .wasm runs as a WebAssembly worker through the same
// stubs: a command answers fetches, a reactor RPC calls with its state kept in the warm
// sandbox.
func TestWasmWorker(t *testing.T) {
	ctx := context.Background()
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, loader.Config{Images: dir})
	cmd := l.Get("wasm-cmd", func() (loader.WorkerCode, error) { return wasmCode(t, "cmd.wasm"), nil })
	req := httptest.NewRequest("PUT", "https://w.example/status", nil)
	req.Header.Set("X-Name", "Ada")
	res, err := cmd.Fetch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 201 || string(res.Body) != "hello Ada" || res.Header().Get("X-Method") != "PUT" || !res.Cold {
		t.Fatalf("got %d %v %q cold=%v", res.Status, res.Headers, res.Body, res.Cold)
	}
	res, err = cmd.Fetch(ctx, httptest.NewRequest("POST", "https://w.example/env", strings.NewReader("x")))
	if err != nil || !strings.Contains(string(res.Body), "GREETING=hi\n") || res.Cold {
		t.Fatalf("env: %v %q cold=%v", err, res.Body, res.Cold)
	}
	_, err = cmd.Fetch(ctx, httptest.NewRequest("GET", "https://w.example/exit", nil))
	if e := isoerr.As(err); err == nil || e.Code != isoerr.WorkerException || !strings.Contains(e.Message, "status 3") {
		t.Fatalf("exit: %v", err)
	}

	r := l.Get("wasm-reactor", func() (loader.WorkerCode, error) { return wasmCode(t, "reactor.wasm"), nil })
	for want := 1; want <= 3; want++ {
		res, err := r.Call(ctx, "incr", nil)
		if err != nil || string(res.Value) != strconv.Itoa(want) {
			t.Fatalf("incr #%d = %s, %v", want, res.Value, err)
		}
	}
	res, err = r.Call(ctx, "add", json.RawMessage("[40, 2]"))
	if err != nil || string(res.Value) != "42" {
		t.Fatalf("add = %s, %v", res.Value, err)
	}
}

// A reactor gets a per-code image (its state after _initialize) and hibernates with its
// state, also across a new loader (a restart).
func TestWasmWorkerImages(t *testing.T) {
	ctx := context.Background()
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, loader.Config{Images: dir, IdleTTL: 30 * time.Millisecond})
	codeFn := func() (loader.WorkerCode, error) { return wasmCode(t, "reactor.wasm"), nil }
	incr := func(l *loader.Loader, id, want string) *loader.Result {
		t.Helper()
		res, err := l.Get(id, codeFn).Call(ctx, "incr", nil)
		if err != nil || string(res.Value) != want {
			t.Fatalf("%s: incr = %s, %v; want %s", id, res.Value, err, want)
		}
		return res
	}
	for i, restored := range []bool{false, false, true} { // the third load starts from the code's image
		if res := incr(l, fmt.Sprint("w", i), "1"); res.Restored != restored {
			t.Fatalf("load %d: restored %v", i+1, res.Restored)
		}
	}
	incr(l, "w0", "2")
	waitFor(t, func() bool { return l.Stats().Hibernated >= 1 })
	l.Close(ctx)
	l2 := newLoader(t, loader.Config{Images: dir})
	if res := incr(l2, "w0", "3"); !res.Resumed {
		t.Fatal("not resumed after a restart")
	}
}

func TestWasmWorkerInvalidCode(t *testing.T) {
	ctx := context.Background()
	l := newLoader(t, loader.Config{})
	bad := func(mutate func(*loader.WorkerCode)) loader.WorkerCode {
		c := wasmCode(t, "cmd.wasm")
		mutate(&c)
		return c
	}
	for _, tc := range []struct {
		name     string
		code     loader.WorkerCode
		contains string
	}{
		{"garbage", bad(func(c *loader.WorkerCode) { c.Modules["app.wasm"] = loader.Module{Content: []byte("hello")} }), "not a WebAssembly module"},
		{"unknown import", wasmCode(t, "badimport.wasm"), "env.steal_secrets"},
		{"second module", bad(func(c *loader.WorkerCode) { c.Modules["lib.js"] = loader.JS("export {}") }), "that one module"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := l.Compile(ctx, tc.code)
			if e := isoerr.As(err); err == nil || e.Code != isoerr.InvalidWorkerCode || !strings.Contains(e.Message, tc.contains) {
				t.Fatalf("Compile: %v, want invalid_worker_code containing %q", err, tc.contains)
			}
			stub := l.Load(tc.code)
			defer stub.Close(ctx)
			_, err = stub.Fetch(ctx, httptest.NewRequest("GET", "https://w.example/", nil))
			if e := isoerr.As(err); err == nil || e.Code != isoerr.InvalidWorkerCode {
				t.Fatalf("Fetch: %v, want invalid_worker_code", err)
			}
		})
	}
}

// The API's JSON form carries a wasm module as base64; an untyped module named .wasm (a
// Go caller's) is typed by its name.
func TestWasmWorkerJSON(t *testing.T) {
	ctx := context.Background()
	b, err := json.Marshal(wasmCode(t, "cmd.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"app.wasm":{"wasm":"AGFzbQ`) {
		t.Fatalf("JSON form: %.200s", b)
	}
	var c loader.WorkerCode
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	untyped := wasmCode(t, "cmd.wasm")
	untyped.Modules["app.wasm"] = loader.Module{Content: untyped.Modules["app.wasm"].Content}
	for _, c := range []loader.WorkerCode{c, untyped} {
		stub := newLoader(t, loader.Config{}).Load(c)
		defer stub.Close(ctx)
		res, err := stub.Fetch(ctx, httptest.NewRequest("POST", "https://w.example/", strings.NewReader("round trip")))
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Body) != "round trip" {
			t.Fatalf("body %q", res.Body)
		}
	}
}
