package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A worker's Response with a ReadableStream body reaches the client of the /http route
// chunk by chunk: the client reads the first chunk while the worker still waits for
// something only the client's having read it releases (an upstream the test opens then),
// so a buffered response could never arrive. Past the output limit the body is cut.
// Run with ISOBOX_TEST_SANDBOX_PROCESSES=2 for the path through sandbox processes.
func TestForwardStreamsResponse(t *testing.T) {
	release := make(chan struct{})
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
			_, _ = io.WriteString(w, "released")
		case <-r.Context().Done():
		}
	}))
	defer gate.Close()
	var once bool
	open := func() {
		if !once {
			once = true
			close(release)
		}
	}
	defer open()
	u, _ := url.Parse(gate.URL)

	ts := start(t, Config{})
	src := `export default { async fetch(req) {
  const enc = new TextEncoder();
  if (new URL(req.url).pathname === "/big") {
    return new Response(new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1 << 20).fill(120)); } }));
  }
  return new Response(new ReadableStream({
    async start(c) {
      c.enqueue(enc.encode("first\n"));
      const r = await fetch("` + gate.URL + `/gate");
      c.enqueue(enc.encode("last:" + await r.text()));
      c.close();
    },
  }), { status: 202, headers: { "content-type": "text/plain", "x-kind": "stream" } });
} };`
	policy := `{"rules":[{"action":"allow","host":"` + u.Hostname() + `","allowPrivate":true}]}`
	code, _ := json.Marshal(map[string]any{"mainModule": "main.js", "modules": map[string]string{"main.js": src}, "globalOutbound": json.RawMessage(policy)})
	if r := ts.raw(t, "PUT", "/v1/workers/streamer", code, nil); r.status != 201 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}

	req, _ := http.NewRequest("GET", ts.url+"/v1/workers/streamer/http/", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	type first struct {
		resp *http.Response
		line string
		err  error
	}
	got := make(chan first, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- first{err: err}
			return
		}
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		resp.Body = io.NopCloser(io.MultiReader(br, resp.Body))
		got <- first{resp: resp, line: line, err: err}
	}()
	var f first
	select {
	case f = <-got:
	case <-time.After(2 * time.Minute):
		t.Fatal("the first chunk never arrived: the response was not streamed")
	}
	if f.err != nil {
		t.Fatal(f.err)
	}
	defer f.resp.Body.Close()
	if f.resp.StatusCode != 202 || f.resp.Header.Get("X-Kind") != "stream" || f.resp.Header.Get("X-Isobox-Invocation") == "" || f.line != "first\n" {
		t.Fatalf("head %d %v, first line %q", f.resp.StatusCode, f.resp.Header, f.line)
	}
	open() // only now can the worker produce its last chunk
	rest, err := io.ReadAll(f.resp.Body)
	if err != nil || string(rest) != "last:released" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	if f.resp.Trailer.Get("X-Isobox-Cpu-Ms") == "" || f.resp.Trailer.Get("X-Isobox-Cold") == "" {
		t.Fatalf("trailers %v", f.resp.Trailer)
	}

	// An endless body stops at the output limit (10 MiB by default): the status is out,
	// so the connection is cut and the client sees a body that ends early.
	req, _ = http.NewRequest("GET", ts.url+"/v1/workers/streamer/http/big", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || err == nil || n > 10<<20 || n == 0 {
		t.Fatalf("endless body: status %d, %d bytes, err %v: want 200, a cut body of at most 10 MiB", resp.StatusCode, n, err)
	}
	if !strings.Contains(err.Error(), "unexpected EOF") {
		t.Logf("cut body error: %v", err)
	}
	// /fetch answers one JSON document (the Outcome, with the logs and CPU time), so there
	// the body is collected whole, as before.
	r := ts.raw(t, "POST", "/v1/workers/streamer/fetch", []byte(`{"url":"http://x/"}`), nil)
	var out struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	if err := json.Unmarshal(r.body, &out); r.status != 200 || err != nil || out.Status != 202 || out.Body != "first\nlast:released" {
		t.Fatalf("/fetch: %d %s", r.status, r.body)
	}
}
