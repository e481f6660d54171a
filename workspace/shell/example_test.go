package shell_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/isobox/isobox/workspace"
	"github.com/isobox/isobox/workspace/shell"
)

func ExampleRun() {
	dir, _ := os.MkdirTemp("", "shell-example")
	defer os.RemoveAll(dir)
	store, err := workspace.Open(filepath.Join(dir, "workspaces.db"), workspace.Limits{})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ctx := context.Background()
	store.Write(ctx, "proj", "src/a.go", strings.NewReader("// TODO: test\n"), workspace.WriteOptions{})
	store.Write(ctx, "proj", "src/b.go", strings.NewReader("package b\n"), workspace.WriteOptions{})

	res, err := shell.Run(ctx, store, "proj", "grep -rl TODO src > todo.txt; wc -l < todo.txt; cat /etc/passwd", shell.Options{})
	fmt.Printf("%q %q %d %v\n", res.Stdout, res.Stderr, res.ExitCode, err)
	// Output: "1\n" "cat: /etc/passwd: No such file or directory\n" 1 <nil>
}
