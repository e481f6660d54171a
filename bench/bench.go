// Package bench measures isobox on the same work as the workerd anchor
// (shared/anchors/workerd): cold load of a new unique worker plus its first response, a
// warm call to a loaded id, resident memory per loaded idle worker, and `isobox eval '1+1'`
// end to end. It reports medians and tails; nothing here is asserted by tests.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

// DynJS is the anchor's dynamic worker (shared/anchors/workerd/loader/dyn.js); {i} makes
// each one unique.
const DynJS = `// dynamic worker #{i} (untrusted code supplied in the request)
let calls = 0;
export default {
  fetch(req, env) {
    calls++;
    const n = Number(new URL(req.url).searchParams.get("n") ?? 1000);
    let s = 0;
    for (let k = 0; k < n; k++) s += k * k;
    return Response.json({ id: env.ID, tag: "{i}", calls, sum: s });
  },
};
`

// Options choose how much to measure.
type Options struct {
	Cold     int   // cold loads (default 300, as the anchor's COLD_N)
	Warm     int   // warm calls (default 3000)
	MemIDs   []int // idle worker counts for the RSS figure (default 100, 500, 1000)
	Eval     int   // `isobox eval '1+1'` process runs (default 20); 0 with EvalCmd nil skips
	EvalCmd  []string
	CacheDir string
	Progress func(string)
}

// Report is what `isobox bench --json` prints.
type Report struct {
	Date            string          `json:"date"`
	GoVersion       string          `json:"go"`
	CPUs            int             `json:"cpus"`
	ColdLoadP50     float64         `json:"cold_load_p50_ms"`
	ColdLoadP99     float64         `json:"cold_load_p99_ms"`
	ColdLoadN       int             `json:"cold_load_samples"`
	WarmCallP50     float64         `json:"warm_call_p50_ms"`
	WarmCallP99     float64         `json:"warm_call_p99_ms"`
	WarmCallN       int             `json:"warm_call_samples"`
	IdleWorkerRSS   float64         `json:"idle_worker_rss_kib"`
	IdleWorkerRSSAt map[int]float64 `json:"idle_worker_rss_kib_at"`
	IdleWorkerN     int             `json:"idle_worker_rss_samples"`
	EvalP50         float64         `json:"eval_p50_ms"`
	EvalN           int             `json:"eval_samples"`
	NewSandboxP50   float64         `json:"new_sandbox_p50_ms"`
	NewSandboxN     int             `json:"new_sandbox_samples"`
}

func (o *Options) defaults() {
	if o.Cold <= 0 {
		o.Cold = 300
	}
	if o.Warm <= 0 {
		o.Warm = 3000
	}
	if len(o.MemIDs) == 0 {
		o.MemIDs = []int{100, 500, 1000}
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// Run measures everything in one process, one figure after another.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	e, err := engine.New(ctx, engine.Config{CacheDir: o.CacheDir})
	if err != nil {
		return nil, err
	}
	defer e.Close(ctx)
	r := &Report{Date: time.Now().UTC().Format("2006-01-02"), GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}

	o.Progress("new sandbox")
	ds := make([]time.Duration, 0, o.Cold)
	for range o.Cold {
		t := time.Now()
		sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(t))
		sb.Close(ctx)
	}
	r.NewSandboxP50, _, r.NewSandboxN = quantiles(ds)

	o.Progress("cold load")
	if r.ColdLoadP50, r.ColdLoadP99, r.ColdLoadN, err = coldLoads(ctx, e, o.Cold); err != nil {
		return nil, err
	}
	o.Progress("warm call")
	if r.WarmCallP50, r.WarmCallP99, r.WarmCallN, err = warmCalls(ctx, e, o.Warm); err != nil {
		return nil, err
	}
	o.Progress("idle worker memory")
	r.IdleWorkerRSSAt = map[int]float64{}
	for _, n := range o.MemIDs {
		kib, err := idleRSS(ctx, e, n)
		if err != nil {
			return nil, err
		}
		r.IdleWorkerRSSAt[n] = kib
		r.IdleWorkerRSS, r.IdleWorkerN = kib, n
	}
	if o.Eval > 0 && len(o.EvalCmd) > 0 {
		o.Progress("eval end to end")
		if r.EvalP50, r.EvalN, err = evalRuns(ctx, o.EvalCmd, o.Eval); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// WorkerCode returns the anchor's dynamic worker number i.
func WorkerCode(i int) loader.WorkerCode {
	src := strings.ReplaceAll(DynJS, "{i}", strconv.Itoa(i))
	return loader.WorkerCode{
		CompatibilityDate: "2026-11-01", MainModule: "main.js",
		Modules: map[string]loader.Module{"main.js": loader.JS(src)},
		Env:     map[string]any{"ID": strconv.Itoa(i)},
	}
}

var dynReq = func(ctx context.Context) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://dynamic/?n=1000", nil)
	return req
}

func coldLoads(ctx context.Context, e *engine.Engine, n int) (p50, p99 float64, count int, err error) {
	l, err := loader.New(loader.Config{Engine: e, MaxWorkers: n + 1})
	if err != nil {
		return 0, 0, 0, err
	}
	defer l.Close(ctx)
	ds := make([]time.Duration, 0, n)
	for i := range n {
		t := time.Now()
		res, err := l.Get(fmt.Sprintf("cold-%d", i), func() (loader.WorkerCode, error) { return WorkerCode(i), nil }).Fetch(ctx, dynReq(ctx))
		if err != nil {
			return 0, 0, 0, fmt.Errorf("cold load %d: %w", i, err)
		}
		ds = append(ds, time.Since(t))
		if !res.Cold || res.Status != 200 {
			return 0, 0, 0, fmt.Errorf("cold load %d: status %d cold %v", i, res.Status, res.Cold)
		}
	}
	p50, p99, count = quantiles(ds)
	return p50, p99, count, nil
}

func warmCalls(ctx context.Context, e *engine.Engine, n int) (p50, p99 float64, count int, err error) {
	l, err := loader.New(loader.Config{Engine: e})
	if err != nil {
		return 0, 0, 0, err
	}
	defer l.Close(ctx)
	stub := l.Get("warm", func() (loader.WorkerCode, error) { return WorkerCode(0), nil })
	if _, err := stub.Fetch(ctx, dynReq(ctx)); err != nil {
		return 0, 0, 0, err
	}
	ds := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		res, err := stub.Fetch(ctx, dynReq(ctx))
		if err != nil {
			return 0, 0, 0, err
		}
		ds = append(ds, time.Since(t))
		if res.Cold {
			return 0, 0, 0, fmt.Errorf("warm call was cold")
		}
	}
	p50, p99, count = quantiles(ds)
	return p50, p99, count, nil
}

// idleRSS loads n distinct workers, leaves them idle and warm, and returns the growth of
// the process's resident set per worker, in KiB.
func idleRSS(ctx context.Context, e *engine.Engine, n int) (float64, error) {
	l, err := loader.New(loader.Config{Engine: e, MaxWorkers: n + 1, MemoryBudget: 1 << 40})
	if err != nil {
		return 0, err
	}
	defer l.Close(ctx)
	runtime.GC()
	debug.FreeOSMemory()
	before, err := rssKiB()
	if err != nil {
		return 0, err
	}
	for i := range n {
		if _, err := l.Get(fmt.Sprintf("mem-%d", i), func() (loader.WorkerCode, error) { return WorkerCode(i), nil }).Fetch(ctx, dynReq(ctx)); err != nil {
			return 0, err
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	after, err := rssKiB()
	if err != nil {
		return 0, err
	}
	if got := l.Stats().IdleSandboxes; got != n {
		return 0, fmt.Errorf("%d of %d workers stayed loaded", got, n)
	}
	return float64(after-before) / float64(n), nil
}

// rssKiB reads the resident set size of this process (Linux).
func rssKiB() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("resident memory is measured from /proc (Linux only): %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("VmRSS not found in /proc/self/status")
}

func evalRuns(ctx context.Context, cmd []string, n int) (float64, int, error) {
	ds := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		out, err := exec.CommandContext(ctx, cmd[0], cmd[1:]...).CombinedOutput()
		if err != nil {
			return 0, 0, fmt.Errorf("%v: %v\n%s", cmd, err, out)
		}
		if strings.TrimSpace(string(out)) != "2" {
			return 0, 0, fmt.Errorf("%v printed %q, want 2", cmd, out)
		}
		ds = append(ds, time.Since(t))
	}
	p50, _, count := quantiles(ds)
	return p50, count, nil
}

// quantiles returns the median and 99th percentile in milliseconds, and the sample count.
func quantiles(ds []time.Duration) (p50, p99 float64, n int) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	return at(0.5), at(0.99), len(ds)
}
