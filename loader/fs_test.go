package loader_test

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
)

// fsWorker exercises env.FS: every method returns what it saw, and errors come back as
// their code so the test can compare them.
const fsWorker = `
import { env } from "cloudflare:workers";
const code = (p) => p.then(() => "ok", (e) => e.code + (e instanceof Error ? "" : "!"));
export default {
  async roundTrip(fs) {
    const FS = env[fs];
    const info = await FS.writeFile("notes/a.txt", "hello");
    await FS.appendFile("notes/a.txt", " world");
    await FS.writeFile("bin/b.bin", new Uint8Array([0, 1, 2, 255]));
    await FS.writeJson("conf.json", { n: 1, list: [1, 2] });
    await FS.mkdir("empty/deep", { recursive: true });
    await FS.cp("notes", "copy", { recursive: true });
    await FS.mv("copy/a.txt", "copy/moved.txt");
    const bytes = await FS.readFile("bin/b.bin", "bytes");
    return {
      etag: typeof info.etag,
      text: await FS.readFile("notes/a.txt"),
      bytes: Array.from(bytes),
      json: await FS.readJson("conf.json"),
      dir: (await FS.readDir("/")).map((i) => i.name + ":" + i.type),
      moved: await FS.readFile("copy/moved.txt"),
      exists: [await FS.exists("copy/a.txt"), await FS.exists("copy/moved.txt")],
      stat: (await FS.stat("notes/a.txt")).size,
      missing: await code(FS.readFile("nope.txt")),
      escape: await code(FS.writeFile("../../etc/passwd", "x")),
      stale: await code(FS.writeFile("notes/a.txt", "x", { ifMatch: info.etag })),
      notEmpty: await code(FS.rm("notes")),
      rm: await code(FS.rm("notes", { recursive: true })),
      gone: await FS.exists("notes/a.txt"),
      staleRm: await code(FS.rm("conf.json", { ifMatch: info.etag })),
      rmIf: await code(FS.writeFile("tmp", "t").then((i) => FS.rm("tmp", { ifMatch: i.etag }))),
    };
  },
  async write(fs, path, text) { return code(env[fs].writeFile(path, text)); },
  async read(fs, path) { return env[fs].readFile(path); },
  async remove(fs, path) { return code(env[fs].rm(path, { recursive: true })); },
  keys() { return Object.keys(env).sort(); },
};
`

func fsLoader(t *testing.T) (*loader.Loader, *workspace.SQLite) {
	t.Helper()
	st, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newLoader(t, loader.Config{Workspaces: st}), st
}

func TestFSBindingStateAPI(t *testing.T) {
	l, st := fsLoader(t)
	c := code(fsWorker)
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}}
	stub := l.Get("fs", func() (loader.WorkerCode, error) { return c, nil })
	_, got := call(t, stub, "roundTrip", `["FS"]`)
	var r struct {
		Etag, Text, Moved, Missing, Escape, Stale, NotEmpty, Rm string
		StaleRm, RmIf                                           string
		Bytes                                                   []int
		JSON                                                    map[string]any
		Dir                                                     []string
		Exists                                                  []bool
		Stat                                                    int
		Gone                                                    bool
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]any{
		"etag":     {r.Etag, "string"},
		"text":     {r.Text, "hello world"},
		"moved":    {r.Moved, "hello world"},
		"bytes":    {jsonOf(r.Bytes), "[0,1,2,255]"},
		"json":     {jsonOf(r.JSON), `{"list":[1,2],"n":1}`},
		"dir":      {strings.Join(r.Dir, " "), "bin:directory conf.json:file copy:directory empty:directory notes:directory"},
		"exists":   {jsonOf(r.Exists), "[false,true]"},
		"stat":     {r.Stat, 11},
		"missing":  {r.Missing, "not_found"},
		"escape":   {r.Escape, "invalid_request"},
		"stale":    {r.Stale, "precondition_failed"},
		"notEmpty": {r.NotEmpty, "conflict"},
		"rm":       {r.Rm, "ok"},
		"gone":     {r.Gone, false},
		"staleRm":  {r.StaleRm, "precondition_failed"}, // conf.json is read below: still there
		"rmIf":     {r.RmIf, "ok"},
	}
	for k, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s = %v, want %v", k, v[0], v[1])
		}
	}
	// What the sandbox wrote is in the store.
	rc, _, err := st.Read(context.Background(), "proj", "conf.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(b), `"n": 1`) {
		t.Fatalf("conf.json in the store: %q", b)
	}
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// A sandbox reaches only the workspaces bound to it, with the rights of each binding.
func TestFSBindingCapabilities(t *testing.T) {
	l, st := fsLoader(t)
	ctx := context.Background()
	if _, err := st.Write(ctx, "shared", "doc.txt", strings.NewReader("shared text"), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, "secret", "key.txt", strings.NewReader("top secret"), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	c := code(fsWorker)
	c.Bindings = map[string]api.Binding{"RO": {Workspace: "shared", ReadOnly: true}, "RW": {Workspace: "mine"}}
	stub := l.Get("caps", func() (loader.WorkerCode, error) { return c, nil })
	if _, got := call(t, stub, "keys", `[]`); got != `["RO","RW"]` {
		t.Fatalf("env keys = %s", got)
	}
	if _, got := call(t, stub, "read", `["RO","doc.txt"]`); got != `"shared text"` {
		t.Fatalf("read through RO = %s", got)
	}
	for _, args := range []string{`["RO","doc.txt","x"]`, `["RO","new.txt","x"]`} {
		if _, got := call(t, stub, "write", args); got != `"read_only"` {
			t.Fatalf("write %s through a read-only binding: %s", args, got)
		}
	}
	if _, got := call(t, stub, "remove", `["RO","doc.txt"]`); got != `"read_only"` {
		t.Fatalf("rm through a read-only binding: %s", got)
	}
	if _, got := call(t, stub, "write", `["RW","../secret/key.txt","x"]`); got != `"invalid_request"` {
		t.Fatalf("escape to another workspace: %s", got)
	}
	// The other workspaces are untouched.
	for ws, want := range map[string]string{"shared": "shared text", "secret": "top secret"} {
		p := map[string]string{"shared": "doc.txt", "secret": "key.txt"}[ws]
		rc, _, err := st.Read(ctx, ws, p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != want {
			t.Fatalf("%s/%s = %q", ws, p, b)
		}
	}
}

func TestFSBindingBadConfig(t *testing.T) {
	ctx := context.Background()
	noStore := newLoader(t, loader.Config{})
	c := code(fsWorker)
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}}
	_, err := noStore.Load(c).Call(ctx, "keys", json.RawMessage(`[]`))
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
		t.Fatalf("bindings without a store: %v", err)
	}
	l, _ := fsLoader(t)
	for name, b := range map[string]map[string]api.Binding{
		"bad workspace": {"FS": {Workspace: "../x"}},
		"bad name":      {"a-b": {Workspace: "x"}},
		"proto":         {"__proto__": {Workspace: "x"}},
	} {
		c := code(fsWorker)
		c.Bindings = b
		if _, err := l.Load(c).Call(ctx, "keys", json.RawMessage(`[]`)); isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
			t.Errorf("%s: %v", name, err)
		}
	}
	c = code(fsWorker)
	c.Env = map[string]any{"FS": "value"}
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "x"}}
	if _, err := l.Load(c).Call(ctx, "keys", json.RawMessage(`[]`)); isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
		t.Errorf("env and binding of one name: %v", err)
	}
}

// Sandboxes of several workers appending to one file concurrently lose no line.
func TestFSBindingConcurrentSandboxes(t *testing.T) {
	l, st := fsLoader(t)
	const workers, lines = 4, 10
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := code(`import { env } from "cloudflare:workers";
export default { async run(n) { for (let i = 0; i < n; i++) await env.FS.appendFile("log.txt", "line\n"); return n; } };`)
			c.Bindings = map[string]api.Binding{"FS": {Workspace: "log"}}
			stub := l.Get("appender"+string(rune('a'+w)), func() (loader.WorkerCode, error) { return c, nil })
			if _, err := stub.Call(context.Background(), "run", json.RawMessage(`[10]`)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rc, _, err := st.Read(context.Background(), "log", "log.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if n := strings.Count(string(b), "line\n"); n != workers*lines {
		t.Fatalf("%d lines, want %d", n, workers*lines)
	}
}

// go test ./loader -run '^$' -bench FSBinding: 4 KiB files written and read through env.FS,
// from one sandbox, sequentially (the per-op cost includes the host-call round trip).
func BenchmarkFSBinding(b *testing.B) {
	st, err := workspace.Open(filepath.Join(b.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	l, err := loader.New(loader.Config{Engine: testEngine, Workspaces: st})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	c := code(`import { env } from "cloudflare:workers";
const data = "x".repeat(4096);
export default {
  async write(n) { for (let i = 0; i < n; i++) await env.FS.writeFile("d" + (i % 100) + "/f" + i, data); return n; },
  async read(n) { let t = 0; for (let i = 0; i < n; i++) t += (await env.FS.readFile("d" + (i % 100) + "/f" + (i % 1000))).length; return t; },
};`)
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "bench"}}
	c.Limits = &api.Limits{CPUMs: 30000, WallMs: 600000}
	stub := l.Get("bench", func() (loader.WorkerCode, error) { return c, nil })
	ctx := context.Background()
	if _, err := stub.Call(ctx, "write", json.RawMessage(`[1000]`)); err != nil {
		b.Fatal(err)
	}
	for _, m := range []string{"write", "read"} {
		b.Run(m, func(b *testing.B) {
			if _, err := stub.Call(ctx, m, json.RawMessage(`[`+strconv.Itoa(b.N)+`]`)); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// A hibernated worker resumes with its bindings working, and code with other bindings (a
// read-only one here) never resumes its image: the rights come from the code being run.
func TestFSBindingAfterHibernation(t *testing.T) {
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := newLoader(t, loader.Config{Images: dir, IdleTTL: 30 * time.Millisecond, Workspaces: st})
	rw := code(fsWorker)
	rw.Bindings = map[string]api.Binding{"FS": {Workspace: "h"}}
	if _, got := call(t, l.Get("h", func() (loader.WorkerCode, error) { return rw, nil }), "write", `["FS","a.txt","one"]`); got != `"ok"` {
		t.Fatalf("write: %s", got)
	}
	waitFor(t, func() bool { return l.Stats().Hibernated == 1 })
	res, got := call(t, l.Get("h", func() (loader.WorkerCode, error) { return rw, nil }), "write", `["FS","a.txt","two"]`)
	if got != `"ok"` || !res.Resumed {
		t.Fatalf("after resume: %s resumed %v", got, res.Resumed)
	}
	waitFor(t, func() bool { return l.Stats().Hibernated == 1 })
	ro := code(fsWorker)
	ro.Bindings = map[string]api.Binding{"FS": {Workspace: "h", ReadOnly: true}}
	res, got = call(t, l.Get("h", func() (loader.WorkerCode, error) { return ro, nil }), "write", `["FS","a.txt","three"]`)
	if got != `"read_only"` || res.Resumed {
		t.Fatalf("read-only code: %s resumed %v", got, res.Resumed)
	}
	if _, got := call(t, l.Get("h2", func() (loader.WorkerCode, error) { return ro, nil }), "read", `["FS","a.txt"]`); got != `"two"` {
		t.Fatalf("content: %s", got)
	}
}
