package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/internal/npm/npmtest"
)

// `isobox mcp --npm-registry URL` with a connector file that offers only a module: the
// module is installed from that registry at start, execute is offered for it, its
// description names it, and the code imports it.
func TestMCPCommandModules(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("greet", "2.0.1", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"greet","version":"2.0.1","type":"module","main":"index.js"}`,
		"index.js":     `export const greet = (n) => "hello " + n;`,
	}})
	dir := writeFiles(t, map[string]string{"codemode.json": `{"modules": {"greet": "^2.0.0"}}`})

	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- serveMCP(ctx, []string{"--cache-dir", cacheDir, "--npm-registry", reg.URL, "--codemode-config", filepath.Join(dir, "codemode.json")}, sr, sw, stderr)
		sw.Close()
	}()
	cctx, ccancel := context.WithTimeout(ctx, hangGuard)
	defer ccancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(cctx, &mcp.IOTransport{Reader: cr, Writer: cw}, nil)
	if err != nil {
		t.Fatalf("%v (stderr %s)", err, stderr.String())
	}
	lt, err := cs.ListTools(cctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Tools) != 2 || !strings.Contains(lt.Tools[0].Description+lt.Tools[1].Description, "- greet (version 2.0.1)") {
		t.Fatalf("tools %+v", lt.Tools)
	}
	res, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "execute", Arguments: map[string]any{"code": "import { greet } from \"greet\";\nasync () => greet(\"ada\")"}})
	if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "\"hello ada\"" {
		t.Fatalf("%v %+v", err, res)
	}
	cs.Close()
	cw.Close()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}
