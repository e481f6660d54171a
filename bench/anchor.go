package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Anchor holds the workerd anchor's figures for the same work (see
// shared/anchors/workerd/README.md). Times are medians over loopback HTTP through a parent
// worker; isobox's figures are in-process calls of the Go API.
type Anchor struct {
	ColdLoadP50   float64 `json:"cold_load_p50_ms"`
	ColdLoadP99   float64 `json:"cold_load_p99_ms"`
	WarmCallP50   float64 `json:"warm_call_p50_ms"`
	IdleWorkerRSS float64 `json:"idle_worker_rss_kib"`
	DenoEvalP50   float64 `json:"deno_eval_p50_ms"`
	NodeEvalP50   float64 `json:"node_eval_p50_ms"`
	// HelloRPS and HelloP99 are the plain hello worker's throughput over 8 keep-alive
	// connections (the anchor's Go client).
	HelloRPS float64 `json:"http_hello_rps"`
	HelloP99 float64 `json:"http_hello_p99_ms"`
	// HelloCPU is workerd's CPU per hello request in microseconds, as wdbench reads it
	// from /proc: beside isobox's http_hello_server_cpu_us_per_req, the steadier yardstick
	// on a busy machine.
	HelloCPU float64 `json:"http_hello_server_cpu_us_per_req,omitempty"`
	// AppColdP50 is the anchor's Hono app (73 KB esbuild bundle) loaded as a new dynamic
	// worker plus its first response.
	AppColdP50 float64 `json:"app_cold_p50_ms"`
	// AppColdCPU is workerd's CPU time per app load (its process's user + system).
	AppColdCPU float64 `json:"app_cold_server_cpu_ms_per_req"`
	Date       string  `json:"date"`
}

// RunAnchor copies the anchor folder to a temporary directory, runs its bench.sh (about
// 1.5 minutes; it installs workerd from npm and talks to 127.0.0.1 only) and reads its
// results.
func RunAnchor(ctx context.Context, dir string, log io.Writer) (*Anchor, error) {
	tmp, err := os.MkdirTemp("", "isobox-workerd-anchor")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := exec.CommandContext(ctx, "cp", "-r", dir+"/.", tmp).Run(); err != nil {
		return nil, fmt.Errorf("copy anchor %s: %w", dir, err)
	}
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(tmp, "bench.sh"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("workerd anchor: %w", err)
	}
	runs, _ := filepath.Glob(filepath.Join(tmp, "runs", "*", "results.env"))
	if len(runs) == 0 {
		return nil, fmt.Errorf("workerd anchor wrote no results.env")
	}
	return ReadAnchor(runs[len(runs)-1])
}

// ReadAnchor reads an anchor run's results.env.
func ReadAnchor(path string) (*Anchor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, val, ok := strings.Cut(s.Text(), "="); ok {
			v[k] = strings.ReplaceAll(val, `\ `, " ")
		}
	}
	num := func(k string) float64 {
		f, _ := strconv.ParseFloat(v[k], 64)
		return f
	}
	a := &Anchor{
		ColdLoadP50: num("cold_p50_ms"), ColdLoadP99: num("cold_p99_ms"),
		WarmCallP50: num("warm1_p50_ms"), DenoEvalP50: num("deno_p50_ms"), NodeEvalP50: num("node_p50_ms"),
		HelloRPS: num("hthr_rps"), HelloP99: num("hthr_p99_ms"), HelloCPU: num("hthr_server_cpu_us_per_req"), AppColdP50: num("app_cold_p50_ms"),
		AppColdCPU: num("app_cold_server_cpu_ms_per_req"),
		Date:       v["env_date"],
	}
	if at1000, base := num("cold2_rss_at_1000_kb"), num("loader_rss_base_kb"); at1000 > 0 {
		a.IdleWorkerRSS = (at1000 - base) / 1000
	}
	if a.ColdLoadP50 == 0 {
		return nil, fmt.Errorf("%s has no cold_p50_ms: not an anchor result", path)
	}
	return a, nil
}

// Ratios are isobox's figures against the workerd anchor's from the same run, each as how
// many times better isobox does (above 1: isobox is ahead): issue 15's table in one object.
// A ratio is 0 (left out) when either side did not measure its figure.
type Ratios struct {
	ColdLoad float64 `json:"cold_load_vs_workerd,omitempty"` // workerd's cold p50 / isobox's
	// ColdLoadBackToBack is workerd's cold p50 / isobox's back-to-back one: both loops
	// then load one new worker after another with no pause, as the anchor's client does
	// (isobox's headline figure leaves 2.5 ms before each load, which makes it slower on a
	// shared VM: RATIONALE §86).
	ColdLoadBackToBack float64 `json:"cold_load_back_to_back_vs_workerd,omitempty"`
	WarmCall           float64 `json:"warm_call_vs_workerd,omitempty"`          // workerd's warm p50 / isobox's
	IdleWorkerRSS      float64 `json:"idle_worker_rss_vs_workerd,omitempty"`    // workerd's KiB / isobox's
	HTTPHello          float64 `json:"http_hello_vs_workerd,omitempty"`         // isobox's req/s / workerd's, in process
	HTTPHelloCPU       float64 `json:"http_hello_cpu_vs_workerd,omitempty"`     // workerd's CPU per request / isobox's serving process's
	HTTPHelloProc      float64 `json:"http_hello_process_vs_workerd,omitempty"` // isobox's req/s through sandbox processes / workerd's
	AppColdLoad        float64 `json:"app_cold_load_vs_workerd,omitempty"`      // workerd's Hono app cold p50 / isobox's
	EvalVsDeno         float64 `json:"eval_vs_deno,omitempty"`                  // deno eval's p50 / isobox eval's (as Report)
}

// Compare computes the ratios of r (and hh, the HTTP hello in process, and procRPS, the
// hello's req/s through sandbox processes; either may be absent) against a.
func Compare(r *Report, hh *HTTPHello, procRPS float64, a *Anchor) Ratios {
	ratio := func(num, den float64) float64 {
		if num <= 0 || den <= 0 {
			return 0
		}
		return math.Round(num/den*100) / 100
	}
	q := Ratios{
		ColdLoad:           ratio(a.ColdLoadP50, r.ColdLoadP50),
		ColdLoadBackToBack: ratio(a.ColdLoadP50, r.ColdLoadBackToBackP50),
		WarmCall:           ratio(a.WarmCallP50, r.WarmCallP50),
		IdleWorkerRSS:      ratio(a.IdleWorkerRSS, r.IdleWorkerRSS),
		HTTPHelloProc:      ratio(procRPS, a.HelloRPS),
		AppColdLoad:        ratio(a.AppColdP50, r.App.ColdLoadP50),
		EvalVsDeno:         r.EvalVsDeno,
	}
	if hh != nil {
		q.HTTPHello = ratio(hh.RPS, a.HelloRPS)
		q.HTTPHelloCPU = ratio(a.HelloCPU, hh.ServerCPUPerReq)
	}
	return q
}
