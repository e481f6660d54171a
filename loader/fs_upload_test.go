package loader_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"path/filepath"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
)

// fsUploadWorker writes streams through env.FS. blocks(n, tail) is a ReadableStream of
// n blocks of 64 KiB and tail more bytes, each block made when the stream is pulled (so
// the sandbox never holds more than one): block i starts with i as a little-endian
// uint32 and is (i*7+k)&255 after that.
const fsUploadWorker = `
import { env } from "cloudflare:workers";
const code = (p) => p.then(() => "ok", (e) => e.code || String(e));
const B = 65536;
const template = new Uint8Array(B);
for (let k = 0; k < B; k++) template[k] = k & 255;
function blocks(n, tail = 0) {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i === n) {
        if (tail > 0) c.enqueue(template.slice(0, tail));
        c.close();
        return;
      }
      const b = new Uint8Array(template);
      new DataView(b.buffer).setUint32(0, i, true);
      c.enqueue(b);
      i++;
    },
  }, { highWaterMark: 0 });
}
function items(list, errorAfter) {
  return new ReadableStream({
    start(c) {
      for (const v of list) c.enqueue(v);
      if (errorAfter) c.error(new Error("the source failed")); else c.close();
    },
  });
}
export default {
  async big(n, tail) { const info = await env.FS.writeFile("big.bin", blocks(n, tail)); return info.size; },
  async put(path, n) { return code(env.FS.writeFile(path, blocks(n))); },
  async putQ(path, n) { return code(env.Q.writeFile(path, blocks(n))); },
  async aborted(path) { return code(env.FS.writeFile(path, items([new Uint8Array(3 << 20)], true))); },
  async notBytes(path, kind) {
    const bad = { string: "text", number: 42, object: { length: 3 }, null: null }[kind];
    return code(env.FS.writeFile(path, items([new Uint8Array(10), bad])));
  },
  async tiny(path, n) {
    let i = 0;
    const s = new ReadableStream({ pull(c) { if (i++ < n) c.enqueue(new Uint8Array([i & 255])); else c.close(); } });
    return (await env.FS.writeFile(path, s)).size;
  },
  async tripped(path) {
    let i = 0;
    const s = new ReadableStream({ pull(c) { if (i++ < 2) c.enqueue(new Uint8Array(1 << 20)); else for (;;); } });
    return env.FS.writeFile(path, s);
  },
  async fromResponse(path) {
    const body = new Response(new Blob(["a body ", new Uint8Array([104, 105])])).body;
    await env.FS.writeFile(path, body.pipeThrough(new CompressionStream("gzip")).pipeThrough(new DecompressionStream("gzip")));
    return env.FS.readFile(path);
  },
  async appended(path) {
    await env.FS.writeFile(path, "head:");
    await env.FS.appendFile(path, items([new TextEncoder().encode("one,"), new TextEncoder().encode("two")]));
    return env.FS.readFile(path);
  },
  async conditional(path) {
    await env.FS.writeFile(path, "old");
    return [await code(env.FS.writeFile(path, blocks(1), { ifNoneMatch: "*" })),
            await code(env.FS.writeFile(path, blocks(1), { ifMatch: "v0" })),
            await code(env.RO.writeFile(path, blocks(1)))];
  },
};
`

// checkBlocks verifies content made by fsUploadWorker's blocks(n, tail).
func checkBlocks(t *testing.T, b []byte, n, tail int) {
	t.Helper()
	const B = 65536
	if len(b) != n*B+tail {
		t.Fatalf("the file has %d bytes, want %d", len(b), n*B+tail)
	}
	for i := range n {
		blk := b[i*B : (i+1)*B]
		if got := binary.LittleEndian.Uint32(blk); got != uint32(i) {
			t.Fatalf("block %d holds index %d: chunks out of order or lost", i, got)
		}
		for k := 4; k < B; k++ {
			if blk[k] != byte(k) {
				t.Fatalf("block %d byte %d = %d", i, k, blk[k])
			}
		}
	}
	for k := range tail {
		if b[n*B+k] != byte(k) {
			t.Fatalf("tail byte %d = %d", k, b[n*B+k])
		}
	}
}

func readStored(t *testing.T, st workspace.Store, ws, p string) []byte {
	t.Helper()
	rc, _, err := st.Read(context.Background(), ws, p)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// env.FS.writeFile(path, readableStream) writes a file larger than the sandbox's whole
// memory (24 MiB through a 16 MiB sandbox), every chunk in order; a stream that errors,
// a chunk that is not bytes, or a limit (file size, quota, a condition, a read-only
// binding) rejects with a code and leaves nothing: the old content stays, a new file
// does not appear.
func TestFSWriteStream(t *testing.T) {
	st, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l := newLoader(t, loader.Config{Workspaces: st})
	c := code(fsUploadWorker)
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}, "RO": {Workspace: "proj", ReadOnly: true}}
	c.Limits = &api.Limits{MemoryMB: 16, CPUMs: 30000, WallMs: 600000}
	stub := l.Get("fsupload", func() (loader.WorkerCode, error) { return c, nil })
	ctx := context.Background()

	const n, tail = 17 * 16, 12345 // 17 MiB and a bit
	res, got := call(t, stub, "big", `[272, 12345]`)
	t.Logf("streamed %d bytes in: cpu %v wall %v", n*65536+tail, res.CPU, res.Wall)
	checkBlocks(t, readStored(t, st, "proj", "big.bin"), n, tail)
	if got != "17838137" {
		t.Fatalf("writeFile returned size %s", got)
	}

	if _, err := st.Write(ctx, "proj", "keep.txt", bytes.NewReader([]byte("old")), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A store whose files may hold 1 MiB, with a workspace of 512 KiB.
	st2, err := workspace.Open(filepath.Join(t.TempDir(), "ws2.db"), workspace.Limits{MaxFileSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	if _, err := st2.Write(ctx, "proj", "keep.txt", bytes.NewReader([]byte("old")), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st2.SetQuota(ctx, "small", 512<<10, 0); err != nil {
		t.Fatal(err)
	}
	l2 := newLoader(t, loader.Config{Workspaces: st2})
	small := code(fsUploadWorker)
	small.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}, "Q": {Workspace: "small"}}
	smallStub := l2.Get("fsupload-small", func() (loader.WorkerCode, error) { return small, nil })
	for _, tc := range []struct {
		stub         *loader.Stub
		method, args string
		want         string
		ws, path     string // what must be unchanged
	}{
		{stub, "aborted", `["new.bin"]`, `"Error: the source failed"`, "proj", "new.bin"},
		{stub, "aborted", `["keep.txt"]`, `"Error: the source failed"`, "proj", "keep.txt"},
		{stub, "notBytes", `["new.bin", "string"]`, `"invalid_request"`, "proj", "new.bin"},
		{stub, "notBytes", `["keep.txt", "number"]`, `"invalid_request"`, "proj", "keep.txt"},
		{stub, "notBytes", `["new.bin", "object"]`, `"invalid_request"`, "proj", "new.bin"},
		{stub, "notBytes", `["new.bin", "null"]`, `"invalid_request"`, "proj", "new.bin"},
		{smallStub, "put", `["keep.txt", 20]`, `"file_too_large"`, "proj", "keep.txt"}, // 1.25 MiB > 1
		{smallStub, "putQ", `["q.bin", 10]`, `"quota_exceeded"`, "small", "q.bin"},     // 640 KiB > 512
		{stub, "conditional", `["cond.txt"]`, `["precondition_failed","precondition_failed","read_only"]`, "proj", "cond.txt"},
	} {
		if _, got := call(t, tc.stub, tc.method, tc.args); got != tc.want {
			t.Errorf("%s%s = %s, want %s", tc.method, tc.args, got, tc.want)
		}
		s := workspace.Store(st)
		if tc.stub == smallStub {
			s = st2
		}
		info, err := s.Stat(ctx, tc.ws, tc.path)
		switch {
		case tc.path == "keep.txt" && string(readStored(t, s, "proj", "keep.txt")) != "old":
			t.Errorf("%s%s changed keep.txt", tc.method, tc.args)
		case tc.path == "cond.txt" && string(readStored(t, st, "proj", "cond.txt")) != "old":
			t.Errorf("%s%s changed cond.txt", tc.method, tc.args)
		case tc.path != "keep.txt" && tc.path != "cond.txt" && isoerr.CodeOf(err) != isoerr.NotFound:
			t.Errorf("%s%s left %+v (%v)", tc.method, tc.args, info, err)
		}
	}
	if u, err := st2.Usage(ctx, "small"); err != nil || u.Bytes != 0 {
		t.Errorf("the small workspace holds %+v (%v) after a refused upload", u, err)
	}
	// Many tiny chunks are gathered into few host operations.
	if _, got := call(t, stub, "tiny", `["tiny.bin", 20000]`); got != "20000" {
		t.Errorf("tiny = %s", got)
	}
	// A sandbox stopped by a limit in the middle of a stream cannot abort its upload: the
	// file is not there (nothing was committed), and the host drops the upload later.
	tc := code(fsUploadWorker)
	tc.Bindings = c.Bindings
	tc.Limits = &api.Limits{MemoryMB: 16, CPUMs: 300}
	tripStub := l.Get("fsupload-trip", func() (loader.WorkerCode, error) { return tc, nil })
	if _, err := tripStub.Call(ctx, "tripped", []byte(`["keep.txt"]`)); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Errorf("tripped: %v, want cpu_limit_exceeded", err)
	}
	if got := string(readStored(t, st, "proj", "keep.txt")); got != "old" {
		t.Errorf("after a limit mid-stream keep.txt = %q", got)
	}
	if _, got := call(t, stub, "fromResponse", `["body.txt"]`); got != `"a body hi"` {
		t.Errorf("fromResponse = %s", got)
	}
	if _, got := call(t, stub, "appended", `["log.txt"]`); got != `"head:one,two"` {
		t.Errorf("appended = %s", got)
	}
}

const pyFSStreams = `from workers import WorkerEntrypoint, FSError

async def blocks(n):
    for i in range(n):
        yield bytes([i & 255]) * 65536

async def failing():
    yield b"partial"
    raise RuntimeError("the source failed")

async def code(aw):
    try:
        await aw
        return "ok"
    except FSError as e:
        return e.code
    except Exception as e:
        return type(e).__name__ + ": " + str(e)

class Default(WorkerEntrypoint):
    async def run(self):
        fs = self.env.FS
        info = await fs.write_file("big.bin", blocks(40))
        total, chunks, bad = 0, 0, 0
        async for c in await fs.read_file("big.bin", stream=True, chunk_size=300000):
            for k in (0, len(c) - 1):
                if c[k] != ((total + k) >> 16) & 255:
                    bad += 1
            total += len(c)
            chunks += 1
        await fs.write_file("keep.txt", "old")
        st = await fs.stat("keep.txt")
        out = {
            "size": info["size"], "total": total, "chunks": chunks, "bad": bad,
            "staleWrite": await code(fs.write_file("keep.txt", "new", if_match="v0")),
            "staleRm": await code(fs.rm("keep.txt", if_match="v0")),
            "failing": await code(fs.write_file("keep.txt", failing())),
            "notBytes": await code(fs.write_file("keep.txt", ["text"])),
            "syncChunks": (await fs.appendFile("log.txt", [b"a", b"b"]))["size"],
            "missing": await code(fs.read_file("nope", stream=True)),
        }
        out["kept"] = await fs.read_file("keep.txt")
        out["rm"] = await code(fs.rm("keep.txt", if_match=st["etag"]))
        out["gone"] = await fs.exists("keep.txt")
        return out
`

// Python's env.FS streams both ways (write_file of an async iterator of bytes,
// read_file(stream=True) an async iterator of chunks) and makes writes and removes
// conditional (if_match), with the codes and the all-or-nothing of JavaScript's.
func TestPythonFSStreams(t *testing.T) {
	l, st := fsLoader(t)
	c := pyCode(pyFSStreams)
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}}
	stub := l.Get("pyfs", func() (loader.WorkerCode, error) { return c, nil })
	_, got := call(t, stub, "run", `[]`)
	want := `{"size":2621440,"total":2621440,"chunks":9,"bad":0,"staleWrite":"precondition_failed","staleRm":"precondition_failed",` +
		`"failing":"RuntimeError: the source failed","notBytes":"invalid_request","syncChunks":2,"missing":"not_found",` +
		`"kept":"old","rm":"ok","gone":false}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if b := readStored(t, st, "proj", "big.bin"); len(b) != 40<<16 || b[len(b)-1] != 39 {
		t.Fatalf("big.bin holds %d bytes", len(b))
	}
}

const pyFSState = `from workers import WorkerEntrypoint, FSError

class Default(WorkerEntrypoint):
    async def run(self):
        fs = self.env.FS
        await fs.write_file("src/a.py", "x = 1  # TODO\n")
        await fs.write_json("pkg.json", {"name": "p", "scripts": {}})
        out = {}
        out["hits"] = [m["path"] + ":" + str(m["line"]) for m in (await fs.search_text("todo", case_sensitive=False))["matches"]]
        out["files"] = [f["path"] for f in (await fs.searchFiles("*.py"))["files"]]
        out["dry"] = (await fs.replace_in_files("**/*.py", "x", "y", dry_run=True))["replacements"]
        out["still"] = await fs.read_file("src/a.py")
        await fs.replace_in_file("src/a.py", r"(\w) = 1", "$1 = 2", regex=True)
        out["replaced"] = await fs.read_file("src/a.py")
        await fs.update_json("pkg.json", {"op": "set", "path": "scripts.test", "value": "pytest"})
        out["query"] = await fs.query_json("pkg.json", "scripts.test")
        out["absent"] = await fs.queryJson("pkg.json", "nope")
        out["diff"] = await fs.diff_text("src/a.py", "x = 3\n")
        out["hash"] = len(await fs.hash_file("src/a.py"))
        await fs.create_archive(["src"], "out/src.tgz")
        out["extracted"] = (await fs.extract_archive("out/src.tgz", "copy"))["files"]
        out["exec"] = (await fs.exec("cat copy/src/a.py | wc -l"))["stdout"].strip()
        ro = self.env.RO
        try:
            await ro.replace_in_file("src/a.py", "x", "z")
        except FSError as e:
            out["ro"] = e.code
        return out
`

// Python's env.FS has the whole state API as methods (Python names, JavaScript's as
// aliases), over the real store, with read-only bindings enforced by the host.
func TestPythonFSStateAPI(t *testing.T) {
	l, _ := fsLoader(t)
	c := pyCode(pyFSState)
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}, "RO": {Workspace: "proj", ReadOnly: true}}
	stub := l.Get("pyfsstate", func() (loader.WorkerCode, error) { return c, nil })
	_, got := call(t, stub, "run", `[]`)
	want := `{"hits":["/src/a.py:1"],"files":["/src/a.py"],"dry":1,"still":"x = 1  # TODO\n","replaced":"x = 2  # TODO\n",` +
		`"query":"pytest","absent":null,"diff":"--- a/src/a.py\n+++ b/src/a.py\n@@ -1 +1 @@\n-x = 2  # TODO\n+x = 3\n","hash":64,` +
		`"extracted":1,"exec":"1","ro":"read_only"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
