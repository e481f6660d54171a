package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// `isobox mcp` in-process: the go-sdk client on one end of a pair of pipes, the command
// on the other, with a connector file naming an OpenAPI API on 127.0.0.1 whose key the
// egress gateway injects from the environment.
func TestMCPCommand(t *testing.T) {
	dir := mathConnector(t)

	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- serveMCP(ctx, []string{"--cache-dir", cacheDir, "--codemode-config", filepath.Join(dir, "codemode.json"), "--cpu-ms", "1000"}, sr, sw, stderr)
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
	if len(lt.Tools) != 2 || !strings.Contains(lt.Tools[0].Description+lt.Tools[1].Description, "declare const math: {") {
		t.Fatalf("tools %+v", lt.Tools)
	}
	call := func(tool, code string) *mcp.CallToolResult {
		res, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"code": code}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := call("execute", `async () => {
		const [a, b, c] = await Promise.all([1, 2, 3].map(n => math.square({ n })));
		return a.square + b.square + c.square;
	}`)
	if res.IsError || res.Content[0].(*mcp.TextContent).Text != "14\n\n(3 tool calls)" {
		t.Fatalf("%+v", res.Content[0])
	}
	res = call("run_code", "while (true) {}")
	if !res.IsError || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "cpu_limit_exceeded") {
		t.Fatalf("%+v", res.Content[0])
	}
	var out struct {
		Result any `json:"result"`
	}
	res = call("run_code", "const t: string = 'typed'; t.toUpperCase()")
	b, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(b, &out)
	if res.IsError || out.Result != "TYPED" {
		t.Fatalf("%s", b)
	}

	// The client going away ends the command.
	cs.Close()
	cw.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(hangGuard):
		t.Fatal("isobox mcp did not stop when stdin closed")
	}
}

// mathConnector writes a connector file (codemode.json in the directory it returns)
// naming an OpenAPI API on 127.0.0.1, math.square, whose key the egress gateway injects
// from the environment.
func mathConnector(t *testing.T) string {
	t.Helper()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer key-from-env" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"n": %s, "square": %s}`, r.URL.Query().Get("n"), squareOf(r.URL.Query().Get("n")))
	}))
	t.Cleanup(api.Close)
	doc := fmt.Sprintf(`{"openapi": "3.0.0", "info": {"title": "Math"}, "servers": [{"url": %q}], "paths": {"/square": {"get": {
		"operationId": "square", "summary": "Square a number.",
		"parameters": [{"name": "n", "in": "query", "required": true, "schema": {"type": "integer"}}],
		"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object",
			"properties": {"n": {"type": "integer"}, "square": {"type": "integer"}}}}}}}}}}}`, api.URL)
	cfg := `{"openapi": {"math": {"document": "math.json",
		"policy": {"rules": [{"action": "allow", "host": "127.0.0.1", "allowPrivate": true, "injectHeaders": {"Authorization": "Bearer {{secret:k}}"}}]},
		"secrets": {"k": "ISOBOX_TEST_MATH_KEY"}}}}`
	t.Setenv("ISOBOX_TEST_MATH_KEY", "key-from-env")
	return writeFiles(t, map[string]string{"math.json": doc, "codemode.json": cfg})
}

func squareOf(s string) string {
	var n int
	fmt.Sscan(s, &n)
	return fmt.Sprint(n * n)
}

func TestMCPCommandErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := serveMCP(context.Background(), []string{"--cache-dir", cacheDir, "--codemode-config", "/nonexistent/codemode.json"}, strings.NewReader(""), &out, &errb); code != 1 || !strings.Contains(errb.String(), "no such file") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := serveMCP(context.Background(), []string{"extra"}, strings.NewReader(""), &out, &errb); code != 2 {
		t.Errorf("exit %d", code)
	}
	if out.Len() != 0 {
		t.Errorf("wrote to stdout: %q", out.String())
	}
}

// The official MCP TypeScript SDK, which Claude Desktop and most agent hosts use, drives
// `isobox mcp` (the binary, spawned by the SDK's stdio transport) and the /mcp endpoint of
// `isobox serve` (its streamable HTTP transport, with the API key): it lists the tools,
// which its schema checks accept, and calls run_code and execute, whose structured results
// it checks against the tools' output schemas.
func TestMCPTypeScriptSDK(t *testing.T) {
	dir := sdkDir(t)
	bin := buildIsobox(t)
	conn := mathConnector(t)

	t.Setenv("ISOBOX_API_KEY", "isobox-sdk-test-key")
	s := serve(t, "--data", t.TempDir(), "--codemode-config", filepath.Join(conn, "codemode.json"))

	script := filepath.Join(dir, "client.mjs")
	if err := os.WriteFile(script, []byte(sdkClientScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{
		"command": bin,
		"args":    []string{"mcp", "--cache-dir", cacheDir, "--codemode-config", filepath.Join(conn, "codemode.json")},
		"url":     s.url + "/mcp",
		"key":     "isobox-sdk-test-key",
		"runCode": "const xs: number[] = [1, 2, 3]; console.log('summing'); xs.reduce((a, b) => a + b, 0)",
		"execute": `async () => {
			const [a, b] = await Promise.all([2, 3].map(n => math.square({ n })));
			return a.square + b.square;
		}`,
		// A call the code does not await is awaited for it, and reported.
		"unawaited": `math.square({ n: 5 }); "sent"`,
	})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script, string(cfg))
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.mjs: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}

	type callResult struct {
		IsError           bool `json:"isError"`
		StructuredContent struct {
			Result any      `json:"result"`
			Logs   []string `json:"logs"`
			Calls  []struct {
				Name      string         `json:"name"`
				Arguments map[string]any `json:"arguments"`
				Result    map[string]any `json:"result"`
				Error     string         `json:"error"`
			} `json:"calls"`
		} `json:"structuredContent"`
	}
	var got map[string]struct {
		Error     string      `json:"error"`
		Tools     []string    `json:"tools"`
		RunCode   *callResult `json:"runCode"`
		Execute   *callResult `json:"execute"`
		Unawaited *callResult `json:"unawaited"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("client output %q: %v\nstderr: %s", stdout.String(), err, stderr.String())
	}
	for _, transport := range []string{"stdio", "http"} {
		r, ok := got[transport]
		switch {
		case !ok:
			t.Errorf("%s: no result", transport)
			continue
		case r.Error != "":
			t.Errorf("%s: the SDK failed: %s\nstderr: %s", transport, r.Error, stderr.String())
			continue
		}
		sort.Strings(r.Tools)
		if strings.Join(r.Tools, ",") != "execute,run_code" {
			t.Errorf("%s: tools %v", transport, r.Tools)
		}
		if rc := r.RunCode; rc == nil || rc.IsError || rc.StructuredContent.Result != float64(6) || strings.Join(rc.StructuredContent.Logs, "|") != "summing" {
			t.Errorf("%s: run_code %+v", transport, rc)
		}
		ex := r.Execute
		if ex == nil || ex.IsError || ex.StructuredContent.Result != float64(13) || len(ex.StructuredContent.Calls) != 2 {
			t.Errorf("%s: execute %+v", transport, ex)
			continue
		}
		squares := map[float64]float64{}
		for _, c := range ex.StructuredContent.Calls {
			n, _ := c.Arguments["n"].(float64)
			sq, _ := c.Result["square"].(float64)
			if c.Name != "math.square" || c.Error != "" {
				t.Errorf("%s: call %+v", transport, c)
			}
			squares[n] = sq
		}
		if squares[2] != 4 || squares[3] != 9 {
			t.Errorf("%s: calls %+v", transport, ex.StructuredContent.Calls)
		}
		un := r.Unawaited
		if un == nil || un.IsError || un.StructuredContent.Result != "sent" || len(un.StructuredContent.Calls) != 1 ||
			un.StructuredContent.Calls[0].Result["square"] != float64(25) || len(un.StructuredContent.Logs) != 1 ||
			!strings.Contains(un.StructuredContent.Logs[0], "1 tool call was still running when the code returned") {
			t.Errorf("%s: execute with a call it did not await: %+v", transport, un)
		}
	}
}

// The official MCP TypeScript SDK, pinned: the version that refused isobox's tools/list
// while its schemas had boolean sub-schemas.
const (
	mcpSDKPackage = "@modelcontextprotocol/sdk"
	mcpSDKVersion = "1.32.2"
)

// sdkClientScript connects the SDK's Client over stdio (spawning isobox) and over
// streamable HTTP, and prints what each transport gave as one JSON object.
const sdkClientScript = `
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const cfg = JSON.parse(process.argv[2]);

async function drive(transport) {
  const client = new Client({ name: "isobox-sdk-test", version: "1.0.0" });
  const out = {};
  try {
    await client.connect(transport);
    const { tools } = await client.listTools();
    out.tools = tools.map((t) => t.name);
    out.runCode = await client.callTool({ name: "run_code", arguments: { code: cfg.runCode } });
    out.execute = await client.callTool({ name: "execute", arguments: { code: cfg.execute } });
    out.unawaited = await client.callTool({ name: "execute", arguments: { code: cfg.unawaited } });
  } catch (e) {
    out.error = String((e && e.stack) || e);
  }
  await client.close().catch(() => {});
  return out;
}

const stdio = await drive(new StdioClientTransport({ command: cfg.command, args: cfg.args, env: process.env, stderr: "inherit" }));
const http = await drive(new StreamableHTTPClientTransport(new URL(cfg.url), {
  requestInit: { headers: { Authorization: "Bearer " + cfg.key } },
}));
process.stdout.write(JSON.stringify({ stdio, http }) + "\n");
`
