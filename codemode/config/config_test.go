package config_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/codemode/config"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/loader"
)

var executor *codemode.Executor

// TestMain is also the stdio MCP server of the config's command entry.
func TestMain(m *testing.M) {
	if os.Getenv("CONFIG_TEST_SERVER") == "1" {
		if err := echoServer("stdio").Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	enginetest.LoaderMain(m, func(l *loader.Loader) { executor = codemode.NewExecutor(l) })
}

func echoServer(which string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: which, Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echo."},
		func(ctx context.Context, req *mcp.CallToolRequest, in struct {
			Text string `json:"text"`
		}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: which + ": " + in.Text}}}, nil, nil
		})
	return s
}

const doc = `{"openapi": "3.1.0", "info": {"title": "Hello"}, "servers": [{"url": "BASE"}],
  "paths": {"/hello": {"get": {"operationId": "hello", "parameters": [{"name": "name", "in": "query", "required": true, "schema": {"type": "string"}}],
    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "properties": {"greeting": {"type": "string"}}}}}}}}}}}`

func TestLoad(t *testing.T) {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return echoServer("http") }, nil)
	mcpHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer mcp-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer mcpHTTP.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "api-key-value" {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"greeting": "hello " + r.URL.Query().Get("name")})
	}))
	defer api.Close()

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.json"), []byte(strings.ReplaceAll(doc, "BASE", api.URL)), 0o644)
	exe, _ := json.Marshal(os.Args[0])
	cfg := fmt.Sprintf(`{
	  "mcpServers": {
	    "remote": {"url": "%s", "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}},
	    "local": {"command": %s, "args": ["-test.run=^$"], "env": {"CONFIG_TEST_SERVER": "1"}}
	  },
	  "openapi": {
	    "hello": {"document": "hello.json",
	      "policy": {"rules": [{"action": "allow", "host": "127.0.0.1", "allowPrivate": true, "injectHeaders": {"X-Api-Key": "{{secret:key}}"}}]},
	      "secrets": {"key": "HELLO_KEY"}}
	  }
	}`, mcpHTTP.URL, exe)
	path := filepath.Join(dir, "codemode.json")
	os.WriteFile(path, []byte(cfg), 0o644)
	env := map[string]string{"MCP_TOKEN": "mcp-token", "HELLO_KEY": "api-key-value"}
	cs, err := config.Load(context.Background(), path, config.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if got := strings.Join(cs.Names(), ","); got != "local,remote,hello" {
		t.Fatalf("names %s", got)
	}
	ps, err := cs.Select(nil)
	if err != nil {
		t.Fatal(err)
	}
	res := executor.Execute(context.Background(), `async () => {
		const [a, b, c] = await Promise.all([local.echo({ text: "x" }), remote.echo({ text: "y" }), hello.hello({ name: "ada" })]);
		return [a, b, c.greeting];
	}`, ps, codemode.Options{})
	if res.Error != nil || string(res.Result) != `["stdio: x","http: y","hello ada"]` {
		t.Fatalf("%s %v", res.Result, res.Error)
	}
	if _, err := cs.Select([]string{"hello", "nope"}); err == nil || !strings.Contains(err.Error(), `no connector is named "nope" (configured: hello, local, remote)`) {
		t.Errorf("select: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ cfg, want string }{
		{`{"mcpServers": {"a": {}}}`, "give url or command"},
		{`{"mcpServers": {"a": {"url": "http://x", "command": "y"}}}`, "exactly one"},
		{`{"mcpServers": {"my-server": {"url": "http://x"}}}`, `name it "my_server"`},
		{`{"mcpServers": {"a": {"url": "http://x"}}, "openapi": {"a": {"document": "d.json"}}}`, `two connectors are named "a"`},
		{`{"openapi": {"a": {}}}`, "document"},
		{`{"openapi": {"a": {"document": "d.json", "policy": {"rules": [{"action": "maybe", "host": "x"}]}}}}`, "policy"},
		{`{"mcpServer": {}}`, "unknown field"},
	} {
		if _, err := config.Parse([]byte(c.cfg), "."); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.cfg, err, c.want)
		}
	}
	f, err := config.Parse([]byte(`{"mcpServers": {"a": {"url": "http://127.0.0.1:1/mcp", "headers": {"X": "${NOPE_NOT_SET}"}}}}`), ".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Open(context.Background(), config.Options{LookupEnv: func(string) (string, bool) { return "", false }}); err == nil || !strings.Contains(err.Error(), "NOPE_NOT_SET is not set") {
		t.Errorf("open: %v", err)
	}
}
