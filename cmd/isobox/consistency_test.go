package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
)

func TestVersionFlag(t *testing.T) {
	want, _, code := remoteCLI(t, context.Background(), "version")
	if code != 0 || !strings.HasPrefix(want, "isobox ") || !strings.Contains(want, "QuickJS-ng") {
		t.Fatalf("version: exit %d, %q", code, want)
	}
	for _, arg := range []string{"--version", "-version"} {
		if out, errs, code := remoteCLI(t, context.Background(), arg); code != 0 || out != want {
			t.Errorf("%s: exit %d, %q %q; want %q", arg, code, out, errs, want)
		}
	}
}

func TestFormatVersion(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name, ldflags string
		bi            *debug.BuildInfo
		want          string
	}{
		{"no build info", "dev", nil, "dev"},
		{"work tree build", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"go install of a release", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"ldflags win", "v2.0.0-rc1", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v2.0.0-rc1"},
		{"commit", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.revision", "0123456789abcdef0123", "vcs.modified", "false")}, "dev commit 0123456789ab"},
		{"modified tree", "dev", &debug.BuildInfo{Settings: settings("vcs.revision", "0123456789abcdef0123", "vcs.modified", "true")}, "dev commit 0123456789ab-dirty"},
	}
	for _, tt := range tests {
		if got := formatVersion(tt.ldflags, tt.bi); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRunWithoutMainModule(t *testing.T) {
	for _, args := range [][]string{{"run"}, {"run", "--json"}, {"run", "--call", "x"}} {
		out, errs, code := remoteCLI(t, context.Background(), args...)
		if code != 2 || out != "" || !strings.Contains(errs, "the main module is missing") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

// Every command's -h names each flag's type with one word (the flag package takes a
// `quoted` word of the usage as the type: a usage that quotes a command line breaks it).
func TestHelpShowsFlagTypes(t *testing.T) {
	flagLine := regexp.MustCompile(`^  -(\S+)(?: (.+))?$`)
	typeWord := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9=_.-]*$`)
	for _, cmd := range [][]string{{"run"}, {"eval"}, {"bench"}, {"serve"}, {"mcp"}, {"invoke"}, {"logs"},
		{"workers", "put"}, {"workers", "get"}, {"workers", "list"}, {"workers", "rm"}, {"session", "list"}} {
		var out, errb bytes.Buffer
		run(context.Background(), append(cmd, "-h"), &out, &errb)
		help := out.String() + errb.String()
		n := 0
		for _, line := range strings.Split(help, "\n") {
			m := flagLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n++
			if m[2] != "" && !typeWord.MatchString(m[2]) {
				t.Errorf("isobox %s -h: flag -%s shows the type %q", strings.Join(cmd, " "), m[1], m[2])
			}
		}
		if n == 0 && cmd[0] != "session" {
			t.Errorf("isobox %s -h lists no flags:\n%s", strings.Join(cmd, " "), help)
		}
	}
	var out, errb bytes.Buffer
	run(context.Background(), []string{"bench", "-h"}, &out, &errb)
	if !strings.Contains(errb.String(), "  -eval int\n") {
		t.Errorf("bench -h:\n%s", errb.String())
	}
}

// invoke --json prints the outcome as run --json does: one line of JSON, the same fields.
func TestInvokeJSONLikeRunJSON(t *testing.T) {
	const key = "json-test-key-0123456789"
	t.Setenv("ISOBOX_API_KEY", key)
	s := serve(t, "--data", t.TempDir())
	t.Setenv("ISOBOX_URL", s.url)
	ctx := context.Background()
	dir := writeFiles(t, map[string]string{"main.js": `export default { add(a, b) { console.log("adding"); return a + b }, boom() { throw new Error("bad") } }`})
	main := filepath.Join(dir, "main.js")
	if _, errs, code := remoteCLI(t, ctx, "workers", "put", "j", main); code != 0 {
		t.Fatalf("put: %s", errs)
	}
	keys := func(what, out string) []string {
		t.Helper()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("%s printed %d lines, want one:\n%s", what, strings.Count(out, "\n"), out)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	for _, method := range []string{"add", "boom"} {
		inv, _, code1 := remoteCLI(t, ctx, "invoke", "j", "--call", method, "--args", "[1,2]", "--json")
		local, _, code2 := cli(t, "run", main, "--call", method, "--args", "[1,2]", "--json")
		if code1 != code2 {
			t.Errorf("%s: invoke exit %d, run exit %d", method, code1, code2)
		}
		if ki, kr := keys("invoke --json", inv), keys("run --json", local); strings.Join(ki, " ") != strings.Join(kr, " ") {
			t.Errorf("%s: invoke --json has %v, run --json %v", method, ki, kr)
		}
	}
}
