package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

// Python holds the Python figures of issue 11.
type Python struct {
	// ColdP50: a new Python sandbox from the base image, `1 + 1`, its result.
	ColdP50 float64 `json:"py_cold_p50_ms"`
	ColdN   int     `json:"py_cold_samples"`
	// ScriptP50: the same with PyScript instead of `1 + 1`.
	ScriptP50 float64 `json:"py_script_p50_ms"`
	ScriptN   int     `json:"py_script_samples"`
	// EvalProcessP50: `isobox eval --lang python '1+1'` as a new process (warm cache).
	EvalProcessP50 float64 `json:"py_eval_process_ms,omitempty"`
	EvalProcessN   int     `json:"py_eval_process_samples,omitempty"`
	// IdleWorkerRSS: the growth of the process's resident set per loaded, idle Python
	// worker (PyWorkerCode), measured as idle_worker_rss_kib is for JavaScript, over
	// IdleWorkerN workers; IdleWorkerPSS the proportional set.
	IdleWorkerRSS float64 `json:"py_idle_worker_rss_kib"`
	IdleWorkerPSS float64 `json:"py_idle_worker_pss_kib"`
	IdleWorkerN   int     `json:"py_idle_worker_rss_samples"`
	// HelloP50: a warm fetch of a loaded Python worker (PyWorkerCode), as warm_call is for
	// JavaScript.
	HelloP50 float64 `json:"py_hello_p50_ms"`
	HelloP99 float64 `json:"py_hello_p99_ms"`
	HelloN   int     `json:"py_hello_samples"`
}

// PyDyn is the Python twin of DynJS: the same work, as a Python worker; {i} makes each
// one unique.
const PyDyn = `# dynamic worker #{i}
import urllib.parse
from workers import Response, WorkerEntrypoint

calls = 0

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        global calls
        calls += 1
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        n = int(q.get("n", ["1000"])[0])
        s = 0
        for k in range(n):
            s += k * k
        return Response.json({"id": self.env.ID, "tag": "{i}", "calls": calls, "sum": s})
`

// PyWorkerCode returns the Python dynamic worker number i.
func PyWorkerCode(i int) loader.WorkerCode {
	src := strings.ReplaceAll(PyDyn, "{i}", strconv.Itoa(i))
	return loader.WorkerCode{
		CompatibilityDate: "2026-11-01", MainModule: "main.py",
		Modules: map[string]loader.Module{"main.py": {Type: engine.ModulePy, Content: []byte(src)}},
		Env:     map[string]any{"ID": strconv.Itoa(i)},
	}
}

// PyScript is the json/re/math script of the py_script figure.
const PyScript = `import json, re, math
data = json.loads('{"items": [{"name": "a1", "v": 3}, {"name": "b22", "v": 4}]}')
names = [re.sub(r"\d+", "", it["name"]) for it in data["items"]]
json.dumps({"names": names, "norm": math.hypot(*[it["v"] for it in data["items"]])})`

const pyScriptResult = `"{\"names\": [\"a\", \"b\"], \"norm\": 5.0}"`

// runPython measures n new Python sandboxes for each snippet, evals runs of evalCmd, the
// memory of idle idle Python workers and warm warm fetches of one.
func runPython(ctx context.Context, e *engine.Engine, n int, evalCmd []string, evals, idle, warm int) (Python, error) {
	var p Python
	// The first sandbox makes (or loads) the image: not a sample.
	first, err := e.NewPythonSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		return p, err
	}
	first.Close(ctx)
	sample := func(code, want string) (float64, int, error) {
		ds := make([]time.Duration, 0, n)
		for range n {
			t := time.Now()
			sb, err := e.NewPythonSandbox(ctx, engine.SandboxConfig{})
			if err != nil {
				return 0, 0, err
			}
			res, err := sb.Eval(ctx, engine.Limits{}, code)
			ds = append(ds, time.Since(t))
			sb.Close(ctx)
			if err != nil || string(res.Value) != want {
				return 0, 0, fmt.Errorf("python %q = %s, %v (want %s)", code, res.Value, err, want)
			}
		}
		p50, _, count := quantiles(ds)
		return p50, count, nil
	}
	if p.ColdP50, p.ColdN, err = sample("1 + 1", "2"); err != nil {
		return p, err
	}
	if p.ScriptP50, p.ScriptN, err = sample(PyScript, pyScriptResult); err != nil {
		return p, err
	}
	if warm > 0 {
		if p.HelloP50, p.HelloP99, p.HelloN, err = warmFetches(ctx, e, warm, PyWorkerCode); err != nil {
			return p, fmt.Errorf("python worker: %w", err)
		}
	}
	if idle > 0 {
		if p.IdleWorkerRSS, p.IdleWorkerPSS, err = idleRSSOf(ctx, e, idle, PyWorkerCode); err != nil {
			return p, fmt.Errorf("python workers: %w", err)
		}
		p.IdleWorkerN = idle
	}
	if evals > 0 && len(evalCmd) > 0 {
		if p.EvalProcessP50, _, p.EvalProcessN, err = evalRuns(ctx, evalCmd, nil, evals); err != nil {
			return p, err
		}
	}
	return p, nil
}
