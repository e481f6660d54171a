package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

// App holds the real-app figures of issue 15: the workerd anchor's Hono app
// (shared/anchors/workerd/app/src.js) bundled by isobox's own bundler, hono from the npm
// registry at the anchor's version, loaded as a new unique worker each time (its own code
// differs per load, its package modules do not) plus its first response, beside the
// anchor's app_cold_p50_ms.
type App struct {
	// ColdLoadP50 is with dependency images (the loader's default): after the second app,
	// each starts from the image of a sandbox that evaluated the hono modules.
	ColdLoadP50 float64 `json:"app_cold_load_p50_ms,omitempty"`
	ColdLoadN   int     `json:"app_cold_load_samples,omitempty"`
	// NoDepImageP50 is the same loads with dependency images off: every app evaluates
	// hono itself (the figure before issue 15's dependency images).
	NoDepImageP50 float64 `json:"app_cold_load_no_depimage_p50_ms,omitempty"`
	// CPUPerLoad and NoDepImageCPUPerLoad are the process's CPU time (user + system, all
	// threads) per load over the same loops, beside the anchor's
	// app_cold_server_cpu_ms_per_req (workerd's CPU per load).
	CPUPerLoad           float64 `json:"app_cold_load_cpu_ms,omitempty"`
	NoDepImageCPUPerLoad float64 `json:"app_cold_load_no_depimage_cpu_ms,omitempty"`
	// PathCPU and PathFaults are the request path's share of a load with dependency
	// images: the CPU time of the thread that ran it (ms, p50) and its minor page faults
	// (mean). The pools' work in the background runs on other threads; CPUPerLoad counts it.
	PathCPU    float64 `json:"app_cold_load_path_cpu_ms,omitempty"`
	PathFaults float64 `json:"app_cold_load_path_faults,omitempty"`
	// IdleWorkerRSS and NoDepImageIdleWorkerRSS are the growth of the process's resident
	// set per app worker the loops leave loaded and idle (KiB; trimmed, as idle workers
	// are), the dependency image's own memory included. RSS counts a page once per mapping
	// of it, so pages that workers restored from one image share count once per worker;
	// the proportional set (PSS) counts them once in all.
	IdleWorkerRSS           float64 `json:"app_idle_worker_rss_kib,omitempty"`
	IdleWorkerPSS           float64 `json:"app_idle_worker_pss_kib,omitempty"`
	NoDepImageIdleWorkerRSS float64 `json:"app_idle_worker_no_depimage_rss_kib,omitempty"`
	NoDepImageIdleWorkerPSS float64 `json:"app_idle_worker_no_depimage_pss_kib,omitempty"`
	BundleBytes             int     `json:"app_bundle_bytes,omitempty"`
	Modules                 int     `json:"app_modules,omitempty"`
	// Note says why the app figures are left out.
	Note string `json:"app_note,omitempty"`
}

// AppSource reads the anchor app's source and the hono version it pins from the anchor
// folder dir (shared/anchors/workerd).
func AppSource(dir string) (src []byte, hono string, err error) {
	if src, err = os.ReadFile(filepath.Join(dir, "app", "src.js")); err != nil {
		return nil, "", err
	}
	var pkg struct{ Dependencies map[string]string }
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, "", err
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return nil, "", fmt.Errorf("%s/package.json: %w", dir, err)
	}
	if hono = pkg.Dependencies["hono"]; hono == "" {
		return nil, "", fmt.Errorf("%s/package.json pins no hono", dir)
	}
	return src, hono, nil
}

// runApp bundles the anchor's app (from npm's registry, or registry when set) and
// measures n cold loads with dependency images and n without.
func runApp(ctx context.Context, e *engine.Engine, dir, registry, cacheDir string, n int) (App, error) {
	var out App
	src, hono, err := AppSource(dir)
	if err != nil {
		return out, err
	}
	files := map[string][]byte{
		"package.json": fmt.Appendf(nil, `{"name": "anchor-app", "private": true, "type": "module", "main": "src.js", "dependencies": {"hono": %q}}`, hono),
		"src.js":       src,
	}
	b, err := bundle.New(bundle.Options{Registry: registry, CacheDir: cacheDir}).Build(ctx, bundle.Project{Files: files})
	if err != nil {
		return out, fmt.Errorf("bundle the anchor app: %w", err)
	}
	for _, m := range b.Code.Modules {
		out.BundleBytes += len(m.Content)
	}
	out.Modules = len(b.Code.Modules)
	off, err := appLoads(ctx, e, b.Code, n, true)
	if err != nil {
		return out, err
	}
	out.NoDepImageP50, out.NoDepImageCPUPerLoad, out.NoDepImageIdleWorkerRSS, out.NoDepImageIdleWorkerPSS = off.p50, off.cpu, off.rss, off.pss
	on, err := appLoads(ctx, e, b.Code, n, false)
	if err != nil {
		return out, err
	}
	out.ColdLoadP50, out.ColdLoadN, out.CPUPerLoad, out.IdleWorkerRSS, out.IdleWorkerPSS = on.p50, on.n, on.cpu, on.rss, on.pss
	out.PathCPU, out.PathFaults = on.pathCPU, on.pathFaults

	return out, nil
}

// appRun is what appLoads measured: the load's p50 (ms) over n loads; the process's CPU
// time per load (ms; -1 where the OS does not say); the loading thread's CPU time per load
// (ms, p50) and minor faults per load (mean; both 0 where the OS does not say); and the
// resident set's growth per app worker left loaded (KiB; 0 where the OS does not say).
type appRun struct {
	p50, cpu, rss, pss  float64
	pathCPU, pathFaults float64
	n                   int
}

// appLoads loads code n times as new workers of a new loader, each with a main module of
// its own (a comment and a constant that differ per load), and calls GET / once.
func appLoads(ctx context.Context, e *engine.Engine, code api.WorkerCode, n int, noDeps bool) (appRun, error) {
	run := appRun{cpu: -1}
	l, err := loader.New(loader.Config{Engine: e, MaxWorkers: n + 1, NoDepImages: noDeps})
	if err != nil {
		return run, err
	}
	defer l.Close(ctx)
	// As idleRSSOf: the memory the engine keeps for recycling is given back first, so the
	// growth is the workers' (and the dependency image's, made in the loop).
	e.DropKeptMemory()
	runtime.GC()
	debug.FreeOSMemory()
	rss0, pss0, rssErr := memKiB()
	ds := make([]time.Duration, 0, n)
	// The loop holds its OS thread, so that thread's CPU time and faults are the loads'.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pathCPU := make([]time.Duration, 0, n)
	var pathFaults int64
	cpu0 := processCPU()
	for i := range n {
		wc := loader.FromAPI(code)
		wc.Modules = map[string]api.Module{}
		for k, m := range code.Modules {
			wc.Modules[k] = m
		}
		main := code.Modules[code.MainModule]
		wc.Modules[code.MainModule] = api.JS(fmt.Sprintf("// app %d\nconst __bench_app = %d;\n", i, i) + string(main.Content))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://app/", nil)
		c0, f0 := threadCPU(), threadMinorFaults()
		t := time.Now()
		res, err := l.Get(fmt.Sprintf("app-%d", i), func() (loader.WorkerCode, error) { return wc, nil }).Fetch(ctx, req)
		if err != nil {
			return run, fmt.Errorf("anchor app %d: %w", i, err)
		}
		ds = append(ds, time.Since(t))
		pathCPU = append(pathCPU, time.Duration(threadCPU()-c0))
		pathFaults += threadMinorFaults() - f0
		if res.Status != 200 || string(res.Body) != "Hello from the anchor app" {
			return run, fmt.Errorf("anchor app %d: status %d, body %q", i, res.Status, res.Body)
		}
	}
	if cpu0 >= 0 {
		run.cpu = float64(processCPU()-cpu0) / float64(time.Millisecond) / float64(n)
	}
	run.p50, _, run.n = quantiles(ds)
	if threadCPU() >= 0 && threadMinorFaults() >= 0 && n > 0 {
		run.pathCPU, _, _ = quantiles(pathCPU)
		run.pathFaults = math.Round(float64(pathFaults)/float64(n)*10) / 10
	}
	l.TrimIdle()
	runtime.GC()
	debug.FreeOSMemory()
	if rss1, pss1, err := memKiB(); err == nil && rssErr == nil {
		if idle := l.Stats().IdleSandboxes; idle > 0 {
			run.rss = math.Round(float64(rss1-rss0)/float64(idle)*10) / 10
			run.pss = math.Round(float64(pss1-pss0)/float64(idle)*10) / 10
		}
	}
	return run, nil
}
