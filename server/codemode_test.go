package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/mcpserver"
)

type cityIn struct {
	City string `json:"city"`
}

type forecast struct {
	City string  `json:"city"`
	Temp float64 `json:"temp"`
}

func testConnectors(t *testing.T) *codemode.Connectors {
	cs := codemode.NewConnectors()
	temps := map[string]float64{"Paris": 21, "Oslo": 9, "Lima": 18}
	if err := cs.Add(codemode.Provider{Name: "weather", Tools: []codemode.Tool{
		codemode.NewTool("forecast", "Tomorrow's forecast.", func(ctx context.Context, in cityIn) (forecast, error) {
			t, ok := temps[in.City]
			if !ok {
				return forecast{}, errors.New("unknown city " + in.City)
			}
			return forecast{City: in.City, Temp: t}, nil
		}),
	}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := cs.Add(codemode.Provider{Name: "units", Tools: []codemode.Tool{
		codemode.NewTool("toF", "Celsius to Fahrenheit.", func(ctx context.Context, in struct {
			C float64 `json:"c"`
		}) (float64, error) {
			return in.C*9/5 + 32, nil
		}),
	}}, nil); err != nil {
		t.Fatal(err)
	}
	return cs
}

type codemodeAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Logs  []json.RawMessage `json:"logs"`
	Calls []struct {
		Name  string          `json:"name"`
		Error string          `json:"error"`
		Res   json.RawMessage `json:"result"`
	} `json:"calls"`
}

func postCodemode(t *testing.T, ts *testServer, key string, body any) (int, codemodeAnswer, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ts.url+"/v1/codemode/execute", bytes.NewReader(b))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a codemodeAnswer
	json.Unmarshal(raw, &a)
	return resp.StatusCode, a, string(raw)
}

func TestCodemodeExecute(t *testing.T) {
	ts := start(t, Config{Codemode: testConnectors(t)})
	t.Run("sequence and parallel", func(t *testing.T) {
		status, a, raw := postCodemode(t, ts, testKey, map[string]any{
			"code": "async () => {\n  const p = await weather.forecast({ city: 'Paris' });\n" +
				"  const all = await Promise.all(['Oslo', 'Lima'].map(city => weather.forecast({ city })));\n" +
				"  return units.toF({ c: p.temp + all[0].temp + all[1].temp });\n}",
		})
		if status != 200 || string(a.Result) != "118.4" || len(a.Calls) != 4 {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("only the providers named", func(t *testing.T) {
		status, a, raw := postCodemode(t, ts, testKey, map[string]any{"code": "typeof units", "providers": []string{"weather"}})
		if status != 200 || string(a.Result) != `"undefined"` {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("unknown provider", func(t *testing.T) {
		status, _, raw := postCodemode(t, ts, testKey, map[string]any{"code": "1", "providers": []string{"github"}})
		if status != 400 || !strings.Contains(raw, `no connector is named \"github\" (configured: units, weather)`) {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("tool error", func(t *testing.T) {
		status, a, raw := postCodemode(t, ts, testKey, map[string]any{"code": "await weather.forecast({ city: 'Atlantis' })"})
		if status != 422 || a.Error == nil || a.Error.Code != "worker_exception" || !strings.Contains(a.Error.Message, "unknown city Atlantis") {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("schema validation", func(t *testing.T) {
		status, a, raw := postCodemode(t, ts, testKey, map[string]any{"code": "await weather.forecast({ town: 'Paris' })"})
		if status != 422 || a.Error == nil || !strings.Contains(a.Error.Message, "missing property 'city'") {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("no such tool", func(t *testing.T) {
		status, a, raw := postCodemode(t, ts, testKey, map[string]any{"code": "await weather.history({ city: 'Paris' })"})
		if status != 422 || a.Error == nil || !strings.Contains(a.Error.Message, "weather.history is not a tool") {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		status, a, raw := postCodemode(t, ts, testKey, map[string]any{"code": "async () => { return weather.forecast({ city: 'Paris' ) }"})
		if status != 400 || a.Error == nil || a.Error.Code != "invalid_worker_code" {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("loop forever", func(t *testing.T) {
		status, a, raw := postCodemode(t, ts, testKey, map[string]any{"code": "while (true) {}", "limits": map[string]int{"cpuMs": 100}})
		if status != 422 || a.Error == nil || a.Error.Code != "cpu_limit_exceeded" {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("bad limits", func(t *testing.T) {
		status, _, raw := postCodemode(t, ts, testKey, map[string]any{"code": "1", "limits": map[string]int{"maxToolCalls": 1e6}})
		if status != 400 || !strings.Contains(raw, "maxToolCalls") {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		status, _, raw := postCodemode(t, ts, testKey, map[string]any{"code": "1", "tools": []string{"x"}})
		if status != 400 || !strings.Contains(raw, "unknown field") {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("needs a key", func(t *testing.T) {
		status, _, raw := postCodemode(t, ts, "", map[string]any{"code": "1"})
		if status != 401 {
			t.Fatalf("%d %s", status, raw)
		}
	})
}

// Without connectors, the route still runs plain code.
func TestCodemodeWithoutConnectors(t *testing.T) {
	ts := start(t, Config{})
	status, a, raw := postCodemode(t, ts, testKey, map[string]any{"code": "```ts\nconst x: number = 40;\nx + 2\n```"})
	if status != 200 || string(a.Result) != "42" {
		t.Fatalf("%d %s", status, raw)
	}
}

type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

func mcpClient(t *testing.T, ts *testServer, key string) (*mcp.ClientSession, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: ts.url + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{key}}}, nil)
}

// The /mcp endpoint, with the go-sdk client, authenticated with an API key.
func TestMCPEndpoint(t *testing.T) {
	ts := start(t, Config{Codemode: testConnectors(t)})
	if _, err := mcpClient(t, ts, "not-the-key"); err == nil {
		t.Fatal("connected with a wrong key")
	}
	cs, err := mcpClient(t, ts, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ctx := context.Background()
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Tools) != 2 {
		t.Fatalf("tools %+v", lt.Tools)
	}
	// /mcp sends the schemas mcpserver writes out (all object schemas, no boolean
	// sub-schema: TestSchemasAreObjects there), not ones inferred from Go types.
	for _, tool := range lt.Tools {
		out, in := mcpserver.OutputSchema(tool.Name == mcpserver.ToolExecute), mcpserver.InputSchema()
		if tool.Name == mcpserver.ToolExecute {
			in = mcpserver.ExecuteInputSchema(true) // the test server keeps workspaces
		}
		for _, s := range []struct {
			got  any
			want json.RawMessage
		}{{tool.InputSchema, in}, {tool.OutputSchema, out}} {
			var want any
			if err := json.Unmarshal(s.want, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.got, want) {
				g, _ := json.Marshal(s.got)
				t.Errorf("%s: /mcp sends the schema %s, want %s", tool.Name, g, s.want)
			}
		}
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "execute", Arguments: map[string]any{
		"code": "async () => (await units.toF({ c: (await weather.forecast({ city: 'Oslo' })).temp }))"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError || res.Content[0].(*mcp.TextContent).Text != "48.2\n\n(2 tool calls)" {
		t.Fatalf("%+v", res.Content[0])
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_code", Arguments: map[string]any{"code": "[1, 2, 3].map(x => x * x)"}})
	if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "[1,4,9]" {
		t.Fatalf("%v %+v", err, res)
	}
}

// execute with a workspace: the code gets the state namespace over that workspace only, in
// JavaScript and Python; read-only leaves out the writing tools; a bad name is a typed 400
// and changes nothing.
func TestCodemodeExecuteWithWorkspace(t *testing.T) {
	ts := start(t, Config{Codemode: testConnectors(t)})
	c, ctx := ts.c, context.Background()
	putFiles(t, c, "proj", map[string]string{"src/a.go": "package a\n// TODO: fix\n", "README.md": "hello\n"})
	putFiles(t, c, "other", map[string]string{"secret.txt": "not yours\n"})

	status, a, raw := postCodemode(t, ts, testKey, map[string]any{
		"code": "async () => {\n  const hits = await state.searchText({ pattern: 'TODO' });\n" +
			"  await state.writeFile({ path: 'notes/todo.txt', content: hits.matches.map(m => m.path).join('\\n') });\n" +
			"  return [hits.matches.length, await state.readFile({ path: 'README.md' }), (await weather.forecast({ city: 'Oslo' })).temp];\n}",
		"workspace": map[string]any{"workspace": "proj"},
	})
	if status != 200 || string(a.Result) != `[1,"hello\n",9]` {
		t.Fatalf("javascript: %d %s", status, raw)
	}
	f, err := c.GetFile(ctx, "proj", "notes/todo.txt", client.FileOptions{})
	if err != nil {
		t.Fatalf("the code's write is not in the workspace: %v", err)
	}
	b, _ := io.ReadAll(f.Body)
	f.Body.Close()
	if string(b) != "/src/a.go" {
		t.Fatalf("notes/todo.txt: %q", b)
	}

	status, a, raw = postCodemode(t, ts, testKey, map[string]any{
		"language": "python", "code": "r = await state.readFile(path='README.md')\nr.strip()",
		"workspace": map[string]any{"workspace": "proj"},
	})
	if status != 200 || string(a.Result) != `"hello"` {
		t.Fatalf("python: %d %s", status, raw)
	}

	// The paths are the bound workspace's: another workspace's file is not there.
	status, a, raw = postCodemode(t, ts, testKey, map[string]any{"code": "await state.readFile({ path: '../other/secret.txt' })", "workspace": map[string]any{"workspace": "proj"}})
	if status != 422 || a.Error == nil || strings.Contains(raw, "not yours") {
		t.Fatalf("escape: %d %s", status, raw)
	}
	ro := map[string]any{"workspace": "proj", "readOnly": true}
	status, a, raw = postCodemode(t, ts, testKey, map[string]any{"code": "await state.readFile({ path: 'README.md' })", "workspace": ro})
	if status != 200 || string(a.Result) != `"hello\n"` {
		t.Fatalf("read-only read: %d %s", status, raw)
	}
	status, a, raw = postCodemode(t, ts, testKey, map[string]any{"code": "await state.writeFile({ path: 'README.md', content: 'x' })", "workspace": ro})
	if status != 422 || a.Error == nil || !strings.Contains(a.Error.Message, "not a tool") {
		t.Fatalf("read-only write: %d %s", status, raw)
	}
	if f, err := c.GetFile(ctx, "proj", "README.md", client.FileOptions{}); err == nil {
		b, _ := io.ReadAll(f.Body)
		f.Body.Close()
		if string(b) != "hello\n" {
			t.Fatalf("a read-only run changed README.md: %q", b)
		}
	}
	for _, bad := range []any{map[string]any{"workspace": ""}, map[string]any{"workspace": "../x"}, map[string]any{"workspace": "p", "extra": 1}, "proj"} {
		status, _, raw = postCodemode(t, ts, testKey, map[string]any{"code": "1", "workspace": bad})
		if status != 400 {
			t.Errorf("workspace %v: %d %s", bad, status, raw)
		}
	}
}
