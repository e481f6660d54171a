package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/isobox/isobox/internal/sandboxproc"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// Processes are the figures of the sandbox processes of `isobox serve` (issue 10).
type Processes struct {
	Processes int `json:"sandbox_processes"`
	// Threads is the GOMAXPROCS of each process (0: Go's default).
	Threads int `json:"sandbox_process_threads,omitempty"`
	// WarmCallP50 is WarmCallP50's call made through a sandbox process: the cost of the
	// process boundary is the difference.
	WarmCallP50 float64 `json:"warm_call_process_p50_ms"`
	WarmCallN   int     `json:"warm_call_process_samples"`
	// HostileNeighbour is the latency of a hello worker called in a closed loop while
	// three hostile calls (a string search that does not poll) run all the time, each
	// restarted when it ends. Errors counts hello calls that failed (sandbox_restarted:
	// their process was killed under them); their latency is counted too.
	HostileNeighbourP50    float64 `json:"hostile_neighbour_p50_ms"`
	HostileNeighbourP99    float64 `json:"hostile_neighbour_p99_ms"`
	HostileNeighbourMax    float64 `json:"hostile_neighbour_max_ms"`
	HostileNeighbourN      int     `json:"hostile_neighbour_samples"`
	HostileNeighbourErrors int     `json:"hostile_neighbour_errors"`
	HostileCalls           int     `json:"hostile_calls"`
	// HostileOutcomes counts the hostile calls by error code ("ok" for none).
	HostileOutcomes map[string]int `json:"hostile_outcomes"`
	// HTTP is the hello over HTTP with sandbox processes on (HTTPHello is in-process).
	HTTPRPS float64 `json:"http_hello_process_rps,omitempty"`
	HTTPP99 float64 `json:"http_hello_process_p99_ms,omitempty"`
	HTTPN   int     `json:"http_hello_process_samples,omitempty"`
	HTTPP50 float64 `json:"http_hello_process_p50_ms,omitempty"`
	// HTTPServerCPU and HTTPWorkerCPU are the CPU per request of the serving process and
	// of the sandbox processes together, in microseconds (HTTPHello's ServerCPUPerReq and
	// WorkerCPUPerReq; wdbench only).
	HTTPServerCPU float64 `json:"http_hello_process_server_cpu_us_per_req,omitempty"`
	HTTPWorkerCPU float64 `json:"http_hello_process_worker_cpu_us_per_req,omitempty"`
	// HTTPGenerator is the load generator of the HTTP figure (as HTTPHello.Generator).
	HTTPGenerator string `json:"http_hello_process_load_generator,omitempty"`
	// ReplaceP50 is the time from SIGKILL of a sandbox process to the first answered call
	// of a worker placed on it (that worker starts cold on the replacement).
	ReplaceP50 float64 `json:"process_replace_ms,omitempty"`
	ReplaceMax float64 `json:"process_replace_max_ms,omitempty"`
	ReplaceN   int     `json:"process_replace_samples,omitempty"`
}

// HostileJS is the hostile call of issue 10: a quadratic string search inside one C
// built-in (about 10 s unpatched on the machine), under the default 50 ms CPU limit.
const HostileJS = `export default { ping() { return 1 }, run() { const s = "a".repeat(6e5), n = "a".repeat(6e2) + "b"; return s.indexOf(n); } };`

// RunProcesses measures warm calls through n sandbox processes (started by command), the
// replacement of a killed process (replace times) and the hello latency beside three
// hostile calls for hostileFor.
func RunProcesses(ctx context.Context, cacheDir string, n int, command func() *exec.Cmd, warm, replace int, hostileFor time.Duration, threads int) (*Processes, error) {
	dir, err := os.MkdirTemp("", "isobox-bench-procs")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p, err := sandboxproc.New(sandboxproc.Config{Processes: n, Command: command, CacheDir: cacheDir, ImagesDir: dir,
		Logger: slog.New(slog.DiscardHandler), Threads: threads})
	if err != nil {
		return nil, err
	}
	defer p.Close(context.WithoutCancel(ctx))
	r := &Processes{Processes: n, Threads: threads, HostileOutcomes: map[string]int{}}

	// The figure is the steady state: the pool starts its spare process (an engine start,
	// ~0.3 s of CPU) once the others are up, and calls made meanwhile share the cores with it.
	for wait := time.Now(); p.Spare() == 0 && time.Since(wait) < 30*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	stub := p.Get("warm", func() (loader.WorkerCode, error) { return WorkerCode(0), nil })
	if _, err := stub.Fetch(ctx, dynReq(ctx)); err != nil {
		return nil, err
	}
	ds := make([]time.Duration, 0, warm)
	for range warm {
		t := time.Now()
		res, err := stub.Fetch(ctx, dynReq(ctx))
		if err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(t))
		if res.Status != 200 {
			return nil, fmt.Errorf("warm call through a process: status %d", res.Status)
		}
	}
	r.WarmCallP50, _, r.WarmCallN = quantiles(ds)
	if replace > 0 {
		if ds, err = replacements(ctx, p, replace); err != nil {
			return nil, err
		}
		r.ReplaceP50, _, r.ReplaceN = quantiles(ds)
		r.ReplaceMax = float64(ds[len(ds)-1].Microseconds()) / 1000
	}

	hello := p.Get("hello", func() (loader.WorkerCode, error) {
		return loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS(`export default { hi() { return "hi" } };`)}}, nil
	})
	if _, err := hello.Call(ctx, "hi", nil); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var hostile []*sandboxproc.Stub
	for i := range 3 {
		h := p.Get(fmt.Sprintf("hostile-%d", i), func() (loader.WorkerCode, error) {
			return loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS(HostileJS)}}, nil
		})
		// Warm first: the figure is the steady state (a cold call's CPU bound also covers
		// the evaluation of its modules, 1 s).
		if _, err := h.Call(ctx, "ping", nil); err != nil {
			return nil, err
		}
		hostile = append(hostile, h)
	}
	hctx, stop := context.WithTimeout(ctx, hostileFor)
	defer stop()
	for _, h := range hostile {
		wg.Go(func() {
			for hctx.Err() == nil {
				_, err := h.Call(context.WithoutCancel(hctx), "run", nil)
				code := "ok"
				if err != nil {
					code = string(isoerr.CodeOf(err))
				}
				mu.Lock()
				r.HostileOutcomes[code]++
				r.HostileCalls++
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // the hostile calls are running
	var lat []time.Duration
	for hctx.Err() == nil {
		t := time.Now()
		res, err := hello.Call(context.WithoutCancel(hctx), "hi", nil)
		lat = append(lat, time.Since(t))
		if err != nil {
			if isoerr.CodeOf(err) != isoerr.SandboxRestarted {
				return nil, fmt.Errorf("hello beside hostile calls: %w", err)
			}
			r.HostileNeighbourErrors++
		} else if v, _ := json.Marshal("hi"); string(res.Value) != string(v) {
			return nil, fmt.Errorf("hello answered %s", res.Value)
		}
	}
	wg.Wait()
	r.HostileNeighbourP50, r.HostileNeighbourP99, r.HostileNeighbourN = quantiles(lat)
	if len(lat) > 0 {
		r.HostileNeighbourMax = float64(lat[len(lat)-1].Microseconds()) / 1000 // sorted by quantiles
	}
	return r, nil
}

// replacements kills process 0 n times (SIGKILL, as the watchdog does) and times each from
// the kill to the first answered call of a worker placed there (it starts cold on the
// replacement). Before each kill it waits until the processes and the spare are up: the
// figure is the replacement of one process, not of several in a row.
func replacements(ctx context.Context, p *sandboxproc.Pool, n int) ([]time.Duration, error) {
	var id string
	for i := 0; id == ""; i++ {
		if c := fmt.Sprintf("replace-%d", i); p.Place(c) == 0 {
			id = c
		}
	}
	stub := p.Get(id, func() (loader.WorkerCode, error) {
		return loader.WorkerCode{MainModule: "main.js", Modules: map[string]loader.Module{"main.js": loader.JS(`export default { hi() { return "hi" } };`)}}, nil
	})
	ds := make([]time.Duration, 0, n)
	for range n {
		if _, err := stub.Call(ctx, "hi", nil); err != nil {
			return nil, fmt.Errorf("before a kill: %w", err)
		}
		if err := waitSpare(ctx, p); err != nil {
			return nil, err
		}
		pid := p.Processes()[0]
		if pid == 0 {
			return nil, errors.New("process 0 is not up")
		}
		proc, err := os.FindProcess(pid)
		if err != nil {
			return nil, err
		}
		t := time.Now()
		if err := proc.Kill(); err != nil {
			return nil, fmt.Errorf("kill process 0: %w", err)
		}
		for {
			_, err := stub.Call(ctx, "hi", nil)
			if err == nil {
				break
			}
			// A call that reached the dying process before its end was seen.
			if isoerr.CodeOf(err) != isoerr.SandboxRestarted {
				return nil, fmt.Errorf("after a kill: %w", err)
			}
		}
		ds = append(ds, time.Since(t))
	}
	return ds, nil
}

// waitSpare waits until every process is up and the spare's engine too.
func waitSpare(ctx context.Context, p *sandboxproc.Pool) error {
	for {
		up := p.Spare() != 0
		for _, pid := range p.Processes() {
			up = up && pid != 0
		}
		if up {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
