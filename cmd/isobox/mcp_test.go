package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// `isobox mcp` in-process: the go-sdk client on one end of a pair of pipes, the command
// on the other, with a connector file naming an OpenAPI API on 127.0.0.1 whose key the
// egress gateway injects from the environment.
func TestMCPCommand(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer key-from-env" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"n": %s, "square": %s}`, r.URL.Query().Get("n"), squareOf(r.URL.Query().Get("n")))
	}))
	defer api.Close()
	doc := fmt.Sprintf(`{"openapi": "3.0.0", "info": {"title": "Math"}, "servers": [{"url": %q}], "paths": {"/square": {"get": {
		"operationId": "square", "summary": "Square a number.",
		"parameters": [{"name": "n", "in": "query", "required": true, "schema": {"type": "integer"}}],
		"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object",
			"properties": {"n": {"type": "integer"}, "square": {"type": "integer"}}}}}}}}}}}`, api.URL)
	cfg := `{"openapi": {"math": {"document": "math.json",
		"policy": {"rules": [{"action": "allow", "host": "127.0.0.1", "allowPrivate": true, "injectHeaders": {"Authorization": "Bearer {{secret:k}}"}}]},
		"secrets": {"k": "ISOBOX_TEST_MATH_KEY"}}}}`
	dir := writeFiles(t, map[string]string{"math.json": doc, "codemode.json": cfg})
	t.Setenv("ISOBOX_TEST_MATH_KEY", "key-from-env")

	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- serveMCP(ctx, []string{"--cache-dir", cacheDir, "--codemode-config", filepath.Join(dir, "codemode.json"), "--cpu-ms", "200"}, sr, sw, stderr)
		sw.Close()
	}()

	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
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
	case <-time.After(10 * time.Second):
		t.Fatal("isobox mcp did not stop when stdin closed")
	}
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
