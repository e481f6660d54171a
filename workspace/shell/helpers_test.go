package shell

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobox/isobox/workspace"
)

const testWS = "t"

// newStore opens a real workspace database in a temporary directory, with files.
func newStore(t testing.TB, files map[string]string) *workspace.SQLite {
	t.Helper()
	st, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for p, c := range files {
		if _, err := st.Write(context.Background(), testWS, p, strings.NewReader(c), workspace.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// run runs script and fails the test on a run error.
func run(t testing.TB, st *workspace.SQLite, script string) Result {
	t.Helper()
	res, err := Run(context.Background(), st, testWS, script, Options{})
	if err != nil {
		t.Fatalf("Run(%q): %v (result %+v)", script, err, res)
	}
	return res
}

// readFile returns a workspace file's content, or "<missing>".
func readFile(t testing.TB, st *workspace.SQLite, p string) string {
	t.Helper()
	rc, _, err := st.Read(context.Background(), testWS, p)
	if err != nil {
		return "<missing>"
	}
	defer rc.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := rc.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
