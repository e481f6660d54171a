package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// thenHijack is the snippet that gave HTTP 500 internal_error ("undecodable completion").
const thenHijack = `Object.defineProperty(Object.prototype, 'then', {get(){return r => r('T')}, configurable: true});`

// A guest cannot cause a 5xx: breaking a builtin the runtime relies on is the worker's own
// typed failure at worst, and a stored worker that did it keeps answering.
func TestGuestCannotCause5xx(t *testing.T) {
	ts := start(t, Config{})
	runCode := func(code string) rawResult {
		b, _ := json.Marshal(map[string]string{"code": code})
		return ts.raw(t, "POST", "/v1/run", b, nil)
	}
	r := runCode(thenHijack + " 42")
	if r.status != http.StatusUnprocessableEntity || r.err == nil || r.err.Code != isoerr.WorkerException || !strings.Contains(r.err.Message, "Object.prototype.then") {
		t.Fatalf("/v1/run with the snippet: %d %s, want 422 worker_exception naming Object.prototype.then", r.status, r.body)
	}
	if r := runCode("6 * 7"); r.status != 200 || !strings.Contains(string(r.body), `"result":42`) {
		t.Fatalf("/v1/run afterwards: %d %s", r.status, r.body)
	}

	src := `export default {
  fetch(req) { ` + thenHijack + ` return new Response("ok") },
  add(a, b) { ` + thenHijack + ` return a + b },
  async later(a) { await null; return a },
};`
	b, _ := json.Marshal(map[string]any{"mainModule": "main.js", "modules": map[string]string{"main.js": src}})
	if r := ts.raw(t, "PUT", "/v1/workers/poisoner", b, nil); r.status != http.StatusCreated {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	for i := range 3 {
		if r := ts.raw(t, "POST", "/v1/workers/poisoner/fetch", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"body":"ok"`) {
			t.Fatalf("fetch %d: %d %s", i, r.status, r.body)
		}
		if r := ts.raw(t, "POST", "/v1/workers/poisoner/call/add", []byte(`[40, 2]`), nil); r.status != 200 || !strings.Contains(string(r.body), `"result":42`) {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
		if r := ts.raw(t, "POST", "/v1/workers/poisoner/call/later", []byte(`[7]`), nil); r.status != 200 || !strings.Contains(string(r.body), `"result":7`) {
			t.Fatalf("async call %d: %d %s", i, r.status, r.body)
		}
	}

	// The same worker through /v1/run (one-shot), and a forwarded HTTP request.
	run := map[string]any{"worker": map[string]any{"mainModule": "main.js", "modules": map[string]string{"main.js": src}}, "call": map[string]any{"method": "add", "args": []int{1, 2}}}
	b, _ = json.Marshal(run)
	if r := ts.raw(t, "POST", "/v1/run", b, nil); r.status != 200 || !strings.Contains(string(r.body), `"result":3`) {
		t.Fatalf("/v1/run worker call: %d %s", r.status, r.body)
	}
	if r := ts.raw(t, "GET", "/v1/workers/poisoner/http/x", nil, nil); r.status != 200 || string(r.body) != "ok" {
		t.Fatalf("forwarded request: %d %s", r.status, r.body)
	}
}
