package codemode_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

var testLoader *loader.Loader

func TestMain(m *testing.M) {
	enginetest.LoaderMain(m, func(l *loader.Loader) { testLoader = l })
}

type addIn struct {
	A float64 `json:"a" jsonschema:"the first number"`
	B float64 `json:"b" jsonschema:"the second number"`
}

type sumOut struct {
	Sum float64 `json:"sum"`
}

type userIn struct {
	ID int `json:"id"`
}

type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// calculator is a provider of Go tools; slow waits until its context ends.
func calculator(counter *atomic.Int64) codemode.Provider {
	return codemode.Provider{Tools: []codemode.Tool{
		codemode.NewTool("add", "Add two numbers.", func(ctx context.Context, in addIn) (sumOut, error) {
			counter.Add(1)
			return sumOut{Sum: in.A + in.B}, nil
		}),
		codemode.NewTool("get-user", "Look a user up by id.", func(ctx context.Context, in userIn) (user, error) {
			if in.ID == 404 {
				return user{}, errors.New("no user has id 404")
			}
			return user{ID: in.ID, Name: fmt.Sprintf("user%d", in.ID)}, nil
		}),
		codemode.NewTool("slow", "Wait until the run ends.", func(ctx context.Context, in struct{}) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}),
		codemode.NewTool("boom", "Panic.", func(ctx context.Context, in struct{}) (any, error) {
			panic("the tool is broken")
		}),
	}}
}

func execute(t *testing.T, code string, lim codemode.Limits, providers ...codemode.Provider) codemode.Result {
	t.Helper()
	// A hang guard, not a speed bound (a wall-clock check here failed on a busy core).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return codemode.NewExecutor(testLoader).Execute(ctx, code, providers, codemode.Options{Limits: lim})
}

func wantResult(t *testing.T, res codemode.Result, want string) {
	t.Helper()
	if res.Error != nil {
		t.Fatalf("error %v (logs %v)", res.Error, res.Logs)
	}
	if string(res.Result) != want {
		t.Fatalf("result %s, want %s", res.Result, want)
	}
}

func wantError(t *testing.T, res codemode.Result, code isoerr.Code, contains ...string) {
	t.Helper()
	if res.Error == nil {
		t.Fatalf("no error; result %s", res.Result)
	}
	if res.Error.Code != code {
		t.Fatalf("error %v, want code %s", res.Error, code)
	}
	for _, c := range contains {
		if !strings.Contains(res.Error.Message, c) {
			t.Errorf("error message %q lacks %q", res.Error.Message, c)
		}
	}
}

// What models actually write, normalised and run: each snippet must give its value.
func TestNormalizeForms(t *testing.T) {
	for _, c := range []struct{ name, code, want string }{
		{"expression", "1 + 2", "3"},
		{"fence js", "```js\nconst a = 2;\na * 3\n```", "6"},
		{"fence ts", "```ts\nconst a: number = 2;\na * 3\n```", "6"},
		{"fence bare", "```\n[1, 2].map(x => x * 2)\n```", "[2,4]"},
		{"fence in prose", "Here is the code:\n```javascript\n40 + 2\n```\nIt returns 42.", "42"},
		{"two fences", "```json\n{\"a\": 1}\n```\n```js\n7 * 6\n```", "42"},
		{"statements", "const a = [1, 2, 3];\nlet s = 0;\nfor (const x of a) s += x;\ns", "6"},
		{"async arrow", "async () => { const r = await Promise.resolve(5); return r + 1 }", "6"},
		{"arrow in fence", "```js\nasync () => {\n  return 'hi';\n}\n```", `"hi"`},
		{"named function", "async function main() { return 7 }", "7"},
		{"named function ts", "async function main(): Promise<number> { const x: number = 7; return x }", "7"},
		{"helper then main", "function helper(x) { return x * 2 }\nasync function main() { return helper(4) }", "8"},
		{"called before declared", "let n = 0;\nmain();\nasync function main() { n++; return n }", "1"},
		{"export default arrow", "export default async () => 10", "10"},
		{"export default function", "export default async function () { return 11 }", "11"},
		{"export default object", "export default { a: 12 }", `{"a":12}`},
		{"export function", "export const k = 1;\nexport async function main() { return 13 }", "13"},
		{"top-level return with await", "const x = await Promise.resolve(14);\nreturn x", "14"},
		{"top-level return", "if (true) return 15;\nreturn 0", "15"},
		{"module.exports", "module.exports = async () => 16", "16"},
		{"interface", "interface P { x: number }\nconst p: P = { x: 17 };\np.x", "17"},
		{"enum", "enum E { A = 18 }\nE.A", "18"},
		{"generic and cast", "function id<T>(x: T): T { return x }\nid<number>(19 as number)", "19"},
		{"template with a function line", "const s = `a\nfunction fake() {}\n`;\ns.length", "21"},
		{"template inside main", "async function main() {\n  const t = `\nasync function inner() {}\n`;\n  return t.trim();\n}", `"async function inner() {}"`},
		{"regexp with backtick", "const re = /`/;\nasync function main() { return re.source }", `"` + "`" + `"`},
		{"iife", "(async () => 23)()", "23"},
		{"declaration only", "const a = 1", "null"},
		{"sync arrow", "() => [24]", "[24]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantResult(t, execute(t, c.code, codemode.Limits{}), c.want)
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, c := range []struct{ code, want string }{
		{"const x = ;", "line 1, column 11"},
		{"const a = 1;\nconst b: = 2", "line 2"},
		{"x y", "SyntaxError"},
		{"async () => { return 1 ", "SyntaxError"},
		{"```js\n```", "empty"},
		{"   ", "empty"},
		{"const a = 1;\nreturn a +", "line 2"},
	} {
		res := execute(t, c.code, codemode.Limits{})
		wantError(t, res, isoerr.InvalidWorkerCode, c.want)
	}
}

// Three tools in sequence and in parallel, with the trace of every call.
func TestToolsInSequenceAndParallel(t *testing.T) {
	var n atomic.Int64
	res := execute(t, `async () => {
		const a = await codemode.add({ a: 1, b: 2 });
		const u = await codemode.get_user({ id: a.sum });
		const [x, y, z] = await Promise.all([
			codemode.add({ a: 10, b: 20 }),
			codemode["get-user"]({ id: 7 }),
			codemode.add({ a: u.id, b: 0.5 }),
		]);
		console.log("done", u.name);
		return [a.sum, u.name, x.sum, y.name, z.sum];
	}`, codemode.Limits{}, calculator(&n))
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
	// The parallel calls reach the host in any order.
	byName := map[string]codemode.Call{}
	for _, c := range res.Calls[2:] {
		byName[c.Name] = c
	}
	if c := byName["codemode.get-user"]; string(c.Result) != `{"id":7,"name":"user7"}` {
		t.Errorf("call by the original name %+v", c)
	}
	if len(res.Logs) != 1 || res.Logs[0].Message != "done user3" {
		t.Errorf("logs %+v", res.Logs)
	}
}

func TestToolErrors(t *testing.T) {
	var n atomic.Int64
	calc := calculator(&n)
	t.Run("tool error rejects", func(t *testing.T) {
		res := execute(t, `await codemode.get_user({ id: 404 })`, codemode.Limits{}, calc)
		wantError(t, res, isoerr.WorkerException, "codemode.get_user: no user has id 404")
		if len(res.Calls) != 1 || !strings.Contains(res.Calls[0].Error, "no user has id 404") {
			t.Errorf("calls %+v", res.Calls)
		}
	})
	t.Run("tool error can be caught", func(t *testing.T) {
		res := execute(t, `async () => {
			try { await codemode.get_user({ id: 404 }) } catch (e) { return "caught: " + e.message }
		}`, codemode.Limits{}, calc)
		wantResult(t, res, `"caught: codemode.get_user: no user has id 404"`)
	})
	t.Run("schema validation", func(t *testing.T) {
		res := execute(t, `await codemode.add({ a: "1", c: 2 })`, codemode.Limits{}, calc)
		wantError(t, res, isoerr.WorkerException, "codemode.add: invalid input (see AddInput)", "input.a: got string, want number", "missing property 'b'")
		if n.Load() != 0 {
			t.Errorf("the tool ran with invalid input")
		}
		if len(res.Calls) != 1 || res.Calls[0].Error == "" {
			t.Errorf("calls %+v", res.Calls)
		}
	})
	t.Run("missing argument", func(t *testing.T) {
		res := execute(t, `await codemode.add()`, codemode.Limits{}, calc)
		wantError(t, res, isoerr.WorkerException, "missing properties 'a', 'b'")
	})
	t.Run("no such tool", func(t *testing.T) {
		res := execute(t, `await codemode.addNumbers({ a: 1, b: 2 })`, codemode.Limits{}, calc)
		wantError(t, res, isoerr.WorkerException, "codemode.addNumbers is not a tool", "add, boom, get_user, slow")
	})
	t.Run("near miss", func(t *testing.T) {
		res := execute(t, `await codemode.getUser({ id: 1 })`, codemode.Limits{}, calc)
		wantError(t, res, isoerr.WorkerException, "did you mean codemode.get_user?")
	})
	t.Run("no such namespace", func(t *testing.T) {
		res := execute(t, `await github.search({ q: "x" })`, codemode.Limits{}, calc)
		wantError(t, res, isoerr.WorkerException, "github is not defined")
	})
	t.Run("panicking tool", func(t *testing.T) {
		res := execute(t, `await codemode.boom()`, codemode.Limits{}, calc)
		wantError(t, res, isoerr.WorkerException, "panic: the tool is broken")
	})
	t.Run("no network", func(t *testing.T) {
		res := execute(t, `await fetch("http://127.0.0.1:1/")`, codemode.Limits{}, calc)
		wantError(t, res, isoerr.WorkerException, "no network access")
	})
	t.Run("objects can be awaited and listed", func(t *testing.T) {
		res := execute(t, `const c = await codemode; Object.keys(c)`, codemode.Limits{}, calc)
		wantResult(t, res, `["add","get_user","slow","boom"]`)
	})
}

// Hostile code: every run ends, with the limit that stopped it, and quickly.
func TestLimits(t *testing.T) {
	var n atomic.Int64
	calc := calculator(&n)
	t.Run("loop forever", func(t *testing.T) {
		res := execute(t, `while (true) {}`, codemode.Limits{CPUMs: 100}, calc)
		wantError(t, res, isoerr.CPULimitExceeded)
	})
	t.Run("loop that catches", func(t *testing.T) {
		res := execute(t, `for (;;) { try { while (true) {} } catch (e) {} }`, codemode.Limits{CPUMs: 100}, calc)
		wantError(t, res, isoerr.CPULimitExceeded)
	})
	t.Run("promise that never settles", func(t *testing.T) {
		res := execute(t, `await new Promise(() => {})`, codemode.Limits{}, calc)
		wantError(t, res, isoerr.NoResponse)
	})
	t.Run("timer far away", func(t *testing.T) {
		res := execute(t, `await new Promise(r => setTimeout(r, 1e9))`, codemode.Limits{WallMs: 300}, calc)
		wantError(t, res, isoerr.WallTimeExceeded)
	})
	t.Run("tool that never returns", func(t *testing.T) {
		res := execute(t, `await codemode.slow()`, codemode.Limits{WallMs: 300}, calc)
		wantError(t, res, isoerr.WallTimeExceeded)
		if len(res.Calls) != 1 || res.Calls[0].Error == "" {
			t.Errorf("calls %+v", res.Calls)
		}
	})
	t.Run("memory", func(t *testing.T) {
		res := execute(t, `const a = []; while (true) a.push(new Array(1e6).fill(1))`, codemode.Limits{MemoryMB: 32, CPUMs: 5000}, calc)
		wantError(t, res, isoerr.MemoryLimitExceeded)
	})
	t.Run("flood of parallel calls", func(t *testing.T) {
		n.Store(0)
		res := execute(t, `async () => {
			const rs = await Promise.allSettled(Array.from({ length: 500 }, (_, i) => codemode.add({ a: i, b: 1 })));
			return [rs.filter(r => r.status === "fulfilled").length, rs.find(r => r.status === "rejected").reason.message];
		}`, codemode.Limits{MaxToolCalls: 50}, calc)
		wantResult(t, res, `[50,"codemode.add: too many tool calls: a run may make 50"]`)
		if len(res.Calls) != 50 || res.CallsOverLimit != 450 || n.Load() != 50 {
			t.Errorf("%d calls, %d over the limit, %d ran", len(res.Calls), res.CallsOverLimit, n.Load())
		}
	})
	t.Run("flood of calls in a loop", func(t *testing.T) {
		res := execute(t, `for (;;) codemode.add({ a: 1, b: 2 }).catch(() => {})`, codemode.Limits{CPUMs: 200}, calc)
		wantError(t, res, isoerr.CPULimitExceeded)
		if len(res.Calls) != 100 {
			t.Errorf("%d calls recorded", len(res.Calls))
		}
	})
	t.Run("sequential flood", func(t *testing.T) {
		res := execute(t, `async () => { let ok = 0; for (let i = 0; i < 1000; i++) { try { await codemode.add({ a: i, b: 0 }); ok++ } catch {} } return ok }`,
			codemode.Limits{MaxToolCalls: 20}, calc)
		wantResult(t, res, "20")
	})
	t.Run("large arguments are not kept", func(t *testing.T) {
		res := execute(t, `const big = "x".repeat(1 << 20); await codemode.get_user({ id: 1, pad: big }).catch(e => e.message.length)`, codemode.Limits{}, calc)
		if res.Error != nil || len(res.Calls) != 1 || !strings.Contains(string(res.Calls[0].Arguments), "not kept in the trace") {
			t.Fatalf("%v %+v", res.Error, res.Calls)
		}
		res = execute(t, `await __isobox_internal.callTool("n".repeat(1e6), {}).catch(e => e.message.length)`, codemode.Limits{}, calc)
		var msgLen int
		if res.Error != nil || json.Unmarshal(res.Result, &msgLen) != nil || msgLen > 2000 || len(res.Calls[0].Name) > 300 {
			t.Fatalf("%v %s %d", res.Error, res.Result, len(res.Calls[0].Name))
		}
	})
	t.Run("bad limits", func(t *testing.T) {
		wantError(t, execute(t, `1`, codemode.Limits{CPUMs: -1}), isoerr.InvalidRequest)
		wantError(t, execute(t, `1`, codemode.Limits{CPUMs: 60000}), isoerr.InvalidRequest, "cpuMs")
		wantError(t, execute(t, `1`, codemode.Limits{MaxToolCalls: 1e6}), isoerr.InvalidRequest, "maxToolCalls")
	})
	t.Run("result that is not JSON", func(t *testing.T) {
		wantResult(t, execute(t, `10n`, codemode.Limits{}), `{"$type":"BigInt","value":"10"}`)
		wantError(t, execute(t, `({ get x() { throw new Error("no x") } })`, codemode.Limits{}), isoerr.WorkerException, "cannot be returned")
	})
}

// Providers become namespaces; a bad provider set is an invalid request, never a panic.
func TestNamespaces(t *testing.T) {
	var n atomic.Int64
	calc := calculator(&n)
	other := codemode.Provider{Name: "strings", Tools: []codemode.Tool{
		codemode.NewTool("upper", "Upper-case a string.", func(ctx context.Context, in struct {
			S string `json:"s"`
		}) (string, error) {
			return strings.ToUpper(in.S), nil
		}),
	}}
	res := execute(t, `const s = await codemode.add({a: 1, b: 1}); await strings.upper({ s: "x" + s.sum })`, codemode.Limits{}, calc, other)
	wantResult(t, res, `"X2"`)
	if res.Calls[1].Name != "strings.upper" {
		t.Errorf("calls %+v", res.Calls)
	}
	bad := execute(t, `1`, codemode.Limits{}, codemode.Provider{Name: "console", Tools: calc.Tools})
	wantError(t, bad, isoerr.InvalidRequest, "console")
}

// A tool described by hand with a JSON Schema (as from MCP): the schema is enforced,
// including $refs and enums.
func TestHandWrittenSchema(t *testing.T) {
	tool := codemode.Tool{
		Name: "order", Description: "Place an order.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"item":{"$ref":"#/$defs/Item"},"speed":{"enum":["slow","fast"]}},"required":["item"],"additionalProperties":false,
			"$defs":{"Item":{"type":"object","properties":{"sku":{"type":"string","pattern":"^[A-Z]+$"},"qty":{"type":"integer","minimum":1}},"required":["sku","qty"]}}}`),
		Func: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) { return args, nil },
	}
	p := codemode.Provider{Tools: []codemode.Tool{tool}}
	wantResult(t, execute(t, `await codemode.order({ item: { sku: "AB", qty: 2 }, speed: "fast" })`, codemode.Limits{}, p), `{"item":{"sku":"AB","qty":2},"speed":"fast"}`)
	res := execute(t, `await codemode.order({ item: { sku: "ab", qty: 0 }, speed: "warp", extra: 1 })`, codemode.Limits{}, p)
	wantError(t, res, isoerr.WorkerException, "input.item.sku", "input.item.qty: minimum", "input.speed: value must be one of", "'extra' not allowed")
}

// Executions run concurrently, each in its own sandbox (run with -race).
func TestConcurrentExecutions(t *testing.T) {
	var n atomic.Int64
	calc := calculator(&n)
	x := codemode.NewExecutor(testLoader)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := x.Execute(context.Background(), fmt.Sprintf(`(await codemode.add({ a: %d, b: 1 })).sum`, i), []codemode.Provider{calc}, codemode.Options{})
			if res.Error != nil || string(res.Result) != fmt.Sprint(i+1) {
				errs <- fmt.Errorf("run %d: %s %v", i, res.Result, res.Error)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A canceled context stops a run.
func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var n atomic.Int64
	res := codemode.NewExecutor(testLoader).Execute(ctx, `await codemode.slow()`, []codemode.Provider{calculator(&n)}, codemode.Options{})
	if res.Error == nil {
		t.Fatal("no error")
	}
}

// Tool calls still running when the code returns (it did not await them) are awaited,
// within the wall-time limit, and recorded with their results; a warning in the logs says
// so. After an error they are not: the error is the answer.
func TestUnawaitedToolCalls(t *testing.T) {
	var sent atomic.Int64
	type msg struct {
		To string `json:"to"`
	}
	jobs := codemode.Provider{Name: "jobs", Tools: []codemode.Tool{
		codemode.NewTool("send", "Send a message.", func(ctx context.Context, in msg) (map[string]string, error) {
			select {
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			sent.Add(1)
			return map[string]string{"sent": in.To}, nil
		}),
		codemode.NewTool("hang", "Never answer.", func(ctx context.Context, in struct{}) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}),
	}}
	warning := func(res codemode.Result) string {
		for _, l := range res.Logs {
			if l.Level == "warn" && strings.Contains(l.Message, "still running when the code returned") {
				return l.Message
			}
		}
		return ""
	}
	t.Run("awaited and recorded", func(t *testing.T) {
		sent.Store(0)
		res := execute(t, `jobs.send({ to: "a" });
			jobs.send({ to: "b" }).then(r => jobs.send({ to: r.sent + "2" }));
			return "returned"`, codemode.Limits{}, jobs)
		wantResult(t, res, `"returned"`)
		if sent.Load() != 3 || len(res.Calls) != 3 {
			t.Fatalf("%d sent, calls %+v", sent.Load(), res.Calls)
		}
		got := map[string]bool{}
		for _, c := range res.Calls {
			if c.Name != "jobs.send" || c.Error != "" {
				t.Errorf("call %+v", c)
			}
			got[string(c.Result)] = true
		}
		for _, want := range []string{`{"sent":"a"}`, `{"sent":"b"}`, `{"sent":"b2"}`} {
			if !got[want] {
				t.Errorf("no call returned %s: %+v", want, res.Calls)
			}
		}
		if w := warning(res); !strings.Contains(w, "2 tool calls were still running") {
			t.Errorf("warning %q; logs %+v", w, res.Logs)
		}
	})
	t.Run("no warning when awaited", func(t *testing.T) {
		res := execute(t, `(await jobs.send({ to: "a" })).sent`, codemode.Limits{}, jobs)
		wantResult(t, res, `"a"`)
		if w := warning(res); w != "" {
			t.Errorf("warning %q", w)
		}
	})
	t.Run("within the wall-time limit", func(t *testing.T) {
		res := execute(t, `jobs.hang(); 1`, codemode.Limits{WallMs: 300}, jobs)
		wantError(t, res, isoerr.WallTimeExceeded)
		if len(res.Calls) != 1 || res.Calls[0].Error == "" {
			t.Errorf("calls %+v", res.Calls)
		}
		if w := warning(res); !strings.Contains(w, "1 tool call was still running") {
			t.Errorf("warning %q; logs %+v", w, res.Logs)
		}
	})
	t.Run("not after an error", func(t *testing.T) {
		res := execute(t, `jobs.hang(); throw new Error("boom")`, codemode.Limits{}, jobs)
		wantError(t, res, isoerr.WorkerException, "boom")
	})
}

// Numeric bounds: the TypeScript shows each one in the property's JSDoc, and the host
// checks it before the tool runs, whichever draft's form the schema uses.
func TestNumericBounds(t *testing.T) {
	for _, tt := range []struct {
		name, prop, doc string
		ok, bad         []string
	}{
		{"integer range", `{"type": "integer", "minimum": 1, "maximum": 100}`, "integer, minimum 1, maximum 100",
			[]string{"1", "100"}, []string{"0", "101", "2.5"}},
		{"exclusive (draft 2020-12)", `{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}`, "greater than 0, less than 1",
			[]string{"0.5"}, []string{"0", "1"}},
		{"exclusive (draft-04)", `{"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1}`, "greater than 0, maximum 1",
			[]string{"0.5", "1"}, []string{"0", "1.5"}},
		{"multiple", `{"type": "integer", "multipleOf": 5}`, "integer, multiple of 5",
			[]string{"10"}, []string{"7"}},
		{"nullable integer", `{"type": ["integer", "null"], "maximum": 9}`, "integer, maximum 9",
			[]string{"null", "9"}, []string{"10", "1.5"}},
		{"items", `{"type": "array", "items": {"type": "integer", "minimum": 0}}`, "items: integer, minimum 0",
			[]string{"[0, 3]"}, []string{"[-1]", "[0.5]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ran atomic.Int64
			p := codemode.Provider{Tools: []codemode.Tool{{Name: "take", Description: "Take n.",
				InputSchema: json.RawMessage(`{"type": "object", "properties": {"n": ` + tt.prop + `}, "required": ["n"]}`),
				Func: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
					ran.Add(1)
					return args, nil
				}}}}
			ts, err := codemode.Types(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := "  /** " + tt.doc + " */\n  n: "; !strings.Contains(ts, want) {
				t.Errorf("types lack %q:\n%s", want, ts)
			}
			for _, v := range tt.ok {
				wantResult(t, execute(t, `(await codemode.take({ n: `+v+` })).n`, codemode.Limits{}, p), strings.ReplaceAll(v, " ", ""))
			}
			ran.Store(0)
			for _, v := range tt.bad {
				res := execute(t, `await codemode.take({ n: `+v+` })`, codemode.Limits{}, p)
				wantError(t, res, isoerr.WorkerException, "codemode.take: invalid input", "input.n")
			}
			if ran.Load() != 0 {
				t.Errorf("the tool ran %d times with a value out of bounds", ran.Load())
			}
		})
	}
}
