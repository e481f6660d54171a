package codemode_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

func executePy(t *testing.T, code string, lim codemode.Limits, providers ...codemode.Provider) codemode.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	return codemode.NewExecutor(testLoader).Execute(ctx, code, providers, codemode.Options{Limits: lim, Language: api.LanguagePython})
}

// The Python declarations of the golden fixtures are Python: CPython's own parser, in a
// sandbox, accepts every one (and the prompt's example).
func TestPythonTypesParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/types/*.py.golden")
	files = append(files, "testdata/prompt.py.golden")
	if len(files) < 2 {
		t.Fatal("no golden Python declarations")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		if i := strings.Index(src, "```python\n"); i >= 0 { // the prompt: its code blocks
			var blocks []string
			for rest := src; ; {
				i := strings.Index(rest, "```python\n")
				if i < 0 {
					break
				}
				rest = rest[i+len("```python\n"):]
				j := strings.Index(rest, "```")
				blocks = append(blocks, rest[:j])
				rest = rest[j+3:]
			}
			src = strings.Join(blocks, "\n")
		}
		code := "import ast\ncompile(" + mustJSON(src) + ", \"<api>\", \"exec\", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT) is not None"
		res, err := testLoader.Eval(context.Background(), code, loader.EvalOptions{Python: true})
		if err != nil || string(res.Value) != "true" {
			t.Errorf("%s does not parse as Python: %v\n%s", f, err, src)
		}
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The same tools as JavaScript's, from Python: keyword arguments or one dict, in sequence
// and with asyncio.gather, the trace, and the last expression as the result.
func TestPythonTools(t *testing.T) {
	var n atomic.Int64
	res := executePy(t, "```python\n"+`import asyncio
a = await codemode.add(a=1, b=2)
u = await codemode.get_user({"id": int(a["sum"])})
x, y, z = await asyncio.gather(
    codemode.add(a=10, b=20),
    codemode.get_user(id=7),
    codemode.add(a=u["id"], b=0.5),
)
print("done", u["name"])
(a["sum"], u["name"], x["sum"], y["name"], z["sum"])
`+"```", codemode.Limits{}, calculator(&n))
	wantResult(t, res, `[3,"user3",30,"user7",3.5]`)
	if n.Load() != 3 {
		t.Errorf("add ran %d times", n.Load())
	}
	if len(res.Calls) != 5 {
		t.Fatalf("calls %+v", res.Calls)
	}
	if c := res.Calls[0]; c.Name != "codemode.add" || string(c.Arguments) != `{"a":1,"b":2}` || string(c.Result) != `{"sum":3}` || c.Error != "" {
		t.Errorf("first call %+v", c)
	}
	if len(res.Logs) != 1 || res.Logs[0].Message != "done user3" {
		t.Errorf("logs %+v", res.Logs)
	}
}

func TestPythonToolErrors(t *testing.T) {
	var n atomic.Int64
	calc := calculator(&n)
	for _, tc := range []struct {
		name, code string
		code2      isoerr.Code
		contains   []string
		result     string
	}{
		{name: "tool error raises", code: `await codemode.get_user(id=404)`, code2: isoerr.WorkerException, contains: []string{"codemode.get_user: no user has id 404"}},
		{name: "tool error can be caught", code: "try:\n    await codemode.get_user(id=404)\n    r = 'no'\nexcept Exception as e:\n    r = 'caught: ' + str(e)\nr",
			result: `"caught: codemode.get_user: no user has id 404"`},
		{name: "schema validation", code: `await codemode.add(a="1", c=2)`, code2: isoerr.WorkerException, contains: []string{"codemode.add: invalid input (see the signature of codemode.add)", "missing property 'b'"}},
		{name: "no such tool", code: `await codemode.addNumbers(a=1, b=2)`, code2: isoerr.WorkerException, contains: []string{"codemode.addNumbers is not a tool"}},
		{name: "near miss", code: `await codemode.getUser(id=1)`, code2: isoerr.WorkerException, contains: []string{"did you mean codemode.get_user?"}},
		{name: "no such namespace", code: `await github.search(q="x")`, code2: isoerr.WorkerException, contains: []string{"NameError", "github"}},
		{name: "both forms at once", code: `await codemode.add({"a": 1}, b=2)`, code2: isoerr.WorkerException, contains: []string{"TypeError", "keyword arguments"}},
		{name: "panicking tool", code: `await codemode.boom()`, code2: isoerr.WorkerException, contains: []string{"panic: the tool is broken"}},
		{name: "import the namespace", code: "from codemode import add\n(await add(a=2, b=2))['sum']", result: "4"},
		{name: "list the tools", code: `repr(codemode)`, result: `"<tools codemode: add, boom, get_user, slow>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := executePy(t, tc.code, codemode.Limits{}, calc)
			if tc.result != "" {
				wantResult(t, res, tc.result)
				return
			}
			wantError(t, res, tc.code2, tc.contains...)
		})
	}
	if n.Load() != 1 {
		t.Errorf("add ran %d times, want once (with valid input)", n.Load())
	}
}

// An error names the line of the model's code, not of the code with the prelude before it.
func TestPythonErrorLines(t *testing.T) {
	var n atomic.Int64
	res := executePy(t, "x = 1\ny = 2\nraise ValueError('boom')", codemode.Limits{}, calculator(&n))
	wantError(t, res, isoerr.WorkerException, "ValueError: boom")
	if !strings.Contains(res.Error.Stack, `File "<exec>", line 3`) {
		t.Errorf("stack %q does not name line 3", res.Error.Stack)
	}
	res = executePy(t, "x = 1\ny = (\n", codemode.Limits{}, calculator(&n))
	wantError(t, res, isoerr.InvalidWorkerCode)
	if strings.Contains(res.Error.Stack, "line 3") {
		t.Errorf("syntax error %q names a line the code does not have", res.Error.Stack)
	}
}

// Hostile Python: each run ends with the limit that stopped it.
func TestPythonLimits(t *testing.T) {
	var n atomic.Int64
	calc := calculator(&n)
	for _, tc := range []struct {
		name, code string
		lim        codemode.Limits
		want       isoerr.Code
	}{
		{"loop forever", "while True: pass", codemode.Limits{CPUMs: 100}, isoerr.CPULimitExceeded},
		{"loop that catches", "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass", codemode.Limits{CPUMs: 100}, isoerr.CPULimitExceeded},
		{"tool that never returns", "await codemode.slow()", codemode.Limits{WallMs: 300}, isoerr.WallTimeExceeded},
		{"memory", "a = []\nwhile True: a.append(' ' * 10**6)", codemode.Limits{MemoryMB: 32, CPUMs: 5000}, isoerr.MemoryLimitExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, executePy(t, tc.code, tc.lim, calc), tc.want)
		})
	}
	t.Run("sequential flood", func(t *testing.T) {
		res := executePy(t, "ok = 0\nfor i in range(1000):\n    try:\n        await codemode.add(a=i, b=0)\n        ok += 1\n    except Exception:\n        pass\nok",
			codemode.Limits{MaxToolCalls: 20}, calc)
		wantResult(t, res, "20")
		if res.CallsOverLimit != 980 {
			t.Errorf("%d calls over the limit", res.CallsOverLimit)
		}
	})
	t.Run("bad language", func(t *testing.T) {
		res := codemode.NewExecutor(testLoader).Execute(context.Background(), "1", nil, codemode.Options{Language: "ruby"})
		wantError(t, res, isoerr.InvalidRequest, "ruby")
	})
}
