package loader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/loader"
)

// 1,000 outbound calls from 50 sandboxes at once, through the egress gateway: each worker
// makes 20 in parallel (its subrequest limit), one more is refused inside the sandbox, and
// the gateway's counters and the server agree on what went out.
func TestConcurrentEgressFromSandboxes(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		fmt.Fprint(w, r.URL.Query().Get("i"))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	policy, err := egress.ParsePolicy([]byte(`{"rules":[{"action":"allow","host":"` + u.Hostname() + `","allowPrivate":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	audit := egress.NewAudit(5000)
	gw, err := egress.New(egress.Config{Policy: policy, Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, loader.Config{MaxWorkers: 100})
	src := `export default { async fetch() {
  const calls = Array.from({length: 20}, (_, i) => fetch("` + srv.URL + `/?i=" + i).then(r => r.text()));
  const got = await Promise.all(calls);
  let refused = "";
  try { await fetch("` + srv.URL + `/?i=extra") } catch (e) { refused = e.message }
  return Response.json({ sum: got.reduce((a, b) => a + Number(b), 0), refused });
} };`
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := code(src)
			c.Outbound = gw
			// 50 sandboxes share the machine, and a guest's CPU clock runs while it waits for a
			// core (RATIONALE §2): the CPU limit is not what this test is about.
			c.Limits = &loader.Limits{SubRequests: 20, CPUMs: 30000}
			req, _ := http.NewRequest("GET", "http://localhost/", nil)
			res, err := l.Get(fmt.Sprint("egress-", w), func() (loader.WorkerCode, error) { return c, nil }).Fetch(context.Background(), req)
			if err != nil {
				errs <- err
				return
			}
			var out struct {
				Sum     int    `json:"sum"`
				Refused string `json:"refused"`
			}
			if err := json.Unmarshal(res.Body, &out); err != nil || out.Sum != 190 || out.Refused == "" {
				errs <- fmt.Errorf("worker %d: %s (%v)", w, res.Body, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := served.Load(); n != 1000 {
		t.Fatalf("the server saw %d requests, want 1000", n)
	}
	if c := audit.Counters(); c.Allowed != 1000 || c.Denied != 0 {
		t.Fatalf("gateway counters %+v", c)
	}
}

// A streamed request body goes out through the egress gateway too.
func TestStreamedBodyThroughGateway(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprint(w, len(b))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	policy, err := egress.ParsePolicy([]byte(`{"rules":[{"action":"allow","host":"` + u.Hostname() + `","allowPrivate":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := egress.New(egress.Config{Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	res, err := newLoader(t, loader.Config{}).Eval(context.Background(), `
		let i = 0;
		const body = new ReadableStream({ pull(c) { if (i++ < 10) c.enqueue(new Uint8Array(1000)); else c.close(); } });
		await (await fetch("`+srv.URL+`", { method: "PUT", body })).text()`, loader.EvalOptions{Outbound: gw})
	if err != nil || string(res.Value) != `"10000"` {
		t.Fatalf("%s %v", res.Value, err)
	}
}
