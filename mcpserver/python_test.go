package mcpserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/mcpserver"
)

func callLang(t *testing.T, cs *mcp.ClientSession, tool, lang, code string) (*mcp.CallToolResult, mcpserver.RunOutput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"code": code, "language": lang}})
	if err != nil {
		t.Fatal(err)
	}
	var out mcpserver.RunOutput
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return res, out
}

// run_code takes language "python": the last expression's value, print as the console
// output, Python's exceptions and the limits' typed errors.
func TestRunCodePython(t *testing.T) {
	// The engine's first Python sandbox compiles CPython's module and starts the
	// interpreter: a minute under -race on a busy machine, more than a call's timeout.
	if _, err := testLoader.Eval(context.Background(), "1", loader.EvalOptions{Python: true}); err != nil {
		t.Fatal(err)
	}
	cs := overPipes(t, newServer(t, connectors(t)))
	t.Run("value and logs", func(t *testing.T) {
		res, out := callLang(t, cs, mcpserver.ToolRunCode, "python", "import statistics\nprint('mean of', [1, 2, 3])\n{'mean': statistics.mean([1, 2, 3])}")
		if res.IsError || text(res) != "{\"mean\":2}\n\nConsole output:\nmean of [1, 2, 3]" {
			t.Fatalf("%q isError=%v", text(res), res.IsError)
		}
		if m, _ := out.Result.(map[string]any); m["mean"] != float64(2) || len(out.Logs) != 1 {
			t.Errorf("structured %+v", out)
		}
	})
	t.Run("exception", func(t *testing.T) {
		res, out := callLang(t, cs, mcpserver.ToolRunCode, "python", "raise ValueError('boom')")
		if !res.IsError || out.Error == nil || out.Error.Code != "worker_exception" || out.Error.Message != "ValueError: boom" {
			t.Fatalf("%q %+v", text(res), out.Error)
		}
	})
	t.Run("loop", func(t *testing.T) {
		res, out := callLang(t, cs, mcpserver.ToolRunCode, "python", "while True:\n    pass")
		if !res.IsError || out.Error == nil || out.Error.Code != "cpu_limit_exceeded" {
			t.Fatalf("%q", text(res))
		}
	})
	t.Run("javascript by name", func(t *testing.T) {
		res, out := callLang(t, cs, mcpserver.ToolRunCode, "javascript", "[1, 2].map(x => x * 2)")
		if res.IsError || len(out.Result.([]any)) != 2 {
			t.Fatalf("%q", text(res))
		}
	})
	t.Run("unknown language", func(t *testing.T) {
		res, out := callLang(t, cs, mcpserver.ToolRunCode, "ruby", "1")
		if !res.IsError || out.Error == nil || out.Error.Code != "invalid_request" || !strings.Contains(out.Error.Message, `"ruby"`) {
			t.Fatalf("%q %+v", text(res), out.Error)
		}
	})
	t.Run("execute in Python", func(t *testing.T) {
		res, out := callLang(t, cs, mcpserver.ToolExecute, "python", "q = await stocks.quote(symbol='ACME')\nprint(q['symbol'])\nq['price'] * 2")
		if res.IsError || out.Result != float64(25) || len(out.Calls) != 1 || out.Calls[0].Name != "stocks.quote" || len(out.Logs) != 1 {
			t.Fatalf("%q %+v", text(res), out)
		}
		res, out = callLang(t, cs, mcpserver.ToolExecute, "python", "await stocks.quote(symbol='NOPE')")
		if !res.IsError || out.Error == nil || out.Error.Code != "worker_exception" || !strings.Contains(out.Error.Message, "unknown symbol NOPE") {
			t.Fatalf("%q %+v", text(res), out.Error)
		}
	})
}

// execute's description tells the model how to call the same tools from Python.
func TestExecuteDescribesPython(t *testing.T) {
	cs := overPipes(t, newServer(t, connectors(t)))
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range tools.Tools {
		if tl.Name != mcpserver.ToolExecute {
			continue
		}
		for _, want := range []string{`language "python"`, "await stocks.quote(symbol=...)", "keyword arguments"} {
			if !strings.Contains(tl.Description, want) {
				t.Errorf("execute's description lacks %q:\n%s", want, tl.Description)
			}
		}
		return
	}
	t.Fatal("no execute tool")
}
