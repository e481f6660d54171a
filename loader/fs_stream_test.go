package loader_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
)

const fsStreamWorker = `
import { env } from "cloudflare:workers";
const code = (p) => p.then(() => "ok", (e) => e.code || String(e));
const expected = (i) => (i * 7 + (i >> 12)) & 255;
export default {
  async streamed(path) {
    const reader = (await env.FS.readFile(path, { stream: true })).getReader();
    let total = 0, chunks = 0, bad = 0, biggest = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!(value instanceof Uint8Array)) return "not a Uint8Array";
      for (const k of [0, value.length >> 1, value.length - 1]) if (value[k] !== expected(total + k)) bad++;
      total += value.length;
      chunks++;
      biggest = Math.max(biggest, value.length);
    }
    return { total, chunks, bad, biggest };
  },
  async whole(path) { return code(env.FS.readFile(path, "bytes")); },
  async missing() { return code(env.FS.readFile("nope", { stream: true })); },
  async changedMidway() {
    await env.FS.writeFile("small", "abcdefgh");
    const reader = (await env.FS.readFile("small", { stream: true, chunkSize: 4 })).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    await env.FS.writeFile("small", "ABCDEFGH");
    return [first, await code(reader.read())];
  },
  async empty() {
    await env.FS.writeFile("empty", "");
    const r = await (await env.FS.readFile("empty", { stream: true })).getReader().read();
    return r.done;
  },
};
`

// env.FS.readFile(path, {stream: true}) reads a file larger than the whole-read limit
// (32 MiB) in a sandbox of 16 MiB, chunk by chunk and in order; a file replaced while
// it is read errors the stream (precondition_failed) rather than mixing two versions.
func TestFSReadStream(t *testing.T) {
	l, st := fsLoader(t)
	size := workspace.MaxReadAtOnce + 3<<20 + 12345
	big := make([]byte, size)
	for i := range big {
		big[i] = byte(i*7 + i>>12)
	}
	if _, err := st.Write(context.Background(), "proj", "big.bin", bytes.NewReader(big), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	c := code(fsStreamWorker)
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}}
	c.Limits = &api.Limits{MemoryMB: 16, CPUMs: 30000, WallMs: 600000}
	stub := l.Get("fsstream", func() (loader.WorkerCode, error) { return c, nil })
	res, got := call(t, stub, "streamed", `["big.bin"]`)
	t.Logf("streamed %d bytes: cpu %v wall %v", size, res.CPU, res.Wall)
	var r struct{ Total, Chunks, Bad, Biggest int }
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if r.Total != size || r.Bad != 0 || r.Biggest > 1<<20 || r.Chunks < size>>20 {
		t.Fatalf("streamed %+v, want %d bytes in chunks of at most 1 MiB, none bad", r, size)
	}
	for method, want := range map[string]string{
		"whole":         `"file_too_large"`,
		"missing":       `"not_found"`,
		"changedMidway": `["abcd","precondition_failed"]`,
		"empty":         `true`,
	} {
		if _, got := call(t, stub, method, `["big.bin"]`); got != want {
			t.Errorf("%s = %s, want %s", method, got, want)
		}
	}
}
