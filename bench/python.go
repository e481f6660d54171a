package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/isobox/isobox/engine"
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
}

// PyScript is the json/re/math script of the py_script figure.
const PyScript = `import json, re, math
data = json.loads('{"items": [{"name": "a1", "v": 3}, {"name": "b22", "v": 4}]}')
names = [re.sub(r"\d+", "", it["name"]) for it in data["items"]]
json.dumps({"names": names, "norm": math.hypot(*[it["v"] for it in data["items"]])})`

const pyScriptResult = `"{\"names\": [\"a\", \"b\"], \"norm\": 5.0}"`

// runPython measures n new Python sandboxes for each snippet, and evals runs of evalCmd.
func runPython(ctx context.Context, e *engine.Engine, n int, evalCmd []string, evals int) (Python, error) {
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
	if evals > 0 && len(evalCmd) > 0 {
		if p.EvalProcessP50, p.EvalProcessN, err = evalRuns(ctx, evalCmd, evals); err != nil {
			return p, err
		}
	}
	return p, nil
}
