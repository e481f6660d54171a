package sandboxproc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
)

const fsWorker = `
import { env } from "cloudflare:workers";
const code = (p) => p.then(() => "ok", (e) => e.code || String(e));
export default {
  async roundTrip() {
    const info = await env.FS.writeFile("notes/a.txt", "hello");
    await env.FS.appendFile("notes/a.txt", " world");
    await env.FS.writeFile("bin/b.bin", new Uint8Array([0, 1, 2, 255]));
    return {
      text: await env.FS.readFile("notes/a.txt"),
      bytes: Array.from(await env.FS.readFile("bin/b.bin", "bytes")),
      dir: (await env.FS.readDir("/")).map((i) => i.name).join(" "),
      missing: await code(env.FS.readFile("nope.txt")),
      escape: await code(env.FS.writeFile("../../etc/passwd", "x")),
      stale: await code(env.FS.writeFile("notes/a.txt", "x", { ifMatch: info.etag })),
      ro: await code(env.RO.writeFile("x.txt", "x")),
      roRead: await env.RO.readFile("shared.txt"),
      found: (await env.FS.searchText("world")).matches.map((m) => m.path + ":" + m.line).join(" "),
      hash: (await env.FS.hashFile("notes/a.txt")).length,
    };
  },
  async write(path, text) { await env.FS.writeFile(path, text); return "ok"; },
  // incr adds one to the number in counter.txt, read-modify-write with ifMatch, retrying
  // when another writer got there first; it returns how many tries it took.
  async incr() {
    for (let tries = 1; ; tries++) {
      const st = await env.FS.stat("counter.txt");
      const n = st ? Number(await env.FS.readFile("counter.txt")) : 0;
      const opts = st ? { ifMatch: st.etag } : { ifNoneMatch: "*" };
      try { await env.FS.writeFile("counter.txt", String(n + 1), opts); return tries; }
      catch (e) { if (e.code !== "precondition_failed") throw e; }
    }
  },
};
`

func fsPool(t *testing.T, n int) (*Pool, *workspace.SQLite) {
	t.Helper()
	st, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := startPool(t, Config{Processes: n, Command: testCommand, CacheDir: cacheDir, ImagesDir: t.TempDir(),
		Defaults: enginetest.Defaults, Logger: slog.New(slog.DiscardHandler), Workspaces: st})
	return p, st
}

// env.FS works in a sandbox process as in-process: the process holds no store, every
// operation crosses to the supervisor, errors keep their codes, a read-only binding
// refuses writes, and what the sandbox wrote is in the supervisor's store. Both stored
// workers and one-shots. searchText and hashFile cross as the file operations do: nothing
// here names an operation.
func TestPoolFSBindings(t *testing.T) {
	p, st := fsPool(t, 2)
	ctx := context.Background()
	if _, err := st.Write(ctx, "shared", "shared.txt", strings.NewReader("read me"), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	code := jsCode(fsWorker)
	code.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}, "RO": {Workspace: "shared", ReadOnly: true}}
	want := `{"text":"hello world","bytes":[0,1,2,255],"dir":"bin notes","missing":"not_found","escape":"invalid_request",` +
		`"stale":"precondition_failed","ro":"read_only","roRead":"read me","found":"/notes/a.txt:1","hash":64}`
	for _, stub := range []*Stub{p.Get("fs@v1", func() (loader.WorkerCode, error) { return code, nil }), p.Load(code)} {
		if err := st.Remove(ctx, "proj", "/", true); err != nil && isoerr.CodeOf(err) != isoerr.NotFound {
			t.Fatal(err)
		}
		res, err := stub.Call(ctx, "roundTrip", nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Value) != want {
			t.Fatalf("got  %s\nwant %s", res.Value, want)
		}
		rc, _, err := st.Read(ctx, "proj", "notes/a.txt")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "hello world" {
			t.Fatalf("the store holds %q", b)
		}
	}
}

// Writers in sandboxes of several processes, bound to one workspace, stay consistent:
// every write acknowledged to its caller is in the store, whole, and conditional writes
// (ifMatch) lose no update of a read-modify-write race.
func TestPoolFSConcurrentWriters(t *testing.T) {
	p, st := fsPool(t, 2)
	code := jsCode(fsWorker)
	code.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}}
	stubs := []*Stub{
		p.Get("a@v1", func() (loader.WorkerCode, error) { return code, nil }),
		p.Get("b@v1", func() (loader.WorkerCode, error) { return code, nil }),
		p.Load(code),
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var acked sync.Map
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path, text := fmt.Sprintf("f/%d.txt", i), strings.Repeat(fmt.Sprint(i), 1000)
			args, _ := json.Marshal([]string{path, text})
			if res, err := stubs[i%len(stubs)].Call(ctx, "write", args); err == nil && string(res.Value) == `"ok"` {
				acked.Store(path, text)
			} else {
				t.Errorf("write %s: %v", path, err)
			}
		}()
	}
	wg.Wait()
	n := 0
	acked.Range(func(k, v any) bool {
		n++
		rc, _, err := st.Read(ctx, "proj", k.(string))
		if err != nil {
			t.Errorf("%s: %v", k, err)
			return true
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != v.(string) {
			t.Errorf("%s: %d bytes, not the %d written", k, len(b), len(v.(string)))
		}
		return true
	})
	if n != 60 {
		t.Fatalf("%d writes acknowledged, want 60", n)
	}
	// Read-modify-write from sandboxes in both processes, with etags: no increment is lost,
	// the ones that raced retried.
	var retries atomic.Int64
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := stubs[i%len(stubs)].Call(ctx, "incr", nil)
			if err != nil {
				t.Errorf("incr: %v", err)
				return
			}
			var tries int64
			json.Unmarshal(res.Value, &tries)
			retries.Add(tries - 1)
		}()
	}
	wg.Wait()
	rc, _, err := st.Read(ctx, "proj", "counter.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "30" {
		t.Fatalf("counter %q after 30 increments (%d retries)", b, retries.Load())
	}
	t.Logf("30 increments, %d retries after precondition_failed", retries.Load())
}

// A process may reach only the workspaces bound to the sandboxes it holds: a hostile
// process that names another process's worker, a call that is not its own, or a route
// that has no bindings gets a refusal, and the other worker's filesystem never runs.
func TestProcessMayUseOnlyItsOwnWorkspaces(t *testing.T) {
	var ran sync.Map
	fsFor := func(name string) engine.FSFunc {
		return func(ctx context.Context, binding, op string, args json.RawMessage) (json.RawMessage, error) {
			ran.Store(name, true)
			return json.RawMessage(`"` + name + `"`), nil
		}
	}
	p := &Pool{procs: make([]*proc, 2), routes: map[string]route{}}
	sup, wrk := net.Pipe()
	defer sup.Close()
	defer wrk.Close()
	mine := &proc{p: p, idx: 0, calls: map[uint64]*call{7: {id: 7}}, c: &conn{rw: sup}, ctx: context.Background()}
	other := &proc{p: p, idx: 1, calls: map[uint64]*call{8: {id: 8}}}
	p.procs[0], p.procs[1] = mine, other
	var onMine, onOther string
	for i := 0; onMine == "" || onOther == ""; i++ {
		id := fmt.Sprintf("worker-%d@v1", i)
		if p.placeOf("", id) == 0 {
			onMine = id
		} else {
			onOther = id
		}
	}
	mine.held = map[string]struct{}{onMine: {}, "worker-nofs": {}} // the calls it was sent
	other.held = map[string]struct{}{onOther: {}}
	p.routes[onMine] = route{fs: fsFor("mine")}
	p.routes[onOther] = route{fs: fsFor("other")}
	p.routes["call:7"] = route{fs: fsFor("call7")}
	p.routes["call:8"] = route{fs: fsFor("call8")}
	p.routes["worker-nofs"] = route{}
	r := bufio.NewReader(wrk)
	hdr := make([]byte, headerSize)
	var id atomic.Uint64
	ask := func(payload string) fsResult {
		n := id.Add(1)
		go mine.fsMsg(msgFSCall, n, []byte(payload))
		typ, got, body, err := readFrame(r, hdr)
		if err != nil || typ != msgFSResult || got != n {
			t.Fatalf("answer: frame %d id %d (want %d), %v", typ, got, n, err)
		}
		var res fsResult
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, tt := range []struct {
		route string
		want  string // the value, or "refused"
	}{
		{onMine, `"mine"`},
		{onOther, "refused"},
		{"call:7", `"call7"`},
		{"call:8", "refused"}, // a call of the other process
		{"call:9", "refused"}, // no such call (or it is over)
		{"worker-nofs", "refused"},
		{"session:0123456789abcdef0123456789abcdef", "refused"}, // no bindings there
	} {
		m, _ := json.Marshal(fsCallMsg{Route: tt.route, Binding: "FS", Op: "read", Args: json.RawMessage(`{"path":"/etc/x"}`)})
		res := ask(string(m))
		got := string(res.Value)
		if res.Err != nil {
			got = "refused"
			if res.Err.Code != isoerr.InvalidRequest {
				t.Errorf("%s: refused with %s, want invalid_request", tt.route, res.Err.Code)
			}
		}
		if got != tt.want {
			t.Errorf("route %q: got %s, want %s", tt.route, got, tt.want)
		}
	}
	if res := ask("{not json"); res.Err == nil || !strings.Contains(res.Err.Message, "does not decode") {
		t.Errorf("a message that does not decode: %+v", res)
	}
	for _, name := range []string{"other", "call8"} {
		if _, ok := ran.Load(name); ok {
			t.Errorf("the filesystem of %s ran for another process", name)
		}
	}
}

// BenchmarkFS measures one 4 KiB writeFile and readFile through env.FS from a sandbox
// process (the operation crosses to the supervisor and back) against the store's own
// Write and Read in the same run: the difference is what the boundary and the runtime add
// per operation.
//
//	go test ./internal/sandboxproc -run '^$' -bench BenchmarkFS -benchtime 2000x
func BenchmarkFS(b *testing.B) {
	body := strings.Repeat("x", 4096)
	b.Run("store-write", func(b *testing.B) {
		st, err := workspace.Open(filepath.Join(b.TempDir(), "ws.db"), workspace.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			if _, err := st.Write(ctx, "bench", fmt.Sprintf("f/%d", i%1000), strings.NewReader(body), workspace.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("store-read", func(b *testing.B) {
		st, err := workspace.Open(filepath.Join(b.TempDir(), "ws.db"), workspace.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		ctx := context.Background()
		if _, err := st.Write(ctx, "bench", "f/0", strings.NewReader(body), workspace.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			rc, _, err := st.Read(ctx, "bench", "f/0")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, rc)
			rc.Close()
		}
	})
	for _, op := range []string{"write", "read"} {
		b.Run("inprocess-"+op, func(b *testing.B) { benchFS(b, op, body, false) })
		b.Run("process-"+op, func(b *testing.B) { benchFS(b, op, body, true) })
	}
}

// fsCaller is a stored worker's stub, from a loader or a pool.
type fsCaller interface {
	Call(ctx context.Context, method string, args json.RawMessage) (*loader.Result, error)
}

func benchFS(b *testing.B, op, body string, viaProcess bool) {
	{
		st, err := workspace.Open(filepath.Join(b.TempDir(), "ws.db"), workspace.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		var get func(string, func() (loader.WorkerCode, error)) fsCaller
		if viaProcess {
			p, err := New(Config{Processes: 1, Command: testCommand, CacheDir: cacheDir, ImagesDir: b.TempDir(),
				Defaults: enginetest.Defaults, Logger: slog.New(slog.DiscardHandler), Workspaces: st})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			get = func(id string, fn func() (loader.WorkerCode, error)) fsCaller { return p.Get(id, fn) }
		} else {
			e, err := engine.New(context.Background(), engine.Config{CacheDir: cacheDir, Defaults: enginetest.Defaults})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close(context.Background())
			l, err := loader.New(loader.Config{Engine: e, Workspaces: st})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			get = func(id string, fn func() (loader.WorkerCode, error)) fsCaller {
				return l.Get(id, fn).Entrypoint("", loader.EntrypointOptions{})
			}
		}
		code := jsCode(`import { env } from "cloudflare:workers";
export default {
  async write(n, body) { for (let i = 0; i < n; i++) await env.FS.writeFile("f/" + i, body); return n; },
  async read(n) { let t = 0; for (let i = 0; i < n; i++) t += (await env.FS.readFile("f/0")).length; return t; },
};`)
		code.Bindings = map[string]api.Binding{"FS": {Workspace: "bench"}}
		code.Limits = &loader.Limits{CPUMs: 30000, WallMs: 600000}
		stub := get("bench@v1", func() (loader.WorkerCode, error) { return code, nil })
		ctx := context.Background()
		args, _ := json.Marshal([]any{1, body})
		if _, err := stub.Call(ctx, "write", args); err != nil { // warm, and f/0 to read
			b.Fatal(err)
		}
		args, _ = json.Marshal([]any{b.N, body})
		b.ResetTimer()
		if _, err := stub.Call(ctx, op, args); err != nil {
			b.Fatal(err)
		}
	}
}

// A process cannot flood the supervisor: at most maxFSInFlight of its operations run at
// once (the next is refused, overloaded), an id already running is refused, and a cancel
// ends the operation it names, which still answers.
func TestProcessFSInFlightBound(t *testing.T) {
	var running atomic.Int64
	block := func(ctx context.Context, binding, op string, args json.RawMessage) (json.RawMessage, error) {
		running.Add(1)
		defer running.Add(-1)
		<-ctx.Done()
		return nil, isoerr.New(isoerr.Canceled, "fs %s: %v", op, ctx.Err())
	}
	p := &Pool{procs: make([]*proc, 1), routes: map[string]route{"w@v1": {fs: block}}}
	sup, wrk := net.Pipe()
	defer sup.Close()
	defer wrk.Close()
	pr := &proc{p: p, idx: 0, calls: map[uint64]*call{}, c: &conn{rw: sup}, ctx: context.Background(), held: map[string]struct{}{"w@v1": {}}}
	p.procs[0] = pr
	r := bufio.NewReader(wrk)
	hdr := make([]byte, headerSize)
	answer := func() (uint64, fsResult) {
		typ, id, body, err := readFrame(r, hdr)
		if err != nil || typ != msgFSResult {
			t.Fatalf("frame %d: %v", typ, err)
		}
		var res fsResult
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		return id, res
	}
	msg, _ := json.Marshal(fsCallMsg{Route: "w@v1", Binding: "FS", Op: "read", Args: json.RawMessage(`{}`)})
	for id := uint64(1); id <= maxFSInFlight; id++ {
		pr.fsMsg(msgFSCall, id, msg)
	}
	for running.Load() < maxFSInFlight {
		time.Sleep(time.Millisecond)
	}
	go pr.fsMsg(msgFSCall, maxFSInFlight+1, msg)
	if id, res := answer(); id != maxFSInFlight+1 || res.Err == nil || res.Err.Code != isoerr.Overloaded {
		t.Fatalf("operation %d past the bound: id %d, %+v", maxFSInFlight+1, id, res.Err)
	}
	go pr.fsMsg(msgFSCall, 5, msg)
	if id, res := answer(); id != 5 || res.Err == nil || !strings.Contains(res.Err.Message, "is running") {
		t.Fatalf("a running id again: id %d, %+v", id, res.Err)
	}
	// The bytes in flight are bounded too (here at what is running plus 100 bytes).
	pr.fs.mu.Lock()
	pr.fs.maxBytes = pr.fs.bytes + 100
	pr.fs.mu.Unlock()
	big, _ := json.Marshal(fsCallMsg{Route: "w@v1", Binding: "FS", Op: "write", Args: json.RawMessage(`{"data":"` + strings.Repeat("x", 200) + `"}`)})
	pr.fs.mu.Lock()
	cancel1 := pr.fs.running[1]
	delete(pr.fs.running, 1) // make room in the count: the bytes alone refuse it
	pr.fs.mu.Unlock()
	go pr.fsMsg(msgFSCall, maxFSInFlight+2, big)
	if id, res := answer(); id != maxFSInFlight+2 || res.Err == nil || res.Err.Code != isoerr.Overloaded || !strings.Contains(res.Err.Message, "bytes") {
		t.Fatalf("an operation past the byte bound: id %d, %+v", id, res.Err)
	}
	pr.fs.mu.Lock()
	pr.fs.running[1] = cancel1
	pr.fs.mu.Unlock()
	for id := uint64(1); id <= maxFSInFlight; id++ {
		pr.fsMsg(msgFSCancel, id, nil)
		if got, res := answer(); res.Err == nil || res.Err.Code != isoerr.Canceled {
			t.Fatalf("cancelled operation %d answered %+v", got, res)
		}
	}
	if n := running.Load(); n != 0 {
		t.Fatalf("%d operations still running", n)
	}
}
