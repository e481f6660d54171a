package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalPython(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{"expression", []string{"eval", "--lang", "python", "1 + 1"}, "2\n", "", 0},
		{"tuple is an array", []string{"eval", "--lang", "python", "xs = [1, 2]\n(xs, 'a')"}, "[[1,2],\"a\"]\n", "", 0},
		{"print goes to stderr", []string{"eval", "--lang", "python", "import sys\nprint('hi')\nprint('bad', file=sys.stderr)"}, "None\n", "hi\nerror: bad\n", 0},
		{"exception", []string{"eval", "--lang", "python", "raise ValueError('boom')"}, "", "isobox: worker_exception: ValueError: boom\nTraceback (most recent call last):", 1},
		{"syntax error", []string{"eval", "--lang", "python", "1 +"}, "", "isobox: invalid_worker_code: SyntaxError", 1},
		{"cpu limit", []string{"eval", "--lang", "python", "--cpu-ms", "20", "while True: pass"}, "", "isobox: cpu_limit_exceeded", 1},
		{"memory limit", []string{"eval", "--lang", "python", "--memory-mb", "64", "--cpu-ms", "10000", "x = []\nwhile True: x.append(' ' * 10**6)"}, "", "isobox: memory_limit_exceeded", 1},
		{"unknown language", []string{"eval", "--lang", "ruby", "1"}, "", "--lang must be js or python", 2},
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

func TestEvalPythonJSON(t *testing.T) {
	out, _, code := cli(t, "eval", "--lang", "python", "--json", "print('x')\n{'a': (1,)}")
	var o struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
		Logs   []struct{ Level, Message string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &o) != nil {
		t.Fatalf("exit %d, output %q", code, out)
	}
	if !o.OK || string(o.Result) != `{"a":[1]}` || len(o.Logs) != 1 || o.Logs[0].Level != "log" || o.Logs[0].Message != "x" {
		t.Fatalf("unexpected outcome %s", out)
	}
	out, _, code = cli(t, "eval", "--lang", "python", "--json", "def f():\n    raise KeyError('k')\nf()")
	if code != 1 || !strings.Contains(out, `"code":"worker_exception"`) || !strings.Contains(out, `"message":"KeyError: 'k'"`) || !strings.Contains(out, `line 2, in f`) {
		t.Fatalf("error outcome: exit %d %s", code, out)
	}
}

// pyWorker is a Python worker in the shape of Cloudflare's Python Workers: a Default
// entrypoint with fetch and an RPC method, a sibling module and a package imported by name.
var pyWorker = map[string]string{
	"main.py": `from workers import Response, WorkerEntrypoint
import helpers
from pkg.deep import shout

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        print("got", request.method, request.url)
        body = await request.text()
        return Response(shout(helpers.greet(self.env.NAME if "NAME" in self.env else "world")) + body,
                        status=201, headers={"x-lang": "python"})

    async def add(self, a, b):
        return helpers.add(a, b)
`,
	"helpers.py":      "def greet(who):\n    return 'hello ' + who\n\ndef add(a, b):\n    return a + b\n",
	"pkg/__init__.py": "",
	"pkg/deep.py":     "def shout(s):\n    return s.upper()\n",
	"notes.txt":       "not a module",
}

// isobox run MAIN.py runs a Python worker: fetch (with --url, --method, --body, --env),
// an RPC method with --call and --args, the same printing as JavaScript, and --json.
func TestRunPythonWorker(t *testing.T) {
	dir := writeFiles(t, pyWorker)
	tests := []struct {
		name     string
		args     []string
		wantOut  string
		wantErr  string
		wantCode int
	}{
		{"fetch", []string{"run", dir + "/main.py"}, "HELLO WORLD", "got GET http://localhost/", 0},
		{"fetch with url, body and env", []string{"run", "--url", "http://x.test/a?b=1", "--method", "POST", "--body", "!", "--env", "NAME=py", dir + "/main.py"}, "HELLO PY!", "got POST http://x.test/a?b=1", 0},
		{"call", []string{"run", "--call", "add", "--args", "[2,3]", dir + "/main.py"}, "5\n", "", 0},
		{"no such method", []string{"run", "--call", "nope", dir + "/main.py"}, "", "isobox: method_not_found", 1},
		{"a folder with main.py", []string{"run", "--call", "add", "--args", "[40,2]", dir}, "42\n", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := cli(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("isobox %q:\nexit %d (want %d)\nstdout %q (want it to contain %q)\nstderr %q (want it to contain %q)",
					tt.args, code, tt.wantCode, out, tt.wantOut, errs, tt.wantErr)
			}
		})
	}
	out, _, code := cli(t, "run", "--json", dir+"/main.py")
	var o struct {
		OK      bool              `json:"ok"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
		Logs    []struct{ Level, Message string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &o) != nil || !o.OK || o.Status != 201 || o.Headers["x-lang"] != "python" || o.Body != "HELLO WORLD" || len(o.Logs) != 1 {
		t.Fatalf("--json: exit %d %s", code, out)
	}
}

// The older shape, a module-level on_fetch(request, env), in src/entry.py (the layout of
// Cloudflare's Python Workers), run as a folder; a worker that raises, loops or does not
// compile fails with the typed error.
func TestRunPythonWorkerShapesAndErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"src/entry.py": "from workers import Response\n\nasync def on_fetch(request, env):\n    return Response.json({'path': request.url, 'n': int(env.N) + 1})\n"})
	out, errs, code := cli(t, "run", "--env", "N=41", "--url", "http://h/p", dir)
	if code != 0 || strings.TrimSpace(out) != `{"path":"http://h/p","n":42}` {
		t.Fatalf("on_fetch: exit %d stdout %q stderr %q", code, out, errs)
	}
	for _, tc := range []struct {
		name, src string
		args      []string
		wantErr   string
	}{
		{"raises", "from workers import WorkerEntrypoint\nclass Default(WorkerEntrypoint):\n    async def boom(self):\n        raise ValueError('boom')\n", []string{"--call", "boom"}, "isobox: worker_exception: ValueError: boom"},
		{"loops", "from workers import WorkerEntrypoint\nclass Default(WorkerEntrypoint):\n    async def spin(self):\n        while True: pass\n", []string{"--call", "spin", "--cpu-ms", "50"}, "isobox: cpu_limit_exceeded"},
		{"syntax error", "def (:\n", nil, "isobox: invalid_worker_code"},
		{"no handler", "x = 1\n", nil, "isobox: method_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"main.py": tc.src})
			_, errs, code := cli(t, append(append([]string{"run"}, tc.args...), dir+"/main.py")...)
			if code != 1 || !strings.Contains(errs, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q (want %q)", code, errs, tc.wantErr)
			}
		})
	}
}

// JavaScript beside a Python main module is refused with a typed error, not half-run.
func TestRunPythonWithJavaScriptIsRefused(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.py": "x = 1\n", "util.js": "export const y = 1\n"})
	_, errs, code := cli(t, "run", dir+"/main.py", dir+"/util.js")
	if code != 1 || !strings.Contains(errs, "isobox: invalid_worker_code") || !strings.Contains(errs, "util.js") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// isobox session create --lang python makes a Python session; isobox eval --session runs
// in the session's language (--lang, when given, must agree), keeps its state across
// processes, and rolls back a call a limit stopped.
func TestPythonSessionCLI(t *testing.T) {
	data := t.TempDir()
	steps := []struct {
		args    []string
		out     string
		errPart string
		code    int
	}{
		{[]string{"session", "--data", data, "create", "--lang", "python", "--cpu-ms", "20", "py"}, "", "", 0},
		{[]string{"session", "--data", data, "create", "js"}, "", "", 0},
		{[]string{"eval", "--data", data, "--session", "py", "import math\nr = 2\ndef area():\n    return round(math.pi * r * r, 2)"}, "None\n", "", 0},
		{[]string{"eval", "--data", data, "--session", "py", "print('r is', r)\narea()"}, "12.57\n", "r is 2\n", 0},
		{[]string{"eval", "--data", data, "--session", "py", "--lang", "python", "r = 3\n(r, area())"}, "[3,28.27]\n", "", 0},
		{[]string{"eval", "--data", data, "--session", "py", "--cpu-ms", "30000", "r = 10\nwhile True: pass"}, "", "20ms; the session was restored to its state before this call", 1},
		{[]string{"eval", "--data", data, "--session", "py", "r"}, "3\n", "", 0},
		{[]string{"eval", "--data", data, "--session", "py", "--lang", "js", "r"}, "", `session "py" is a python session`, 2},
		{[]string{"eval", "--data", data, "--session", "js", "--lang", "python", "1"}, "", `session "js" is a javascript session`, 2},
		{[]string{"eval", "--data", data, "--session", "js", "typeof r"}, "\"undefined\"\n", "", 0},
		{[]string{"session", "--data", data, "fork", "py", "py2"}, "", "", 0},
		{[]string{"eval", "--data", data, "--session", "py2", "r += 1\nr"}, "4\n", "", 0},
		{[]string{"eval", "--data", data, "--session", "py", "r"}, "3\n", "", 0},
		{[]string{"session", "--data", data, "create", "--lang", "ruby", "rb"}, "", "--lang must be js or python", 2},
		{[]string{"session", "--data", data, "list", "--lang", "python"}, "", "create only", 2},
	}
	for _, s := range steps {
		out, errs, code := cli(t, s.args...)
		if out != s.out || code != s.code || !strings.Contains(errs, s.errPart) {
			t.Fatalf("isobox %q: exit %d stdout %q stderr %q; want exit %d stdout %q stderr with %q", s.args, code, out, errs, s.code, s.out, s.errPart)
		}
	}
}

// isobox run MAIN.py gathers the .py files under MAIN's folder only: a symlink (to a file
// or a folder elsewhere) is not followed, and virtual environments are skipped.
func TestRunPythonGathersOnlyTheFolder(t *testing.T) {
	outside := writeFiles(t, map[string]string{"secret.py": "TOKEN = 'outside'\n", "pkg/__init__.py": "TOKEN = 'outside pkg'\n"})
	dir := writeFiles(t, map[string]string{
		"main.py": `from workers import WorkerEntrypoint
import importlib

class Default(WorkerEntrypoint):
    async def probe(self, name):
        try:
            return importlib.import_module(name).TOKEN
        except ImportError as e:
            return "no " + name
`,
		"mine.py":         "TOKEN = 'mine'\n",
		"venv/y.py":       "TOKEN = 'venv'\n",
		"sub/__init__.py": "TOKEN = 'sub'\n",
	})
	if err := os.Symlink(filepath.Join(outside, "secret.py"), filepath.Join(dir, "secret.py")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "pkg"), filepath.Join(dir, "pkg")); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"mine": `"mine"`, "sub": `"sub"`, "secret": `"no secret"`, "pkg": `"no pkg"`, "venv.y": `"no venv.y"`} {
		out, errs, code := cli(t, "run", "--call", "probe", "--args", `["`+name+`"]`, dir+"/main.py")
		if code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("import %s: exit %d stdout %q stderr %q, want %s", name, code, out, errs, want)
		}
	}
}

// isobox workers put ID MAIN.py (or DIR) stores a Python worker with its sibling modules,
// and isobox invoke runs it on the server.
func TestRemotePythonWorker(t *testing.T) {
	const key = "remote-py-key-0123456789"
	t.Setenv("ISOBOX_API_KEY", key)
	s := serve(t, "--data", t.TempDir())
	t.Setenv("ISOBOX_URL", s.url)
	ctx := context.Background()
	dir := writeFiles(t, pyWorker)
	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"workers", "put", "py", filepath.Join(dir, "main.py"), "--env", "NAME=remote"}, 0, "stored worker py"},
		{[]string{"invoke", "py", "--method", "POST", "--body", "!"}, 0, "HELLO REMOTE!"},
		{[]string{"invoke", "py", "--call", "add", "--args", "[2, 3]"}, 0, "5\n"},
		{[]string{"workers", "put", "pydir", dir}, 0, "stored worker pydir"},
		{[]string{"invoke", "pydir", "--call", "add", "--args", "[1, 1]"}, 0, "2\n"},
	} {
		out, errs, code := remoteCLI(t, ctx, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) {
			t.Errorf("isobox %q: exit %d (want %d)\nstdout %q (want %q)\nstderr %q", tt.args, code, tt.code, out, tt.out, errs)
		}
	}
}
