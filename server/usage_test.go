package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/internal/proccpu"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/tenant/quota"
)

// gatedUpstream is a loopback server whose answers wait until release is closed; it
// reports the most requests it held at once.
func gatedUpstream(t *testing.T) (up *httptest.Server, policy json.RawMessage, release chan struct{}, peak *atomic.Int64) {
	release = make(chan struct{})
	var cur atomic.Int64
	peak = &atomic.Int64{}
	up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		cur.Add(-1)
		fmt.Fprint(w, strings.Repeat("u", 1000))
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	policy = json.RawMessage(`{"rules":[{"action":"allow","host":"` + u.Hostname() + `","allowPrivate":true}]}`)
	return up, policy, release, peak
}

// TestQuotaConcurrentOverHTTP: 200 concurrent calls of a worker that waits on an upstream,
// against a concurrency quota of 50: exactly 50 run (they cannot finish before the 150
// others were answered), the 150 others get 429 quota_exceeded naming the quota, with
// Retry-After, and the refusals are counted per tenant on /metrics.
func TestQuotaConcurrentOverHTTP(t *testing.T) {
	up, policy, release, _ := gatedUpstream(t)
	ts := start(t, Config{Quotas: quota.Limits{Concurrent: 50}})
	code := js(`export default { async fetch() { return new Response(await (await fetch("` + up.URL + `/")).text()); } };`)
	code.GlobalOutbound = policy
	if _, err := ts.c.PutWorker(context.Background(), "gated", code); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	var ok, refused, other atomic.Int64
	var answered, wg sync.WaitGroup
	answered.Add(150)
	var once sync.Once
	go func() { answered.Wait(); once.Do(func() { close(release) }) }()
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", ts.url+"/v1/workers/gated/fetch", strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := hc.Do(req)
			if err != nil {
				t.Error(err)
				other.Add(1)
				return
			}
			defer resp.Body.Close()
			var body struct {
				Error *isoerr.Error `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			switch {
			case resp.StatusCode == 200:
				ok.Add(1)
			case resp.StatusCode == 429 && body.Error != nil && body.Error.Code == isoerr.QuotaExceeded &&
				body.Error.Quota == quota.Concurrent && resp.Header.Get("Retry-After") == "1" && body.Error.RetryAfterSeconds == 1:
				if refused.Add(1) <= 150 {
					answered.Done()
				}
			default:
				other.Add(1)
				t.Errorf("status %d, Retry-After %q, error %+v", resp.StatusCode, resp.Header.Get("Retry-After"), body.Error)
				answered.Done() // do not hold the others forever
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 50 || refused.Load() != 150 || other.Load() != 0 {
		t.Fatalf("ok %d, refused %d, other %d; want 50, 150, 0", ok.Load(), refused.Load(), other.Load())
	}
	m, err := ts.c.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`isobox_quota_refusals_total{quota="concurrent_invocations",tenant="default"} 150`,
		`isobox_tenant_invocations_total{tenant="default"} 50`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Every slot came back: a call runs now.
	if out, err := ts.c.Fetch(context.Background(), "gated", api.FetchRequest{}); err != nil {
		t.Fatalf("after the burst: %v (%+v)", err, out)
	}
}

// TestQuotaRateAndWorkers: the per-minute quota refuses the call past its burst with a
// Retry-After, the unique-workers quota refuses a new worker (one-shot loads count), and
// the memory ceiling refuses a /v1/run that asks for more; nothing ran for them.
func TestQuotaRateAndWorkers(t *testing.T) {
	ts := start(t, Config{Quotas: quota.Limits{InvocationsPerMinute: 6, UniqueWorkersPerDay: 2, MemoryMBPerSandbox: 64}})
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := ts.c.PutWorker(ctx, id, js(helloJS)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.c.Fetch(ctx, "a", api.FetchRequest{}); err != nil {
		t.Fatal(err)
	}
	r := ts.raw(t, "POST", "/v1/run", []byte(`{"code":"return 1","limits":{"memoryMb":65}}`), nil)
	if r.status != 429 || r.err == nil || r.err.Quota != quota.MemoryPerSandbox || r.header.Get("Retry-After") != "" {
		t.Fatalf("memory over the ceiling: %d %s %+v", r.status, r.header.Get("Retry-After"), r.err)
	}
	// No memory limit asked: it runs with the ceiling (64 MiB, under the default 128) as its
	// limit; a 100 MiB allocation fails.
	out, err := ts.c.Eval(ctx, "const a = new Uint8Array(100 * 1024 * 1024); return a.length", nil) // the second unique worker
	if isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Fatalf("eval over the ceiling: %v %+v", err, out)
	}
	r = ts.raw(t, "POST", "/v1/workers/b/fetch", []byte(`{}`), nil)
	if r.status != 429 || r.err == nil || r.err.Quota != quota.WorkersPerDay || r.header.Get("Retry-After") == "" {
		t.Fatalf("a third worker: %d %+v", r.status, r.err)
	}
	r = ts.raw(t, "POST", "/v1/sessions", []byte(`{"name":"big","limits":{"memoryMb":65}}`), nil)
	if r.status != 429 || r.err == nil || r.err.Quota != quota.MemoryPerSandbox {
		t.Fatalf("a session over the ceiling: %d %s", r.status, r.body)
	}
	m, err := ts.c.Metrics(ctx)
	if err != nil || !strings.Contains(m, `isobox_quota_refusals_total{quota="unique_workers_per_day",tenant="default"} 1`) ||
		!strings.Contains(m, `isobox_quota_refusals_total{quota="memory_mb_per_sandbox",tenant="default"} 2`) {
		t.Errorf("refusals not counted: %v", err)
	}
	if _, err := ts.c.Fetch(ctx, "a", api.FetchRequest{}); err != nil { // seen today: it runs
		t.Fatal(err)
	}
	// Five of the burst of six are spent (each call admitted took a token before its own
	// refusal); one token comes back every 10 s, so ten more calls must meet the rate.
	for i := 0; ; i++ {
		r = ts.raw(t, "POST", "/v1/workers/a/fetch", []byte(`{}`), nil)
		if r.status == 429 {
			if r.err == nil || r.err.Quota != quota.InvocationsPerMinute || r.header.Get("Retry-After") == "" {
				t.Fatalf("past the rate: %d %v %+v", r.status, r.header, r.err)
			}
			break
		}
		if r.status != 200 || i == 10 {
			t.Fatalf("call %d past the burst: %d %s", i, r.status, r.body)
		}
	}
	rep, err := ts.c.Usage(ctx, client.UsageOptions{GroupBy: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rep.Rows {
		if row.Worker == "b" {
			t.Fatalf("refused worker b was metered: %+v", row)
		}
	}
}

// TestUsageRecordsAndSurvivesRestart: calls of a stored worker (one with egress), a
// one-shot run and a session eval show in GET /v1/usage by worker and by day, in the cost
// report and in the per-tenant metrics; after a restart on the same data directory the
// rows are still there and the daily unique-workers quota still counts them.
func TestUsageRecordsAndSurvivesRestart(t *testing.T) {
	up, policy, release, _ := gatedUpstream(t)
	close(release)
	dir := t.TempDir()
	ts := start(t, Config{DataDir: dir, Quotas: quota.Limits{UniqueWorkersPerDay: 3}})
	ctx := context.Background()
	code := js(`export default { async fetch(req) {
  if (new URL(req.url).pathname === "/up") return new Response(await (await fetch("` + up.URL + `/")).text());
  return new Response("ok");
} };`)
	code.GlobalOutbound = policy
	w, err := ts.c.PutWorker(ctx, "hello", code)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := ts.c.Fetch(ctx, "hello", api.FetchRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := ts.c.Fetch(ctx, "hello", api.FetchRequest{URL: "http://localhost/up"}); err != nil || out.Body == nil || len(*out.Body) != 1000 {
		t.Fatalf("egress call: %v %+v", err, out)
	}
	if _, err := ts.c.Eval(ctx, "return 1 + 1", nil); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)

	check := func(ts *testServer) {
		t.Helper()
		r := ts.raw(t, "GET", "/v1/usage?groupBy=worker&tenant=default&from="+today+"&to="+today, nil, nil)
		var rep api.UsageReport
		if r.status != 200 || json.Unmarshal(r.body, &rep) != nil {
			t.Fatalf("usage: %d %s", r.status, r.body)
		}
		if len(rep.Rows) != 2 {
			t.Fatalf("rows by worker: %s", r.body)
		}
		one, hello := rep.Rows[0], rep.Rows[1]
		if one.Worker != "" || one.UniqueWorkers != 1 || one.Invocations != 1 {
			t.Errorf("one-shot row: %+v", one)
		}
		if hello.Worker != "hello" || hello.CodeHash != w.Hash || hello.UniqueWorkers != 1 || hello.Invocations != 4 ||
			hello.CPUMs <= 0 || hello.WallMs <= 0 || hello.EgressBytes < 1000 {
			t.Errorf("hello row: %+v", hello)
		}
		r = ts.raw(t, "GET", "/v1/usage?from="+today, nil, nil)
		if err := json.Unmarshal(r.body, &rep); err != nil || len(rep.Rows) != 1 || rep.Rows[0].Day != today ||
			rep.Rows[0].UniqueWorkers != 2 || rep.Rows[0].Invocations != 5 || rep.GroupBy != "day" {
			t.Errorf("by day: %s", r.body)
		}
		cost, err := ts.c.UsageCost(ctx, client.UsageOptions{From: today, To: today})
		if err != nil || len(cost.Rows) != 1 || cost.Rows[0].Invocations != 5 || !strings.Contains(cost.Source, "cloudflare") {
			t.Errorf("cost: %+v %v", cost, err)
		}
	}
	check(ts)
	m, err := ts.c.Metrics(ctx)
	if err != nil || !strings.Contains(m, `isobox_tenant_invocations_total{tenant="default"} 5`) ||
		!strings.Contains(m, `isobox_tenant_egress_bytes_total{tenant="default"}`) {
		t.Errorf("per-tenant metrics missing: %v", err)
	}
	ts.stop(t)

	ts2 := start(t, Config{DataDir: dir, Quotas: quota.Limits{UniqueWorkersPerDay: 3}})
	check(ts2)
	// Two unique workers before the restart; one more fits, the fourth does not.
	if _, err := ts2.c.Eval(ctx, "return 2", nil); err != nil {
		t.Fatal(err)
	}
	_, err = ts2.c.Eval(ctx, "return 3", nil)
	if e := isoerr.As(err); e == nil || e.Code != isoerr.QuotaExceeded || e.Quota != quota.WorkersPerDay || e.RetryAfterSeconds <= 0 {
		t.Fatalf("the daily quota forgot the day before the restart: %v", err)
	}
}

func TestUsageBadQuery(t *testing.T) {
	ts := start(t, Config{})
	for _, q := range []string{"groupBy=month", "from=yesterday", "to=2026-13-01", "from=2026-12-02&to=2026-12-01",
		"from=2020-01-01&to=2026-12-01", "from=2026-12-01'--"} {
		r := ts.raw(t, "GET", "/v1/usage?"+q, nil, nil)
		if r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidRequest {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	if r := ts.raw(t, "GET", "/v1/usage/cost?groupBy=worker", nil, nil); r.status != 400 {
		t.Errorf("cost by worker: %d", r.status)
	}
	if r := ts.raw(t, "GET", "/v1/usage", nil, http.Header{"Authorization": {"Bearer wrong-key-0123456789"}}); r.status != 401 {
		t.Errorf("wrong key: %d", r.status)
	}
}

// TestQuotaStorage: a worker PUT or a workspace file that would take the tenant past its
// storage quota is refused with 429 quota_exceeded (no Retry-After), and nothing is stored;
// a smaller one fits.
func TestQuotaStorage(t *testing.T) {
	ts := start(t, Config{Quotas: quota.Limits{StorageBytes: 4000}})
	ctx := context.Background()
	small := js(`export default { fetch() { return new Response("x") } }`)
	if _, err := ts.c.PutWorker(ctx, "small", small); err != nil {
		t.Fatal(err)
	}
	big := js(`export default { fetch() { return new Response("` + strings.Repeat("y", 5000) + `") } }`)
	_, err := ts.c.PutWorker(ctx, "big", big)
	if e := isoerr.As(err); e == nil || e.Code != isoerr.QuotaExceeded || e.Quota != quota.StorageBytes {
		t.Fatalf("big worker: %v", err)
	}
	if _, err := ts.c.GetWorker(ctx, "big"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("the refused worker was stored: %v", err)
	}
	r := ts.raw(t, "PUT", "/v1/workspaces/w/files/a.txt", []byte(strings.Repeat("z", 3900)), nil)
	if r.status != 429 || r.err == nil || r.err.Quota != quota.StorageBytes || r.header.Get("Retry-After") != "" {
		t.Fatalf("big file: %d %v %s", r.status, r.header, r.body)
	}
	if r := ts.raw(t, "PUT", "/v1/workspaces/w/files/a.txt", []byte("fits"), nil); r.status >= 300 {
		t.Fatalf("small file: %d %s", r.status, r.body)
	}
}

// BenchmarkWarmInvokeQuotas is a warm GET /v1/workers/hello/http/ one at a time, with no
// quota and with every quota set (none near), for the CPU the quota checks add per request
// beside the request's own (cpu-us/op, the whole process). Metering is on in both.
//
//	go test ./server -run '^$' -bench WarmInvokeQuotas -benchtime 3000x
func BenchmarkWarmInvokeQuotas(b *testing.B) {
	all := quota.Limits{Concurrent: 1 << 20, InvocationsPerMinute: 1 << 40, CPUMsPerDay: 1 << 40, MemoryMBPerSandbox: 1 << 20,
		StorageBytes: 1 << 50, EgressBytesPerDay: 1 << 50, UniqueWorkersPerDay: 1 << 20}
	for _, bm := range []struct {
		name string
		q    quota.Limits
	}{{"all", all}, {"none", quota.Limits{}}} {
		b.Run(bm.name, func(b *testing.B) {
			ts := start(b, Config{Quotas: bm.q})
			if _, err := ts.c.PutWorker(context.Background(), "hello", js(`export default { fetch() { return new Response("hi") } }`)); err != nil {
				b.Fatal(err)
			}
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			do := func() {
				req, _ := http.NewRequest("GET", ts.url+"/v1/workers/hello/http/", nil)
				req.Header.Set("Authorization", "Bearer "+testKey)
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			for range 50 {
				do()
			}
			cpu0, ok := proccpu.Process()
			b.ResetTimer()
			for range b.N {
				do()
			}
			b.StopTimer()
			if cpu1, ok2 := proccpu.Process(); ok && ok2 {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
			}
		})
	}
}

// TestUsageStorage: a sample of the stored bytes (worker code and workspace files) held for
// a day is that many byte-days in the tenant's usage.
func TestUsageStorage(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	w, err := ts.c.PutWorker(ctx, "small", js(`export default { fetch() { return new Response("x") } }`))
	if err != nil {
		t.Fatal(err)
	}
	if r := ts.raw(t, "PUT", "/v1/workspaces/w/files/a.txt", []byte(strings.Repeat("z", 1000)), nil); r.status >= 300 {
		t.Fatalf("file: %d %s", r.status, r.body)
	}
	want := int64(w.Size) + 1000
	if got := ts.storedBytes(ctx)["default"]; got != want {
		t.Fatalf("stored bytes %d, want %d (code %d + file 1000)", got, want, w.Size)
	}
	ts.sampleStorageOnce(ctx, time.Now(), 24*time.Hour)
	rep, err := ts.c.Usage(ctx, client.UsageOptions{})
	if err != nil || len(rep.Rows) != 1 || rep.Rows[0].StorageByteDays != float64(want) || rep.Rows[0].UniqueWorkers != 0 {
		t.Fatalf("usage %+v, %v; want %d byte-days", rep, err, want)
	}
}

// TestQuotaEgress: a call whose outbound bytes cross the tenant's daily egress quota
// finishes, but its second fetch() is refused inside the sandbox, and the next invocation is
// refused with 429 and a Retry-After to midnight UTC.
func TestQuotaEgress(t *testing.T) {
	up, policy, release, _ := gatedUpstream(t)
	close(release)
	ts := start(t, Config{Quotas: quota.Limits{EgressBytesPerDay: 500}})
	ctx := context.Background()
	code := js(`export default { async fetch() {
  const a = await (await fetch("` + up.URL + `/")).text();
  try { await fetch("` + up.URL + `/"); return new Response("second went out"); }
  catch (e) { return new Response(a.length + " then " + e.message); }
} };`)
	code.GlobalOutbound = policy
	if _, err := ts.c.PutWorker(ctx, "up", code); err != nil {
		t.Fatal(err)
	}
	out, err := ts.c.Fetch(ctx, "up", api.FetchRequest{})
	if err != nil || out.Body == nil || !strings.HasPrefix(*out.Body, "1000 then ") || !strings.Contains(*out.Body, "egress_bytes_per_day") {
		t.Fatalf("first call: %v %+v", err, out)
	}
	r := ts.raw(t, "POST", "/v1/workers/up/fetch", []byte(`{}`), nil)
	if r.status != 429 || r.err == nil || r.err.Quota != quota.EgressBytesPerDay || r.header.Get("Retry-After") == "" {
		t.Fatalf("next call: %d %v %s", r.status, r.header, r.body)
	}
}
