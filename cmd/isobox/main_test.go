package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/internal/enginetest"
)

// cli runs one isobox command line in-process with the tests' compilation cache.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args[:1:1], append([]string{"--cache-dir", cacheDir}, args[1:]...)...)
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// cacheDir is the engine's compilation cache of the tests (shared with the other
// packages: enginetest.CacheDir); binDir holds this run's own files (the built binary).
var cacheDir, binDir string

// hangGuard bounds the waits of these tests for something that must happen (a server up, a
// session connected, a line printed): never a speed assertion, only how long a broken
// build may hang. On a loaded one-core CI machine under -race a first start compiles
// QuickJS and CPython and takes tens of seconds, so the guard is minutes.
const hangGuard = 5 * time.Minute

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == binName { // the isobox binary of the process tests (buildIsobox)
		main()
	}
	if len(os.Args) > 1 && os.Args[1] == "sandbox-worker" { // the sandbox processes of an in-process `isobox serve`
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	cacheDir = enginetest.CacheDir()
	d, err := os.MkdirTemp("", "isobox-cli-test")
	if err != nil {
		panic(err)
	}
	binDir = d
	flag.Parse()
	startSDKPrefetch()
	code := m.Run()
	endSDKPrefetch()
	os.RemoveAll(d)
	os.Exit(code)
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestEvalCommand(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{"expression", []string{"eval", "1+1"}, "2\n", "", 0},
		{"statements", []string{"eval", "const xs = [1, 2, 3]; xs.map(x => x * 2)"}, "[2,4,6]\n", "", 0},
		{"async arrow", []string{"eval", "async () => { await null; return 'done' }"}, "\"done\"\n", "", 0},
		{"console goes to stderr", []string{"eval", "console.log('hi'); console.warn('careful'); 1"}, "1\n", "hi\nwarn: careful\n", 0},
		{"undefined", []string{"eval", "void 0"}, "undefined\n", "", 0},
		{"syntax error", []string{"eval", "let = ;"}, "", "isobox: invalid_worker_code: SyntaxError", 1},
		{"exception", []string{"eval", "throw new Error('boom')"}, "", "isobox: worker_exception: Error: boom", 1},
		{"cpu limit flag", []string{"eval", "--cpu-ms", "20", "while(true){}"}, "", "isobox: cpu_limit_exceeded", 1},
		{"memory limit flag", []string{"eval", "--memory-mb", "16", "--cpu-ms", "5000", "const a = []; for (;;) a.push(new Array(1e5).fill(1))"}, "", "isobox: memory_limit_exceeded", 1},
		{"bad cpu limit", []string{"eval", "--cpu-ms", "99999", "1"}, "", "isobox: invalid_request: limits.cpuMs", 1},
		{"no code", []string{"eval"}, "", "Usage: isobox eval", 2},
		{"bad flag", []string{"eval", "--nope", "1"}, "", "flag provided but not defined", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := cli(t, tt.args...)
			if code != tt.wantStatus || out != tt.wantOut || !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("isobox %q:\nexit %d (want %d)\nstdout %q (want %q)\nstderr %q (want it to contain %q)",
					tt.args, code, tt.wantStatus, out, tt.wantOut, errs, tt.wantErr)
			}
		})
	}
}

func TestEvalJSON(t *testing.T) {
	out, _, code := cli(t, "eval", "--json", "console.info('x'); ({a: [1]})")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var o struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
		Logs   []struct{ Level, Message string }
		CPU    *float64 `json:"cpu_ms"`
		Wall   *float64 `json:"wall_ms"`
		Cold   bool     `json:"cold"`
		Error  any      `json:"error"`
		Status *int     `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("not JSON: %q", out)
	}
	if !o.OK || string(o.Result) != `{"a":[1]}` || len(o.Logs) != 1 || o.Logs[0].Level != "info" || o.Logs[0].Message != "x" ||
		o.CPU == nil || o.Wall == nil || !o.Cold || o.Error != nil || o.Status != nil {
		t.Fatalf("unexpected outcome %s", out)
	}
	out, _, code = cli(t, "eval", "--json", "throw new RangeError('r')")
	if code != 1 || !strings.Contains(out, `"ok":false`) || !strings.Contains(out, `"code":"worker_exception"`) || !strings.Contains(out, `"stack"`) {
		t.Fatalf("error outcome: exit %d %s", code, out)
	}
}

func TestRunCommand(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.js": `import { double } from "./lib/math.js";
import words from "./words.txt";
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const body = request.method === "POST" ? await request.text() : "";
    console.log("got", request.method, url.pathname);
    return new Response(JSON.stringify({ method: request.method, path: url.pathname, q: url.searchParams.get("q"), body, token: env.TOKEN, double: double(21), words, h: request.headers.get("x-test") }), { status: 201, headers: { "content-type": "application/json", "x-from": "worker" } });
  },
  sum(...xs) { return xs.reduce((a, b) => a + b, 0); },
};`,
		"lib/math.js": `export const double = (x) => x * 2;`,
		"words.txt":   "two words",
	})
	main, lib, words := filepath.Join(dir, "main.js"), filepath.Join(dir, "lib/math.js"), filepath.Join(dir, "words.txt")

	out, errs, code := cli(t, "run", main, lib, words, "--env", "TOKEN=abc", "--method", "post", "--body", "payload", "--url", "http://example.com/path?q=1", "--header", "X-Test: yes")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := `{"method":"POST","path":"/path","q":"1","body":"payload","token":"abc","double":42,"words":"two words","h":"yes"}`
	if out != want || errs != "got POST /path\n" {
		t.Fatalf("stdout %q\nstderr %q", out, errs)
	}

	out, _, code = cli(t, "run", "--json", main, lib, words)
	var o struct {
		OK      bool
		Status  int
		Headers map[string]string
		Body    string
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil || code != 0 {
		t.Fatalf("run --json: exit %d %q", code, out)
	}
	if !o.OK || o.Status != 201 || o.Headers["x-from"] != "worker" || !strings.Contains(o.Body, `"method":"GET"`) {
		t.Fatalf("run --json outcome %+v", o)
	}

	out, _, code = cli(t, "run", main, lib, words, "--call", "sum", "--args", "[1, 2, 3]")
	if code != 0 || out != "6\n" {
		t.Fatalf("--call sum: exit %d %q", code, out)
	}
	bad := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"run", main, lib, words, "--call", "sum", "--args", "not json"}, "invalid_request", 1},
		{[]string{"run", main, lib, words, "--call", "nope"}, "method_not_found", 1},
		{[]string{"run", filepath.Join(dir, "missing.js")}, "no such file", 2},
		{[]string{"run", main, "--env", "NOEQUALS"}, "KEY=VALUE", 2},
		{[]string{"run"}, "Usage: isobox run", 2},
	}
	for _, b := range bad {
		_, errs, code := cli(t, b.args...)
		if code != b.code || !strings.Contains(errs, b.want) {
			t.Errorf("isobox %q: exit %d, stderr %q; want exit %d mentioning %q", b.args, code, errs, b.code, b.want)
		}
	}
}

func TestExampleHello(t *testing.T) {
	out, _, code := cli(t, "run", "../../examples/hello.js", "--url", "http://localhost/?name=isobox")
	if code != 0 || !strings.Contains(out, `"hello":"isobox"`) || !strings.Contains(out, `"sha256":"`) {
		t.Fatalf("examples/hello.js: exit %d %q", code, out)
	}
	out, _, code = cli(t, "run", "../../examples/hello.js", "--call", "add", "--args", "[2, 3]")
	if code != 0 || out != "5\n" {
		t.Fatalf("examples/hello.js add: exit %d %q", code, out)
	}
}

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "QuickJS-ng") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
	if code := run(context.Background(), []string{"serve", "extra"}, &out, &errb); code != 2 {
		t.Fatalf("serve with an argument: exit %d", code)
	}
}

// `isobox eval --session` keeps variables across processes (each call here is a separate
// run of the command, as from a shell).
func TestSessionCommands(t *testing.T) {
	data := t.TempDir()
	steps := []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"session", "--data", data, "create", "s1"}, "", 0},
		{[]string{"eval", "--data", data, "--session", "s1", "let n = 1; n"}, "1\n", 0},
		{[]string{"eval", "--data", data, "--session", "s1", "n += 1"}, "2\n", 0},
		{[]string{"session", "--data", data, "fork", "s1", "s2"}, "", 0},
		{[]string{"eval", "--data", data, "--session", "s2", "n += 10"}, "12\n", 0},
		{[]string{"eval", "--data", data, "--session", "s1", "n"}, "2\n", 0},
		{[]string{"session", "--data", data, "list"}, "s1\ns2\n", 0},
		{[]string{"session", "--data", data, "drop", "s2"}, "", 0},
		{[]string{"session", "--data", data, "list"}, "s1\n", 0},
		{[]string{"session", "--data", data, "drop", "s2"}, "", 1},
		{[]string{"session", "--data", data, "fork", "nope", "x"}, "", 1},
		{[]string{"eval", "--data", data, "--session", "bad name", "1"}, "", 1},
		{[]string{"session", "--data", data, "frob"}, "", 2},
	}
	for _, s := range steps {
		out, errs, code := cli(t, s.args...)
		if out != s.out || code != s.code {
			t.Fatalf("isobox %q: exit %d stdout %q stderr %q; want exit %d stdout %q", s.args, code, out, errs, s.code, s.out)
		}
	}
}
