package server

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
)

func wasmWorkerCode(t *testing.T, file string) api.WorkerCode {
	t.Helper()
	b, err := os.ReadFile("../engine/testdata/wasm/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return api.WorkerCode{MainModule: "app.wasm", Modules: map[string]api.Module{"app.wasm": {Type: api.ModuleWasm, Content: b}}}
}

// PUT /v1/workers/{id} stores a WebAssembly worker (the module base64 in JSON) and its
// fetches and RPC calls run it, in process and in sandbox processes; a module that
// imports what a sandbox lacks is refused at PUT.
func TestWasmWorkersOverHTTP(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{{"in process", Config{SandboxProcesses: -1}}, {"sandbox processes", Config{SandboxProcesses: 1}}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			ts := start(t, mode.cfg)
			if _, err := ts.c.PutWorker(ctx, "cmd", wasmWorkerCode(t, "cmd.wasm")); err != nil {
				t.Fatal(err)
			}
			out, err := ts.c.Fetch(ctx, "cmd", client.FetchRequest{Method: "POST", URL: "https://example.com/status",
				Headers: map[string]string{"X-Name": "Ada"}})
			if err != nil {
				t.Fatal(err)
			}
			if !out.OK || out.Status != 201 || out.Headers["x-method"] != "POST" || out.Body == nil || *out.Body != "hello Ada" {
				t.Fatalf("fetch: %+v", out)
			}
			out, err = ts.c.Fetch(ctx, "cmd", client.FetchRequest{Method: "POST", URL: "https://example.com/", Body: "echo ✓"})
			if err != nil || out.Body == nil || *out.Body != "echo ✓" {
				t.Fatalf("echo: %+v %v", out, err)
			}
			_, err = ts.c.Fetch(ctx, "cmd", client.FetchRequest{URL: "https://example.com/grow"})
			wantCode(t, err, isoerr.MemoryLimitExceeded)

			if _, err := ts.c.PutWorker(ctx, "reactor", wasmWorkerCode(t, "reactor.wasm")); err != nil {
				t.Fatal(err)
			}
			out, err = ts.c.Call(ctx, "reactor", "add", 2, 40)
			if err != nil || string(out.Result) != "42" {
				t.Fatalf("call: %+v %v", out, err)
			}
			_, err = ts.c.Call(ctx, "reactor", "nope")
			wantCode(t, err, isoerr.MethodNotFound)

			// A one-shot WebAssembly worker through POST /v1/run.
			run := map[string]any{"worker": wasmWorkerCode(t, "reactor.wasm"), "call": map[string]any{"method": "add", "args": []int{20, 22}}}
			if r := ts.raw(t, "POST", "/v1/run", mustMarshal(t, run), nil); r.status != 200 || !strings.Contains(string(r.body), `"result":42`) {
				t.Fatalf("run a WebAssembly worker: %d %s", r.status, r.body)
			}

			r := ts.raw(t, "PUT", "/v1/workers/bad", mustMarshal(t, wasmWorkerCode(t, "badimport.wasm")), nil)
			if r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidWorkerCode || !strings.Contains(r.err.Message, "env.steal_secrets") {
				t.Fatalf("bad import at PUT: %d %s", r.status, r.body)
			}
		})
	}
}
