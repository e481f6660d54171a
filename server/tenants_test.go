package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
)

// newTenant makes tenant name (as the operator) and a key of it with scopes.
func newTenant(t *testing.T, ts *testServer, name string, settings api.TenantSettings, scopes ...string) *client.Client {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.c.PutTenant(ctx, name, settings); err != nil {
		t.Fatal(err)
	}
	k, err := ts.c.WithTenant(name).CreateKey(ctx, client.KeyOptions{Name: name + "-key", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return ts.c.WithAPIKey(k.Secret)
}

var allScopes = []string{"admin", "deploy", "invoke", "read"}

// The alpha tenant's objects; every name is distinctive, so that an answer to beta that
// names one of them is caught by a substring search.
const (
	alphaWorker  = "alpha-worker-7"
	alphaSecret  = "alpha_secret_7"
	alphaSession = "alpha-sess-7"
	alphaWS      = "alpha-ws-7"
	alphaFile    = "alpha-file-7.txt"
)

// seedAlpha gives tenant alpha one object of every kind and returns the id of its key.
func seedAlpha(t *testing.T, alpha *client.Client) string {
	t.Helper()
	ctx := context.Background()
	code := js(`let n = 0; export default { fetch() { return new Response("alpha-body " + (++n)); }, inc() { return ++n; } };`)
	if _, err := alpha.PutWorker(ctx, alphaWorker, code); err != nil {
		t.Fatal(err)
	}
	if out, err := alpha.Call(ctx, alphaWorker, "inc"); err != nil || string(out.Result) != "1" {
		t.Fatalf("alpha's call: %v %+v", err, out)
	}
	if err := alpha.PutSecret(ctx, alphaSecret, "alpha-value"); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.CreateSession(ctx, client.SessionOptions{Name: alphaSession}); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.PutFile(ctx, alphaWS, alphaFile, strings.NewReader("alpha-content"), -1, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	keys, err := alpha.ListKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("alpha's keys: %v %v", keys, err)
	}
	return keys[0].ID
}

// Every route of the OpenAPI document, called with tenant beta's key (every scope) on
// tenant alpha's objects, answers 404 not_found (not 403: whether the object exists does
// not leak), or for a route that makes an object, makes beta's own under the same name;
// no answer names one of alpha's objects, and alpha's objects are as they were.
func TestTenantReachesOnlyItsOwnObjects(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	alpha := newTenant(t, ts, "alpha", api.TenantSettings{}, allScopes...)
	beta := newTenant(t, ts, "beta", api.TenantSettings{}, allScopes...)
	alphaKey := seedAlpha(t, alpha)

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	type call struct{ method, path string }
	var calls []call
	for path, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" || m == "summary" || m == "description" {
				continue
			}
			calls = append(calls, call{strings.ToUpper(m), path})
		}
	}
	// The routes that make objects run last, so that beta has none before them.
	makes := func(c call) bool {
		if strings.Contains(c.path, "/http") {
			return false
		}
		return c.method == "PUT" || c.path == "/v1/sessions" && c.method == "POST" ||
			c.path == "/v1/workspaces/{ws}/archive" && c.method == "POST" || c.path == "/v1/keys" && c.method == "POST"
	}
	sort.Slice(calls, func(i, j int) bool {
		if makes(calls[i]) != makes(calls[j]) {
			return !makes(calls[i])
		}
		return calls[i].method+calls[i].path < calls[j].method+calls[j].path
	})
	fill := strings.NewReplacer("{id}", alphaWorker, "{method}", "inc", "{ws}", alphaWS, "{path}", alphaFile)
	bodies := map[string]string{
		"POST /v1/workers/{id}/fetch": `{}`, "POST /v1/workers/{id}/call/{method}": `[]`,
		"POST /v1/sessions/{id}/eval": `{"code":"1"}`, "POST /v1/sessions/{id}/fork": `{"name":"beta-fork"}`,
		"POST /v1/workspaces/{ws}/search": `{"pattern":"alpha"}`, "POST /v1/workspaces/{ws}/exec": `{"command":"cat ` + alphaFile + `"}`,
		"PUT /v1/workers/{id}": `{"mainModule":"m.js","modules":{"m.js":"export default { inc() { return 100; } }"}}`,
		"PUT /v1/secrets/{name}": `{"value":"beta-value"}`, "POST /v1/sessions": `{"name":"` + alphaSession + `"}`,
		"POST /v1/run": `{"code":"1+1"}`, "POST /v1/codemode/execute": `{"code":"async () => 1"}`,
		"POST /v1/keys": `{"scopes":["read"]}`, "POST /mcp": `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		"PUT /v1/tenants/{name}": `{}`, "POST /v1/bundle": `{"files":{"index.js":"export default {}"}}`,
		"PUT /v1/workspaces/{ws}/files/{path}": "beta-put",
	}
	// What would tell beta anything about alpha's objects: their contents, alpha's scoped
	// names, its key's id.
	leaks := []string{"alpha-body", "alpha-content", "alpha-value", "alpha~"}
	betaKey := betaSecret(t, ts)
	for _, c := range calls {
		route := c.method + " " + c.path
		path := fill.Replace(c.path)
		switch {
		case strings.HasPrefix(c.path, "/v1/secrets/"):
			path = strings.ReplaceAll(c.path, "{name}", alphaSecret)
		case strings.HasPrefix(c.path, "/v1/sessions/"):
			path = strings.ReplaceAll(c.path, "{id}", alphaSession)
		case strings.HasPrefix(c.path, "/v1/keys/"):
			path = strings.ReplaceAll(c.path, "{id}", alphaKey)
		case strings.HasPrefix(c.path, "/v1/tenants/"):
			path = strings.ReplaceAll(c.path, "{name}", "alpha")
		}
		methods := []string{c.method}
		if c.method == "GET" && strings.Contains(c.path, "/http") { // "" in the mux: any method
			methods = []string{"GET", "POST", "DELETE"}
		}
		for _, m := range methods {
			body := []byte(bodies[route])
			if route == "POST /v1/workspaces/{ws}/archive" {
				body = tarGzFile(t, alphaFile, "beta-content")
			}
			r := ts.raw(t, m, path, body, http.Header{"Authorization": {"Bearer " + betaKey}})
			for _, leak := range leaks {
				if strings.Contains(string(r.body), leak) {
					t.Errorf("%s %s: beta's answer holds %q: %.300s", m, path, leak, r.body)
				}
			}
			// The answer about alpha's object is the answer about an object no tenant has.
			if strings.Contains(c.path, "{") && !makes(c) && !strings.HasPrefix(c.path, "/v1/tenants") {
				swap := strings.NewReplacer("alpha", "nobody", alphaKey, "key_0000000000000000")
				back := strings.NewReplacer("nobody", "alpha", "key_0000000000000000", alphaKey)
				r2 := ts.raw(t, m, swap.Replace(path), []byte(swap.Replace(string(body))), http.Header{"Authorization": {"Bearer " + betaKey}})
				if r2.status != r.status || back.Replace(string(r2.body)) != string(r.body) {
					t.Errorf("%s %s: %d %.200s; for an object no tenant has: %d %.200s", m, path, r.status, r.body, r2.status, r2.body)
				}
			}
			switch {
			case strings.HasPrefix(c.path, "/v1/tenants"):
				// The operator's routes: the same 403 for every name, so nothing leaks.
				if r.status != 403 || r.err == nil || r.err.Code != isoerr.Forbidden {
					t.Errorf("%s %s: %d %s, want 403 forbidden", m, path, r.status, r.body)
				}
			case makes(c):
				if r.status < 200 || r.status > 204 {
					t.Errorf("%s %s: %d %.300s, want 2xx: beta's own object", m, path, r.status, r.body)
				}
			case emptyWhenMissing[route]:
				// A workspace that does not exist reads as an empty one (in every tenant):
				// the same answer as for a name nobody has (checked above).
				if r.status != 200 {
					t.Errorf("%s %s: %d %.300s, want 200 as for any unknown workspace", m, path, r.status, r.body)
				}
			case strings.Contains(c.path, "{"):
				if r.status != 404 || (m != "HEAD" && (r.err == nil || r.err.Code != isoerr.NotFound)) {
					t.Errorf("%s %s: %d %.300s, want 404 not_found", m, path, r.status, r.body)
				}
			case c.path == "/mcp":
				if r.status != 501 {
					t.Errorf("%s %s: %d %.300s, want 501 (the MCP endpoint serves tenant default only)", m, path, r.status, r.body)
				}
			default: // lists, runs, health: answered, and without alpha's objects (above)
				if r.status >= 300 {
					t.Errorf("%s %s: %d %.300s", m, path, r.status, r.body)
				}
			}
		}
	}

	// Alpha's objects are as they were: its worker keeps its instance (n goes on from 1),
	// its secret, session, file and key stay.
	if out, err := alpha.Call(ctx, alphaWorker, "inc"); err != nil || string(out.Result) != "2" {
		t.Errorf("alpha's worker after beta's calls: %v %+v", err, out)
	}
	if l, err := alpha.ListSecrets(ctx); err != nil || len(l) != 1 || l[0].Name != alphaSecret {
		t.Errorf("alpha's secrets: %+v %v", l, err)
	}
	if l, err := alpha.ListSessions(ctx); err != nil || len(l) != 1 || l[0].Name != alphaSession {
		t.Errorf("alpha's sessions: %+v %v", l, err)
	}
	if b, err := alpha.ReadFile(ctx, alphaWS, alphaFile); err != nil || string(b) != "alpha-content" {
		t.Errorf("alpha's file: %q %v", b, err)
	}
	if b, err := beta.ReadFile(ctx, alphaWS, alphaFile); err != nil || string(b) != "beta-put" {
		t.Errorf("beta's file of the same name: %q %v", b, err)
	}
	if l, err := alpha.ListKeys(ctx); err != nil || len(l) != 1 || l[0].RevokedAt != nil {
		t.Errorf("alpha's keys: %+v %v", l, err)
	}
	// Beta made its own objects under the same names; the default tenant sees neither.
	if l, err := beta.ListWorkers(ctx, client.ListOptions{}); err != nil || len(l.Workers) != 1 || l.Workers[0].ID != alphaWorker {
		t.Errorf("beta's workers: %+v %v", l, err)
	}
	if l, err := ts.c.ListWorkers(ctx, client.ListOptions{}); err != nil || len(l.Workers) != 0 {
		t.Errorf("default's workers: %+v %v", l, err)
	}
}

// emptyWhenMissing are the routes that answer about a workspace that does not exist as
// about an empty one.
var emptyWhenMissing = map[string]bool{
	"GET /v1/workspaces/{ws}/tree": true, "POST /v1/workspaces/{ws}/search": true, "POST /v1/workspaces/{ws}/exec": true,
}

// tarGzFile is a gzipped tar archive holding one file.
func tarGzFile(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// betaSecret makes another key of tenant beta with every scope and returns it.
func betaSecret(t *testing.T, ts *testServer) string {
	k, err := ts.c.WithTenant("beta").CreateKey(context.Background(), client.KeyOptions{Scopes: allScopes})
	if err != nil {
		t.Fatal(err)
	}
	return k.Secret
}
