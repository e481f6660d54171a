package statetools_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
	"github.com/isobox/isobox/workspace/statetools"
)

var testLoader *loader.Loader

func TestMain(m *testing.M) {
	enginetest.LoaderMain(m, func(l *loader.Loader) { testLoader = l })
}

func store(t *testing.T) *workspace.SQLite {
	t.Helper()
	s, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Code Mode code uses a workspace through state.*: it writes, searches, replaces, diffs
// and archives, and what it did is in the store.
func TestStateProvider(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	if _, err := s.Write(ctx, "other", "secret.txt", strings.NewReader("secret"), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	x := codemode.NewExecutor(testLoader)
	p := statetools.Provider(s, "proj", statetools.Options{})
	res := x.Execute(ctx, `async () => {
		await state.writeFile({path: "src/a.go", content: "package a\n// TODO: fix\n"});
		await state.writeJson({path: "conf.json", value: {name: "x", n: 1}});
		await state.updateJson({path: "conf.json", op: "set", query: "n", value: 2});
		const hits = await state.searchText({pattern: "todo", ignoreCase: true});
		const dry = await state.replaceInFiles({glob: "*.go", search: "TODO", replace: "DONE", dryRun: true});
		const rep = await state.replaceInFiles({glob: "*.go", search: "TODO", replace: "DONE"});
		const diff = await state.diff({path: "src/a.go", text: "package a\n"});
		await state.createArchive({paths: ["src"], to: "a.tgz"});
		const ex = await state.extractArchive({path: "a.tgz", to: "copy"});
		const sh = await state.exec({command: "grep -rl DONE . | sort > hits.txt; wc -l < hits.txt; ls /etc 2>&1 || echo no-host"});
		let escape;
		try { await state.readFile({path: "../other/secret.txt"}); } catch (e) { escape = e.message; }
		return {
			hit: hits.matches[0].path + ":" + hits.matches[0].line,
			dry: dry.replacements, rep: rep.files[0].count,
			text: await state.readFile({path: "copy/src/a.go"}),
			n: await state.queryJson({path: "conf.json", query: "n"}),
			json: await state.readJson({path: "conf.json"}),
			diff, files: ex.files, escape, sh: sh.stdout, shExit: sh.exitCode,
			hits: await state.readFile({path: "hits.txt"}),
			hash: (await state.hashFile({path: "copy/src/a.go"})).length,
			exists: [await state.exists({path: "a.tgz"}), await state.exists({path: "nope"})],
			found: (await state.searchFiles({glob: "*.go"})).files.map((f) => f.path),
		};
	}`, []codemode.Provider{p}, codemode.Options{})
	if res.Error != nil {
		t.Fatalf("execute: %v", res.Error)
	}
	var r struct {
		Hit, Text, Diff, Escape string
		Sh, Hits                string
		ShExit                  int
		Dry, Rep, N, Files      int
		JSON                    map[string]any
		Hash                    int
		Exists                  []bool
		Found                   []string
	}
	if err := json.Unmarshal(res.Result, &r); err != nil {
		t.Fatalf("%v: %s", err, res.Result)
	}
	if r.Hit != "/src/a.go:2" || r.Dry != 1 || r.Rep != 1 || r.Text != "package a\n// DONE: fix\n" || r.N != 2 ||
		r.JSON["name"] != "x" || r.Files != 1 || r.Hash != 64 || !r.Exists[0] || r.Exists[1] ||
		strings.Join(r.Found, ",") != "/copy/src/a.go,/src/a.go" || !strings.Contains(r.Diff, "-// DONE: fix") {
		t.Errorf("result %s", res.Result)
	}
	// exec runs over the workspace (its writes land there) and reaches no host file.
	if !strings.HasPrefix(r.Sh, "2\n") || !strings.Contains(r.Sh, "no-host") || r.ShExit != 0 || r.Hits != "./copy/src/a.go\n./src/a.go\n" {
		t.Errorf("exec: %q exit %d, hits.txt %q", r.Sh, r.ShExit, r.Hits)
	}
	if !strings.Contains(r.Escape, "invalid_request") && !strings.Contains(r.Escape, "leaves the workspace") {
		t.Errorf("reading another workspace: %q", r.Escape)
	}
	// The tool calls are in the trace, under the namespace.
	if len(res.Calls) == 0 || !strings.HasPrefix(res.Calls[0].Name, "state.") {
		t.Errorf("calls %+v", res.Calls)
	}
}

// A read-only provider has no tool that writes; its replaces only dry-run.
func TestStateProviderReadOnly(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	if _, err := s.Write(ctx, "proj", "a.txt", strings.NewReader("hello"), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	p := statetools.Provider(s, "proj", statetools.Options{ReadOnly: true})
	for _, tool := range p.Tools {
		switch tool.Name {
		case "writeFile", "rm", "mv", "updateJson", "extractArchive", "createArchive":
			t.Errorf("read-only provider has %s", tool.Name)
		}
	}
	x := codemode.NewExecutor(testLoader)
	res := x.Execute(ctx, `async () => {
		const dry = await state.replaceInFile({path: "a.txt", search: "hello", replace: "bye", dryRun: true});
		let err;
		try { await state.replaceInFile({path: "a.txt", search: "hello", replace: "bye"}); } catch (e) { err = e.message; }
		const sh = await state.exec({command: "cat a.txt; echo bye > a.txt"});
		return [dry.count, err, sh.stdout, sh.exitCode !== 0];
	}`, []codemode.Provider{p}, codemode.Options{})
	if res.Error != nil {
		t.Fatalf("execute: %v", res.Error)
	}
	if !strings.Contains(string(res.Result), `[1,"`) || !strings.Contains(string(res.Result), "read-only") || !strings.HasSuffix(string(res.Result), `,"hello",true]`) {
		t.Errorf("result %s", res.Result)
	}
	rc, _, _ := s.Read(ctx, "proj", "a.txt")
	defer rc.Close()
	b := make([]byte, 16)
	n, _ := rc.Read(b)
	if string(b[:n]) != "hello" {
		t.Errorf("a.txt = %q", b[:n])
	}
}

// The model's instructions show the tools as a typed API.
func TestStateProviderTypes(t *testing.T) {
	s := store(t)
	types, err := codemode.Describe(statetools.Provider(s, "proj", statetools.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"declare const state", "searchText(", "replaceInFiles(", "pattern: string", "dryRun?: boolean"} {
		if !strings.Contains(types, want) {
			t.Errorf("types lack %q:\n%s", want, types)
			break
		}
	}
}
