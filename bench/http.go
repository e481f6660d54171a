package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/server"
)

// HTTPHello is the throughput of the anchor's hello worker behind `isobox serve`, over
// loopback HTTP with keep-alive: conns connections in a closed loop for d.
type HTTPHello struct {
	RPS   float64 `json:"http_hello_rps"`
	P50   float64 `json:"http_hello_p50_ms"`
	P99   float64 `json:"http_hello_p99_ms"`
	N     int     `json:"http_hello_samples"`
	Conns int     `json:"http_hello_conns"`
	// ServerCPUPerReq is the CPU of the serving process (the bench process) per request,
	// in microseconds, as wdbench reads it from /proc (0 with the in-process generator,
	// whose own CPU would be counted in).
	ServerCPUPerReq float64 `json:"http_hello_server_cpu_us_per_req,omitempty"`
	// WorkerCPUPerReq is the CPU of the sandbox worker processes per request, in
	// microseconds (with sandbox processes and wdbench only): read from /proc before and
	// after the wdbench run, so its 200 warm-up requests are in it and in the divisor.
	// ServerCPUPerReq + WorkerCPUPerReq is what a request costs the machine.
	WorkerCPUPerReq float64 `json:"http_hello_worker_cpu_us_per_req,omitempty"`
	// Generator is the load generator that produced the figure (GeneratorWdbench or
	// GeneratorInProcess).
	Generator string `json:"http_load_generator"`
}

// HTTPLoad is how the hello is loaded: Conns keep-alive connections for Duration, by the
// wdbench binary at Wdbench (a separate process, as the workerd anchor does) or, when it
// is "", by a Go client inside the bench process.
type HTTPLoad struct {
	Conns    int
	Duration time.Duration
	Wdbench  string
}

// RunHTTPHello starts a server on 127.0.0.1 (a temporary data directory), stores the hello
// worker and loads it through GET /v1/workers/hello/http/.
func RunHTTPHello(ctx context.Context, cacheDir string, load HTTPLoad) (*HTTPHello, error) {
	return runHTTPHello(ctx, server.Config{CacheDir: cacheDir}, load, "")
}

// RunHTTPHelloProcesses is RunHTTPHello with the sandboxes in n worker processes started
// by command (`isobox sandbox-worker`).
func RunHTTPHelloProcesses(ctx context.Context, cacheDir string, load HTTPLoad, n int, command func() *exec.Cmd) (*HTTPHello, error) {
	return runHTTPHello(ctx, server.Config{CacheDir: cacheDir, SandboxProcesses: n, SandboxCommand: command}, load, "")
}

// runHTTPHello loads the hello as the operator (tenant "") or as a tenant of its own,
// stored and called with that tenant's key (tenants.go).
func runHTTPHello(ctx context.Context, cfg server.Config, load HTTPLoad, tenant string) (*HTTPHello, error) {
	conns, d := load.Conns, load.Duration
	dir, err := os.MkdirTemp("", "isobox-bench-http")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	key := "isobox-bench-key-0123456789"
	cfg.DataDir, cfg.AdminKey = dir, key
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := server.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- s.Serve(sctx, ln) }()
	defer func() { stop(); <-served }()
	base := "http://" + ln.Addr().String()
	c, err := client.New(base, key)
	if err != nil {
		return nil, err
	}
	if tenant != "" {
		if key, err = benchTenant(ctx, c, tenant); err != nil {
			return nil, err
		}
		c = c.WithAPIKey(key)
	}
	hello := api.WorkerCode{MainModule: "worker.js", Modules: map[string]api.Module{
		"worker.js": api.JS(`export default { fetch() { return new Response("hi"); } };`),
	}}
	if _, err := c.PutWorker(ctx, "hello", hello); err != nil {
		return nil, err
	}
	if load.Wdbench != "" {
		return wdbenchHello(ctx, s.Handler(), key, load)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() (time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/workers/hello/http/", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != "hi" {
			return 0, fmt.Errorf("hello answered %d %q (%v)", resp.StatusCode, b, err)
		}
		return time.Since(t0), nil
	}
	if _, err := get(); err != nil { // warm it up
		return nil, err
	}
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				lat, err := get()
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					return
				}
				mine = append(mine, lat)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, firstErr
	}
	r := &HTTPHello{N: len(all), Conns: conns, RPS: float64(len(all)) / elapsed.Seconds(), Generator: GeneratorInProcess}
	r.P50, r.P99, _ = quantiles(all)
	return r, nil
}

// wdbenchHello loads the hello with `wdbench load`, which sends a plain GET to one URL as
// the anchor's hello worker gets at "/". wdbench sends no headers, so the hello is served
// on a second listener whose handler adds the API key and the worker's route before the
// server's own handler: authentication, routing and forwarding are still paid per request.
func wdbenchHello(ctx context.Context, h http.Handler, key string, load HTTPLoad) (*HTTPHello, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+key)
		r.URL.Path = "/v1/workers/hello/http" + r.URL.Path
		r.URL.RawPath = ""
		h.ServeHTTP(w, r)
	})}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	defer func() { hs.Close(); <-served }()
	workers := childPIDs() // before wdbench starts: it is a child too
	w0, ok0 := cpuOf(workers)
	r, err := runWdbenchLoad(ctx, load.Wdbench, "http://"+ln.Addr().String()+"/", load.Conns, load.Duration, os.Getpid())
	if err != nil {
		return nil, err
	}
	if w1, ok1 := cpuOf(workers); ok0 && ok1 {
		r.WorkerCPUPerReq = math.Round((w1-w0)*1000/float64(r.N+wdbenchWarmup)*1000) / 1000
	}
	return r, nil
}
