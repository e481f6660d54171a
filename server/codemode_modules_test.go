package server

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/codemode"
)

// Code Mode modules (the codemode config's "modules") reach code run in a sandbox
// process: the executor inlines them into the script before it crosses the boundary.
// /v1/codemode/execute and /mcp's execute both import them, and /mcp offers execute for
// modules alone; an import of a module not offered is a 400 naming it.
func TestCodemodeModulesInSandboxProcesses(t *testing.T) {
	cs := codemode.NewConnectors()
	cs.SetModules([]codemode.Module{{Name: "twice", Version: "1.0.0", Source: "export const twice = (x) => x * 2;\nexport default 21;\n"}})
	ts := start(t, Config{SandboxProcesses: 1, Codemode: cs})

	status, a, raw := postCodemode(t, ts, testKey, map[string]any{
		"code": "import n, { twice } from \"twice\";\nasync () => twice(n)"})
	if status != 200 || string(a.Result) != "42" {
		t.Fatalf("execute: %d %s", status, raw)
	}
	status, a, raw = postCodemode(t, ts, testKey, map[string]any{"code": "import { z } from \"zod\"; z"})
	if status != 400 || a.Error == nil || a.Error.Code != "invalid_worker_code" || !strings.Contains(a.Error.Message, `"zod"`) {
		t.Fatalf("unknown module: %d %s", status, raw)
	}

	c, err := mcpClient(t, ts, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.CallTool(context.Background(), &mcp.CallToolParams{Name: "execute", Arguments: map[string]any{"code": "import { twice } from \"twice\";\ntwice(4)"}})
	if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "8" {
		t.Fatalf("/mcp execute: %v %+v", err, res)
	}
}
