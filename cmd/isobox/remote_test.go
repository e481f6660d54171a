package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// remoteCLI runs one command line against s.
func remoteCLI(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestRemoteCommands(t *testing.T) {
	const key = "remote-test-key-0123456789"
	t.Setenv("ISOBOX_API_KEY", key)
	s := serve(t, "--data", t.TempDir())
	t.Setenv("ISOBOX_URL", s.url)
	ctx := context.Background()
	dir := writeFiles(t, map[string]string{
		"main.js":      `import { greet } from "./lib/greet.js"; export default { fetch(req, env) { console.log("hit " + new URL(req.url).pathname); return new Response(greet(env.WHO) + " " + req.method) }, add(a, b) { console.warn("adding"); return a + b }, boom() { throw new Error("bad") } }`,
		"lib/greet.js": `export const greet = (w) => "hello " + w;`,
		"worker.json":  `{"mainModule":"m.js","modules":{"m.js":"export default { fetch() { return new Response('from json') } }"}}`,
	})

	for _, tt := range []struct {
		args   []string
		code   int
		out    string // stdout contains
		errOut string // stderr contains
	}{
		{[]string{"workers", "put", "hello", filepath.Join(dir, "main.js"), filepath.Join(dir, "lib/greet.js"), "--env", "WHO=ada", "--cpu-ms", "100"}, 0, "stored worker hello", ""},
		{[]string{"workers", "put", "fromjson", "--code", filepath.Join(dir, "worker.json")}, 0, "stored worker fromjson", ""},
		{[]string{"workers", "put", "bad id", filepath.Join(dir, "main.js")}, 1, "", "invalid_request: invalid worker id"},
		{[]string{"workers", "put", "x"}, 2, "", "give module files or --code"},
		{[]string{"workers", "list"}, 0, "hello", ""},
		{[]string{"workers", "get", "hello"}, 0, `"WHO": "ada"`, ""},
		{[]string{"workers", "get", "nobody"}, 1, "", "not_found"},
		{[]string{"invoke", "hello", "--method", "POST", "--url", "http://x/path"}, 0, "hello ada POST", "hit /path"},
		{[]string{"invoke", "fromjson"}, 0, "from json", ""},
		{[]string{"invoke", "hello", "--call", "add", "--args", "[2, 3]"}, 0, "5\n", "warn: adding"},
		{[]string{"invoke", "hello", "--call", "boom"}, 1, "", "worker_exception: Error: bad"},
		{[]string{"invoke", "hello", "--call", "nope"}, 1, "", "method_not_found"},
		{[]string{"invoke", "hello", "--call", "add", "--args", "[1,2]", "--json"}, 0, `"result":3`, ""},
		{[]string{"logs", "hello"}, 0, "hit /path", ""},
		{[]string{"workers", "rm", "fromjson"}, 0, "deleted worker fromjson", ""},
		{[]string{"workers", "rm", "fromjson"}, 1, "", "not_found"},
		{[]string{"workers"}, 2, "", "Usage"},
		{[]string{"invoke"}, 2, "", "Usage: isobox invoke"},
		{[]string{"invoke", "hello", "--server", "http://127.0.0.1:1"}, 1, "", "cannot reach the server"},
	} {
		out, errs, code := remoteCLI(t, ctx, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.errOut) {
			t.Errorf("isobox %q: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", tt.args, code, tt.code, out, tt.out, errs, tt.errOut)
		}
	}
	out, _, _ := remoteCLI(t, ctx, "workers", "list", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0]["id"] != "hello" {
		t.Fatalf("workers list --json: %q %v", out, err)
	}

	// logs -f follows until interrupted.
	fctx, cancel := context.WithCancel(ctx)
	var fout, ferr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(fctx, []string{"logs", "-f", "hello"}, &fout, &ferr) }()
	deadline := time.Now().Add(hangGuard)
	for i := 0; !strings.Contains(fout.String(), "hit /followed"); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("logs -f printed %q %q", fout.String(), ferr.String())
		}
		remoteCLI(t, ctx, "invoke", "hello", "--url", "http://x/followed")
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("logs -f exit %d: %s", code, ferr.String())
	}

	t.Setenv("ISOBOX_API_KEY", "")
	if _, errs, code := remoteCLI(t, ctx, "workers", "list"); code != 2 || !strings.Contains(errs, "ISOBOX_API_KEY") {
		t.Fatalf("without a key: %d %q", code, errs)
	}
	t.Setenv("ISOBOX_API_KEY", "wrong-key-0123456789")
	if _, errs, code := remoteCLI(t, ctx, "workers", "list"); code != 1 || !strings.Contains(errs, "unauthorized") {
		t.Fatalf("with a wrong key: %d %q", code, errs)
	}
}
