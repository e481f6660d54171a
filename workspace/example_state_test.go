package workspace_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/isobox/isobox/workspace"
)

// Search a workspace, replace across it as a dry run, then diff a file against new text.
func ExampleStore_SearchText() {
	dir, _ := os.MkdirTemp("", "ws")
	defer os.RemoveAll(dir)
	ws, _ := workspace.Open(filepath.Join(dir, "ws.db"), workspace.Limits{})
	defer ws.Close()
	ctx := context.Background()
	ws.Write(ctx, "proj", "src/a.go", strings.NewReader("package a\n// TODO: test\n"), workspace.WriteOptions{})

	res, _ := ws.SearchText(ctx, "proj", "todo", workspace.SearchOptions{Glob: "*.go", IgnoreCase: true})
	for _, m := range res.Matches {
		fmt.Printf("%s:%d:%d: %s\n", m.Path, m.Line, m.Column, m.Text)
	}
	dry, _ := ws.ReplaceInFiles(ctx, "proj", "*.go", "TODO", "DONE", workspace.ReplaceOptions{DryRun: true})
	fmt.Println(dry.Replacements, "replacement(s) in", dry.Files[0].Path)
	d, _ := ws.DiffText(ctx, "proj", "src/a.go", "package a\n")
	fmt.Print(d)
	// Output:
	// /src/a.go:2:4: // TODO: test
	// 1 replacement(s) in /src/a.go
	// --- a/src/a.go
	// +++ b/src/a.go
	// @@ -1,2 +1 @@
	//  package a
	// -// TODO: test
}
