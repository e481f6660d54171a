package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/internal/proccpu"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/store"
	"github.com/isobox/isobox/store/sqlite"
)

// countingStore is a real SQLite store that counts the calls that reach it, to show which
// requests touch the database.
type countingStore struct {
	store.Store
	stats, gets, secrets atomic.Int64
}

func (c *countingStore) StatWorker(ctx context.Context, id string) (store.Worker, error) {
	c.stats.Add(1)
	return c.Store.StatWorker(ctx, id)
}

func (c *countingStore) GetWorker(ctx context.Context, id string) (store.Worker, error) {
	c.gets.Add(1)
	return c.Store.GetWorker(ctx, id)
}

func (c *countingStore) GetSecret(ctx context.Context, name string) (string, error) {
	c.secrets.Add(1)
	return c.Store.GetSecret(ctx, name)
}

// openCounting opens a SQLite store in dir, counted; it is closed when the test ends.
func openCounting(t testing.TB, dir string) *countingStore {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "isobox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &countingStore{Store: st}
}

// BenchmarkStoredInvoke measures one invocation of a warm stored worker through the real
// HTTP handler on 127.0.0.1, one keep-alive connection, one request at a time: the
// request path's own cost beside the guest's. store-queries/op counts the worker lookups
// that reached SQLite; cpu-us/op is the CPU time of the whole process (server, guest and
// client) per request, which a busy machine disturbs less than ns/op.
//
//	go test ./server -run '^$' -bench StoredInvoke -benchtime 3000x
func BenchmarkStoredInvoke(b *testing.B) {
	cs := openCounting(b, b.TempDir())
	ts := start(b, Config{Store: cs})
	if _, err := ts.c.PutWorker(context.Background(), "hello", js(`export default { fetch() { return new Response("hi") }, add(a, b) { return a + b } }`)); err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct{ name, method, path, body, want string }{
		{"http", "GET", "/v1/workers/hello/http/", "", "hi"},
		{"call", "POST", "/v1/workers/hello/call/add", "[1,2]", `"result":3`},
	} {
		b.Run(bm.name, func(b *testing.B) {
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			do := func() {
				var rd io.Reader
				if bm.body != "" {
					rd = strings.NewReader(bm.body)
				}
				req, _ := http.NewRequest(bm.method, ts.url+bm.path, rd)
				req.Header.Set("Authorization", "Bearer "+testKey)
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(got), bm.want) {
					b.Fatalf("%s %s: %d %s", bm.method, bm.path, resp.StatusCode, got)
				}
			}
			for range 50 {
				do()
			}
			before := cs.stats.Load() + cs.gets.Load()
			cpu0, ok := proccpu.Process()
			b.ResetTimer()
			for range b.N {
				do()
			}
			b.StopTimer()
			b.ReportMetric(float64(cs.stats.Load()+cs.gets.Load()-before)/float64(b.N), "store-queries/op")
			if cpu1, ok2 := proccpu.Process(); ok && ok2 {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
			}
		})
	}
}

// versioned is a worker of two modules that both carry version v: an invocation that mixed
// two versions would answer two different numbers.
func versioned(v int) api.WorkerCode {
	code := js(fmt.Sprintf(`import { V as B } from "./b.js";
const A = %d;
export default { fetch() { return new Response(A + "/" + B) }, version() { return [A, B] } };`, v))
	code.Modules["b.js"] = api.JS(fmt.Sprintf("export const V = %d;", v))
	return code
}

// A warm stored worker is invoked through every route without a query to the store; a PUT
// of new code is what the next invocation runs, and after a DELETE the worker is not found,
// with one query however often it is asked.
func TestInvokePathQueriesNoStore(t *testing.T) {
	ctx := context.Background()
	cs := openCounting(t, t.TempDir())
	ts := start(t, Config{Store: cs})
	if _, err := ts.c.PutWorker(ctx, "w", versioned(1)); err != nil {
		t.Fatal(err)
	}
	invoke := func() (string, error) {
		out, err := ts.c.Fetch(ctx, "w", client.FetchRequest{})
		if err != nil {
			return "", err
		}
		r := ts.raw(t, "GET", "/v1/workers/w/http/", nil, nil)
		c, err := ts.c.Call(ctx, "w", "version")
		if err != nil {
			return "", err
		}
		var ab [2]int
		if err := json.Unmarshal(c.Result, &ab); err != nil {
			return "", err
		}
		if got := fmt.Sprintf("%d/%d", ab[0], ab[1]); got != *out.Body || got != string(r.body) {
			return "", fmt.Errorf("fetch %q, http %d %q, call %q disagree", *out.Body, r.status, r.body, got)
		}
		return *out.Body, nil
	}
	if got, err := invoke(); err != nil || got != "1/1" {
		t.Fatalf("v1: %q %v", got, err)
	}
	queries := func() int64 { return cs.stats.Load() + cs.gets.Load() }
	before := queries()
	for range 20 {
		if got, err := invoke(); err != nil || got != "1/1" {
			t.Fatalf("v1: %q %v", got, err)
		}
	}
	if n := queries() - before; n != 0 {
		t.Fatalf("60 warm invocations asked the store %d times", n)
	}

	if _, err := ts.c.PutWorker(ctx, "w", versioned(2)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, err := invoke(); err != nil || got != "2/2" {
			t.Fatalf("after the PUT of v2: %q %v", got, err)
		}
	}

	if err := ts.c.DeleteWorker(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	before = queries()
	for range 10 {
		_, err := ts.c.Fetch(ctx, "w", client.FetchRequest{})
		wantCode(t, err, isoerr.NotFound)
		if r := ts.raw(t, "GET", "/v1/workers/w/http/", nil, nil); r.status != 404 || r.err == nil || r.err.Code != isoerr.NotFound {
			t.Fatalf("http route of a deleted worker: %d %s", r.status, r.body)
		}
	}
	if n := queries() - before; n > 1 {
		t.Fatalf("20 invocations of a deleted worker asked the store %d times", n)
	}
	// Put back under the same id with the first code: found again, and it is v1 that runs.
	if _, err := ts.c.PutWorker(ctx, "w", versioned(1)); err != nil {
		t.Fatal(err)
	}
	if got, err := invoke(); err != nil || got != "1/1" {
		t.Fatalf("put back: %q %v", got, err)
	}
}

// A rotated secret is what the next outbound request carries; a deleted one is refused.
func TestSecretRotationReachesEgress(t *testing.T) {
	var seen atomic.Value
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"))
	}))
	defer echo.Close()
	u, _ := url.Parse(echo.URL)
	cs := openCounting(t, t.TempDir())
	ts := start(t, Config{Store: cs})
	src := `export default { async fetch() { const r = await fetch("` + echo.URL + `/"); return new Response(String(r.status)); } };`
	b, _ := json.Marshal(map[string]any{"mainModule": "main.js", "modules": map[string]string{"main.js": src},
		"globalOutbound": json.RawMessage(`{"rules":[{"action":"allow","host":"` + u.Hostname() + `","allowPrivate":true,"injectHeaders":{"Authorization":"Bearer {{secret:tok}}"}}]}`)})
	if r := ts.raw(t, "PUT", "/v1/workers/out", b, nil); r.status != 201 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	for i, value := range []string{"first-value", "second-value", "third-value"} {
		if r := ts.raw(t, "PUT", "/v1/secrets/tok", []byte(`{"value":"`+value+`"}`), nil); r.status != 204 {
			t.Fatalf("put secret: %d %s", r.status, r.body)
		}
		before := cs.secrets.Load()
		for range 3 {
			if r := ts.raw(t, "GET", "/v1/workers/out/http/", nil, nil); r.status != 200 || string(r.body) != "200" {
				t.Fatalf("rotation %d: %d %s", i, r.status, r.body)
			}
			if got := seen.Load(); got != "Bearer "+value {
				t.Fatalf("rotation %d: upstream saw %q, want the new value %q", i, got, value)
			}
		}
		if n := cs.secrets.Load() - before; n > 1 {
			t.Fatalf("3 outbound requests read the secret from the store %d times", n)
		}
	}
	if r := ts.raw(t, "DELETE", "/v1/secrets/tok", nil, nil); r.status != 204 {
		t.Fatalf("delete secret: %d", r.status)
	}
	if r := ts.raw(t, "GET", "/v1/workers/out/http/", nil, nil); r.status == 200 && string(r.body) == "200" {
		t.Fatalf("a deleted secret was still injected: upstream saw %q", seen.Load())
	}
}

// Invocations running while the worker is put again and again each run one version whole
// (both modules agree), and an invocation that starts after a PUT has returned never runs
// an older version.
func TestConcurrentInvokesDuringPuts(t *testing.T) {
	ctx := context.Background()
	ts := start(t, Config{})
	if _, err := ts.c.PutWorker(ctx, "w", versioned(0)); err != nil {
		t.Fatal(err)
	}
	const puts, callers = 12, 4
	var done atomic.Int64 // the last version whose PUT has returned
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := done.Load()
				var a, b int
				if i%2 == 0 {
					out, err := ts.c.Fetch(ctx, "w", client.FetchRequest{})
					if err == nil {
						_, err = fmt.Sscanf(*out.Body, "%d/%d", &a, &b)
					}
					if err != nil {
						errs <- err
						return
					}
				} else {
					out, err := ts.c.Call(ctx, "w", "version")
					var ab [2]int
					if err == nil {
						err = json.Unmarshal(out.Result, &ab)
					}
					if err != nil {
						errs <- err
						return
					}
					a, b = ab[0], ab[1]
				}
				calls.Add(1)
				if a != b || int64(a) < floor {
					errs <- fmt.Errorf("an invocation started after the PUT of v%d ran main.js v%d with b.js v%d", floor, a, b)
					return
				}
			}
		})
	}
	for v := 1; v <= puts; v++ {
		if _, err := ts.c.PutWorker(ctx, "w", versioned(v)); err != nil {
			t.Fatal(err)
		}
		done.Store(int64(v))
		// Let some invocations run against this version before the next PUT.
		for n := calls.Load(); calls.Load() < n+callers; {
			select {
			case err := <-errs:
				t.Fatal(err)
			case <-time.After(time.Millisecond):
			}
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if out, err := ts.c.Fetch(ctx, "w", client.FetchRequest{}); err != nil || *out.Body != fmt.Sprintf("%d/%d", puts, puts) {
		t.Fatalf("at the end: %v %v", out, err)
	}
}

// A second server on a data directory in use is refused (each keeps what it read from the
// database in memory, so it must be the only writer); once the first has shut down the
// directory can be used again.
func TestDataDirHeldByOneServer(t *testing.T) {
	ts := start(t, Config{})
	if _, err := New(Config{DataDir: ts.dir, CacheDir: cacheDir, SandboxProcesses: -1}); err == nil || !strings.Contains(err.Error(), "in use by another isobox server") {
		t.Fatalf("a second server on the same data directory: %v", err)
	}
	ts.stop(t)
	ts2 := start(t, Config{DataDir: ts.dir})
	if _, err := ts2.c.ListWorkers(context.Background(), client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}
