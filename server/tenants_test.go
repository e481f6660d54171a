package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/store"
	"github.com/isobox/isobox/tenant"
	"github.com/isobox/isobox/tenant/quota"
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
		"PUT /v1/workers/{id}":   `{"mainModule":"m.js","modules":{"m.js":"export default { inc() { return 100; } }"}}`,
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
				// Beta's own MCP server (TestMCPActsForTenant calls its tools): answered, or
				// refused as a malformed MCP request, never not_implemented.
				if r.status >= 500 {
					t.Errorf("%s %s: %d %.300s, want beta's MCP server's answer", m, path, r.status, r.body)
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
// about an empty one: exec runs its script over an empty tree (whose writes make the
// workspace, the caller's own).
var emptyWhenMissing = map[string]bool{
	"POST /v1/workspaces/{ws}/exec": true,
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

// A key reaches the routes of its scopes only; the others answer 403 forbidden naming the
// scope they need.
func TestScopes(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	full := newTenant(t, ts, "acme", api.TenantSettings{}, allScopes...)
	if _, err := full.PutWorker(ctx, "w", js(`export default { add(a, b) { return a + b; } };`)); err != nil {
		t.Fatal(err)
	}
	key := func(scopes ...string) *client.Client {
		k, err := full.CreateKey(ctx, client.KeyOptions{Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return full.WithAPIKey(k.Secret)
	}
	read, invoke, deploy, admin := key("read"), key("invoke"), key("deploy"), key("admin")
	forbidden := func(what string, err error, scope string) {
		t.Helper()
		var e *isoerr.Error
		if !errors.As(err, &e) || e.Code != isoerr.Forbidden || !strings.Contains(e.Message, `"`+scope+`"`) {
			t.Errorf("%s: %v, want forbidden naming scope %q", what, err, scope)
		}
	}
	for _, tc := range []struct {
		name  string
		c     *client.Client
		call  func(c *client.Client) error
		scope string // "" when allowed
	}{
		{"read lists workers", read, func(c *client.Client) error { _, err := c.ListWorkers(ctx, client.ListOptions{}); return err }, ""},
		{"read cannot call", read, func(c *client.Client) error { _, err := c.Call(ctx, "w", "add", 1, 2); return err }, "invoke"},
		{"read cannot deploy", read, func(c *client.Client) error { _, err := c.PutWorker(ctx, "w2", js(`export default {}`)); return err }, "deploy"},
		{"invoke calls", invoke, func(c *client.Client) error { _, err := c.Call(ctx, "w", "add", 1, 2); return err }, ""},
		{"invoke runs", invoke, func(c *client.Client) error { _, err := c.Eval(ctx, "1", nil); return err }, ""},
		{"invoke cannot read", invoke, func(c *client.Client) error { _, err := c.GetWorker(ctx, "w"); return err }, "read"},
		{"invoke cannot store secrets", invoke, func(c *client.Client) error { return c.PutSecret(ctx, "s", "v") }, "deploy"},
		{"deploy puts", deploy, func(c *client.Client) error { _, err := c.PutWorker(ctx, "w2", js(`export default {}`)); return err }, ""},
		{"deploy makes sessions", deploy, func(c *client.Client) error {
			_, err := c.CreateSession(ctx, client.SessionOptions{Name: "s"})
			return err
		}, ""},
		{"deploy cannot eval", deploy, func(c *client.Client) error { _, err := c.SessionEval(ctx, "s", "1", nil); return err }, "invoke"},
		{"deploy cannot make keys", deploy, func(c *client.Client) error {
			_, err := c.CreateKey(ctx, client.KeyOptions{Scopes: []string{"read"}})
			return err
		}, "admin"},
		{"admin lists keys", admin, func(c *client.Client) error { _, err := c.ListKeys(ctx); return err }, ""},
		{"admin cannot call", admin, func(c *client.Client) error { _, err := c.Call(ctx, "w", "add", 1, 2); return err }, "invoke"},
	} {
		err := tc.call(tc.c)
		if tc.scope == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		forbidden(tc.name, err, tc.scope)
	}
	// The tenants' routes are the operator's, and a tenant's key acts for its tenant only.
	_, err := full.ListTenants(ctx)
	wantCode(t, err, isoerr.Forbidden)
	_, err = full.WithTenant(tenantDefault).ListWorkers(ctx, client.ListOptions{})
	wantCode(t, err, isoerr.Forbidden)
	_, err = ts.c.WithTenant("nosuch").ListWorkers(ctx, client.ListOptions{})
	wantCode(t, err, isoerr.NotFound)
	if _, err := full.CreateKey(ctx, client.KeyOptions{Scopes: []string{"root"}}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("unknown scope: %v", err)
	}
	if _, err := full.CreateKey(ctx, client.KeyOptions{}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("no scope: %v", err)
	}
}

const tenantDefault = "default"

// What only the operator may set: allowPrivate in an egress rule, limits above the
// tenant's ceiling, the tenant's settings. A tenant's key gets forbidden and nothing is
// stored; the operator acting for the tenant may.
func TestOperatorOnlySettings(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	acme := newTenant(t, ts, "acme", api.TenantSettings{Ceiling: &api.Limits{MemoryMB: 32, CPUMs: 100}}, allScopes...)
	op := ts.c.WithTenant("acme")
	private := js(`export default { ok() { return 1; } };`)
	private.GlobalOutbound = json.RawMessage(`{"rules":[{"action":"allow","host":"127.0.0.1","allowPrivate":true}]}`)
	big := js(`export default { ok() { return 1; } };`)
	big.Limits = &api.Limits{MemoryMB: 64}
	within := js(`export default { ok() { return 1; } };`)
	within.Limits = &api.Limits{MemoryMB: 32, CPUMs: 100}
	for _, tc := range []struct {
		id   string
		code api.WorkerCode
		want string // in the message
	}{{"private", private, "allowPrivate"}, {"big", big, "memoryMb 64 is above this tenant's ceiling of 32"}} {
		_, err := acme.PutWorker(ctx, tc.id, tc.code)
		if isoerr.CodeOf(err) != isoerr.Forbidden || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tenant's PUT %s: %v, want forbidden naming %q", tc.id, err, tc.want)
		}
		if _, err := acme.GetWorker(ctx, tc.id); isoerr.CodeOf(err) != isoerr.NotFound {
			t.Errorf("after a refused PUT, GET %s: %v, want not_found", tc.id, err)
		}
		if _, err := op.PutWorker(ctx, tc.id, tc.code); err != nil {
			t.Errorf("operator's PUT %s for acme: %v", tc.id, err)
		}
	}
	if _, err := acme.PutWorker(ctx, "within", within); err != nil {
		t.Errorf("limits at the ceiling: %v", err)
	}
	// The same hold for /v1/run and sessions.
	_, err := acme.Run(ctx, api.RunRequest{Worker: &big})
	wantCode(t, err, isoerr.Forbidden)
	_, err = acme.Eval(ctx, "1", &api.Limits{CPUMs: 200})
	wantCode(t, err, isoerr.Forbidden)
	_, err = acme.CreateSession(ctx, client.SessionOptions{Name: "s", GlobalOutbound: private.GlobalOutbound})
	wantCode(t, err, isoerr.Forbidden)
	// The tenant's settings (its egress policy among them) are the operator's.
	_, err = acme.PutTenant(ctx, "acme", api.TenantSettings{AllowPrivate: true})
	wantCode(t, err, isoerr.Forbidden)
	// Once the operator allows it, the tenant's key may set allowPrivate.
	if _, err := ts.c.PutTenant(ctx, "acme", api.TenantSettings{AllowPrivate: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.PutWorker(ctx, "private2", private); err != nil {
		t.Errorf("allowPrivate with the tenant allowed: %v", err)
	}
}

// A revoked key and the old secret of a rotated key are refused by the very next request;
// keys and tenants survive a restart.
func TestKeyLifecycle(t *testing.T) {
	dir := t.TempDir()
	ts := start(t, Config{DataDir: dir})
	ctx := context.Background()
	acme := newTenant(t, ts, "acme", api.TenantSettings{}, "admin", "read")
	k, err := acme.CreateKey(ctx, client.KeyOptions{Name: "ci", Scopes: []string{"read"}, ExpiresAt: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ci := acme.WithAPIKey(k.Secret)
	if _, err := ci.ListWorkers(ctx, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	rot, err := acme.RotateKey(ctx, k.ID)
	if err != nil || rot.ID != k.ID || rot.Secret == k.Secret || rot.ExpiresAt == nil {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	_, err = ci.ListWorkers(ctx, client.ListOptions{})
	wantCode(t, err, isoerr.Unauthorized)
	ci = acme.WithAPIKey(rot.Secret)
	if _, err := ci.ListWorkers(ctx, client.ListOptions{}); err != nil {
		t.Fatalf("the rotated key: %v", err)
	}
	// Keys are listed without their secrets, with their last use.
	list, err := acme.ListKeys(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("keys: %+v %v", list, err)
	}
	raw := ts.raw(t, "GET", "/v1/keys", nil, http.Header{"Isobox-Tenant": {"acme"}})
	if strings.Contains(string(raw.body), rot.Secret) || strings.Contains(string(raw.body), "isobox_") {
		t.Fatalf("the key list shows a secret: %s", raw.body)
	}
	for _, l := range list {
		if l.ID == k.ID && (l.LastUsedAt == nil || l.Name != "ci") {
			t.Errorf("key %+v: want its name and last use", l)
		}
	}
	if err := acme.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	_, err = ci.ListWorkers(ctx, client.ListOptions{})
	wantCode(t, err, isoerr.Unauthorized)
	_, err = acme.RotateKey(ctx, k.ID)
	wantCode(t, err, isoerr.Conflict)
	// A key cannot reach another tenant's keys, nor the operator's.
	wantCode(t, acme.RevokeKey(ctx, "admin"), isoerr.NotFound)
	if _, err := acme.CreateKey(ctx, client.KeyOptions{Scopes: []string{"read"}, ExpiresAt: time.Now().Add(-time.Hour)}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("a key expiring in the past: %v", err)
	}

	keep, err := acme.CreateKey(ctx, client.KeyOptions{Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}

	// Restart on the same data directory: tenants, keys and revocations are as they were.
	ts.stop(t)
	ts = start(t, Config{DataDir: dir})
	if _, err := ts.c.GetTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.c.WithAPIKey(keep.Secret).ListWorkers(ctx, client.ListOptions{}); err != nil {
		t.Errorf("a key after a restart: %v", err)
	}
	if _, err := ts.c.WithAPIKey(rot.Secret).ListWorkers(ctx, client.ListOptions{}); isoerr.CodeOf(err) != isoerr.Unauthorized {
		t.Errorf("a revoked key after a restart: %v", err)
	}
}

// Two tenants putting the same worker id with the same code get two sandboxes: module
// state never crosses, and neither does a secret nor a tenant's egress policy.
func TestTenantsShareNoSandboxNorSecret(t *testing.T) {
	up, policy, withSecret := upstream(t)
	var cfg Config
	if sandboxProcesses > 0 {
		// A process per tenant: with fewer, a place changes tenant by recycling its
		// process, and the warm counters below start again (TestTenantsNeverShareAWorkerProcess).
		cfg.SandboxProcesses = max(sandboxProcesses, 3)
	}
	ts := start(t, cfg)
	ctx := context.Background()
	alpha := newTenant(t, ts, "alpha", api.TenantSettings{}, allScopes...)
	beta := newTenant(t, ts, "beta", api.TenantSettings{Egress: policy}, allScopes...)
	counter := js(`let n = 0; export default { inc() { return ++n; } };`)
	for _, c := range []*client.Client{alpha, beta, ts.c} {
		if _, err := c.PutWorker(ctx, "same", counter); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range []struct {
		c    *client.Client
		want string
	}{{alpha, "1"}, {alpha, "2"}, {beta, "1"}, {ts.c, "1"}, {alpha, "3"}, {beta, "2"}} {
		out, err := tc.c.Call(ctx, "same", "inc")
		if err != nil || string(out.Result) != tc.want {
			t.Fatalf("call %d: %v %s, want %s (a sandbox shared between tenants?)", i, err, out.Result, tc.want)
		}
	}

	// The secret up_token is the default tenant's; alpha and beta have their own values.
	fetchUp := js(`export default { async get() { return await (await fetch("` + up.URL + `/")).text(); } };`)
	fetchUp.GlobalOutbound = policy
	if err := ts.c.PutSecret(ctx, "up_token", "s3cret-7f2"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{alpha, beta} {
		if err := c.PutSecret(ctx, "up_token", "not-the-default-one"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.c.PutWorker(ctx, "up", fetchUp); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.c.WithTenant("alpha").PutWorker(ctx, "up", fetchUp); err != nil { // allowPrivate: the operator's
		t.Fatal(err)
	}
	noPolicy := js(`export default { async get() { return await (await fetch("` + up.URL + `/")).text(); } };`)
	if _, err := beta.PutWorker(ctx, "up", noPolicy); err != nil { // beta's policy is its tenant's
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    *client.Client
		with int64 // requests that carried the default tenant's secret, after the call
	}{{"default", ts.c, 1}, {"alpha", alpha, 1}, {"beta", beta, 1}, {"default again", ts.c, 2}} {
		out, err := tc.c.Call(ctx, "up", "get")
		if err != nil || string(out.Result) != `"upstream"` {
			t.Fatalf("%s: %v %+v", tc.name, err, out)
		}
		if got := withSecret.Load(); got != tc.with {
			t.Fatalf("%s: %d requests carried the default tenant's secret, want %d", tc.name, got, tc.with)
		}
	}
	// The operator takes beta's policy away: beta's warm worker loses the network at once.
	if _, err := ts.c.PutTenant(ctx, "beta", api.TenantSettings{}); err != nil {
		t.Fatal(err)
	}
	if out, err := beta.Call(ctx, "up", "get"); err == nil {
		t.Fatalf("beta reached the network after its policy was removed: %+v", out)
	}
	// A tenant without an egress policy of its own has the server's: no network.
	gamma := newTenant(t, ts, "gamma", api.TenantSettings{}, allScopes...)
	if _, err := gamma.PutWorker(ctx, "up", noPolicy); err != nil {
		t.Fatal(err)
	}
	if out, err := gamma.Call(ctx, "up", "get"); err == nil {
		t.Fatalf("gamma reached the network with no policy: %+v", out)
	}
}

// A tenant that owns objects is not deleted; once they are gone it is, with its keys.
func TestDeleteTenant(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	acme := newTenant(t, ts, "acme", api.TenantSettings{}, allScopes...)
	if _, err := acme.PutWorker(ctx, "w", js(`export default {}`)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, ts.c.DeleteTenant(ctx, "acme"), isoerr.Conflict)
	wantCode(t, ts.c.DeleteTenant(ctx, tenantDefault), isoerr.InvalidRequest)
	if err := acme.DeleteWorker(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if err := ts.c.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	_, err := acme.ListWorkers(ctx, client.ListOptions{})
	wantCode(t, err, isoerr.Unauthorized)
	_, err = ts.c.GetTenant(ctx, "acme")
	wantCode(t, err, isoerr.NotFound)
}

// listScoped pages through a list of every tenant's names and keeps one tenant's, in
// order, whatever the page size; tenant default's walk jumps over other tenants' runs.
func TestListScoped(t *testing.T) {
	all := []string{"a", "acme~a", "acme~b", "acme~z", "acme", "acme.x", "b", "beta~a", "c", "zeta~q"}
	sort.Strings(all)
	list := func(after string, n int) ([]string, error) {
		i := sort.SearchStrings(all, after)
		for i < len(all) && all[i] <= after {
			i++
		}
		return all[i:min(i+n, len(all))], nil
	}
	id := func(s string) string { return s }
	for _, tc := range []struct {
		tenant, after string
		want          []string
	}{
		{"default", "", []string{"a", "acme", "acme.x", "b", "c"}},
		{"default", "acme", []string{"acme.x", "b", "c"}},
		{"acme", "", []string{"acme~a", "acme~b", "acme~z"}},
		{"acme", "a", []string{"acme~b", "acme~z"}},
		{"beta", "", []string{"beta~a"}},
		{"nobody", "", []string{}},
	} {
		for limit := 1; limit <= 6; limit++ {
			var got []string
			after := tc.after
			for {
				page, err := listScoped(tenantPrincipal(tc.tenant), after, limit, list, id)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				_, after = api.SplitScoped(page[len(page)-1])
			}
			if got == nil {
				got = []string{}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("tenant %s after %q, pages of %d: %q, want %q", tc.tenant, tc.after, limit, got, tc.want)
			}
		}
	}
}

func tenantPrincipal(name string) tenant.Principal { return tenant.Principal{Tenant: name} }

// BenchmarkAuthenticate measures what every /v1 request pays to learn its principal: the
// keyring lookup, the Isobox-Tenant header and the request's context, for a tenant's key
// and for the operator acting for a tenant, with 10,000 keys stored.
//
//	go test ./server -run '^$' -bench Authenticate
func BenchmarkAuthenticate(b *testing.B) {
	ts := start(b, Config{})
	ctx := context.Background()
	if _, err := ts.c.PutTenant(ctx, "acme", api.TenantSettings{}); err != nil {
		b.Fatal(err)
	}
	var keys []store.Key
	for i := range 10000 {
		_, h := tenant.NewKey()
		keys = append(keys, store.Key{ID: fmt.Sprintf("key_%05d", i), Tenant: "acme", Scopes: []string{"read"}, Hash: h})
	}
	secret, h := tenant.NewKey()
	keys = append(keys, store.Key{ID: "key_bench", Tenant: "acme", Scopes: []string{"invoke"}, Hash: h})
	op, _ := ts.st.ListKeys(ctx)
	ts.keyring.Load(append(keys, op...))
	for _, bm := range []struct {
		name   string
		header http.Header
	}{
		{"tenant-key", http.Header{"Authorization": {"Bearer " + secret}}},
		{"operator-as-tenant", http.Header{"Authorization": {"Bearer " + testKey}, "Isobox-Tenant": {"acme"}}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			r, _ := http.NewRequest("GET", "/v1/workers", nil)
			r.Header = bm.header
			b.ReportAllocs()
			for range b.N {
				p, err := ts.authenticate(r)
				if err != nil || p.Tenant != "acme" {
					b.Fatal(p, err)
				}
				_ = withPrincipal(r, p)
			}
		})
	}
}

// A worker's bindings, a run's and Code Mode's workspace name the workspaces of their
// tenant: the same name in two tenants is two workspaces.
func TestBindingsOpenTheTenantsWorkspace(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	alpha := newTenant(t, ts, "alpha", api.TenantSettings{}, allScopes...)
	code := js(`import { env } from "cloudflare:workers";
export default { async load() { return env.FS.readFile("a.txt"); } };`)
	code.Bindings = map[string]api.Binding{"FS": {Workspace: "docs"}}
	for _, tc := range []struct {
		c    *client.Client
		text string
	}{{ts.c, "default-doc"}, {alpha, "alpha-doc"}} {
		if _, err := tc.c.PutFile(ctx, "docs", "a.txt", strings.NewReader(tc.text), -1, client.FileOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.c.PutWorker(ctx, "reader", code); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		c    *client.Client
		text string
	}{{ts.c, "default-doc"}, {alpha, "alpha-doc"}} {
		if out, err := tc.c.Call(ctx, "reader", "load"); err != nil || string(out.Result) != `"`+tc.text+`"` {
			t.Errorf("stored worker: %v %+v, want %q", err, out, tc.text)
		}
		call := api.RunCall{Method: "load"}
		if out, err := tc.c.Run(ctx, api.RunRequest{Worker: &code, Call: &call}); err != nil || string(out.Result) != `"`+tc.text+`"` {
			t.Errorf("run: %v %+v, want %q", err, out, tc.text)
		}
		ws := api.Binding{Workspace: "docs"}
		res, err := tc.c.Execute(ctx, api.ExecuteRequest{Code: `async () => await state.readFile({path: "a.txt"})`, Workspace: &ws})
		if err != nil || string(res.Result) != `"`+tc.text+`"` {
			t.Errorf("codemode: %v %+v, want %q", err, res, tc.text)
		}
	}
}

// Hostile names: a tenant header, a tenant or key name that does not follow the rules is
// refused with a typed error and changes nothing.
func TestHostileTenantInput(t *testing.T) {
	ts := start(t, Config{})
	acme := newTenant(t, ts, "acme", api.TenantSettings{}, allScopes...)
	_ = acme
	for _, tc := range []struct {
		method, path, body string
		header             http.Header
		status             int
		code               isoerr.Code
	}{
		{"GET", "/v1/workers", "", http.Header{"Isobox-Tenant": {"acme~beta"}}, 404, isoerr.NotFound},
		{"GET", "/v1/workers", "", http.Header{"Isobox-Tenant": {"../acme"}}, 404, isoerr.NotFound},
		{"GET", "/v1/workers", "", http.Header{"Isobox-Tenant": {strings.Repeat("a", 5000)}}, 404, isoerr.NotFound},
		{"PUT", "/v1/tenants/a~b", "", nil, 400, isoerr.InvalidRequest},
		{"PUT", "/v1/tenants/" + strings.Repeat("a", 33), "", nil, 400, isoerr.InvalidRequest},
		{"PUT", "/v1/tenants/x", `{"ceiling":{"cpuMs":-1}}`, nil, 400, isoerr.InvalidRequest},
		{"PUT", "/v1/tenants/x", `{"egress":{"rules":[{"action":"maybe","host":"*"}]}}`, nil, 400, isoerr.InvalidRequest},
		{"PUT", "/v1/tenants/x", `{"allowPrivate":"yes"}`, nil, 400, isoerr.InvalidRequest},
		{"POST", "/v1/keys", `{"scopes":["read"],"name":"` + strings.Repeat("n", 200) + `"}`, nil, 400, isoerr.InvalidRequest},
		{"POST", "/v1/keys", `{"scopes":["read"],"expiresAt":"tomorrow"}`, nil, 400, isoerr.InvalidRequest},
		{"POST", "/v1/keys", `{"scopes":"read"}`, nil, 400, isoerr.InvalidRequest},
		{"GET", "/v1/workers/acme~w", "", nil, 400, isoerr.InvalidRequest},
		{"DELETE", "/v1/secrets/acme~s", "", nil, 400, isoerr.InvalidRequest},
		{"GET", "/v1/workspaces/acme~ws/tree", "", nil, 400, isoerr.InvalidRequest},
		{"POST", "/v1/sessions", `{"name":"acme~s"}`, nil, 400, isoerr.InvalidRequest},
		{"GET", "/v1/workers", "", http.Header{"Authorization": {"Bearer " + strings.Repeat("k", 10000)}}, 401, isoerr.Unauthorized},
		{"GET", "/v1/workers", "", http.Header{"Authorization": {"Basic abc"}}, 401, isoerr.Unauthorized},
	} {
		r := ts.raw(t, tc.method, tc.path, []byte(tc.body), tc.header)
		if r.status != tc.status || r.err == nil || r.err.Code != tc.code {
			t.Errorf("%s %s %v: %d %.200s, want %d %s", tc.method, tc.path, tc.header, r.status, r.body, tc.status, tc.code)
		}
	}
	list, err := ts.c.ListTenants(context.Background())
	if err != nil || len(list) != 2 {
		t.Fatalf("tenants after hostile input: %+v %v", list, err)
	}
}

// A worker's top-level code runs once per code and its state is kept as an image that
// later sandboxes of the same code start from; two tenants with the same code never share
// that image (a value made at the top level, such as a random id, differs).
func TestTenantsShareNoImage(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	alpha := newTenant(t, ts, "alpha", api.TenantSettings{}, allScopes...)
	beta := newTenant(t, ts, "beta", api.TenantSettings{}, allScopes...)
	code := js(`const made = crypto.randomUUID(); export default { made() { return made; } };`)
	owner := map[string]int{} // a top-level value, by the tenant that saw it
	for i, c := range []*client.Client{alpha, beta, ts.c} {
		for _, id := range []string{"one", "two"} {
			if _, err := c.PutWorker(ctx, id, code); err != nil {
				t.Fatal(err)
			}
			out, err := c.Call(ctx, id, "made")
			if err != nil {
				t.Fatal(err)
			}
			if o, seen := owner[string(out.Result)]; seen && o != i {
				t.Fatalf("tenants %d and %d saw the same top-level value %s: one image", o, i, out.Result)
			}
			owner[string(out.Result)] = i
		}
	}
}

// A tenant's own quotas (PUT /v1/tenants/{name} "quotas") hold for it alone, the server's
// quotas for the others; usage is recorded under the tenant by the ids it gave, and a
// tenant's key sees its own usage only.
func TestTenantQuotasAndUsage(t *testing.T) {
	ts := start(t, Config{Quotas: quota.Limits{InvocationsPerMinute: 1000}})
	ctx := context.Background()
	lim := quota.Limits{UniqueWorkersPerDay: 1}
	acme := newTenant(t, ts, "acme", api.TenantSettings{Quotas: (*api.Quotas)(&lim)}, allScopes...)
	other := newTenant(t, ts, "other", api.TenantSettings{}, allScopes...)
	if got, err := ts.c.GetTenant(ctx, "acme"); err != nil || got.Quotas == nil || quota.Limits(*got.Quotas) != lim {
		t.Fatalf("acme's quotas as stored: %+v %v", got, err)
	}
	hello := js(`export default { fetch() { return new Response("hi"); } };`)
	for _, c := range []*client.Client{acme, other} {
		for _, id := range []string{"one", "two"} {
			if _, err := c.PutWorker(ctx, id, hello); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := acme.Fetch(ctx, "one", api.FetchRequest{}); err != nil {
		t.Fatalf("acme's first worker of the day: %v", err)
	}
	_, err := acme.Fetch(ctx, "two", api.FetchRequest{})
	if e := isoerr.As(err); e.Code != isoerr.QuotaExceeded || e.Quota != quota.WorkersPerDay {
		t.Fatalf("acme's second worker of the day: %v, want quota_exceeded %s", err, quota.WorkersPerDay)
	}
	for _, id := range []string{"one", "two"} { // the server's quotas: no daily limit on workers
		if _, err := other.Fetch(ctx, id, api.FetchRequest{}); err != nil {
			t.Fatalf("other's worker %s: %v (acme's quota applied to another tenant?)", id, err)
		}
	}

	// Usage reaches the meter within its flush interval (1 s); a minute's guard.
	var rows []api.UsageRow
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		rep, err := other.Usage(ctx, client.UsageOptions{GroupBy: "worker"})
		if err != nil {
			t.Fatal(err)
		}
		if rows = rep.Rows; len(rows) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if row.Tenant != "other" {
			t.Fatalf("other's key sees %s's usage: %+v", row.Tenant, row)
		}
		seen[row.Worker] = true
	}
	if !seen["one"] || !seen["two"] {
		t.Fatalf("other's usage by worker, by the ids it gave: %+v", rows)
	}
	if _, err := other.Usage(ctx, client.UsageOptions{Tenant: "acme"}); isoerr.As(err).Code != isoerr.NotFound {
		t.Fatalf("other asking for acme's usage: %v, want not_found", err)
	}
	rep, err := ts.c.Usage(ctx, client.UsageOptions{Tenant: "acme", GroupBy: "worker"})
	if err != nil || len(rep.Rows) == 0 {
		t.Fatalf("the operator's view of acme: %+v %v", rep, err)
	}
	for _, row := range rep.Rows {
		if row.Tenant != "acme" || row.Worker == "two" {
			t.Fatalf("acme's usage: %+v (a refused worker metered, or another tenant's row)", row)
		}
	}
}
