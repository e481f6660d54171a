package engine_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
)

// Go's compress packages are the oracle for CompressionStream and DecompressionStream:
// what the sandbox compresses, Go decompresses, and the other way round.

func goCompress(t *testing.T, format string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch format {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "deflate-raw":
		w, _ = flate.NewWriter(&buf, flate.BestSpeed)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func goDecompress(format string, data []byte) ([]byte, error) {
	var r io.Reader
	var err error
	switch format {
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(data))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(data))
	case "deflate-raw":
		r = flate.NewReader(bytes.NewReader(data))
	}
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// sample is compressible text with some variety, larger than one decompression slice.
func sample() []byte {
	var b strings.Builder
	for i := 0; b.Len() < 600<<10; i++ {
		b.WriteString("line ")
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), i%40))
		b.WriteString(" é 𝄞\n")
	}
	return []byte(b.String())
}

// evalValue runs code and unmarshals its value into v.
func evalValue(t *testing.T, lim engine.Limits, code string, v any) {
	t.Helper()
	evalValueIn(t, engine.SandboxConfig{}, lim, code, v)
}

func evalValueIn(t *testing.T, cfg engine.SandboxConfig, lim engine.Limits, code string, v any) {
	t.Helper()
	sb := newSandbox(t, cfg)
	res, err := eval(t, sb, lim, code)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if err := json.Unmarshal(res.Value, v); err != nil {
		t.Fatalf("value %s: %v", res.Value, err)
	}
}

var bigLimits = engine.Limits{CPU: 20 * time.Second, Wall: time.Minute, Output: 64 << 20}

func TestCompressionStreamGoOracle(t *testing.T) {
	data := sample()
	b64 := base64.StdEncoding.EncodeToString(data)
	for _, format := range []string{"gzip", "deflate", "deflate-raw"} {
		t.Run(format+"/js compresses, go decompresses", func(t *testing.T) {
			// the input goes in as 7 KiB chunks, so the codec sees many writes
			code := `const data = Uint8Array.fromBase64("` + b64 + `");
				const src = new ReadableStream({ start(c) { for (let i = 0; i < data.length; i += 7000) c.enqueue(data.subarray(i, i + 7000)); c.close(); } });
				const out = await new Response(src.pipeThrough(new CompressionStream("` + format + `"))).bytes();
				out.toBase64()`
			var got string
			evalValue(t, bigLimits, code, &got)
			compressed, err := base64.StdEncoding.DecodeString(got)
			if err != nil {
				t.Fatal(err)
			}
			if len(compressed) >= len(data)/2 {
				t.Fatalf("compressed %d bytes to %d: not compressed", len(data), len(compressed))
			}
			plain, err := goDecompress(format, compressed)
			if err != nil {
				t.Fatalf("Go cannot decompress the sandbox's %s: %v", format, err)
			}
			if !bytes.Equal(plain, data) {
				t.Fatalf("round trip differs: %d bytes back, want %d", len(plain), len(data))
			}
		})
		t.Run(format+"/go compresses, js decompresses", func(t *testing.T) {
			compressed := goCompress(t, format, data)
			code := `const data = Uint8Array.fromBase64("` + base64.StdEncoding.EncodeToString(compressed) + `");
				const src = new ReadableStream({ start(c) { for (let i = 0; i < data.length; i += 1000) c.enqueue(data.slice(i, i + 1000)); c.close(); } });
				let chunks = 0, max = 0;
				const parts = [];
				await src.pipeThrough(new DecompressionStream("` + format + `")).pipeTo(new WritableStream({ write(c) { chunks++; max = Math.max(max, c.length); parts.push(c); } }));
				const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
				let o = 0; for (const p of parts) { all.set(p, o); o += p.length; }
				({ b64: all.toBase64(), chunks, max })`
			var got struct {
				B64         string
				Chunks, Max int
			}
			evalValue(t, bigLimits, code, &got)
			plain, _ := base64.StdEncoding.DecodeString(got.B64)
			if !bytes.Equal(plain, data) {
				t.Fatalf("the sandbox decompressed %d bytes, want %d", len(plain), len(data))
			}
			if got.Max > 256<<10 {
				t.Fatalf("a decompressed chunk of %d bytes: slices are at most 256 KiB", got.Max)
			}
		})
	}
}

// Corrupt, truncated or trailing input rejects with TypeError; a decompression bomb stops
// at the memory limit with RangeError, never holding more than a slice in the host.
func TestDecompressionStreamHostile(t *testing.T) {
	gz := goCompress(t, "gzip", []byte("hello, world"))
	bomb := engine.GzipZeros(200 << 20) // 200 MiB of zeros, ~200 KiB compressed, one member
	tests := []struct {
		name  string
		input []byte
		want  string
	}{
		{"not gzip", []byte("this is not compressed at all"), `"TypeError"`},
		{"truncated", gz[:len(gz)-6], `"TypeError"`},
		{"trailing garbage", append(append([]byte{}, gz...), "junk"...), `"TypeError"`},
		{"corrupt body", func() []byte { b := bytes.Clone(gz); b[12] ^= 0xff; return b }(), `"TypeError"`},
		{"empty input", nil, `"TypeError"`},
		{"bomb", bomb, `"RangeError"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := `const data = Uint8Array.fromBase64("` + base64.StdEncoding.EncodeToString(tt.input) + `");
				let n = 0;
				try {
					await new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip")).pipeTo(new WritableStream({ write(c) { n += c.length; } }));
					"ok " + n
				} catch (e) { e.name === "RangeError" || e.name === "TypeError" && e.message.includes("decompress") ? e.name : e.name + ": " + e.message }`
			var got json.RawMessage
			evalValueIn(t, engine.SandboxConfig{Memory: 64 << 20}, bigLimits, code, &got)
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("gzip members concatenated", func(t *testing.T) {
		two := append(goCompress(t, "gzip", []byte("one ")), goCompress(t, "gzip", []byte("two"))...)
		code := `await new Response(new Blob([Uint8Array.fromBase64("` + base64.StdEncoding.EncodeToString(two) + `")]).stream().pipeThrough(new DecompressionStream("gzip"))).text()`
		var got string
		evalValue(t, bigLimits, code, &got)
		if got != "one two" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("open codecs are bounded", func(t *testing.T) {
		code := `const kept = []; try { for (let i = 0; i < 100; i++) kept.push(new DecompressionStream("gzip")); "unbounded" } catch (e) { e.name + " after " + kept.length }`
		var got string
		evalValue(t, bigLimits, code, &got)
		if got != "RangeError after 16" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("unknown format", func(t *testing.T) {
		var got string
		evalValue(t, bigLimits, `try { new CompressionStream("brotli"); "made" } catch (e) { e.name }`, &got)
		if got != "TypeError" {
			t.Fatalf("got %q", got)
		}
	})
}

// A worker's own response made from a fetch response piped through a DecompressionStream
// and a TransformStream: 10 MiB arrive gzip-compressed from a server on 127.0.0.1, are
// decompressed in 256 KiB slices as the response is read, and every byte reaches the
// worker's response. The sandbox never holds the compressed body whole (it streams in
// 64 KiB reads) and the decompressed one only as the response collects it.
func TestFetchBodyPipedThroughTransforms(t *testing.T) {
	plain := bytes.Repeat([]byte("0123456789abcdef"), (10<<20)/16)
	gz := goCompress(t, "gzip", plain)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		for i := 0; i < len(gz); i += 16 << 10 {
			w.Write(gz[i:min(i+16<<10, len(gz))])
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	sb := newSandbox(t, engine.SandboxConfig{Outbound: http.DefaultTransport, Modules: engine.ModuleMap{
		"main.js": {Type: "js", Content: []byte(`export default {
			async fetch() {
				const upstream = await fetch("` + srv.URL + `/data.gz");
				let chunks = 0;
				const count = new TransformStream({ transform(c, ctl) { chunks++; ctl.enqueue(c); } });
				const body = upstream.body.pipeThrough(new DecompressionStream("gzip")).pipeThrough(count);
				return new Response(body, { headers: { "x-encoding": "identity" } });
			},
		}`)}}})
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	res, err := sb.Fetch(ctx, engine.Limits{CPU: 20 * time.Second, Wall: time.Minute, Output: 16 << 20}, "", &engine.Request{Method: "GET", URL: "http://w/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || !bytes.Equal(res.Body, plain) {
		t.Fatalf("status %d, %d bytes: want 200 and the %d decompressed bytes", res.Status, len(res.Body), len(plain))
	}
}

// Pipes hold no more than their queues: 48 MiB go through pipeThrough and pipeTo in a
// sandbox limited to 16 MiB of memory.
func TestPipeStreamsWithinMemory(t *testing.T) {
	code := `let made = 0, seen = 0;
		const src = new ReadableStream({ pull(c) { if (made === 768) { c.close(); return; } made++; const b = new Uint8Array(65536); b[0] = made & 255; c.enqueue(b); } });
		const xor = new TransformStream({ transform(chunk, c) { chunk[1] = chunk[0] ^ 0xff; c.enqueue(chunk); } });
		await src.pipeThrough(xor).pipeTo(new WritableStream({ write(chunk) { if (chunk[1] !== (chunk[0] ^ 0xff)) throw new Error("bad chunk"); seen += chunk.length; } }));
		seen`
	var got int
	evalValueIn(t, engine.SandboxConfig{Memory: 16 << 20}, bigLimits, code, &got)
	if got != 48<<20 {
		t.Fatalf("piped %d bytes, want %d", got, 48<<20)
	}
}
