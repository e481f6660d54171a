package mcpconn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/codemode/mcpconn"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

var executor *codemode.Executor

// TestMain doubles as the stdio MCP server the Command test starts (this test binary,
// with MCPCONN_TEST_SERVER=1).
func TestMain(m *testing.M) {
	if os.Getenv("MCPCONN_TEST_SERVER") == "1" {
		if err := newServer().Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	enginetest.LoaderMain(m, func(l *loader.Loader) { executor = codemode.NewExecutor(l) })
}

type weatherIn struct {
	City  string `json:"city" jsonschema:"the city's name"`
	Units string `json:"units,omitempty" jsonschema:"celsius or fahrenheit"`
}

type weatherOut struct {
	City string  `json:"city"`
	Temp float64 `json:"temp"`
}

type convertIn struct {
	Celsius float64 `json:"celsius"`
}

// newServer is the MCP server the tests talk to: a structured tool, a text tool, a tool
// that fails, written with the go-sdk like any third-party server.
func newServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "weather-test", Title: "Weather", Version: "1.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "get-weather", Description: "The weather in a city."},
		func(ctx context.Context, req *mcp.CallToolRequest, in weatherIn) (*mcp.CallToolResult, weatherOut, error) {
			temps := map[string]float64{"Paris": 21, "Oslo": 9, "Lima": 18}
			t, ok := temps[in.City]
			if !ok {
				return nil, weatherOut{}, fmt.Errorf("unknown city %q", in.City)
			}
			return nil, weatherOut{City: in.City, Temp: t}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "to_fahrenheit", Description: "Convert a temperature."},
		func(ctx context.Context, req *mcp.CallToolRequest, in convertIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint(in.Celsius*9/5 + 32)}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "fail", Description: "Always fails."},
		func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
			return nil, nil, errors.New("the weather service is down")
		})
	// A hand-written schema, its properties in the author's order (not sorted), with
	// numeric bounds.
	s.AddTool(&mcp.Tool{Name: "find_stations", Description: "Find weather stations.",
		InputSchema: json.RawMessage(`{"type": "object", "properties": {
			"query": {"type": "string", "description": "a place name"},
			"limit": {"type": "integer", "minimum": 1, "maximum": 50},
			"country": {"type": "string"}}, "required": ["query"]}`),
		OutputSchema: json.RawMessage(`{"type": "object", "properties": {
			"stations": {"type": "array", "items": {"type": "string"}},
			"count": {"type": "integer"}}, "required": ["stations", "count"]}`),
	}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct {
			Query string `json:"query"`
			Limit int    `json:"limit"`
		}
		if err := json.Unmarshal(req.Params.Arguments, &in); err != nil {
			return nil, err
		}
		out := map[string]any{"stations": []string{in.Query + " 1", in.Query + " 2"}[:min(2, max(in.Limit, 1))], "count": min(2, max(in.Limit, 1))}
		b, _ := json.Marshal(out)
		return &mcp.CallToolResult{StructuredContent: out, Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, nil
	})
	return s
}

func inMemory(t *testing.T) *mcpconn.Conn {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	if _, err := newServer().Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	c, err := mcpconn.Connect(ctx, "weather", ct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// overHTTP serves newServer over streamable HTTP, its answers as event streams or, with
// jsonResponse, as JSON bodies.
func overHTTP(t *testing.T, header http.Header, jsonResponse bool) *mcpconn.Conn {
	t.Helper()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return newServer() },
		&mcp.StreamableHTTPOptions{JSONResponse: jsonResponse})
	var sawAuth atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			sawAuth.Store(a)
		}
		if header != nil && r.Header.Get("Authorization") != header.Get("Authorization") {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	c, err := mcpconn.Connect(context.Background(), "weather", mcpconn.HTTP(ts.URL, header))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if header != nil && sawAuth.Load() != header.Get("Authorization") {
		t.Errorf("the server saw Authorization %v", sawAuth.Load())
	}
	return c
}

func overCommand(t *testing.T) *mcpconn.Conn {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MCPCONN_TEST_SERVER=1")
	c, err := mcpconn.Connect(context.Background(), "weather", mcpconn.Command(cmd))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func run(t *testing.T, c *mcpconn.Conn, code string, lim codemode.Limits) codemode.Result {
	t.Helper()
	// A guard against a hang, not a speed bound: one slow shared core under -race.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return executor.Execute(ctx, code, []codemode.Provider{c.Provider()}, codemode.Options{Limits: lim})
}

// The same snippets against the server over every transport.
func TestTransports(t *testing.T) {
	for _, tr := range []struct {
		name string
		conn func(*testing.T) *mcpconn.Conn
	}{
		{"in-memory", inMemory},
		{"streamable HTTP", func(t *testing.T) *mcpconn.Conn {
			return overHTTP(t, http.Header{"Authorization": {"Bearer s3cret"}}, false)
		}},
		{"streamable HTTP, JSON answers", func(t *testing.T) *mcpconn.Conn { return overHTTP(t, nil, true) }},
		{"stdio command", overCommand},
	} {
		t.Run(tr.name, func(t *testing.T) {
			c := tr.conn(t)
			checkSnippets(t, c)
		})
	}
}

func checkSnippets(t *testing.T, c *mcpconn.Conn) {
	t.Run("sequence and Promise.all", func(t *testing.T) {
		res := run(t, c, "```js\nasync () => {\n"+
			"  const p = await weather.get_weather({ city: \"Paris\" });\n"+
			"  const f = await weather.to_fahrenheit({ celsius: p.temp });\n"+
			"  const all = await Promise.all([\"Oslo\", \"Lima\", \"Paris\"].map(city => weather.get_weather({ city })));\n"+
			"  return { f, temps: all.map(w => w.temp) };\n}\n```", codemode.Limits{})
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		if string(res.Result) != `{"f":"69.8","temps":[9,18,21]}` {
			t.Fatalf("result %s", res.Result)
		}
		if len(res.Calls) != 5 || res.Calls[0].Name != "weather.get_weather" || string(res.Calls[0].Result) != `{"city":"Paris","temp":21}` {
			t.Errorf("calls %+v", res.Calls)
		}
	})
	t.Run("tool error", func(t *testing.T) {
		res := run(t, c, `await weather.fail()`, codemode.Limits{})
		wantError(t, res, isoerr.WorkerException, "weather.fail: the weather service is down")
		res = run(t, c, `await weather.get_weather({ city: "Atlantis" })`, codemode.Limits{})
		wantError(t, res, isoerr.WorkerException, `unknown city "Atlantis"`)
	})
	t.Run("schema validation", func(t *testing.T) {
		res := run(t, c, `await weather.get_weather({ town: "Paris" })`, codemode.Limits{})
		wantError(t, res, isoerr.WorkerException, "weather.get_weather: invalid input", "missing property 'city'", "'town' not allowed")
	})
	t.Run("no such tool", func(t *testing.T) {
		res := run(t, c, `await weather.forecast({ city: "Paris" })`, codemode.Limits{})
		wantError(t, res, isoerr.WorkerException, "weather.forecast is not a tool", "fail, find_stations, get_weather, to_fahrenheit")
	})
	t.Run("property order", func(t *testing.T) {
		ts, err := codemode.Types(c.Provider())
		if err != nil {
			t.Fatal(err)
		}
		// As the server wrote them, not sorted: the go-sdk client decodes schemas into maps.
		inOrder(t, ts, "type WeatherFindStationsInput = {", "query: string;", "limit?: number;", "country?: string;", "};")
		inOrder(t, ts, "type WeatherFindStationsOutput = {", "stations: string[];", "count: number;", "};")
		if !strings.Contains(ts, "/** integer, minimum 1, maximum 50 */\n  limit?: number;") {
			t.Errorf("limit's bounds are not shown:\n%s", ts)
		}
	})
	t.Run("bounds are checked", func(t *testing.T) {
		res := run(t, c, `(await weather.find_stations({ query: "Oslo", limit: 1 })).stations`, codemode.Limits{})
		if res.Error != nil || string(res.Result) != `["Oslo 1"]` {
			t.Fatalf("%s %v", res.Result, res.Error)
		}
		for _, limit := range []string{"0", "51", "2.5"} {
			res = run(t, c, `await weather.find_stations({ query: "Oslo", limit: `+limit+` })`, codemode.Limits{})
			wantError(t, res, isoerr.WorkerException, "weather.find_stations: invalid input", "input.limit:")
			if len(res.Calls) != 1 || res.Calls[0].Result != nil {
				t.Errorf("limit %s: calls %+v", limit, res.Calls)
			}
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		res := run(t, c, "async () => {\n  const w = await weather.get_weather({ city: 'Paris' ));\n}", codemode.Limits{})
		wantError(t, res, isoerr.InvalidWorkerCode, "line 2")
	})
	t.Run("loop forever", func(t *testing.T) {
		res := run(t, c, `async () => { await weather.get_weather({ city: "Oslo" }); for (;;) {} }`, codemode.Limits{CPUMs: 100})
		wantError(t, res, isoerr.CPULimitExceeded)
		// Stopped at the call's own limit, not the (20x larger) default: in CPU time, which a
		// busy machine does not stretch (a wall-clock bound here did).
		if res.CPUMs >= 500 {
			t.Errorf("stopped after %v ms of CPU; the limit was 100 ms", res.CPUMs)
		}
	})
}

// inOrder checks that the parts appear in s one after the other.
func inOrder(t *testing.T, s string, parts ...string) {
	t.Helper()
	rest := s
	for _, p := range parts {
		i := strings.Index(rest, p)
		if i < 0 {
			t.Errorf("%q is missing, or not after %q:\n%s", p, parts[0], s)
			return
		}
		rest = rest[i+len(p):]
	}
}

func wantError(t *testing.T, res codemode.Result, code isoerr.Code, contains ...string) {
	t.Helper()
	if res.Error == nil {
		t.Fatalf("no error; result %s", res.Result)
	}
	if res.Error.Code != code {
		t.Fatalf("error %v, want %s", res.Error, code)
	}
	for _, c := range contains {
		if !strings.Contains(res.Error.Message, c) {
			t.Errorf("error %q lacks %q", res.Error.Message, c)
		}
	}
}

// The provider's TypeScript comes from the server's schemas.
func TestTypesFromServer(t *testing.T) {
	c := inMemory(t)
	ts, err := codemode.Types(c.Provider())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"declare const weather: {",
		"get_weather(input: WeatherGetWeatherInput): Promise<WeatherGetWeatherOutput>;",
		"/** the city's name */\n  city: string;",
		"units?: string;",
		"temp: number;",
		"The tools of the MCP server \"weather\" (Weather).",
	} {
		if !strings.Contains(ts, want) {
			t.Errorf("types lack %q:\n%s", want, ts)
		}
	}
}

// A server that adds a tool announces it; the provider picks it up.
func TestToolListChanged(t *testing.T) {
	ctx := context.Background()
	srv := newServer()
	st, ct := mcp.NewInMemoryTransports()
	if _, err := srv.Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	c, err := mcpconn.Connect(ctx, "weather", ct)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mcp.AddTool(srv, &mcp.Tool{Name: "humidity", Description: "Humidity."},
		func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "40%"}}}, nil, nil
		})
	deadline := time.Now().Add(time.Minute) // a hang guard
	for len(c.Provider().Tools) != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("tools %d", len(c.Provider().Tools))
		}
		time.Sleep(10 * time.Millisecond)
	}
	res := run(t, c, `await weather.humidity()`, codemode.Limits{})
	if res.Error != nil || string(res.Result) != `"40%"` {
		t.Fatalf("%s %v", res.Result, res.Error)
	}
}
