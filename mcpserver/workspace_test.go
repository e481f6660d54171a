package mcpserver_test

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/mcpserver"
	"github.com/isobox/isobox/workspace"
)

func callArgs(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) (*mcp.CallToolResult, mcpserver.RunOutput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
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

// execute with a workspace store: the code's state namespace works on the workspace its
// argument names, and on no other; readOnly leaves out the tools that write; without the
// argument there is no state namespace; a bad name is a typed error that changes nothing;
// run_code takes no workspace. The tool is offered even without connectors, with the
// workspace argument in its schema and the state API in its description.
func TestExecuteWithWorkspace(t *testing.T) {
	ctx := context.Background()
	st, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for ws, files := range map[string]map[string]string{"proj": {"README.md": "hello\n"}, "other": {"secret.txt": "not yours\n"}} {
		for p, c := range files {
			if _, err := st.Write(ctx, ws, p, strings.NewReader(c), workspace.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := mcpserver.New(mcpserver.Config{Loader: testLoader, Workspaces: st, Limits: codemode.Limits{CPUMs: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []struct {
		name    string
		connect func(*testing.T, *mcpserver.Server) *mcp.ClientSession
	}{{"stdio", overPipes}, {"streamable HTTP", overHTTP}} {
		t.Run(tr.name, func(t *testing.T) {
			cs := tr.connect(t, s)
			lt, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var exec *mcp.Tool
			for _, tool := range lt.Tools {
				if tool.Name == mcpserver.ToolExecute {
					exec = tool
				}
			}
			if exec == nil {
				t.Fatalf("no execute tool with a workspace store: %+v", lt.Tools)
			}
			var want any
			_ = json.Unmarshal(mcpserver.ExecuteInputSchema(true), &want)
			if g, _ := json.Marshal(exec.InputSchema); string(g) != mustJSON(want) {
				t.Errorf("execute's input schema %s", g)
			}
			if bad := SchemaProblems(exec.InputSchema); len(bad) > 0 {
				t.Errorf("execute's input schema: %v", bad)
			}
			for _, w := range []string{"declare const state: {", "readFile(", "the argument workspace"} {
				if !strings.Contains(exec.Description, w) {
					t.Errorf("execute's description lacks %q", w)
				}
			}

			res, out := callArgs(t, cs, "execute", map[string]any{
				"code": "async () => { await state.writeFile({ path: 'out/" + tr.name + ".txt', content: 'written' }); " +
					"return [await state.readFile({ path: 'README.md' }), await state.exists({ path: 'secret.txt' })]; }",
				"workspace": map[string]any{"workspace": "proj"},
			})
			if res.IsError || mustJSON(out.Result) != `["hello\n",false]` {
				t.Fatalf("read-write run: %s", text(res))
			}
			rc, _, err := st.Read(ctx, "proj", "out/"+tr.name+".txt")
			if err != nil {
				t.Fatalf("the code's write is not in the workspace: %v", err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != "written" {
				t.Fatalf("written %q", b)
			}

			res, out = callArgs(t, cs, "execute", map[string]any{
				"code": "async () => { let refused = false; try { await state.writeFile({ path: 'x', content: 'x' }); } catch { refused = true; }\n" +
					"return [refused, await state.readFile({ path: 'secret.txt' })]; }",
				"workspace": map[string]any{"workspace": "other", "readOnly": true},
			})
			if res.IsError || mustJSON(out.Result) != `[true,"not yours\n"]` {
				t.Fatalf("read-only run: %s", text(res))
			}
			if _, err := st.Stat(ctx, "other", "x"); err == nil {
				t.Fatal("a read-only run wrote to its workspace")
			}

			res, _ = call(t, cs, "execute", "typeof state")
			if res.IsError || text(res) != `"undefined"` {
				t.Fatalf("without a workspace: %s", text(res))
			}

			for _, name := range []string{"../proj", "", "a/b"} {
				res, out = callArgs(t, cs, "execute", map[string]any{"code": "state.writeFile({ path: 'x', content: 'x' })", "workspace": map[string]any{"workspace": name}})
				if !res.IsError || out.Error == nil || out.Error.Code != "invalid_request" {
					t.Errorf("workspace %q: %s", name, text(res))
				}
			}
			res, out = callArgs(t, cs, "run_code", map[string]any{"code": "1", "workspace": map[string]any{"workspace": "proj"}})
			if !res.IsError || out.Error == nil || out.Error.Code != "invalid_request" {
				t.Errorf("run_code with a workspace: %s", text(res))
			}
		})
	}
	list, err := st.List(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("workspaces after the runs: %+v", list)
	}
}
