package loader_test

import (
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
)

// env.FS.exec runs a shell script over the bound workspace, with the binding's rights.
func TestFSBindingExec(t *testing.T) {
	l, st := fsLoader(t)
	ctx := context.Background()
	for p, c := range map[string]string{"a.txt": "TODO one\n", "src/b.go": "// TODO two\n", "c.txt": "done\n"} {
		if _, err := st.Write(ctx, "proj", p, strings.NewReader(c), workspace.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := code(`
import { env } from "cloudflare:workers";
export default {
  async run(fs, command, options) {
    try { return await env[fs].exec(command, options); }
    catch (e) { return { error: e.code }; }
  },
};
`)
	c.Bindings = map[string]api.Binding{"FS": {Workspace: "proj"}, "RO": {Workspace: "proj", ReadOnly: true}}
	stub := l.Get("exec", func() (loader.WorkerCode, error) { return c, nil })
	for _, tt := range []struct{ args, want string }{
		{`["FS", "grep -rl TODO . | wc -l"]`, `{"stdout":"2\n","stderr":"","exitCode":0}`},
		{`["FS", "pwd; echo $X > out.txt; cat out.txt", {"cwd": "/src", "env": {"X": "hi"}}]`, `{"stdout":"/src\nhi\n","stderr":"","exitCode":0}`},
		{`["RO", "echo x > y.txt"]`, `{"stdout":"","stderr":"open y.txt: permission denied\n","exitCode":1}`},
		{`["FS", "cat /etc/passwd"]`, `{"stdout":"","stderr":"cat: /etc/passwd: No such file or directory\n","exitCode":1}`},
		{`["FS", "yes", {"maxOutput": 100}]`, `{"error":"output_limit_exceeded"}`},
		{`["FS", ""]`, `{"error":"invalid_request"}`},
	} {
		if _, got := call(t, stub, "run", tt.args); got != tt.want {
			t.Errorf("run(%s) = %s, want %s", tt.args, got, tt.want)
		}
	}
	if got := readAllFile(t, st, "src/out.txt"); got != "hi\n" {
		t.Errorf("src/out.txt = %q", got)
	}
}

func readAllFile(t *testing.T, st *workspace.SQLite, p string) string {
	t.Helper()
	rc, _, err := st.Read(context.Background(), "proj", p)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := rc.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
