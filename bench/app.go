package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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
	BundleBytes          int     `json:"app_bundle_bytes,omitempty"`
	Modules              int     `json:"app_modules,omitempty"`
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
	if out.NoDepImageP50, _, out.NoDepImageCPUPerLoad, err = appLoads(ctx, e, b.Code, n, true); err != nil {
		return out, err
	}
	if out.ColdLoadP50, out.ColdLoadN, out.CPUPerLoad, err = appLoads(ctx, e, b.Code, n, false); err != nil {
		return out, err
	}
	return out, nil
}

// appLoads loads code n times as new workers of a new loader, each with a main module of
// its own (a comment and a constant that differ per load), and calls GET / once. cpu is
// the process's CPU time per load, in ms (-1 where the OS does not say).
func appLoads(ctx context.Context, e *engine.Engine, code api.WorkerCode, n int, noDeps bool) (p50 float64, count int, cpu float64, err error) {
	l, err := loader.New(loader.Config{Engine: e, MaxWorkers: n + 1, NoDepImages: noDeps})
	if err != nil {
		return 0, 0, 0, err
	}
	defer l.Close(ctx)
	ds := make([]time.Duration, 0, n)
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
		t := time.Now()
		res, err := l.Get(fmt.Sprintf("app-%d", i), func() (loader.WorkerCode, error) { return wc, nil }).Fetch(ctx, req)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("anchor app %d: %w", i, err)
		}
		ds = append(ds, time.Since(t))
		if res.Status != 200 || string(res.Body) != "Hello from the anchor app" {
			return 0, 0, 0, fmt.Errorf("anchor app %d: status %d, body %q", i, res.Status, res.Body)
		}
	}
	cpu = -1
	if cpu0 >= 0 {
		cpu = float64(processCPU()-cpu0) / float64(time.Millisecond) / float64(n)
	}
	p50, _, count = quantiles(ds)
	return p50, count, cpu, nil
}
