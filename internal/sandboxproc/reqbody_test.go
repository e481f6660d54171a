package sandboxproc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// uploadServer answers POST /upload with the length, SHA-256 and Content-Length of the
// body, and GET /seen once /upload has read the first 50,000 bytes of a body.
func uploadServer(t *testing.T) *httptest.Server {
	gotFirst := make(chan struct{})
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.CopyN(h, r.Body, 50_000)
		if err == nil {
			once.Do(func() { close(gotFirst) })
			var m int64
			m, err = io.Copy(h, r.Body)
			n += m
		}
		if err != nil && err != io.EOF {
			w.WriteHeader(500)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"len": n, "sha": hex.EncodeToString(h.Sum(nil)), "cl": r.ContentLength})
	})
	mux.HandleFunc("/seen", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gotFirst:
			io.WriteString(w, "seen")
		case <-r.Context().Done():
		}
	})
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)
	return up
}

// An outbound request body larger than a chunk goes from the sandbox in a worker process
// through the supervisor's transport to a real server intact: a buffer of known length
// (sent with its Content-Length), and a ReadableStream, which is streamed as it is
// produced: the server has the stream's first 100 KB before the sandbox writes the rest
// (the sandbox waits for the server to say so; when a worker process read the body whole
// before sending it, this never happened).
func TestPoolStreamsRequestBody(t *testing.T) {
	p := newPool(t, 1)
	const size = 300_000
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i % 251)
	}
	sum := sha256.Sum256(body)
	for _, tt := range []struct {
		name   string
		stream bool
	}{
		{"a buffer of five chunks", false},
		{"a stream, sent as it is produced", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := uploadServer(t)
			code := fmt.Sprintf(`const all = new Uint8Array(%d);
for (let i = 0; i < all.length; i++) all[i] = i %% 251;
let body = all;
if (%v) {
  let step = 0;
  body = new ReadableStream({ async pull(c) {
    switch (step++) {
    case 0: c.enqueue(all.slice(0, 100000)); break;
    case 1: if (await (await fetch(%q)).text() !== "seen") throw new Error("not seen"); c.enqueue(all.slice(100000)); break;
    default: c.close();
    }
  } });
}
const r = await fetch(%q, { method: "POST", body, duplex: "half" });
return await r.json();`, size, tt.stream, up.URL+"/seen", up.URL+"/upload")
			res, err := p.Eval(context.Background(), code, loader.EvalOptions{Outbound: http.DefaultTransport,
				Limits: engine.Limits{Wall: 2 * time.Minute}})
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Len int
				Sha string
				CL  int64
			}
			if err := json.Unmarshal(res.Value, &got); err != nil {
				t.Fatalf("%s: %v", res.Value, err)
			}
			wantCL := int64(size)
			if tt.stream {
				wantCL = -1
			}
			if got.Len != size || got.Sha != hex.EncodeToString(sum[:]) || got.CL != wantCL {
				t.Fatalf("the server got %d bytes (Content-Length %d), sha %s; want %d (%d)", got.Len, got.CL, got.Sha, size, wantCL)
			}
		})
	}
}

// Cancelling a call in the middle of an upload frees both sides: the upstream sees the
// request end, the supervisor forgets the request, the call ends canceled, and the process
// serves the next call.
func TestPoolUploadCancel(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.CopyN(io.Discard, r.Body, 100_000); err != nil {
			ended <- fmt.Errorf("the first bytes: %w", err)
			return
		}
		close(started)
		_, err := io.Copy(io.Discard, r.Body)
		ended <- err
	}))
	defer up.Close()
	p := newPool(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-started:
			cancel()
		case <-ctx.Done():
		}
	}()
	// An endless body, one chunk every 5 ms.
	code := fmt.Sprintf(`const chunk = new Uint8Array(65536);
const body = new ReadableStream({ async pull(c) { await new Promise(r => setTimeout(r, 5)); c.enqueue(chunk); } });
await fetch(%q, { method: "POST", body, duplex: "half" });`, up.URL)
	_, err := p.Eval(ctx, code, loader.EvalOptions{Outbound: http.DefaultTransport, Limits: engine.Limits{Wall: 10 * time.Minute}})
	if isoerr.CodeOf(err) != isoerr.Canceled {
		t.Fatalf("got %v, want canceled", err)
	}
	if err := <-ended; err == nil {
		t.Fatal("the upstream read the whole of an endless body")
	}
	p.mu.Lock()
	pr := p.procs[0]
	p.mu.Unlock()
	pr.mu.Lock()
	n := len(pr.fetches)
	pr.mu.Unlock()
	if n != 0 {
		t.Fatalf("the supervisor still holds %d outbound requests", n)
	}
	if res, err := p.Eval(context.Background(), "1 + 1", loader.EvalOptions{}); err != nil || string(res.Value) != "2" {
		t.Fatalf("the next call: %v", err)
	}
}
