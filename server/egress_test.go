package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// The egress path end to end: secrets stored write-only, injected by the worker's policy
// outside the sandbox, redacted from everything the sandbox can read; no policy means no
// network; the SSRF guard needs the operator's allowPrivate; every decision is audited.
func TestEgressEndToEnd(t *testing.T) {
	const secret = "tok-4f9a1c2e7b-secret"
	var sawSecret atomic.Bool
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+secret {
			sawSecret.Store(true)
		}
		// Echo every request header back, in headers and in the body.
		for k, vs := range r.Header {
			w.Header()["X-Echo-"+k] = vs
		}
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	defer echo.Close()
	u, _ := url.Parse(echo.URL)
	host := u.Hostname()

	ts := start(t, Config{})
	ctx := context.Background()
	if r := ts.raw(t, "PUT", "/v1/secrets/api_token", []byte(`{"value":"`+secret+`"}`), nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("put secret: %d %s", r.status, r.body)
	}
	if r := ts.raw(t, "GET", "/v1/secrets", nil, nil); r.status != 200 || !strings.Contains(string(r.body), "api_token") || strings.Contains(string(r.body), secret) {
		t.Fatalf("list secrets: %d %s", r.status, r.body)
	}
	if r := ts.raw(t, "PUT", "/v1/secrets/bad name", []byte(`{"value":"x"}`), nil); r.status != 400 {
		t.Fatalf("bad secret name: %d", r.status)
	}

	worker := func(policy string) []byte {
		src := `export default { async fetch(req) {
  const r = await fetch("` + echo.URL + `/echo", { headers: { "x-from": "sandbox" } });
  const headers = [...r.headers];
  return Response.json({ status: r.status, body: await r.text(), headers });
} };`
		b, _ := json.Marshal(map[string]any{"mainModule": "main.js", "modules": map[string]string{"main.js": src}, "globalOutbound": json.RawMessage(policy)})
		return b
	}
	allow := `{"rules":[{"action":"allow","host":"` + host + `","allowPrivate":true,"injectHeaders":{"Authorization":"Bearer {{secret:api_token}}"}}]}`
	for _, w := range []struct{ id, policy string }{
		{"allowed", allow},
		{"nopolicy", "null"},
		{"noprivate", `{"rules":[{"action":"allow","host":"` + host + `"}]}`},
	} {
		if r := ts.raw(t, "PUT", "/v1/workers/"+w.id, worker(w.policy), nil); r.status != 201 {
			t.Fatalf("put %s: %d %s", w.id, r.status, r.body)
		}
	}

	res := ts.raw(t, "POST", "/v1/workers/allowed/fetch", []byte(`{"url":"http://localhost/"}`), nil)
	if res.status != 200 {
		t.Fatalf("allowed fetch: %d %s", res.status, res.body)
	}
	if !sawSecret.Load() {
		t.Fatal("the echo server never received the injected secret")
	}
	if strings.Contains(string(res.body), secret) {
		t.Fatalf("the secret is visible to the sandbox: %s", res.body)
	}
	if !strings.Contains(string(res.body), "[redacted]") || !strings.Contains(string(res.body), `\"status\":200`) && !strings.Contains(string(res.body), `"status":200`) {
		t.Fatalf("expected a redacted echo: %s", res.body)
	}

	res = ts.raw(t, "POST", "/v1/workers/nopolicy/fetch", []byte(`{}`), nil)
	if res.status == 200 || !strings.Contains(string(res.body), "TypeError") || !strings.Contains(string(res.body), "egress_denied") || !strings.Contains(string(res.body), "add a rule") {
		t.Fatalf("no policy: %d %s", res.status, res.body)
	}
	res = ts.raw(t, "POST", "/v1/workers/noprivate/fetch", []byte(`{}`), nil)
	if res.status == 200 || !strings.Contains(string(res.body), "egress_private_address") {
		t.Fatalf("loopback without allowPrivate: %d %s", res.status, res.body)
	}

	// The SSRF guard's refusal is audited as a refusal (allowed false, with its code).
	for id, want := range map[string]struct {
		allowed bool
		code    string
	}{"allowed": {true, ""}, "noprivate": {false, "egress_private_address"}} {
		r := ts.raw(t, "GET", "/v1/workers/"+id+"/egress", nil, nil)
		var audit struct {
			Entries []struct {
				Worker  string `json:"worker"`
				Allowed bool   `json:"allowed"`
				URL     string `json:"url"`
				Error   string `json:"error"`
			} `json:"entries"`
		}
		if err := json.Unmarshal(r.body, &audit); err != nil || len(audit.Entries) == 0 {
			t.Fatalf("audit of %s: %d %s", id, r.status, r.body)
		}
		if e := audit.Entries[0]; e.Worker != id || !strings.Contains(e.URL, "/echo") || e.Allowed != want.allowed || e.Error != want.code {
			t.Fatalf("audit of %s: %+v", id, e)
		}
		if strings.Contains(string(r.body), secret) {
			t.Fatalf("the secret is in the audit: %s", r.body)
		}
	}
	m, err := ts.c.Metrics(ctx)
	if err != nil || !strings.Contains(m, `isobox_egress_requests_total{decision="allowed"}`) {
		t.Fatalf("metrics: %v", err)
	}
	if r := ts.raw(t, "DELETE", "/v1/secrets/api_token", nil, nil); r.status != 204 {
		t.Fatalf("delete secret: %d", r.status)
	}
	if r := ts.raw(t, "DELETE", "/v1/secrets/api_token", nil, nil); r.status != 404 || r.err == nil || r.err.Code != isoerr.NotFound {
		t.Fatalf("delete missing secret: %d %s", r.status, r.body)
	}
}
