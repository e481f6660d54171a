package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/isobox/isobox/api"
)

// A stored worker with an FS binding keeps its files in the data directory: they are
// there after a restart of the server. With sandbox processes too: their filesystem calls
// cross to the server process, which holds the store.
func TestStoredWorkerFSBindingSurvivesRestart(t *testing.T) {
	for _, procs := range []int{-1, 1} {
		t.Run(fmt.Sprintf("processes=%d", max(procs, 0)), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			code := js(`import { env } from "cloudflare:workers";
export default {
  async save(text) { return (await env.FS.writeFile("notes/today.txt", text)).size; },
  async load() { return env.FS.readFile("notes/today.txt"); },
  async vandalize() { return env.RO.writeFile("notes/today.txt", "gone").then(() => "wrote", (e) => e.code); },
};`)
			code.Bindings = map[string]api.Binding{"FS": {Workspace: "notes"}, "RO": {Workspace: "notes", ReadOnly: true}}

			ts := start(t, Config{DataDir: dir, SandboxProcesses: procs})
			if _, err := ts.c.PutWorker(ctx, "notes", code); err != nil {
				t.Fatal(err)
			}
			if out, err := ts.c.Call(ctx, "notes", "save", "remember this"); err != nil || string(out.Result) != "13" {
				t.Fatalf("save: %v %v", out, err)
			}
			if out, err := ts.c.Call(ctx, "notes", "vandalize"); err != nil || string(out.Result) != `"read_only"` {
				t.Fatalf("write through the read-only binding: %v %v", out, err)
			}
			ts.stop(t)

			ts = start(t, Config{DataDir: dir, SandboxProcesses: procs})
			if out, err := ts.c.Call(ctx, "notes", "load"); err != nil || string(out.Result) != `"remember this"` {
				t.Fatalf("after a restart: %v %v", out, err)
			}
		})
	}
}

// A bad binding is refused when the worker is stored.
func TestPutWorkerBadBinding(t *testing.T) {
	ts := start(t, Config{SandboxProcesses: -1})
	code := js(`export default { f() { return 1; } };`)
	code.Bindings = map[string]api.Binding{"FS": {Workspace: "../etc"}}
	_, err := ts.c.PutWorker(context.Background(), "bad", code)
	wantCode(t, err, "invalid_worker_code")
}
