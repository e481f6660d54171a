package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/workspace"
)

// mcpSession runs `isobox mcp args...` in process and connects the go-sdk client to it;
// the returned function closes the client and waits for the command to end.
func mcpSession(t *testing.T, args ...string) (*mcp.ClientSession, context.Context, func()) {
	t.Helper()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- serveMCP(ctx, append([]string{"--cache-dir", cacheDir}, args...), sr, sw, stderr)
		sw.Close()
	}()
	cctx, ccancel := context.WithTimeout(ctx, hangGuard)
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(cctx, &mcp.IOTransport{Reader: cr, Writer: cw}, nil)
	if err != nil {
		t.Fatalf("%v (stderr %s)", err, stderr.String())
	}
	return cs, cctx, func() {
		cs.Close()
		cw.Close()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d: %s", code, stderr.String())
			}
		case <-time.After(hangGuard):
			t.Error("isobox mcp did not stop when stdin closed")
		}
		ccancel()
		cancel()
	}
}

// `isobox mcp --data DIR --workspace NAME` gives execute the state namespace over that
// workspace of DIR/workspaces.db, the store isobox serve keeps: code reads what is there
// and what it writes stays; --workspace-readonly offers only the tools that read; with
// --data alone execute takes a workspace argument, as on /mcp.
func TestMCPCommandWorkspace(t *testing.T) {
	data := t.TempDir()
	st, err := workspace.Open(filepath.Join(data, "workspaces.db"), workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write(context.Background(), "proj", "notes/todo.md", strings.NewReader("- TODO ship\n"), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	text := func(res *mcp.CallToolResult) string { return res.Content[0].(*mcp.TextContent).Text }
	execute := func(cs *mcp.ClientSession, ctx context.Context, args map[string]any) *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "execute", Arguments: args})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	cs, ctx, stop := mcpSession(t, "--data", data, "--workspace", "proj")
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var desc string
	for _, tool := range lt.Tools {
		if tool.Name == "execute" {
			desc = tool.Description
		}
	}
	if !strings.Contains(desc, "declare const state") || !strings.Contains(desc, `workspace "proj"`) {
		t.Fatalf("execute's description: %q", desc)
	}
	res := execute(cs, ctx, map[string]any{"code": `async () => {
		const hits = await state.searchText({ pattern: "TODO" });
		await state.writeFile({ path: "notes/done.md", content: "shipped" });
		const { stdout } = await state.exec({ command: "ls notes | wc -l" });
		return hits.matches[0].path + " " + stdout.trim();
	}`})
	if res.IsError || !strings.HasPrefix(text(res), `"/notes/todo.md 2"`) {
		t.Fatalf("execute: %s", text(res))
	}
	res = execute(cs, ctx, map[string]any{"code": `1`, "workspace": map[string]any{"workspace": "other"}})
	if !res.IsError || !strings.Contains(text(res), "invalid_request") {
		t.Fatalf("a workspace argument to a pinned execute: %s", text(res))
	}
	stop()
	if got := readWS(t, st, "proj", "notes/done.md"); got != "shipped" {
		t.Fatalf("done.md = %q", got)
	}

	cs, ctx, stop = mcpSession(t, "--data", data, "--workspace", "proj", "--workspace-readonly")
	res = execute(cs, ctx, map[string]any{"code": `async () => [await state.writeFile({ path: "x", content: "y" }).then(() => "wrote", () => "refused"),
		await state.readFile({ path: "notes/done.md" })]`})
	if res.IsError || !strings.HasPrefix(text(res), `["refused","shipped"]`) {
		t.Fatalf("read-only execute: %s", text(res))
	}
	stop()
	if _, err := st.Stat(context.Background(), "proj", "x"); err == nil {
		t.Fatal("a read-only execute wrote x")
	}

	cs, ctx, stop = mcpSession(t, "--data", data)
	res = execute(cs, ctx, map[string]any{"code": `async () => state.readFile({ path: "notes/done.md" })`, "workspace": map[string]any{"workspace": "proj"}})
	if res.IsError || !strings.HasPrefix(text(res), `"shipped"`) {
		t.Fatalf("execute with a workspace argument: %s", text(res))
	}
	stop()
}

func readWS(t *testing.T, st workspace.Store, ws, p string) string {
	t.Helper()
	rc, _, err := st.Read(context.Background(), ws, p)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}
