package main

import (
	"encoding/json"
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
		{"memory limit", []string{"eval", "--lang", "python", "--memory-mb", "64", "x = []\nwhile True: x.append(' ' * 10**6)"}, "", "isobox: memory_limit_exceeded", 1},
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

// isobox run of a Python main module says Python workers are not there yet.
func TestRunPythonMainIsNotImplemented(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.py": "print(1)\n"})
	_, errs, code := cli(t, "run", dir+"/main.py")
	if code != 1 || !strings.Contains(errs, "isobox: not_implemented: mainModule \"main.py\": Python workers are not implemented yet") {
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
