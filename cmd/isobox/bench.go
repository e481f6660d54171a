package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/isobox/isobox/bench"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "print one JSON object (isobox figures, and workerd's under \"workerd\")")
	cold := fs.Int("cold", 300, "cold loads to measure")
	warm := fs.Int("warm", 3000, "warm calls to measure")
	ids := fs.String("ids", "100,500,1000", "idle worker counts for the memory figure")
	evals := fs.Int("eval", 20, "runs of \"isobox eval '1+1'\" as a new process (0 skips)")
	deno := fs.String("deno", "", "deno binary run in turn with \"isobox eval '1+1'\" as \"deno eval 1+1\", for the eval_vs_deno ratio (default: deno on PATH, if any; \"off\" skips)")
	workerd := fs.String("workerd", "", "run the workerd anchor from this folder (e.g. ../shared/anchors/workerd) in the same run")
	workerdResults := fs.String("workerd-results", "", "read a workerd anchor results.env instead of running it")
	cacheDir := fs.String("cache-dir", "", "compilation cache directory")
	httpSecs := fs.Int("http-seconds", 10, "seconds of hello-worker load over HTTP (8 keep-alive connections) against isobox serve; 0 skips")
	procs := fs.Int("sandbox-processes", runtime.NumCPU(), "sandbox worker processes for the process figures (warm call through a process, hostile neighbour, hello over HTTP); 0 skips them")
	hostileSecs := fs.Int("hostile-seconds", 3, "seconds of hello calls beside three hostile calls, through sandbox processes")
	threads := fs.Int("process-threads", 0, "GOMAXPROCS of each sandbox process for the warm-call, hostile and replacement figures (0: Go's default)")
	bundles := fs.Int("bundle", 5, "cold bundles of a 4-package TypeScript project from a registry stub on 127.0.0.1 (4x as many warm bundles and cold loads of the app; 0 skips)")
	bundleRegistry := fs.String("bundle-registry", "", "measure the bundle figures on a Hono + zod TypeScript app from this npm registry (e.g. https://registry.npmjs.org/) instead of the 4-package project from the stub")
	meterCalls := fs.Int("metering", 200000, "warm calls' quota checks and usage metering measured (the work isobox serve adds to each invocation; 0 skips)")
	wsFiles := fs.Int("workspace", 500, "4 KiB files written and read through a worker's env.FS for the workspace figures (with SQLite's raw insert rate, a search over 10,000 files beside grep -rn, and exec over 1,000 files; 0 skips)")
	cpuProfile := fs.String("cpuprofile", "", "write a pprof CPU profile of the whole run to this file (the bench process, which also serves the HTTP figures; not the sandbox processes)")
	generator := fs.String("load-generator", "auto", "load generator of the HTTP figures: wdbench (the workerd anchor's client, built from --wdbench, run as a separate process), go-in-process, or auto (wdbench when it builds)")
	wdbenchDir := fs.String("wdbench", "", "source folder of the anchor's wdbench (default: the --workerd folder's wdbench, else ../shared/anchors/workerd/wdbench)")
	apps := fs.Int("app", 50, "cold loads of the workerd anchor's Hono app (app/src.js of the --workerd folder, else ../shared/anchors/workerd), bundled by isobox with hono from npm's registry, each app unique; with and without dependency images (0 skips)")
	replace := fs.Int("replacements", 5, "sandbox processes to kill, timing each from the kill to the first answered call on its index")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: isobox bench [flags]\n\nMeasures cold load + first response of a new unique worker (the workerd anchor's\ndyn.js), warm calls, resident memory per idle loaded worker, and isobox eval end to end.\nPrints medians; with --workerd, workerd's figures and the ratios beside them.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "isobox bench: cpu profile: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "isobox bench: cpu profile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	load := bench.HTTPLoad{Conns: 8, Duration: time.Duration(*httpSecs) * time.Second}
	if *httpSecs > 0 {
		var err error
		if load.Wdbench, err = wdbenchBinary(ctx, *generator, *wdbenchDir, *workerd, stderr); err != nil {
			fmt.Fprintf(stderr, "isobox bench: %v\n", err)
			return 2
		}
		if load.Wdbench != "" {
			defer os.RemoveAll(filepath.Dir(load.Wdbench))
		}
	}
	opts := bench.Options{Cold: *cold, Warm: *warm, Eval: *evals, CacheDir: *cacheDir, Bundle: *bundles, BundleRegistry: *bundleRegistry, Workspace: *wsFiles, Metering: *meterCalls,
		App: *apps, AppDir: *workerd,
		Progress: func(s string) { fmt.Fprintf(stderr, "isobox bench: %s ...\n", s) }}
	if opts.AppDir == "" {
		opts.AppDir = filepath.Join("..", "shared", "anchors", "workerd")
	}
	for _, s := range strings.Split(*ids, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "isobox bench: --ids wants positive numbers, got %q\n", s)
			return 2
		}
		opts.MemIDs = append(opts.MemIDs, n)
	}
	if *evals > 0 {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "isobox bench: %v\n", err)
			return 1
		}
		opts.EvalCmd = []string{exe, "eval", "1+1"}
		opts.PyEvalCmd = []string{exe, "eval", "--lang", "python", "1+1"}
		switch d := *deno; d {
		case "off":
		case "":
			if p, err := exec.LookPath("deno"); err == nil {
				opts.DenoEvalCmd = []string{p, "eval", "1+1"}
			}
		default:
			opts.DenoEvalCmd = []string{d, "eval", "1+1"}
		}
		if *cacheDir != "" {
			opts.EvalCmd = append(opts.EvalCmd, "--cache-dir", *cacheDir)
			opts.PyEvalCmd = append(opts.PyEvalCmd, "--cache-dir", *cacheDir)
		}
	}
	var anchor *bench.Anchor
	var err error
	switch {
	case *workerdResults != "":
		anchor, err = bench.ReadAnchor(*workerdResults)
	case *workerd != "":
		fmt.Fprintln(stderr, "isobox bench: running the workerd anchor (about 1.5 minutes) ...")
		anchor, err = bench.RunAnchor(ctx, *workerd, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "isobox bench: %v\n", err)
		return 1
	}
	r, err := bench.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "isobox bench: %v\n", err)
		return 1
	}
	var hh *bench.HTTPHello
	var th *bench.TenantHello
	if *httpSecs > 0 {
		fmt.Fprintln(stderr, "isobox bench: hello over HTTP ...")
		if hh, err = bench.RunHTTPHello(ctx, *cacheDir, load); err != nil {
			fmt.Fprintf(stderr, "isobox bench: %v\n", err)
			return 1
		}
		fmt.Fprintln(stderr, "isobox bench: hello over HTTP as a tenant ...")
		if th, err = bench.RunTenantHello(ctx, *cacheDir, load); err != nil {
			fmt.Fprintf(stderr, "isobox bench: %v\n", err)
			return 1
		}
	}
	var pr *bench.Processes
	if *procs > 0 {
		fmt.Fprintln(stderr, "isobox bench: sandbox processes ...")
		if pr, err = bench.RunProcesses(ctx, *cacheDir, *procs, sandboxWorkerCommand, opts.Warm, *replace, time.Duration(*hostileSecs)*time.Second, *threads); err != nil {
			fmt.Fprintf(stderr, "isobox bench: %v\n", err)
			return 1
		}
		if *httpSecs > 0 {
			fmt.Fprintln(stderr, "isobox bench: hello over HTTP, sandbox processes ...")
			ph, err := bench.RunHTTPHelloProcesses(ctx, *cacheDir, load, *procs, sandboxWorkerCommand)
			if err != nil {
				fmt.Fprintf(stderr, "isobox bench: %v\n", err)
				return 1
			}
			pr.HTTPRPS, pr.HTTPP50, pr.HTTPP99, pr.HTTPN, pr.HTTPGenerator = ph.RPS, ph.P50, ph.P99, ph.N, ph.Generator
			pr.HTTPServerCPU, pr.HTTPWorkerCPU = ph.ServerCPUPerReq, ph.WorkerCPUPerReq
		}
	}
	if *jsonOut {
		out := struct {
			*bench.Report
			*bench.Processes
			*bench.HTTPHello
			*bench.TenantHello
			Workerd *bench.Anchor `json:"workerd,omitempty"`
			Ratios  *bench.Ratios `json:"ratios,omitempty"`
		}{r, pr, hh, th, anchor, nil}
		if anchor != nil {
			var procRPS float64
			if pr != nil {
				procRPS = pr.HTTPRPS
			}
			q := bench.Compare(r, hh, procRPS, anchor)
			out.Ratios = &q
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return 0
	}
	printTable(stdout, r, hh, anchor)
	if th != nil && hh != nil {
		fmt.Fprintf(stdout, "%-44s %12s %12s %10s\n", fmt.Sprintf("  the same as a tenant, req/s (n=%d)", th.N), fmt.Sprintf("%.0f", th.RPS), "-", fmt.Sprintf("%.2fx", th.RPS/hh.RPS))
		fmt.Fprintf(stdout, "  (a tenant's worker with its own key and every quota set; p99 %.3g ms; ratio = tenant / operator)\n", th.P99)
	}
	if pr != nil {
		fmt.Fprintf(stdout, "\nsandbox processes: %d\n", pr.Processes)
		fmt.Fprintf(stdout, "  warm call through a process, p50 (n=%d): %.3g ms (in process, alternated with it: %.3g ms)\n", pr.WarmCallN, pr.WarmCallP50, pr.WarmCallInProcessP50)
		fmt.Fprintf(stdout, "  added by the process boundary, median of %d block pairs: %.0f µs to a hello, %.0f µs to that call\n", pr.BoundaryBlocks, pr.Boundary, pr.BoundaryDyn)
		fmt.Fprintf(stdout, "  hello beside 3 hostile calls, p50/p99 (n=%d): %.3g / %.3g ms, %d restarted, %d hostile calls\n",
			pr.HostileNeighbourN, pr.HostileNeighbourP50, pr.HostileNeighbourP99, pr.HostileNeighbourErrors, pr.HostileCalls)
		if pr.ReplaceN > 0 {
			fmt.Fprintf(stdout, "  kill of a process to the first answer on its index, p50/max (n=%d): %.3g / %.3g ms\n", pr.ReplaceN, pr.ReplaceP50, pr.ReplaceMax)
		}
		if pr.HTTPN > 0 {
			fmt.Fprintf(stdout, "  hello over HTTP, 8 conns (n=%d, %s): %.0f req/s, p99 %.3g ms\n", pr.HTTPN, pr.HTTPGenerator, pr.HTTPRPS, pr.HTTPP99)
			if pr.HTTPServerCPU > 0 {
				fmt.Fprintf(stdout, "  its CPU per request: server %.0f µs + sandbox processes %.0f µs\n", pr.HTTPServerCPU, pr.HTTPWorkerCPU)
			}
		}
	}
	return 0
}

// wdbenchBinary builds the workerd anchor's load client for the HTTP figures and returns
// its path, or "" for the in-process generator (asked for, or auto when wdbench does not
// build here: Go missing, or no anchor folder).
func wdbenchBinary(ctx context.Context, generator, dir, workerd string, stderr io.Writer) (string, error) {
	switch generator {
	case bench.GeneratorInProcess:
		return "", nil
	case bench.GeneratorWdbench, "auto":
	default:
		return "", fmt.Errorf("--load-generator wants auto, %s or %s, got %q", bench.GeneratorWdbench, bench.GeneratorInProcess, generator)
	}
	if dir == "" {
		dir = filepath.Join("..", "shared", "anchors", "workerd", "wdbench")
		if workerd != "" {
			dir = filepath.Join(workerd, "wdbench")
		}
	}
	out, err := os.MkdirTemp("", "isobox-bench-wdbench")
	if err != nil {
		return "", err
	}
	bin, err := bench.BuildWdbench(ctx, dir, out)
	if err != nil {
		os.RemoveAll(out)
		if generator == "auto" {
			fmt.Fprintf(stderr, "isobox bench: HTTP figures from the in-process Go client, not comparable to the workerd anchor (%v)\n", err)
			return "", nil
		}
		return "", err
	}
	return bin, nil
}

func printTable(w io.Writer, r *bench.Report, hh *bench.HTTPHello, a *bench.Anchor) {
	fmt.Fprintf(w, "isobox bench, %s, %s, %d CPUs\n\n", r.Date, r.GoVersion, r.CPUs)
	fmt.Fprintf(w, "%-44s %12s %12s %10s\n", "figure (median unless noted)", "isobox", "workerd", "ratio")
	row := func(name string, mine, theirs float64, unit string, n int) {
		t, ratio := "-", "-"
		if a != nil && theirs > 0 {
			t = fmt.Sprintf("%.3g %s", theirs, unit)
			if mine > 0 {
				ratio = fmt.Sprintf("%.1fx", theirs/mine)
			}
		}
		fmt.Fprintf(w, "%-44s %12s %12s %10s\n", fmt.Sprintf("%s (n=%d)", name, n), fmt.Sprintf("%.3g %s", mine, unit), t, ratio)
	}
	var an bench.Anchor
	if a != nil {
		an = *a
	}
	row("cold load + first response, p50", r.ColdLoadP50, an.ColdLoadP50, "ms", r.ColdLoadN)
	row("cold load + first response, p99", r.ColdLoadP99, an.ColdLoadP99, "ms", r.ColdLoadN)
	row("warm call to a loaded id, p50", r.WarmCallP50, an.WarmCallP50, "ms", r.WarmCallN)
	row("cold load, back to back (no pause, as the anchor's client), p50", r.ColdLoadBackToBackP50, an.ColdLoadP50, "ms", r.ColdLoadN)
	row("cold load without the blank pool, p50", r.ColdLoadNoPoolP50, an.ColdLoadP50, "ms", r.ColdLoadN)
	row("CPU per cold load (pool refills included)", r.ColdLoadCPU, 0, "ms", r.ColdLoadN)
	row("minor page faults per cold load", r.ColdLoadFaults, 0, "", r.ColdLoadN)
	row("minor page faults per cold load, request path", r.ColdLoadPathFaults, 0, "", r.ColdLoadN)
	row("minor page faults per warm call", r.WarmCallFaults, 0, "", r.WarmCallN)
	row("RSS per idle loaded worker", r.IdleWorkerRSS, an.IdleWorkerRSS, "KiB", r.IdleWorkerN)
	if r.DenoEvalP50 > 0 {
		// Measured here, in turn with isobox's: the ratio holds however fast the machine is.
		fmt.Fprintf(w, "%-44s %12s %12s %10s\n", fmt.Sprintf("eval '1+1' as a new process (n=%d)", r.EvalN),
			fmt.Sprintf("%.3g ms", r.EvalP50), fmt.Sprintf("%.3g ms", r.DenoEvalP50), fmt.Sprintf("%.2fx deno", r.EvalVsDeno))
	} else {
		row("eval '1+1' as a new process (deno eval)", r.EvalP50, an.DenoEvalP50, "ms", r.EvalN)
	}
	row("new sandbox (runtime ready, no code)", r.NewSandboxP50, 0, "ms", r.NewSandboxN)
	row("cold load without the base image, p50", r.NoImageColdLoadP50, an.ColdLoadP50, "ms", min(r.ColdLoadN, 100))
	row("restore of a seen code + first response", r.RestoreP50, 0, "ms", r.RestoreN)
	row("restore of a seen code, restore only", r.RestoreOnlyP50, 0, "ms", r.RestoreN)
	row("hibernated worker on disk", r.HibernatedWorkerKB, 0, "KiB", r.HibernatedN)
	row("fork of a sandbox with 10 MiB of heap", r.Fork10MiBP50, 0, "ms", r.ForkN)
	row("its first fork (writes the state out once)", r.Fork10MiBFirst, 0, "ms", r.ForkFirstN)
	row("first fork, PrepareFork when new", r.Fork10MiBFirstPrepared, 0, "ms", r.ForkFirstN)
	row("first fork, PrepareFork once written", r.Fork10MiBFirstIdle, 0, "ms", r.ForkFirstN)
	row("writing the 10 MiB heap (plain parent)", r.Heap10MiBWrite, 0, "ms", r.ForkFirstN)
	row("writing the 10 MiB heap (prepared parent)", r.Heap10MiBWritePrepared, 0, "ms", r.ForkFirstN)
	row("PSS per idle loaded worker", r.IdleWorkerPSS, an.IdleWorkerRSS, "KiB", r.IdleWorkerN)
	row("hostile indexOf: CPU deadline to error", r.HostileStop, 0, "ms", r.HostileStopN)
	row("python: new sandbox + 1 + 1, p50", r.Python.ColdP50, 0, "ms", r.Python.ColdN)
	row("python: new sandbox + json/re/math, p50", r.Python.ScriptP50, 0, "ms", r.Python.ScriptN)
	row("python: eval '1+1' as a new process", r.Python.EvalProcessP50, 0, "ms", r.Python.EvalProcessN)
	row("python: warm fetch of a loaded worker, p50", r.Python.HelloP50, 0, "ms", r.Python.HelloN)
	row("python: RSS per idle loaded worker", r.Python.IdleWorkerRSS, 0, "KiB", r.Python.IdleWorkerN)
	row("python: PSS per idle loaded worker", r.Python.IdleWorkerPSS, 0, "KiB", r.Python.IdleWorkerN)
	if r.Metering.N > 0 {
		row("quota checks + metering per warm call", r.Metering.NsPerCall/1000, 0, "µs", r.Metering.N)
		row("the same, all cores on one tenant", r.Metering.ParallelNsPerCall/1000, 0, "µs", r.Metering.N)
	}
	if r.Workspace.SmallN > 0 {
		row("workspace: 4 KiB files written through env.FS", r.Workspace.WriteSmallPerS, 0, "/s", r.Workspace.SmallN)
		row("workspace: 4 KiB files read through env.FS", r.Workspace.ReadSmallPerS, 0, "/s", r.Workspace.SmallN)
		row("sqlite: raw durable 4 KiB inserts", r.Workspace.SQLiteInsertPerS, 0, "/s", r.Workspace.SmallN)
		row("workspace: searchText over 10,000 files, p50", r.Workspace.Search10k, 0, "ms", r.Workspace.SearchN)
		if r.Workspace.GrepR10k > 0 {
			row("grep -rn over the same files on disk, p50", r.Workspace.GrepR10k, 0, "ms", r.Workspace.SearchN)
		}
		row("workspace: exec grep -rl | wc -l, 1,000 files, p50", r.Workspace.ExecP50, 0, "ms", r.Workspace.ExecN)
	}
	if r.Bundle.ColdN > 0 {
		row("bundle, empty caches ("+r.Bundle.Project+")", r.Bundle.ColdP50, 0, "ms", r.Bundle.ColdN)
		row("bundle, unchanged project, warm caches", r.Bundle.WarmP50, 0, "ms", r.Bundle.WarmN)
		row("bundled app: cold load + first response", r.Bundle.AppColdLoadP50, 0, "ms", r.Bundle.AppColdLoadN)
		if r.Bundle.NpmInstallMs > 0 {
			row("npm install --ignore-scripts (same registry)", r.Bundle.NpmInstallMs, 0, "ms", min(r.Bundle.ColdN, 3))
		}
		if r.Bundle.NpmEsbuildMs > 0 {
			row("npm install + esbuild --bundle", r.Bundle.NpmEsbuildMs, 0, "ms", min(r.Bundle.ColdN, 3))
		}
		if r.Bundle.NpmNote != "" {
			fmt.Fprintf(w, "  %s\n", r.Bundle.NpmNote)
		}
	}
	if r.App.ColdLoadN > 0 {
		row(fmt.Sprintf("Hono app (%d KB, %d modules) cold + first response", r.App.BundleBytes>>10, r.App.Modules), r.App.ColdLoadP50, an.AppColdP50, "ms", r.App.ColdLoadN)
		row("the same without dependency images", r.App.NoDepImageP50, an.AppColdP50, "ms", r.App.ColdLoadN)
		row("Hono app: CPU per load (process, all threads)", r.App.CPUPerLoad, an.AppColdCPU, "ms", r.App.ColdLoadN)
		row("the same without dependency images", r.App.NoDepImageCPUPerLoad, an.AppColdCPU, "ms", r.App.ColdLoadN)
	}
	if r.App.Note != "" {
		fmt.Fprintf(w, "  %s\n", r.App.Note)
	}
	if hh != nil {
		// Throughput: higher is better, so the ratio is inverted (isobox / workerd).
		t, ratio := "-", "-"
		if a != nil && an.HelloRPS > 0 {
			t, ratio = fmt.Sprintf("%.0f", an.HelloRPS), fmt.Sprintf("%.2fx", hh.RPS/an.HelloRPS)
		}
		fmt.Fprintf(w, "  (HTTP load generator: %s)\n", hh.Generator)
		fmt.Fprintf(w, "%-44s %12s %12s %10s\n", fmt.Sprintf("hello over HTTP, 8 conns, req/s (n=%d)", hh.N), fmt.Sprintf("%.0f", hh.RPS), t, ratio)
		row("hello over HTTP, p99", hh.P99, an.HelloP99, "ms", hh.N)
	}
	for _, n := range []int{100, 500, 1000} {
		if v, ok := r.IdleWorkerRSSAt[n]; ok {
			fmt.Fprintf(w, "  RSS per idle worker at %d ids: %.0f KiB\n", n, v)
		}
	}
	if a != nil {
		fmt.Fprintf(w, "\nworkerd %s: over loopback HTTP through a parent worker; isobox: in-process Go API.\nratio = workerd / isobox (higher is better for isobox).\n", a.Date)
	}
}
