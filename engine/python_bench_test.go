package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// BenchmarkPythonCold is py_cold: a new Python sandbox from the base image, `1 + 1`, the
// result, and the sandbox closed.
func BenchmarkPythonCold(b *testing.B) {
	ctx := context.Background()
	first, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{}) // makes the image
	if err != nil {
		b.Fatal(err)
	}
	first.Close(ctx)
	b.ResetTimer()
	for b.Loop() {
		sb, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := sb.Eval(ctx, engine.Limits{}, "1 + 1")
		if err != nil || string(res.Value) != "2" {
			b.Fatalf("1 + 1 = %s, %v", res.Value, err)
		}
		sb.Close(ctx)
	}
}

// pyScript is the json/re/math script of issue 11's py_script figure.
const pyScript = `import json, re, math
data = json.loads('{"items": [{"name": "a1", "v": 3}, {"name": "b22", "v": 4}]}')
names = [re.sub(r"\d+", "", it["name"]) for it in data["items"]]
json.dumps({"names": names, "norm": math.hypot(*[it["v"] for it in data["items"]])})`

// BenchmarkPythonScript is py_script: a new sandbox from the image and the script above.
func BenchmarkPythonScript(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		sb, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := sb.Eval(ctx, engine.Limits{}, pyScript)
		if err != nil || string(res.Value) != `"{\"names\": [\"a\", \"b\"], \"norm\": 5.0}"` {
			b.Fatalf("script = %s, %v", res.Value, err)
		}
		sb.Close(ctx)
	}
}

// BenchmarkPythonLoop measures the interpreter itself (and the cost of its interrupt
// polls): a million iterations of a Python loop in one sandbox.
func BenchmarkPythonLoop(b *testing.B) {
	ctx := context.Background()
	sb, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(ctx)
	for b.Loop() {
		res, err := sb.Eval(ctx, engine.Limits{CPU: engine.MaxCPU}, "s = 0\nfor i in range(1000000):\n    s += i\ns")
		if err != nil || string(res.Value) != "499999500000" {
			b.Fatalf("loop = %s, %v", res.Value, err)
		}
	}
}

// BenchmarkPythonRecursionError is a snippet that recurses until Python's recursion limit
// and does not catch the RecursionError: a new sandbox, the recursion, its traceback.
func BenchmarkPythonRecursionError(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		sb, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			b.Fatal(err)
		}
		_, err = sb.Eval(ctx, engine.Limits{}, "def f(n):\n    return f(n + 1)\nf(0)")
		if e := isoerr.As(err); err == nil || e.Message != "RecursionError: maximum recursion depth exceeded" {
			b.Fatalf("err %v", err)
		}
		sb.Close(ctx)
	}
}

// BenchmarkPythonCalls measures calls from Python to Python (and the cost of the poll in
// RESUME_CHECK): a recursive fib(22), 57313 calls, in one sandbox.
func BenchmarkPythonCalls(b *testing.B) {
	ctx := context.Background()
	sb, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(ctx)
	if _, err := sb.Eval(ctx, engine.Limits{}, "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)"); err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	for b.Loop() {
		res, err := sb.Eval(ctx, engine.Limits{CPU: engine.MaxCPU}, "fib(22)")
		if err != nil || string(res.Value) != "17711" {
			b.Fatalf("fib(22) = %s, %v", res.Value, err)
		}
		cpu += res.CPU
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "guest-cpu-us/op")
}

// BenchmarkPythonCIterators measures C loops over C iterators (and the cost of the polls
// in the iterators that are sources of items): a million items each through sum(range),
// any(repeat) and list(iter(f, sentinel)) style consumers, in one sandbox.
func BenchmarkPythonCIterators(b *testing.B) {
	ctx := context.Background()
	sb, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(ctx)
	code := "import itertools\n[sum(range(1000000)), any(itertools.repeat(False, 1000000)), sum(itertools.islice(itertools.count(), 1000000))]"
	var cpu time.Duration
	for b.Loop() {
		res, err := sb.Eval(ctx, engine.Limits{CPU: engine.MaxCPU}, code)
		if err != nil || string(res.Value) != "[499999500000,false,499999500000]" {
			b.Fatalf("= %s, %v", res.Value, err)
		}
		cpu += res.CPU
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "guest-cpu-us/op")
}
