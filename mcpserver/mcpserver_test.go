package mcpserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/mcpserver"
)

var testLoader *loader.Loader

func TestMain(m *testing.M) {
	enginetest.LoaderMain(m, func(l *loader.Loader) { testLoader = l })
}

type stockIn struct {
	Symbol string `json:"symbol" jsonschema:"a ticker symbol"`
}

type quote struct {
	Symbol string  `json:"symbol"`
	Price  float64 `json:"price"`
}

func connectors(t *testing.T) *codemode.Connectors {
	cs := codemode.NewConnectors()
	prices := map[string]float64{"ACME": 12.5, "INIT": 3, "ZED": 100}
	err := cs.Add(codemode.Provider{Name: "stocks", Description: "Stock quotes.", Tools: []codemode.Tool{
		codemode.NewTool("quote", "The latest price of a stock.", func(ctx context.Context, in stockIn) (quote, error) {
			p, ok := prices[in.Symbol]
			if !ok {
				return quote{}, errors.New("unknown symbol " + in.Symbol)
			}
			return quote{Symbol: in.Symbol, Price: p}, nil
		}),
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func newServer(t *testing.T, cs *codemode.Connectors) *mcpserver.Server {
	t.Helper()
	s, err := mcpserver.New(mcpserver.Config{Loader: testLoader, Connectors: cs, Limits: codemode.Limits{CPUMs: 1000}}) // 20x what the tests that finish need on a slow machine
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func client(t *testing.T, tr mcp.Transport) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
	cs, err := c.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// overPipes runs the server as `isobox mcp` does, over a pair of pipes (stdio).
func overPipes(t *testing.T, s *mcpserver.Server) *mcp.ClientSession {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, &mcp.IOTransport{Reader: sr, Writer: sw}) }()
	t.Cleanup(func() {
		cancel()
		cw.Close()
		select {
		case <-done:
		case <-time.After(time.Minute): // a hang guard
			t.Error("the server did not stop")
		}
	})
	return client(t, &mcp.IOTransport{Reader: cr, Writer: cw})
}

func overHTTP(t *testing.T, s *mcpserver.Server) *mcp.ClientSession {
	ts := httptest.NewServer(s.HTTPHandler())
	t.Cleanup(ts.Close)
	return client(t, &mcp.StreamableClientTransport{Endpoint: ts.URL, MaxRetries: -1})
}

func call(t *testing.T, cs *mcp.ClientSession, tool, code string) (*mcp.CallToolResult, mcpserver.RunOutput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"code": code}})
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

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func TestTransports(t *testing.T) {
	for _, tr := range []struct {
		name    string
		connect func(*testing.T, *mcpserver.Server) *mcp.ClientSession
	}{{"stdio", overPipes}, {"streamable HTTP", overHTTP}} {
		t.Run(tr.name, func(t *testing.T) {
			cs := tr.connect(t, newServer(t, connectors(t)))
			checkTools(t, cs)
		})
	}
}

func checkTools(t *testing.T, cs *mcp.ClientSession) {
	ctx := context.Background()
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var execDesc string
	for _, tool := range lt.Tools {
		names = append(names, tool.Name)
		if tool.Name == mcpserver.ToolExecute {
			execDesc = tool.Description
		}
	}
	if strings.Join(names, ",") != "execute,run_code" && strings.Join(names, ",") != "run_code,execute" {
		t.Fatalf("tools %v", names)
	}
	for _, want := range []string{"declare const stocks: {", "quote(input: StocksQuoteInput): Promise<StocksQuoteOutput>;", "/** a ticker symbol */", "async () =>"} {
		if !strings.Contains(execDesc, want) {
			t.Errorf("execute's description lacks %q:\n%s", want, execDesc)
		}
	}

	t.Run("run_code TypeScript", func(t *testing.T) {
		res, out := call(t, cs, mcpserver.ToolRunCode, "```ts\nconst xs: number[] = [1, 2, 3];\nconsole.warn('summing');\nxs.reduce((a, b) => a + b, 0)\n```")
		if res.IsError || text(res) != "6\n\nConsole output:\n[warn] summing" {
			t.Fatalf("%q isError=%v", text(res), res.IsError)
		}
		if out.Result != float64(6) || len(out.Logs) != 1 {
			t.Errorf("structured %+v", out)
		}
	})
	t.Run("run_code error", func(t *testing.T) {
		res, out := call(t, cs, mcpserver.ToolRunCode, `console.log("before"); JSON.parse("{")`)
		if !res.IsError || !strings.Contains(text(res), "The code failed: worker_exception: SyntaxError") || !strings.Contains(text(res), "Console output:\nbefore") {
			t.Fatalf("%q isError=%v", text(res), res.IsError)
		}
		if out.Error == nil || out.Error.Code != "worker_exception" {
			t.Errorf("structured %+v", out)
		}
	})
	t.Run("run_code loop", func(t *testing.T) {
		res, _ := call(t, cs, mcpserver.ToolRunCode, `for (;;) {}`)
		if !res.IsError || !strings.Contains(text(res), "cpu_limit_exceeded") {
			t.Fatalf("%q", text(res))
		}
	})
	t.Run("run_code has no tools", func(t *testing.T) {
		res, _ := call(t, cs, mcpserver.ToolRunCode, `await stocks.quote({ symbol: "ACME" })`)
		if !res.IsError || !strings.Contains(text(res), "stocks is not defined") {
			t.Fatalf("%q", text(res))
		}
	})
	t.Run("execute", func(t *testing.T) {
		res, out := call(t, cs, mcpserver.ToolExecute, `async () => {
			const a = await stocks.quote({ symbol: "ACME" });
			const rest = await Promise.all(["INIT", "ZED"].map(symbol => stocks.quote({ symbol })));
			return [a, ...rest].reduce((s, q) => s + q.price, 0);
		}`)
		if res.IsError || out.Result != 115.5 || len(out.Calls) != 3 || out.Calls[0].Name != "stocks.quote" {
			t.Fatalf("%q %+v", text(res), out)
		}
	})
	t.Run("execute awaits calls the code did not", func(t *testing.T) {
		res, out := call(t, cs, mcpserver.ToolExecute, `stocks.quote({ symbol: "ZED" }); "sent"`)
		if res.IsError || out.Result != "sent" || len(out.Calls) != 1 || out.Calls[0].Error != "" {
			t.Fatalf("%q %+v", text(res), out)
		}
		if q, _ := out.Calls[0].Result.(map[string]any); q["price"] != float64(100) {
			t.Errorf("call %+v", out.Calls[0])
		}
		if len(out.Logs) != 1 || !strings.HasPrefix(out.Logs[0], "[warn] isobox: 1 tool call was still running when the code returned") {
			t.Errorf("logs %q", out.Logs)
		}
	})
	t.Run("execute tool error and bad input", func(t *testing.T) {
		res, out := call(t, cs, mcpserver.ToolExecute, `await stocks.quote({ symbol: "NOPE" })`)
		if !res.IsError || !strings.Contains(text(res), "stocks.quote: unknown symbol NOPE") || len(out.Calls) != 1 {
			t.Fatalf("%q", text(res))
		}
		res, _ = call(t, cs, mcpserver.ToolExecute, `await stocks.quote({ ticker: "ACME" })`)
		if !res.IsError || !strings.Contains(text(res), "missing property 'symbol'") {
			t.Fatalf("%q", text(res))
		}
	})
}

// Without connectors there is no execute tool.
func TestNoConnectors(t *testing.T) {
	cs := overPipes(t, newServer(t, nil))
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Tools) != 1 || lt.Tools[0].Name != mcpserver.ToolRunCode {
		t.Fatalf("tools %+v", lt.Tools)
	}
}

// Every schema isobox sends (every tool's input and output schema, over stdio and
// streamable HTTP) is a JSON object of type object, and none of its sub-schemas is a
// boolean: the official TypeScript SDK refuses a tools/list with `"result": true`, and
// with it every host built on that SDK.
func TestSchemasAreObjects(t *testing.T) {
	for _, tr := range []struct {
		name    string
		connect func(*testing.T, *mcpserver.Server) *mcp.ClientSession
	}{{"stdio", overPipes}, {"streamable HTTP", overHTTP}} {
		t.Run(tr.name, func(t *testing.T) {
			cs := tr.connect(t, newServer(t, connectors(t)))
			lt, err := cs.ListTools(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(lt.Tools) != 2 {
				t.Fatalf("%d tools", len(lt.Tools))
			}
			for _, tool := range lt.Tools {
				for _, s := range []struct {
					name   string
					schema any
				}{{"inputSchema", tool.InputSchema}, {"outputSchema", tool.OutputSchema}} {
					if s.schema == nil {
						continue
					}
					if bad := SchemaProblems(s.schema); len(bad) > 0 {
						b, _ := json.Marshal(s.schema)
						t.Errorf("%s %s: %s\n%s", tool.Name, s.name, strings.Join(bad, "; "), b)
					}
				}
				if tool.OutputSchema == nil {
					t.Errorf("%s has no output schema", tool.Name)
				}
			}
		})
	}
}

// SchemaProblems lists what makes s something other than an object schema of type object
// with object sub-schemas only, each with its JSON pointer.
func SchemaProblems(s any) []string {
	root, ok := s.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("the schema is a %T, not an object", s)}
	}
	var bad []string
	if root["type"] != "object" {
		bad = append(bad, fmt.Sprintf(`type is %v, not "object"`, root["type"]))
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		o, ok := v.(map[string]any)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s is %s, not an object schema", at, mustJSON(v)))
			return
		}
		for k, sub := range o {
			switch k {
			case "additionalProperties", "additionalItems", "unevaluatedProperties", "unevaluatedItems",
				"contains", "propertyNames", "not", "if", "then", "else", "contentSchema":
				walk(sub, at+"/"+k)
			case "items":
				if arr, ok := sub.([]any); ok {
					for i, x := range arr {
						walk(x, fmt.Sprintf("%s/%s/%d", at, k, i))
					}
				} else {
					walk(sub, at+"/"+k)
				}
			case "allOf", "anyOf", "oneOf", "prefixItems":
				arr, _ := sub.([]any)
				for i, x := range arr {
					walk(x, fmt.Sprintf("%s/%s/%d", at, k, i))
				}
			case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
				m, _ := sub.(map[string]any)
				for name, x := range m {
					walk(x, at+"/"+k+"/"+name)
				}
			}
		}
	}
	walk(root, "#")
	sort.Strings(bad)
	return bad
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The walker itself: it finds a boolean wherever a schema may stand.
func TestSchemaProblems(t *testing.T) {
	for _, tt := range []struct {
		schema string
		want   string
	}{
		{`{"type":"object","properties":{"a":{"type":"string"}}}`, ""},
		{`true`, "the schema is a bool, not an object"},
		{`{"type":"array"}`, `type is array, not "object"`},
		{`{"type":"object","properties":{"result":true}}`, "#/properties/result is true"},
		{`{"type":"object","additionalProperties":false}`, "#/additionalProperties is false"},
		{`{"type":"object","properties":{"calls":{"type":"array","items":{"type":"object","properties":{"arguments":true}}}}}`, "#/properties/calls/items/properties/arguments is true"},
		{`{"type":"object","$defs":{"x":{"anyOf":[{"type":"null"},false]}}}`, "#/$defs/x/anyOf/1 is false"},
	} {
		var s any
		if err := json.Unmarshal([]byte(tt.schema), &s); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(SchemaProblems(s), "; ")
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.schema, got, tt.want)
		}
	}
}
