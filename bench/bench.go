// Package bench measures isobox on the same work as the workerd anchor
// (shared/anchors/workerd): cold load of a new unique worker plus its first response, a
// warm call to a loaded id, resident memory per loaded idle worker, and `isobox eval '1+1'`
// end to end. It reports medians and tails; nothing here is asserted by tests.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/dynworker"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// DynJS is the anchor's dynamic worker (shared/anchors/workerd/loader/dyn.js); {i} makes
// each one unique.
const DynJS = dynworker.JS

// Options choose how much to measure.
type Options struct {
	Cold    int   // cold loads (default 300, as the anchor's COLD_N)
	Warm    int   // warm calls (default 3000)
	MemIDs  []int // idle worker counts for the RSS figure (default 100, 500, 1000)
	Eval    int   // `isobox eval '1+1'` process runs (default 20); 0 with EvalCmd nil skips
	EvalCmd []string
	// DenoEvalCmd, when set, is run in turn with EvalCmd (one of each, Eval times, after a
	// warm-up run of each), for the eval_vs_deno ratio: `deno eval 1+1`.
	DenoEvalCmd []string
	CacheDir    string
	Progress    func(string)

	// PyEvalCmd is the command line of the py_eval_process figure (run Eval times).
	PyEvalCmd []string
	// Bundle is the number of cold bundles of BundleProject (4x as many warm bundles and
	// cold loads of the bundled app); 0 skips the bundle figures.
	Bundle int
	// BundleRegistry, when set, measures the bundle figures on HonoZodProject from this
	// registry (https://registry.npmjs.org/) instead of BundleProject from a stub.
	BundleRegistry string
	// Workspace is the number of small files of the workspace figures (written and read
	// through a binding; the search and exec figures run 5 and 20 times); 0 skips them.
	Workspace int
	// Metering is the number of warm calls' quota and metering work measured (issue 16);
	// 0 skips it.
	Metering int
	// App is the number of cold loads of the workerd anchor's Hono app (AppDir's
	// app/src.js, bundled by isobox from AppRegistry, "" for npm's), with dependency images
	// and without; 0 skips them. A failure to bundle it (no network) leaves the figures out
	// with App.Note saying why, and does not fail the run.
	App         int
	AppDir      string
	AppRegistry string
}

// Report is what `isobox bench --json` prints.
type Report struct {
	Date        string  `json:"date"`
	GoVersion   string  `json:"go"`
	CPUs        int     `json:"cpus"`
	ColdLoadP50 float64 `json:"cold_load_p50_ms"`
	ColdLoadP99 float64 `json:"cold_load_p99_ms"`
	ColdLoadN   int     `json:"cold_load_samples"`
	WarmCallP50 float64 `json:"warm_call_p50_ms"`
	WarmCallP99 float64 `json:"warm_call_p99_ms"`
	WarmCallN   int     `json:"warm_call_samples"`
	// ColdLoadFaults and WarmCallFaults are the minor page faults of the whole process
	// per cold load and per warm call, over the measured loops (-1 where the OS cannot
	// count them).
	ColdLoadFaults float64 `json:"cold_load_faults"`
	// ColdLoadPathFaults are the minor page faults of the request path alone per cold
	// load: those of the thread that ran the load (the blank pool's background work is on
	// other threads and is in ColdLoadFaults). -1 where the OS cannot count them.
	ColdLoadPathFaults float64 `json:"cold_load_path_faults"`
	// ColdLoadCPU is the process's CPU time per cold load (user + system) over the whole
	// loop, the blank pool's refills in the pauses included.
	ColdLoadCPU float64 `json:"cold_load_cpu_ms"`
	// ColdLoadBackToBackP50 is the cold load with no pause between loads: the blank pool
	// (loader.Config.BlankSandboxes) runs dry and refills while loads run. ColdLoadP50
	// leaves coldGap between loads, as new workers arriving at up to ~400 a second would.
	ColdLoadBackToBackP50 float64 `json:"cold_load_back_to_back_p50_ms"`
	// ColdLoadNoPoolP50 is ColdLoadP50 on an engine that keeps no blank sandboxes (each
	// cold load restores its own); ColdLoadNoPoolCPU its ColdLoadCPU.
	ColdLoadNoPoolP50        float64         `json:"cold_load_no_pool_p50_ms"`
	ColdLoadNoPoolCPU        float64         `json:"cold_load_no_pool_cpu_ms"`
	ColdLoadNoPoolPathFaults float64         `json:"cold_load_no_pool_path_faults"`
	WarmCallFaults           float64         `json:"warm_call_faults"`
	IdleWorkerRSS            float64         `json:"idle_worker_rss_kib"`
	IdleWorkerRSSAt          map[int]float64 `json:"idle_worker_rss_kib_at"`
	IdleWorkerN              int             `json:"idle_worker_rss_samples"`
	EvalP50                  float64         `json:"eval_p50_ms"`
	EvalN                    int             `json:"eval_samples"`
	// DenoEvalP50 is `deno eval 1+1` as a new process, run in turn with isobox's
	// (Options.DenoEvalCmd); EvalVsDeno is its median over isobox's (above 1: isobox is faster).
	DenoEvalP50   float64 `json:"deno_eval_p50_ms,omitempty"`
	EvalVsDeno    float64 `json:"eval_vs_deno,omitempty"`
	NewSandboxP50 float64 `json:"new_sandbox_p50_ms"`
	NewSandboxN   int     `json:"new_sandbox_samples"`
	// Snapshot figures (issue 3).
	RestoreP50 float64 `json:"restore_p50_ms"`
	RestoreN   int     `json:"restore_samples"`
	// RestoreOnlyP50 is engine.Restore of a loaded worker's image, without the call.
	RestoreOnlyP50     float64 `json:"restore_only_p50_ms"`
	HibernatedWorkerKB float64 `json:"hibernated_worker_kib"`
	HibernatedN        int     `json:"hibernated_worker_samples"`
	// Fork10MiBP50 is a fork of a sandbox with 10 MiB of heap that ran (and wrote) since
	// its last fork; Fork10MiBFirst its first fork (median over new parents), which writes
	// its state out once. Fork10MiBFirstPrepared is the first fork of a parent that called
	// PrepareFork when new (its heap grew into a shared file), Fork10MiBFirstIdle of one
	// that called it after writing its heap (the copy made in idle time). Heap10MiBWrite and
	// Heap10MiBWritePrepared are what writing the heap took in the plain and the prepared
	// parents: what PrepareFork costs the code that runs afterwards.
	Fork10MiBP50           float64 `json:"fork_10mib_p50_ms"`
	Fork10MiBFirst         float64 `json:"fork_10mib_first_ms"`
	Fork10MiBFirstPrepared float64 `json:"fork_10mib_first_prepared_ms"`
	Fork10MiBFirstIdle     float64 `json:"fork_10mib_first_prepared_idle_ms"`
	Heap10MiBWrite         float64 `json:"heap_10mib_write_ms"`
	Heap10MiBWritePrepared float64 `json:"heap_10mib_write_prepared_ms"`
	ForkN                  int     `json:"fork_samples"`
	ForkFirstN             int     `json:"fork_first_samples"`
	// IdleWorkerPSS is the proportional set size per idle worker at the largest id count:
	// pages shared copy-on-write with the base image are divided among their users.
	IdleWorkerPSS float64 `json:"idle_worker_pss_kib"`
	// NoImageColdLoadP50 is the cold load without the base image (every sandbox starts
	// QuickJS and evaluates the runtime), for comparison.
	NoImageColdLoadP50 float64 `json:"cold_load_no_image_p50_ms"`
	// HostileStop is the time from a call's CPU deadline to its error when the call is
	// inside one long built-in (issue 10's quadratic indexOf, CPU limit 50 ms): median and
	// worst of HostileStopN calls.
	HostileStop    float64 `json:"hostile_stop_ms"`
	HostileStopMax float64 `json:"hostile_stop_max_ms"`
	HostileStopN   int     `json:"hostile_stop_samples"`
	Python                 // issue 11: py_cold_p50_ms, py_script_p50_ms, py_eval_process_ms
	Bundle                 // issue 12: bundle_cold_ms, bundle_warm_ms, bundle_app_cold_load_ms, npm's
	Workspace              // issue 13: ws_write_small_per_s, ws_read_small_per_s, ws_search_10k_ms, ws_exec_p50_ms
	Metering               // issue 16: metering_quota_ns_per_call
	App                    // issue 15: app_cold_load_p50_ms, app_cold_load_no_depimage_p50_ms
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

	o.Progress("hostile call stop")
	if r.HostileStop, r.HostileStopMax, r.HostileStopN, err = hostileStops(ctx, e, 10); err != nil {
		return nil, err
	}
	o.Progress("cold load")
	f0 := minorFaults()
	cold, err := coldLoads(ctx, e, o.Cold, coldGap)
	if err != nil {
		return nil, err
	}
	r.ColdLoadP50, r.ColdLoadP99, r.ColdLoadN, r.ColdLoadPathFaults, r.ColdLoadCPU = cold.p50, cold.p99, cold.n, cold.pathFaults, cold.cpu
	r.ColdLoadFaults = perCall(f0, minorFaults(), r.ColdLoadN)
	o.Progress("cold load, back to back")
	if cold, err = coldLoads(ctx, e, o.Cold, 0); err != nil {
		return nil, err
	}
	r.ColdLoadBackToBackP50 = cold.p50
	o.Progress("cold load without the blank pool")
	np, err := engine.New(ctx, engine.Config{CacheDir: o.CacheDir})
	if err != nil {
		return nil, err
	}
	cold, err = coldLoads(ctx, np, o.Cold, coldGap, loader.Config{BlankSandboxes: -1})
	np.Close(ctx)
	if err != nil {
		return nil, err
	}
	r.ColdLoadNoPoolP50, r.ColdLoadNoPoolCPU, r.ColdLoadNoPoolPathFaults = cold.p50, cold.cpu, cold.pathFaults
	o.Progress("warm call")
	f0 = minorFaults()
	if r.WarmCallP50, r.WarmCallP99, r.WarmCallN, err = warmCalls(ctx, e, o.Warm); err != nil {
		return nil, err
	}
	r.WarmCallFaults = perCall(f0, minorFaults(), r.WarmCallN)
	o.Progress("restore of a seen code")
	if r.RestoreP50, r.RestoreN, err = restores(ctx, e, min(o.Cold, 300)); err != nil {
		return nil, err
	}
	if r.RestoreOnlyP50, err = restoreOnly(ctx, e, min(o.Cold, 300)); err != nil {
		return nil, err
	}
	o.Progress("hibernated worker size")
	if r.HibernatedWorkerKB, r.HibernatedN, err = hibernatedSize(ctx, e, 50); err != nil {
		return nil, err
	}
	o.Progress("fork of a 10 MiB sandbox")
	if r.Fork10MiBP50, r.ForkN, err = forks(ctx, e, 30); err != nil {
		return nil, err
	}
	// Each first fork needs a new parent that writes its heap (~50 ms): 9 of each kind in
	// a full run, fewer in a short one.
	if err = firstForks(ctx, e, min(9, max(1, o.Cold/10)), r); err != nil {
		return nil, err
	}
	o.Progress("idle worker memory")
	r.IdleWorkerRSSAt = map[int]float64{}
	for _, n := range o.MemIDs {
		kib, pss, err := idleRSS(ctx, e, n)
		if err != nil {
			return nil, err
		}
		r.IdleWorkerRSSAt[n] = kib
		r.IdleWorkerRSS, r.IdleWorkerN, r.IdleWorkerPSS = kib, n, pss
	}
	o.Progress("cold load without the base image")
	ne, err := engine.New(ctx, engine.Config{CacheDir: o.CacheDir, NoImage: true})
	if err != nil {
		return nil, err
	}
	cold, err = coldLoads(ctx, ne, min(o.Cold, 100), coldGap)
	r.NoImageColdLoadP50 = cold.p50
	ne.Close(ctx)
	if err != nil {
		return nil, err
	}
	o.Progress("python")
	if r.Python, err = runPython(ctx, e, min(o.Cold, 100), o.PyEvalCmd, o.Eval, min(slices.Max(o.MemIDs), 100), min(o.Warm, 1000)); err != nil {
		return nil, err
	}
	if o.Bundle > 0 {
		if r.Bundle, err = runBundle(ctx, e, o.Bundle, o.BundleRegistry, o.Progress); err != nil {
			return nil, err
		}
	}
	if o.App > 0 {
		o.Progress("the anchor's Hono app, cold loads")
		if r.App, err = runApp(ctx, e, o.AppDir, o.AppRegistry, bundleCacheDir(o.CacheDir), o.App); err != nil {
			r.App = App{Note: "app figures left out: " + err.Error()}
		}
	}
	if o.Workspace > 0 {
		if r.Workspace, err = runWorkspace(ctx, e, o.Workspace, 5, 20, o.Progress); err != nil {
			return nil, err
		}
	}
	if o.Metering > 0 {
		o.Progress("quota checks and metering of a warm call")
		if r.Metering, err = RunMetering(ctx, o.Metering); err != nil {
			return nil, err
		}
	}
	if o.Eval > 0 && len(o.EvalCmd) > 0 {
		o.Progress("eval end to end")
		if r.EvalP50, r.DenoEvalP50, r.EvalN, err = evalRuns(ctx, o.EvalCmd, o.DenoEvalCmd, o.Eval); err != nil {
			return nil, err
		}
		if r.DenoEvalP50 > 0 && r.EvalP50 > 0 {
			r.EvalVsDeno = math.Round(r.DenoEvalP50/r.EvalP50*100) / 100
		}
	}
	return r, nil
}

// WorkerCode returns the anchor's dynamic worker number i.
func WorkerCode(i int) loader.WorkerCode { return dynworker.Code(i) }

var dynReq = func(ctx context.Context) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://dynamic/?n=1000", nil)
	return req
}

// perCall is the faults between two counts per call (-1 when either count is unknown).
// The loops' set-up (a loader, the warm worker's first load) is counted in too.
func perCall(before, after int64, n int) float64 {
	if before < 0 || after < 0 || n == 0 {
		return -1
	}
	return float64(after-before) / float64(n)
}

// coldGap is the pause before each cold load of the cold_load figures (not timed): new
// workers arriving one at a time, which leaves the blank pool time to refill.
const coldGap = 2500 * time.Microsecond

// coldRun is one measured loop of cold loads.
type coldRun struct {
	p50, p99   float64
	n          int
	pathFaults float64 // minor faults of the loading thread per load (-1: unknown)
	cpu        float64 // the process's CPU time per load, ms (-1: unknown)
}

// coldLoads measures n new unique workers, each loaded and called once, with gap before
// each. The loop holds its OS thread, so the faults of that thread are the request path's.
// cfg, if given, configures the loader (its Engine and MaxWorkers are set here).
func coldLoads(ctx context.Context, e *engine.Engine, n int, gap time.Duration, cfg ...loader.Config) (coldRun, error) {
	var c loader.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.Engine, c.MaxWorkers = e, n+1
	l, err := loader.New(c)
	if err != nil {
		return coldRun{}, err
	}
	defer l.Close(ctx)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ds := make([]time.Duration, 0, n)
	var faults int64
	c0 := processCPU() // over the whole loop: the pool's refills run in the gaps
	for i := range n {
		time.Sleep(gap)
		f0 := threadMinorFaults()
		t := time.Now()
		res, err := l.Get(fmt.Sprintf("cold-%d", i), func() (loader.WorkerCode, error) { return WorkerCode(i), nil }).Fetch(ctx, dynReq(ctx))
		if err != nil {
			return coldRun{}, fmt.Errorf("cold load %d: %w", i, err)
		}
		ds = append(ds, time.Since(t))
		faults += threadMinorFaults() - f0
		if !res.Cold || res.Status != 200 {
			return coldRun{}, fmt.Errorf("cold load %d: status %d cold %v", i, res.Status, res.Cold)
		}
	}
	r := coldRun{pathFaults: -1, cpu: -1}
	r.p50, r.p99, r.n = quantiles(ds)
	if threadMinorFaults() >= 0 && n > 0 {
		r.pathFaults = float64(faults) / float64(n)
	}
	if c1 := processCPU(); c0 >= 0 && n > 0 {
		r.cpu = math.Round(float64(c1-c0)/float64(n)/1e3) / 1e3
	}
	return r, nil
}

func warmCalls(ctx context.Context, e *engine.Engine, n int) (p50, p99 float64, count int, err error) {
	return warmFetches(ctx, e, n, WorkerCode)
}

// warmFetches measures n fetches of one loaded worker, code(0).
func warmFetches(ctx context.Context, e *engine.Engine, n int, code func(int) loader.WorkerCode) (p50, p99 float64, count int, err error) {
	l, err := loader.New(loader.Config{Engine: e})
	if err != nil {
		return 0, 0, 0, err
	}
	defer l.Close(ctx)
	stub := l.Get("warm", func() (loader.WorkerCode, error) { return code(0), nil })
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
// the process's resident set (RSS) and proportional set (PSS) per worker, in KiB.
func idleRSS(ctx context.Context, e *engine.Engine, n int) (rss, pss float64, err error) {
	return idleRSSOf(ctx, e, n, WorkerCode)
}

// idleRSSOf is idleRSS of the workers code(0) ... code(n-1).
func idleRSSOf(ctx context.Context, e *engine.Engine, n int, code func(int) loader.WorkerCode) (rss, pss float64, err error) {
	l, err := loader.New(loader.Config{Engine: e, MaxWorkers: n + 1, MemoryBudget: 1 << 40, CodeImageBudget: 1})
	if err != nil {
		return 0, 0, err
	}
	defer l.Close(ctx)
	// The memory the engine keeps for recycling would be counted before and reused by the
	// workers: given back first, each worker's memory is its own growth.
	e.DropKeptMemory()
	runtime.GC()
	debug.FreeOSMemory()
	rss0, pss0, err := memKiB()
	if err != nil {
		return 0, 0, err
	}
	for i := range n {
		if _, err := l.Get(fmt.Sprintf("mem-%d", i), func() (loader.WorkerCode, error) { return code(i), nil }).Fetch(ctx, dynReq(ctx)); err != nil {
			return 0, 0, err
		}
	}
	l.TrimIdle()
	runtime.GC()
	debug.FreeOSMemory()
	rss1, pss1, err := memKiB()
	if err != nil {
		return 0, 0, err
	}
	if got := l.Stats().IdleSandboxes; got != n {
		return 0, 0, fmt.Errorf("%d of %d workers stayed loaded", got, n)
	}
	return float64(rss1-rss0) / float64(n), float64(pss1-pss0) / float64(n), nil
}

// memKiB reads the resident (Rss) and proportional (Pss) set sizes of this process (Linux).
func memKiB() (rss, pss int64, err error) {
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		return 0, 0, fmt.Errorf("memory is measured from /proc (Linux only): %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		for _, f := range []struct {
			name string
			dst  *int64
		}{{"Rss:", &rss}, {"Pss:", &pss}} {
			if v, ok := strings.CutPrefix(line, f.name); ok {
				*f.dst, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			}
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("Rss not found in /proc/self/smaps_rollup")
	}
	return rss, pss, nil
}

// restores measures a call to a worker whose code was seen before (its per-code image is
// cached) but which has no warm sandbox: restore plus first response.
func restores(ctx context.Context, e *engine.Engine, n int) (float64, int, error) {
	l, err := loader.New(loader.Config{Engine: e})
	if err != nil {
		return 0, 0, err
	}
	defer l.Close(ctx)
	codeFn := func() (loader.WorkerCode, error) { return WorkerCode(7), nil }
	for range 2 { // the second load of a code takes its image
		l.Forget(ctx, "seen")
		if _, err := l.Get("seen", codeFn).Fetch(ctx, dynReq(ctx)); err != nil {
			return 0, 0, err
		}
	}
	ds := make([]time.Duration, 0, n)
	for range n {
		l.Forget(ctx, "seen")
		t := time.Now()
		res, err := l.Get("seen", codeFn).Fetch(ctx, dynReq(ctx))
		if err != nil {
			return 0, 0, err
		}
		ds = append(ds, time.Since(t))
		if !res.Restored {
			return 0, 0, fmt.Errorf("a seen code was not restored")
		}
	}
	p50, _, count := quantiles(ds)
	return p50, count, nil
}

// bundleCacheDir is the bundler's cache folder for the engine's cache setting: "off" (no
// cache) is none for the bundler too, not a folder named "off" in the working directory.
func bundleCacheDir(engineCacheDir string) string {
	if engineCacheDir == "off" {
		return ""
	}
	return engineCacheDir
}

// restoreOnly measures engine.Restore of the image of a loaded dyn.js worker.
func restoreOnly(ctx context.Context, e *engine.Engine, n int) (float64, error) {
	mods := engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: []byte(strings.ReplaceAll(DynJS, "{i}", "0"))}}
	sb, err := e.NewSandbox(ctx, engine.SandboxConfig{Modules: mods})
	if err != nil {
		return 0, err
	}
	defer sb.Close(ctx)
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", []byte(`{"ID":"0"}`)); err != nil {
		return 0, err
	}
	img, err := sb.Snapshot()
	if err != nil {
		return 0, err
	}
	ds := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		r, err := e.Restore(ctx, img, engine.SandboxConfig{Modules: mods})
		if err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t))
		r.Close(ctx)
	}
	p50, _, _ := quantiles(ds)
	return p50, nil
}

// hibernatedSize is the serialized image of a dyn.js worker after one call, in KiB.
func hibernatedSize(ctx context.Context, e *engine.Engine, n int) (float64, int, error) {
	var total int
	for i := range n {
		sb, err := e.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: []byte(strings.ReplaceAll(DynJS, "{i}", strconv.Itoa(i)))}}})
		if err != nil {
			return 0, 0, err
		}
		_, err = sb.Load(ctx, engine.Limits{}, "main.js", []byte(fmt.Sprintf(`{"ID":"%d"}`, i)))
		if err == nil {
			_, err = sb.Fetch(ctx, engine.Limits{}, "", &engine.Request{Method: "GET", URL: "http://dynamic/?n=1000"}, nil)
		}
		var b []byte
		if err == nil {
			var img *engine.Image
			if img, err = sb.Snapshot(); err == nil {
				b, err = img.Marshal()
			}
		}
		sb.Close(ctx)
		if err != nil {
			return 0, 0, err
		}
		total += len(b)
	}
	return float64(total) / float64(n) / 1024, n, nil
}

// heap10MiB is the state the fork figures fork: 10 MiB of typed arrays and 20,000 objects.
const heap10MiB = `
	globalThis.heap = [];
	for (let i = 0; i < 160; i++) heap.push(new Uint8Array(64 << 10).fill(i));
	globalThis.objs = Array.from({length: 20000}, (_, i) => ({i, s: "v" + i}));
	1`

// forks measures Fork of a sandbox holding 10 MiB of live heap: n forks each after a call
// that writes to the parent (not timed), so that every fork has new state to capture.
func forks(ctx context.Context, e *engine.Engine, n int) (p50 float64, count int, err error) {
	sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		return 0, 0, err
	}
	defer sb.Close(ctx)
	if _, err := sb.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, heap10MiB); err != nil {
		return 0, 0, err
	}
	if child, err := sb.Fork(ctx); err == nil { // the first fork, measured by firstForks
		child.Close(ctx)
	} else {
		return 0, 0, err
	}
	ds := make([]time.Duration, 0, n)
	for range n {
		if _, err := sb.Eval(ctx, engine.Limits{CPU: time.Second}, "heap[3][7] = objs[5].i; 1"); err != nil {
			return 0, 0, err
		}
		t := time.Now()
		child, err := sb.Fork(ctx)
		if err != nil {
			return 0, 0, err
		}
		ds = append(ds, time.Since(t))
		child.Close(ctx)
	}
	p50, _, count = quantiles(ds)
	return p50, count, nil
}

// firstForks measures the first fork of n new parents holding 10 MiB of heap for each way
// of reaching it (plain, PrepareFork when new, PrepareFork once the heap is written), the
// three in turn so that the machine's drift hits them alike, and the writing of the heap
// in the plain and the prepared parents.
func firstForks(ctx context.Context, e *engine.Engine, n int, r *Report) error {
	const plain, prepared, idle = 0, 1, 2
	var fork, write [3][]time.Duration
	for range n {
		for mode := range 3 {
			sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
			if err != nil {
				return err
			}
			if mode == prepared {
				err = sb.PrepareFork()
			}
			t := time.Now()
			if err == nil {
				_, err = sb.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, heap10MiB)
			}
			write[mode] = append(write[mode], time.Since(t))
			if err == nil && mode == idle {
				err = sb.PrepareFork()
			}
			if err == nil {
				var child *engine.Sandbox
				t = time.Now()
				child, err = sb.Fork(ctx)
				fork[mode] = append(fork[mode], time.Since(t))
				if err == nil {
					child.Close(ctx)
				}
			}
			sb.Close(ctx)
			if err != nil {
				return err
			}
		}
	}
	r.Fork10MiBFirst, _, r.ForkFirstN = quantiles(fork[plain])
	r.Fork10MiBFirstPrepared, _, _ = quantiles(fork[prepared])
	r.Fork10MiBFirstIdle, _, _ = quantiles(fork[idle])
	r.Heap10MiBWrite, _, _ = quantiles(write[plain])
	r.Heap10MiBWritePrepared, _, _ = quantiles(write[prepared])
	return nil
}

// HostileSetup and HostileCall are issue 10's attack: one indexOf call whose naive search
// is quadratic (14 s of C on this machine before built-ins polled the interrupt handler).
const (
	HostileSetup = `globalThis.s = "a".repeat(1e6); globalThis.n = "a".repeat(1e3) + "b"; undefined`
	HostileCall  = `s.indexOf(n)`
)

// hostileStops runs HostileCall under a 50 ms CPU limit n times and returns how long after
// the deadline its error arrived (median and worst, ms).
func hostileStops(ctx context.Context, e *engine.Engine, n int) (p50, worst float64, count int, err error) {
	const limit = 50 * time.Millisecond
	ds := make([]time.Duration, 0, n)
	for range n {
		sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			return 0, 0, 0, err
		}
		if _, err := sb.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, HostileSetup); err != nil {
			sb.Close(ctx)
			return 0, 0, 0, fmt.Errorf("hostile setup: %w", err)
		}
		t := time.Now()
		_, err = sb.Eval(ctx, engine.Limits{CPU: limit, Wall: time.Minute}, HostileCall)
		d := time.Since(t) - limit
		sb.Close(ctx)
		if isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
			return 0, 0, 0, fmt.Errorf("hostile call: got %v, want %s", err, isoerr.CPULimitExceeded)
		}
		ds = append(ds, max(d, 0))
	}
	p50, _, count = quantiles(ds)
	return p50, float64(ds[len(ds)-1].Microseconds()) / 1000, count, nil
}

// evalRuns runs cmd (which must print 2) n times as a new process, after one warm-up run
// that fills any cache it uses, and returns the median wall time in milliseconds. With deno
// set, deno's command runs in turn with it (a warm-up, then one of each, n times), so both
// medians see the same machine; deno's median is 0 without it.
func evalRuns(ctx context.Context, cmd, deno []string, n int) (p50, denoP50 float64, count int, err error) {
	once := func(c []string, want string) (time.Duration, error) {
		t := time.Now()
		out, err := exec.CommandContext(ctx, c[0], c[1:]...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%v: %v\n%s", c, err, out)
		}
		if want != "" && strings.TrimSpace(string(out)) != want {
			return 0, fmt.Errorf("%v printed %q, want %s", c, out, want)
		}
		return time.Since(t), nil
	}
	if _, err := once(cmd, "2"); err != nil {
		return 0, 0, 0, err
	}
	if len(deno) > 0 {
		if _, err := once(deno, ""); err != nil {
			return 0, 0, 0, err
		}
	}
	ds := make([]time.Duration, 0, n)
	var dds []time.Duration
	for range n {
		d, err := once(cmd, "2")
		if err != nil {
			return 0, 0, 0, err
		}
		ds = append(ds, d)
		if len(deno) > 0 {
			d, err := once(deno, "") // deno eval prints nothing without -p
			if err != nil {
				return 0, 0, 0, err
			}
			dds = append(dds, d)
		}
	}
	p50, _, count = quantiles(ds)
	denoP50, _, _ = quantiles(dds)
	return p50, denoP50, count, nil
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
