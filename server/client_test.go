package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
)

// clientCall is one client method, called against a real server; decode, when set, is
// the api type the route's JSON answer must decode into without unknown fields.
type clientCall struct {
	route  string // "METHOD /path" as in openapi.json
	call   func(ctx context.Context, c *client.Client) error
	decode any
}

// upstream is a loopback HTTP server a worker's fetch() reaches through the egress
// gateway, which injects the secret up_token; it counts the requests that carried it.
func upstream(t *testing.T) (*httptest.Server, json.RawMessage, *atomic.Int64) {
	var withSecret atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer s3cret-7f2" {
			withSecret.Add(1)
		}
		fmt.Fprint(w, "upstream")
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	policy := `{"rules":[{"action":"allow","host":"` + u.Hostname() + `","allowPrivate":true,` +
		`"injectHeaders":{"Authorization":"Bearer {{secret:up_token}}"}}]}`
	return up, json.RawMessage(policy), &withSecret
}

// clientCalls lists a client method for every route, in an order that works on a fresh
// server: the worker "w" is stored first, "gone" is deleted, the session "s" is made
// before it is used.
func clientCalls(t *testing.T, upURL string, policy json.RawMessage, withSecret *atomic.Int64) []clientCall {
	fetchUp := js(`export default { async fetch(req) {
  console.log("handling", req.method);
  if (new URL(req.url).pathname === "/up") return new Response(await (await fetch("` + upURL + `/")).text());
  return new Response(req.method === "HEAD" ? null : "ok " + req.method);
}, add(a, b) { return a + b } };`)
	fetchUp.GlobalOutbound = policy
	fetchUp.Limits = &api.Limits{SubRequests: 5}
	want := func(got, want any) error {
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("got %v, want %v", got, want)
		}
		return nil
	}
	calls := []clientCall{
		{"GET /healthz", func(ctx context.Context, c *client.Client) error {
			h, err := c.Health(ctx)
			if err == nil && !h.OK {
				err = fmt.Errorf("health %+v", h)
			}
			return err
		}, &api.Health{}},
		{"GET /metrics", func(ctx context.Context, c *client.Client) error {
			m, err := c.Metrics(ctx)
			if err == nil && !strings.Contains(m, "isobox_") {
				err = fmt.Errorf("metrics without isobox_: %.100s", m)
			}
			return err
		}, nil},
		{"GET /v1/openapi.json", func(ctx context.Context, c *client.Client) error {
			b, err := c.OpenAPI(ctx)
			if err == nil && !bytes.Equal(b, openAPI) {
				err = fmt.Errorf("served document differs")
			}
			return err
		}, nil},
		{"PUT /v1/secrets/{name}", func(ctx context.Context, c *client.Client) error {
			if err := c.PutSecret(ctx, "up_token", "s3cret-7f2"); err != nil {
				return err
			}
			return c.PutSecret(ctx, "doomed", "x")
		}, nil},
		{"GET /v1/secrets", func(ctx context.Context, c *client.Client) error {
			l, err := c.ListSecrets(ctx)
			if err != nil {
				return err
			}
			if len(l) != 2 || l[0].Name != "doomed" || l[1].Name != "up_token" || l[1].UpdatedAt.IsZero() {
				return fmt.Errorf("secrets %+v", l)
			}
			return nil
		}, &api.SecretList{}},
		{"DELETE /v1/secrets/{name}", func(ctx context.Context, c *client.Client) error {
			return c.DeleteSecret(ctx, "doomed")
		}, nil},
		{"PUT /v1/workers/{id}", func(ctx context.Context, c *client.Client) error {
			if _, err := c.PutWorker(ctx, "gone", js(`export default {}`)); err != nil {
				return err
			}
			w, err := c.PutWorker(ctx, "w", fetchUp)
			if err == nil && (w.ID != "w" || !strings.HasPrefix(w.Hash, "sha256:")) {
				err = fmt.Errorf("stored %+v", w)
			}
			return err
		}, &api.Worker{}},
		{"GET /v1/workers/{id}", func(ctx context.Context, c *client.Client) error {
			w, err := c.GetWorker(ctx, "w")
			if err != nil {
				return err
			}
			if w.Code == nil || string(w.Code.GlobalOutbound) != string(policy) || w.Code.Limits.SubRequests != 5 {
				return fmt.Errorf("code %+v", w.Code)
			}
			return nil
		}, &api.Worker{}},
		{"GET /v1/workers", func(ctx context.Context, c *client.Client) error {
			l, err := c.ListWorkers(ctx, client.ListOptions{Limit: 10})
			if err != nil {
				return err
			}
			return want(len(l.Workers), 2)
		}, &api.WorkerList{}},
		{"DELETE /v1/workers/{id}", func(ctx context.Context, c *client.Client) error {
			return c.DeleteWorker(ctx, "gone")
		}, nil},
		{"POST /v1/workers/{id}/fetch", func(ctx context.Context, c *client.Client) error {
			before := withSecret.Load()
			out, err := c.Fetch(ctx, "w", api.FetchRequest{URL: "http://w/up"})
			if err != nil {
				return err
			}
			// The worker's globalOutbound let it out, with the secret.
			return want([]any{*out.Body, withSecret.Load() - before}, []any{"upstream", int64(1)})
		}, &api.Outcome{}},
		{"POST /v1/workers/{id}/call/{method}", func(ctx context.Context, c *client.Client) error {
			out, err := c.Call(ctx, "w", "add", 2, 3)
			if err != nil {
				return err
			}
			return want(string(out.Result), "5")
		}, &api.Outcome{}},
		{"GET /v1/workers/{id}/egress", func(ctx context.Context, c *client.Client) error {
			es, err := c.EgressAudit(ctx, "w", 10)
			if err != nil {
				return err
			}
			if len(es) != 1 || !es[0].Allowed || es[0].Worker != "w" || es[0].Status != 200 {
				return fmt.Errorf("audit %+v", es)
			}
			return nil
		}, &api.EgressAudit{}},
		{"POST /v1/bundle", func(ctx context.Context, c *client.Client) error {
			b, err := c.Bundle(ctx, api.WorkerCode{Files: map[string]string{"package.json": `{"main":"src/w.ts"}`,
				"src/w.ts": `const n: number = 2; export default { twice(x: number) { return x * n } }`}})
			if err != nil {
				return err
			}
			return want([]any{b.Code.MainModule, len(b.Code.Modules), b.SourceHash[:7], b.Packages == nil}, []any{"index.js", 1, "sha256:", false})
		}, &api.Bundle{}},
		{"POST /v1/run", func(ctx context.Context, c *client.Client) error {
			before := withSecret.Load()
			out, err := c.Run(ctx, api.RunRequest{Worker: &fetchUp, Request: &api.FetchRequest{URL: "http://w/up"}})
			if err != nil {
				return err
			}
			if err := want([]any{*out.Body, withSecret.Load() - before}, []any{"upstream", int64(1)}); err != nil {
				return err
			}
			out, err = c.Eval(ctx, "6 * 7", &api.Limits{CPUMs: 1000})
			if err != nil {
				return err
			}
			return want(string(out.Result), "42")
		}, &api.Outcome{}},
		{"POST /v1/codemode/execute", func(ctx context.Context, c *client.Client) error {
			res, err := c.Execute(ctx, api.ExecuteRequest{Code: "async () => { console.log('hi'); return 6 * 7 }",
				Limits: &api.CodemodeLimits{CPUMs: 1000}})
			if err != nil {
				return err
			}
			if string(res.Result) != "42" || len(res.Logs) != 1 || res.Calls == nil {
				return fmt.Errorf("result %+v", res)
			}
			return nil
		}, &api.ExecuteResult{}},
		{"POST /mcp", func(ctx context.Context, c *client.Client) error {
			b, err := c.MCP(ctx, json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			if err != nil {
				return err
			}
			if !strings.Contains(string(b), `"run_code"`) {
				return fmt.Errorf("tools/list: %.300s", b)
			}
			return nil
		}, nil},
		{"POST /v1/sessions", func(ctx context.Context, c *client.Client) error {
			info, err := c.CreateSession(ctx, api.SessionOptions{Name: "s", Limits: &api.Limits{CPUMs: 1000}})
			if err != nil {
				return err
			}
			return want(info.Name, "s")
		}, &api.SessionInfo{}},
		{"POST /v1/sessions/{id}/eval", func(ctx context.Context, c *client.Client) error {
			if _, err := c.SessionEval(ctx, "s", "globalThis.n = 41", nil); err != nil {
				return err
			}
			out, err := c.SessionEval(ctx, "s", "n + 1", nil)
			if err != nil {
				return err
			}
			return want(string(out.Result), "42")
		}, &api.SessionOutcome{}},
		{"POST /v1/sessions/{id}/fork", func(ctx context.Context, c *client.Client) error {
			info, err := c.ForkSession(ctx, "s", "s2")
			if err != nil {
				return err
			}
			return want(info.Name, "s2")
		}, &api.SessionInfo{}},
		{"GET /v1/sessions", func(ctx context.Context, c *client.Client) error {
			l, err := c.ListSessions(ctx)
			if err != nil {
				return err
			}
			return want(len(l), 2)
		}, &api.SessionList{}},
		{"DELETE /v1/sessions/{id}", func(ctx context.Context, c *client.Client) error {
			return c.DeleteSession(ctx, "s2")
		}, nil},
		{"GET /v1/workers/{id}/logs", func(ctx context.Context, c *client.Client) error {
			l, err := c.Logs(ctx, "w", 0)
			if err != nil {
				return err
			}
			if len(l) == 0 || l[0].Seq != 1 || l[0].Invocation == "" || l[0].Message == "" {
				return fmt.Errorf("logs %+v", l)
			}
			s, err := c.FollowLogs(ctx, "w", 0) // the same route, as Server-Sent Events
			if err != nil {
				return err
			}
			return s.Close()
		}, nil},
		{"PUT /v1/workspaces/{ws}/files/{path}", func(ctx context.Context, c *client.Client) error {
			info, err := c.PutFile(ctx, "ws", "src/a.txt", strings.NewReader("TODO a"), -1, client.FileOptions{})
			if err != nil {
				return err
			}
			return want(info.Size, int64(6))
		}, &api.FileInfo{}},
		{"GET /v1/workspaces/{ws}/files/{path}", func(ctx context.Context, c *client.Client) error {
			b, err := c.ReadFile(ctx, "ws", "src/a.txt")
			if err != nil {
				return err
			}
			return want(string(b), "TODO a")
		}, nil},
		{"GET /v1/workspaces/{ws}/tree", func(ctx context.Context, c *client.Client) error {
			e, err := c.Tree(ctx, "ws", "")
			if err != nil {
				return err
			}
			return want(len(e), 2)
		}, &api.WorkspaceTree{}},
		{"POST /v1/workspaces/{ws}/search", func(ctx context.Context, c *client.Client) error {
			r, err := c.Search(ctx, "ws", api.WorkspaceSearch{Pattern: "TODO"})
			if err != nil {
				return err
			}
			return want(len(r.Matches), 1)
		}, &api.SearchResult{}},
		{"POST /v1/workspaces/{ws}/exec", func(ctx context.Context, c *client.Client) error {
			r, err := c.Exec(ctx, "ws", api.ExecRequest{Command: "cat src/a.txt"})
			if err != nil {
				return err
			}
			return want(r.Stdout, "TODO a")
		}, &api.ExecResult{}},
		{"GET /v1/workspaces/{ws}/archive", func(ctx context.Context, c *client.Client) error {
			var b bytes.Buffer
			if err := c.DownloadArchive(ctx, "ws", nil, &b); err != nil {
				return err
			}
			_, err := c.UploadArchive(ctx, "ws2", "", &b)
			return err
		}, nil},
		{"POST /v1/workspaces/{ws}/archive", func(ctx context.Context, c *client.Client) error {
			var b bytes.Buffer
			if err := c.DownloadArchive(ctx, "ws", []string{"src"}, &b); err != nil {
				return err
			}
			r, err := c.UploadArchive(ctx, "ws2", "copy", &b)
			if err != nil {
				return err
			}
			return want(r.Files, 1)
		}, &api.ExtractResult{}},
		{"PUT /v1/workspaces/{ws}", func(ctx context.Context, c *client.Client) error {
			w, err := c.SetWorkspaceQuota(ctx, "ws", api.WorkspaceQuota{QuotaFiles: 100})
			if err != nil {
				return err
			}
			return want(w.QuotaFiles, int64(100))
		}, &api.Workspace{}},
		{"GET /v1/workspaces/{ws}", func(ctx context.Context, c *client.Client) error {
			w, err := c.Workspace(ctx, "ws")
			if err != nil {
				return err
			}
			return want(w.Files, int64(2))
		}, &api.Workspace{}},
		{"GET /v1/workspaces", func(ctx context.Context, c *client.Client) error {
			l, err := c.ListWorkspaces(ctx, client.ListOptions{})
			if err != nil {
				return err
			}
			return want(len(l.Workspaces), 2)
		}, &api.WorkspaceList{}},
		{"DELETE /v1/workspaces/{ws}/files/{path}", func(ctx context.Context, c *client.Client) error {
			return c.DeleteFile(ctx, "ws", "src", true)
		}, nil},
		{"DELETE /v1/workspaces/{ws}", func(ctx context.Context, c *client.Client) error {
			return c.DeleteWorkspace(ctx, "ws2")
		}, nil},
		{"PUT /v1/tenants/{name}", func(ctx context.Context, c *client.Client) error {
			tn, err := c.PutTenant(ctx, "acme", api.TenantSettings{Ceiling: &api.Limits{MemoryMB: 64}})
			if err != nil {
				return err
			}
			return want(tn.Ceiling.MemoryMB, 64)
		}, &api.Tenant{}},
		{"GET /v1/tenants/{name}", func(ctx context.Context, c *client.Client) error {
			tn, err := c.GetTenant(ctx, "acme")
			if err != nil {
				return err
			}
			return want(tn.Name, "acme")
		}, &api.Tenant{}},
		{"GET /v1/tenants", func(ctx context.Context, c *client.Client) error {
			l, err := c.ListTenants(ctx)
			if err != nil {
				return err
			}
			return want(len(l), 2) // acme and default
		}, &api.TenantList{}},
		{"POST /v1/keys", func(ctx context.Context, c *client.Client) error {
			k, err := c.WithTenant("acme").CreateKey(ctx, client.KeyOptions{Name: "ci", Scopes: []string{"read"}})
			if err != nil {
				return err
			}
			if _, err := c.WithAPIKey(k.Secret).ListWorkers(ctx, client.ListOptions{}); err != nil {
				return err
			}
			return want(k.Tenant, "acme")
		}, &api.NewKey{}},
		{"GET /v1/keys", func(ctx context.Context, c *client.Client) error {
			l, err := c.WithTenant("acme").ListKeys(ctx)
			if err != nil {
				return err
			}
			return want(len(l), 1)
		}, &api.KeyList{}},
		{"POST /v1/keys/{id}/rotate", func(ctx context.Context, c *client.Client) error {
			l, err := c.WithTenant("acme").ListKeys(ctx)
			if err != nil {
				return err
			}
			k, err := c.WithTenant("acme").RotateKey(ctx, l[0].ID)
			if err != nil {
				return err
			}
			return want(k.ID, l[0].ID)
		}, &api.NewKey{}},
		{"DELETE /v1/keys/{id}", func(ctx context.Context, c *client.Client) error {
			l, err := c.WithTenant("acme").ListKeys(ctx)
			if err != nil {
				return err
			}
			return c.WithTenant("acme").RevokeKey(ctx, l[0].ID)
		}, nil},
		{"DELETE /v1/tenants/{name}", func(ctx context.Context, c *client.Client) error {
			return c.DeleteTenant(ctx, "acme")
		}, nil},
	}
	// The raw HTTP routes take any method: Forward sends each one.
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		for _, path := range []string{"", "/some/path"} {
			route := m + " /v1/workers/{id}/http"
			if path != "" {
				route += "/{path}"
			}
			calls = append(calls, clientCall{route: route, call: func(ctx context.Context, c *client.Client) error {
				resp, err := c.Forward(ctx, "w", m, path, nil, strings.NewReader("b"))
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || (m != "HEAD" && string(b) != "ok "+m) {
					return fmt.Errorf("status %d, body %q", resp.StatusCode, b)
				}
				return nil
			}})
		}
	}
	// Usage last: every invocation above is in it.
	calls = append(calls, clientCall{"GET /v1/usage", func(ctx context.Context, c *client.Client) error {
		rep, err := c.Usage(ctx, client.UsageOptions{GroupBy: "worker"})
		if err != nil {
			return err
		}
		for _, r := range rep.Rows {
			if r.Tenant == "default" && r.Worker == "w" && r.Invocations > 0 {
				return nil
			}
		}
		return fmt.Errorf("no usage of worker w: %+v", rep)
	}, &api.UsageReport{}}, clientCall{"GET /v1/usage/cost", func(ctx context.Context, c *client.Client) error {
		rep, err := c.UsageCost(ctx, client.UsageOptions{})
		if err == nil && (len(rep.Rows) == 0 || rep.Currency != "USD") {
			err = fmt.Errorf("cost report %+v", rep)
		}
		return err
	}, &api.CostReport{}})
	return calls
}

// seen records the requests a server handled and its JSON answers; wg counts the
// handlers still running.
type seen struct {
	mu   sync.Mutex
	wg   sync.WaitGroup
	reqs []seenRequest
}

type seenRequest struct {
	method, path string
	status       int
	body         []byte
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(s int)           { r.status = s; r.ResponseWriter.WriteHeader(s) }
func (r *recorder) Write(b []byte) (int, error) { r.body.Write(b); return r.ResponseWriter.Write(b) }
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Every route of openapi.json has a client method, and each works against a real server:
// secrets, the egress audit with a worker's globalOutbound, Code Mode, MCP, sessions,
// raw HTTP. Every JSON answer decodes into its api type with no field left over.
func TestClientCoversEveryRoute(t *testing.T) {
	up, policy, withSecret := upstream(t)
	ts := start(t, Config{})
	var rec seen
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.wg.Add(1) // before the client can see an answer: Wait after a call covers it
		defer rec.wg.Done()
		rw := &recorder{ResponseWriter: w, status: 200}
		ts.Handler().ServeHTTP(rw, r)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seenRequest{r.Method, r.URL.EscapedPath(), rw.status, rw.body.Bytes()})
		rec.mu.Unlock()
	}))
	defer hs.Close()
	c, err := client.New(hs.URL, testKey)
	if err != nil {
		t.Fatal(err)
	}

	calls := clientCalls(t, up.URL, policy, withSecret)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" && m != "summary" && m != "description" {
				documented[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	covered := map[string]bool{}
	for _, cc := range calls {
		if !documented[cc.route] {
			t.Errorf("the table names %s, which openapi.json does not document", cc.route)
		}
		covered[cc.route] = true
	}
	var missing []string
	for r := range documented {
		if !covered[r] {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	for _, r := range missing {
		t.Errorf("no client method for %s: add one to package client and to clientCalls", r)
	}

	ctx := context.Background()
	for _, cc := range calls {
		rec.mu.Lock()
		rec.reqs = nil
		rec.mu.Unlock()
		err := cc.call(ctx, c)
		rec.wg.Wait()
		if err != nil {
			t.Errorf("%s: %v", cc.route, err)
			continue
		}
		method, tmpl, _ := strings.Cut(cc.route, " ")
		re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllStringFunc(regexp.QuoteMeta(tmpl), func(p string) string {
			if p == `\{path\}` {
				return `.+`
			}
			return `[^/]+`
		}) + "$")
		rec.mu.Lock()
		reqs := slices.Clone(rec.reqs)
		rec.mu.Unlock()
		hit := false
		for _, r := range reqs {
			if r.method != method || !re.MatchString(r.path) {
				continue
			}
			hit = true
			if cc.decode == nil || r.status >= 300 {
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(r.body))
			dec.DisallowUnknownFields()
			v := reflect.New(reflect.TypeOf(cc.decode).Elem()).Interface()
			if err := dec.Decode(v); err != nil {
				t.Errorf("%s: the answer does not decode into %T: %v\n%.300s", cc.route, cc.decode, err, r.body)
			}
		}
		if !hit {
			t.Errorf("%s: the client method sent no such request (sent %v)", cc.route, reqs)
		}
	}
}

// The server speaks the wire contract through package api, never through the client.
func TestServerDoesNotImportClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if slices.Contains(strings.Fields(string(out)), "github.com/isobox/isobox/client") {
		t.Fatal("package server imports package client; use package api")
	}
}
