package sandboxproc

import (
	"context"
	"io"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

const fsUploadWorker = `
import { env } from "cloudflare:workers";
function blocks(n, fail) {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i === n) { if (fail) c.error(new Error("gone")); else c.close(); return; }
      const b = new Uint8Array(1 << 20).fill(i & 255);
      i++;
      c.enqueue(b);
    },
  }, { highWaterMark: 0 });
}
export default {
  async big(n) { return (await env.FS.writeFile("big.bin", blocks(n))).size; },
  async broken(n) { return env.FS.writeFile("broken.bin", blocks(n, true)).then(() => "ok", (e) => String(e)); },
};
`

// env.FS.writeFile(path, stream) in a sandbox process: 17 MiB through a sandbox of
// 16 MiB, every chunk crossing to the supervisor, which holds the upload and the store;
// a stream that fails leaves no file.
func TestPoolFSWriteStream(t *testing.T) {
	p, st := fsPool(t, 1)
	code := jsCode(fsUploadWorker)
	code.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}}
	code.Limits = &api.Limits{MemoryMB: 16, CPUMs: 30000, WallMs: 600000}
	stub := p.Get("upload@v1", func() (loader.WorkerCode, error) { return code, nil })
	ctx := context.Background()
	res, err := stub.Call(ctx, "big", []byte(`[17]`))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Value) != "17825792" {
		t.Fatalf("big = %s", res.Value)
	}
	rc, info, err := st.Read(ctx, "proj", "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || info.Size != 17<<20 || len(b) != 17<<20 {
		t.Fatalf("read %d bytes (%v), info %+v", len(b), err, info)
	}
	for i := range 17 {
		for _, k := range []int{0, 1 << 19, 1<<20 - 1} {
			if b[i<<20+k] != byte(i) {
				t.Fatalf("MiB %d byte %d = %d", i, k, b[i<<20+k])
			}
		}
	}
	res, err = stub.Call(ctx, "broken", []byte(`[3]`))
	if err != nil || string(res.Value) != `"Error: gone"` {
		t.Fatalf("broken = %s, %v", res.Value, err)
	}
	if _, err := st.Stat(ctx, "proj", "broken.bin"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("a failed stream left broken.bin: %v", err)
	}
}
