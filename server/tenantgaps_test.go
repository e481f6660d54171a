package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/mcpserver"
	"github.com/isobox/isobox/tenant/quota"
)

// isQuota reports whether err is quota_exceeded naming quota q.
func isQuota(err error, q string) bool {
	e := isoerr.As(err)
	return e != nil && e.Code == isoerr.QuotaExceeded && e.Quota == q
}

// TestQuotaMemoryOnPutWorker: a stored worker that asks for more memory than its tenant's
// ceiling is refused at PUT with quota_exceeded naming the quota, and nothing is stored
// (the version stored before stays); one at the ceiling is stored.
func TestQuotaMemoryOnPutWorker(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	c := newTenant(t, ts, "memt", api.TenantSettings{Quotas: &api.Quotas{MemoryMBPerSandbox: 64}}, allScopes...)
	ok := js(`export default { fetch() { return new Response("ok") } }`)
	ok.Limits = &api.Limits{MemoryMB: 64}
	w0, err := c.PutWorker(ctx, "w", ok)
	if err != nil {
		t.Fatal(err)
	}
	big := js(`export default { fetch() { return new Response("big") } }`)
	big.Limits = &api.Limits{MemoryMB: 65}
	for _, id := range []string{"w", "fresh"} {
		if _, err := c.PutWorker(ctx, id, big); !isQuota(err, quota.MemoryPerSandbox) {
			t.Fatalf("PUT %s over the ceiling: %v", id, err)
		}
	}
	if w, err := c.GetWorker(ctx, "w"); err != nil || w.Hash != w0.Hash {
		t.Fatalf("the stored version changed: %v %+v", err, w)
	}
	if _, err := c.GetWorker(ctx, "fresh"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("the refused worker was stored: %v", err)
	}
}

// TestSessionEvalUnknownTakesNoSlot: evals of session names that do not exist answer
// not_found and take none of the tenant's unique workers of the day: with a quota of one,
// a real session still runs after them.
func TestSessionEvalUnknownTakesNoSlot(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	c := newTenant(t, ts, "slot", api.TenantSettings{Quotas: &api.Quotas{UniqueWorkersPerDay: 1}}, allScopes...)
	for _, name := range []string{"nope-1", "nope-2", "nope-3"} {
		if _, err := c.SessionEval(ctx, name, "1", nil); isoerr.CodeOf(err) != isoerr.NotFound {
			t.Fatalf("eval of %s: %v", name, err)
		}
	}
	if _, err := c.CreateSession(ctx, client.SessionOptions{Name: "real"}); err != nil {
		t.Fatal(err)
	}
	out, err := c.SessionEval(ctx, "real", "40 + 2", nil)
	if err != nil || string(out.Result) != "42" {
		t.Fatalf("the real session: %v %+v", err, out)
	}
}

// tenantKey makes tenant name with settings and returns the secret of a new key of it with
// every scope, and a client with that key.
func tenantKey(t *testing.T, ts *testServer, name string, settings api.TenantSettings) (string, *client.Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.c.PutTenant(ctx, name, settings); err != nil {
		t.Fatal(err)
	}
	k, err := ts.c.WithTenant(name).CreateKey(ctx, client.KeyOptions{Name: name + "-key", Scopes: allScopes})
	if err != nil {
		t.Fatal(err)
	}
	return k.Secret, ts.c.WithAPIKey(k.Secret)
}

// mcpCall calls an MCP tool with key and returns its text and structured error code.
func mcpCall(t *testing.T, ts *testServer, key, tool string, args map[string]any) (text string, e *isoerr.Error) {
	t.Helper()
	cs, err := mcpClient(t, ts, key)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatal(err)
	}
	var out mcpserver.RunOutput
	b, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(b, &out)
	return res.Content[0].(*mcp.TextContent).Text, out.Error
}

// TestMCPActsForTenant: /mcp with a tenant's key acts for that tenant. Two tenants each
// have a workspace named proj: execute with workspace proj reads and writes the caller's
// own; its runs are metered as the caller's usage (and not the other's), and the caller's
// quotas hold (a unique-workers quota of two: the third run is refused with
// quota_exceeded naming it, and did not run: its file is not there).
func TestMCPActsForTenant(t *testing.T) {
	ts := start(t, Config{Codemode: testConnectors(t)})
	ctx := context.Background()
	alphaKey, alpha := tenantKey(t, ts, "mcp-alpha", api.TenantSettings{})
	betaKey, beta := tenantKey(t, ts, "mcp-beta", api.TenantSettings{Quotas: &api.Quotas{UniqueWorkersPerDay: 2}})
	putFiles(t, alpha, "proj", map[string]string{"who.txt": "alpha"})
	putFiles(t, beta, "proj", map[string]string{"who.txt": "beta"})

	read := `async () => { await state.writeFile({ path: "mark.txt", content: "by mcp" }); return await state.readFile({ path: "who.txt" }) }`
	for _, c := range []struct{ key, want string }{{alphaKey, "\"alpha\"\n\n(2 tool calls)"}, {betaKey, "\"beta\"\n\n(2 tool calls)"}} {
		text, e := mcpCall(t, ts, c.key, "execute", map[string]any{"code": read, "workspace": map[string]any{"workspace": "proj"}})
		if e != nil || text != c.want {
			t.Fatalf("execute for %s: %q %+v", c.want, text, e)
		}
	}
	if _, err := ts.c.GetFile(ctx, "proj", "mark.txt", client.FileOptions{}); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("a tenant's MCP run wrote to the default tenant's workspace: %v", err)
	}
	for _, c := range []*client.Client{alpha, beta} {
		if _, err := c.GetFile(ctx, "proj", "mark.txt", client.FileOptions{}); err != nil {
			t.Fatalf("the MCP run's file is not in the caller's workspace: %v", err)
		}
	}
	if text, e := mcpCall(t, ts, betaKey, "run_code", map[string]any{"code": "6 * 7"}); e != nil || text != "42" {
		t.Fatalf("beta run_code: %q %+v", text, e)
	}
	text, e := mcpCall(t, ts, betaKey, "execute", map[string]any{"code": `async () => state.writeFile({ path: "refused.txt", content: "ran" })`,
		"workspace": map[string]any{"workspace": "proj"}})
	if e == nil || e.Code != isoerr.QuotaExceeded || e.Quota != quota.WorkersPerDay {
		t.Fatalf("beta's third run: %q %+v", text, e)
	}
	if _, err := beta.GetFile(ctx, "proj", "refused.txt", client.FileOptions{}); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("the refused run ran: %v", err)
	}
	for _, c := range []struct {
		cl   *client.Client
		want int64
	}{{alpha, 1}, {beta, 2}} {
		rep, err := c.cl.Usage(ctx, client.UsageOptions{})
		if err != nil || len(rep.Rows) != 1 || rep.Rows[0].Invocations != c.want || rep.Rows[0].UniqueWorkers != c.want || rep.Rows[0].WallMs <= 0 {
			t.Fatalf("usage: %v %+v", err, rep)
		}
	}
	m, err := ts.c.Metrics(ctx)
	if err != nil || !strings.Contains(m, `isobox_quota_refusals_total{quota="unique_workers_per_day",tenant="mcp-beta"} 1`) {
		t.Errorf("the refusal is not counted: %v", err)
	}
}

// TestSessionEgressMetered: a session's outbound bytes are its tenant's usage, on the
// session's row, and count against the tenant's daily egress quota: with a quota of 500
// bytes, a fetch of 1000 goes out whole and the next one inside the same eval is refused
// with egress_bytes_per_day.
func TestSessionEgressMetered(t *testing.T) {
	up, policy, release, _ := gatedUpstream(t)
	close(release)
	ts := start(t, Config{})
	ctx := context.Background()
	_, c := tenantKey(t, ts, "egs", api.TenantSettings{Quotas: &api.Quotas{EgressBytesPerDay: 500}})
	// allowPrivate (the upstream is on 127.0.0.1) is the operator's to set.
	if _, err := ts.c.WithTenant("egs").CreateSession(ctx, client.SessionOptions{Name: "net", GlobalOutbound: policy}); err != nil {
		t.Fatal(err)
	}
	out, err := c.SessionEval(ctx, "net", `async () => {
  const a = await (await fetch("`+up.URL+`/")).text();
  try { await fetch("`+up.URL+`/"); return "second went out" } catch (e) { return a.length + " then " + e.message }
}`, nil)
	if err != nil || !strings.HasPrefix(string(out.Result), `"1000 then `) || !strings.Contains(string(out.Result), "egress_bytes_per_day") {
		t.Fatalf("eval: %v %+v", err, out)
	}
	rep, err := c.Usage(ctx, client.UsageOptions{GroupBy: "worker"})
	if err != nil || len(rep.Rows) != 1 || rep.Rows[0].Worker != "session:net" || rep.Rows[0].EgressBytes < 1000 || rep.Rows[0].Invocations != 1 {
		t.Fatalf("usage: %v %+v", err, rep)
	}
}

// TestStorageQuotaSandboxWrites: a tenant's storage quota holds on every way a workspace
// grows besides the API's file PUT — a sandbox's env.FS binding (a whole write and a
// streamed one), the shell of exec and an archive's extraction: each write past it is
// refused with quota_exceeded naming storage_bytes, and nothing of it is stored; a write
// that fits still goes through.
func TestStorageQuotaSandboxWrites(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	_, c := tenantKey(t, ts, "stq", api.TenantSettings{Quotas: &api.Quotas{StorageBytes: 20_000}})
	code := js(`import { env } from "cloudflare:workers";
const fail = (e) => e.code + ": " + e.message;
export default {
  async put(path, n) { return env.FS.writeFile(path, "x".repeat(n)).then((i) => i.size, fail); },
  async stream(path, n) {
    let left = n;
    const body = new ReadableStream({ pull(c) {
      if (left <= 0) { c.close(); return; }
      const k = Math.min(left, 4096); left -= k; c.enqueue(new TextEncoder().encode("y".repeat(k)));
    } });
    return env.FS.writeFile(path, body).then((i) => i.size, fail);
  },
};`)
	code.Bindings = map[string]api.Binding{"FS": {Workspace: "files"}}
	if _, err := c.PutWorker(ctx, "writer", code); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Call(ctx, "writer", "put", "small.txt", 1000); err != nil || string(out.Result) != "1000" {
		t.Fatalf("a write that fits: %v %+v", err, out)
	}
	for _, m := range []string{"put", "stream"} {
		out, err := c.Call(ctx, "writer", m, m+".txt", 30_000)
		if err != nil || !strings.HasPrefix(string(out.Result), `"quota_exceeded: `) || !strings.Contains(string(out.Result), "storage_bytes") {
			t.Fatalf("%s past the quota: %v %s", m, err, out.Result)
		}
	}
	out, err := c.Exec(ctx, "files", api.ExecRequest{Command: "i=0; while [ $i -lt 300 ]; do echo 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789; i=$((i+1)); done > shell.txt"})
	// The loop's output is committed when its redirection closes: refused whole, reported
	// on stderr, and the script's exit status is 1.
	if err != nil || !strings.Contains(out.Stderr, "shell.txt") || !strings.Contains(out.Stderr, "storage_bytes") || out.ExitCode != 1 {
		t.Fatalf("exec past the quota: %+v %v", out, err)
	}
	_, err = c.UploadArchive(ctx, "files", "arc", bytes.NewReader(tarGz(t, file("one.txt", 100), file("big.bin", 30_000))))
	if !isQuota(err, quota.StorageBytes) {
		t.Fatalf("archive past the quota: %v", err)
	}
	tree, err := c.Tree(ctx, "files", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tree {
		if f.Path != "/small.txt" {
			t.Errorf("a refused write left %s (%d bytes)", f.Path, f.Size)
		}
	}
	if out, err := c.Call(ctx, "writer", "put", "small2.txt", 1000); err != nil || string(out.Result) != "1000" {
		t.Fatalf("a write that fits, after the refusals: %v %+v", err, out)
	}
}

// TestQuotaCPUPerDayOverHTTP: once a tenant's guest CPU today reaches its cpuMsPerDay,
// its next call is refused with 429 quota_exceeded naming cpu_ms_per_day and a
// Retry-After up to the next UTC midnight; another tenant's calls still run.
func TestQuotaCPUPerDayOverHTTP(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	key, c := tenantKey(t, ts, "cpuq", api.TenantSettings{Quotas: &api.Quotas{CPUMsPerDay: 1}})
	burn := js(`export default { fetch() { let x = 0; for (let i = 0; i < 20000; i++) x += i; return new Response(String(x)); } };`)
	for _, cl := range []*client.Client{c, ts.c} {
		if _, err := cl.PutWorker(ctx, "burn", burn); err != nil {
			t.Fatal(err)
		}
	}
	var r rawResult
	calls := 0
	for ; calls < 200; calls++ { // each call uses some CPU: the quota of 1 ms is reached
		r = ts.raw(t, "POST", "/v1/workers/burn/fetch", []byte(`{}`), http.Header{"Authorization": {"Bearer " + key}})
		if r.status != 200 {
			break
		}
	}
	retry, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != 429 || r.err == nil || r.err.Code != isoerr.QuotaExceeded || r.err.Quota != quota.CPUMsPerDay || retry < 1 || retry > 86400 {
		t.Fatalf("after %d calls: %d Retry-After %q %s, want 429 quota_exceeded cpu_ms_per_day", calls, r.status, r.header.Get("Retry-After"), r.body)
	}
	if calls == 0 {
		t.Fatal("the first call was refused: no CPU had been used yet")
	}
	if _, err := ts.c.Fetch(ctx, "burn", api.FetchRequest{}); err != nil {
		t.Fatalf("another tenant's call: %v", err)
	}
}
