package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/internal/proccpu"
)

// BenchmarkHTTPHello measures a hello worker over HTTP keep-alive with 8 connections, as
// the workerd anchor measures its hello worker: throughput, and p50/p99 latency as seen by
// the client. "http" forwards a raw request (GET /v1/workers/hello/http/), "fetch" goes
// through the JSON route (POST /v1/workers/hello/fetch). For the README figure:
//
//	go test ./server -run '^$' -bench HTTPHello -benchtime 10s
func BenchmarkHTTPHello(b *testing.B) {
	ts := start(b, Config{})
	if _, err := ts.c.PutWorker(context.Background(), "hello", js(`export default { fetch() { return new Response("hi") } }`)); err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct {
		name, method, path, body string
		want                     string
	}{
		{"http", "GET", "/v1/workers/hello/http/", "", "hi"},
		{"fetch", "POST", "/v1/workers/hello/fetch", `{"url":"http://localhost/"}`, `"body":"hi"`},
	} {
		b.Run(bm.name, func(b *testing.B) {
			lat := loadHTTP(b, ts.url+bm.path, bm.method, bm.body, bm.want, 8, b.N)
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		})
	}
}

// loadHTTP sends n requests over conns keep-alive connections, closed loop, and returns
// each one's latency. The timer covers the requests only.
func loadHTTP(b *testing.B, url, method, body, want string, conns, n int) []time.Duration {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	do := func() (time.Duration, error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, url, rd)
		req.Header.Set("Authorization", "Bearer "+testKey)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		el := time.Since(t0)
		if err == nil && (resp.StatusCode != 200 || !strings.Contains(string(got), want)) {
			b.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, got)
		}
		return el, err
	}
	for range 200 { // warm the sandboxes and connections
		if _, err := do(); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				d, err := do()
				if err != nil {
					b.Error(err)
					return
				}
				lat[i] = d
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	return lat
}

// BenchmarkForwardHandler is the server's own work per hello request on the worker HTTP
// route, without a connection: the request goes straight to the server's handler
// (authentication, routing, the invocation, the response headers) and the answer to a
// recorder. cpu-us/op is the process's CPU per request (host and guest), steadier than
// ns/op on a busy machine.
//
//	go test ./server -run '^$' -bench ForwardHandler -benchtime 5000x -count 5
func BenchmarkForwardHandler(b *testing.B) {
	ts := start(b, Config{SandboxProcesses: -1})
	if _, err := ts.c.PutWorker(context.Background(), "hello", js(`export default { fetch() { return new Response("hi") } }`)); err != nil {
		b.Fatal(err)
	}
	h := ts.Handler()
	serve := func() {
		req := httptest.NewRequest("GET", "http://127.0.0.1/v1/workers/hello/http/", nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("User-Agent", "wdbench")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != "hi" {
			b.Fatalf("hello answered %d %q", rec.Code, rec.Body.String())
		}
	}
	serve() // the cold load
	start, ok := proccpu.Process()
	for b.Loop() {
		serve()
	}
	if end, ok2 := proccpu.Process(); ok && ok2 {
		b.ReportMetric(float64((end-start).Microseconds())/float64(b.N), "cpu-us/op")
	}
}
