package api_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// One rule names workers and sessions: the table says what it accepts, and the code
// agrees with the documented pattern on every case and on every byte in every position.
func TestIDRule(t *testing.T) {
	long := strings.Repeat("a", api.MaxIDLength)
	cases := []struct {
		id string
		ok bool
	}{
		{"hello", true},
		{"a", true},
		{"0", true},
		{"counter:v1", true},     // stored worker ids with ':' stay valid
		{"tenant.app_2-b", true}, // '.', '_', '-' inside
		{long, true},
		{long + "a", false}, // 129
		{"", false},
		{"-x", false}, {".x", false}, {"_x", false}, {":x", false},
		{"a b", false}, {"a/b", false}, {"a@b", false}, {"a%2Fb", false}, {"a?b", false},
		{"a\x00", false}, {"a\n", false}, {"é", false}, {"aé", false},
	}
	re := regexp.MustCompile(api.IDPattern)
	for _, c := range cases {
		for _, check := range []func(string) error{api.CheckWorkerID, api.CheckSessionName} {
			err := check(c.id)
			if (err == nil) != c.ok {
				t.Errorf("%q: error %v, want ok=%v", c.id, err, c.ok)
			}
			if err != nil && isoerr.CodeOf(err) != isoerr.InvalidRequest {
				t.Errorf("%q: code %s, want invalid_request", c.id, isoerr.CodeOf(err))
			}
		}
		if re.MatchString(c.id) != c.ok {
			t.Errorf("%q: IDPattern says %v, the table %v", c.id, !c.ok, c.ok)
		}
	}
	for b := 0; b < 256; b++ {
		for _, id := range []string{string([]byte{byte(b)}), "a" + string([]byte{byte(b)}) + "z"} {
			if (api.CheckWorkerID(id) == nil) != re.MatchString(id) {
				t.Errorf("%q: CheckWorkerID and IDPattern disagree", id)
			}
		}
	}
}

func TestSecretNameRule(t *testing.T) {
	re := regexp.MustCompile(api.SecretNamePattern)
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"github_token", true}, {"_x", true}, {".x", true}, {"a-b.c", true},
		{strings.Repeat("s", 128), true}, {strings.Repeat("s", 129), false},
		{"", false}, {"a:b", false}, {"a b", false}, {"a}}", false},
	} {
		err := api.CheckSecretName(c.name)
		if (err == nil) != c.ok || re.MatchString(c.name) != c.ok {
			t.Errorf("%q: error %v, pattern %v, want ok=%v", c.name, err, re.MatchString(c.name), c.ok)
		}
		if err != nil && isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("%q: code %s", c.name, isoerr.CodeOf(err))
		}
	}
}

// A module's JSON is a string or an object with one typed key; every type survives a
// round trip, and malformed modules are errors that say what is wrong.
func TestModuleJSON(t *testing.T) {
	round := []struct {
		m    api.Module
		json string
	}{
		{api.Module{Content: []byte("export default {}")}, `"export default {}"`},
		{api.JS("x"), `{"js":"x"}`},
		{api.Module{Type: api.ModuleCJS, Content: []byte("module.exports = 1")}, `{"cjs":"module.exports = 1"}`},
		{api.Module{Type: api.ModuleText, Content: []byte("héllo")}, `{"text":"héllo"}`},
		{api.Module{Type: api.ModuleData, Content: []byte{0, 1, 0xff}}, `{"data":"AAH/"}`},
		{api.Module{Type: api.ModuleWasm, Content: []byte{0, 'a', 's', 'm'}}, `{"wasm":"AGFzbQ=="}`},
		{api.Module{Type: api.ModuleJSON, Content: []byte(`{"a":[1,2]}`)}, `{"json":{"a":[1,2]}}`},
		{api.Module{Type: api.ModulePy, Content: []byte("print(1)")}, `{"py":"print(1)"}`},
	}
	for _, c := range round {
		b, err := json.Marshal(c.m)
		if err != nil || string(b) != c.json {
			t.Errorf("marshal %s: %s, %v; want %s", c.m.Type, b, err, c.json)
			continue
		}
		var back api.Module
		if err := json.Unmarshal(b, &back); err != nil || back.Type != c.m.Type || !bytes.Equal(back.Content, c.m.Content) {
			t.Errorf("unmarshal %s: %+v, %v", b, back, err)
		}
	}
	for _, c := range []struct{ json, want string }{
		{`42`, "must be a string or an object"},
		{`{}`, "exactly one"},
		{`{"js":"a","cjs":"b"}`, "exactly one"},
		{`{"ts2":"a"}`, `unknown module type "ts2"`},
		{`{"js":1}`, "must be a string"},
		{`{"data":"***"}`, "not valid base64"},
	} {
		var m api.Module
		if err := json.Unmarshal([]byte(c.json), &m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.json, err, c.want)
		}
	}
}

// The JSON of WorkerCode is the stored form of a worker, whose hash names the worker's
// version: its field order and spelling must not change.
func TestWorkerCodeJSONIsStable(t *testing.T) {
	c := api.WorkerCode{
		CompatibilityDate: "2026-11-01", CompatibilityFlags: []string{"nodejs_compat"},
		MainModule:     "main.js",
		Modules:        map[string]api.Module{"main.js": api.JS("export default {}"), "b.txt": {Type: api.ModuleText, Content: []byte("b")}},
		Env:            map[string]any{"K": "v"},
		Limits:         &api.Limits{CPUMs: 100, WallMs: 2000, MemoryMB: 64, SubRequests: 3},
		GlobalOutbound: json.RawMessage(`{"rules":[{"action":"allow","host":"example.com"}]}`),
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"compatibilityDate":"2026-11-01","compatibilityFlags":["nodejs_compat"],"mainModule":"main.js",` +
		`"modules":{"b.txt":{"text":"b"},"main.js":{"js":"export default {}"}},"env":{"K":"v"},` +
		`"limits":{"cpuMs":100,"wallMs":2000,"memoryMb":64,"subRequests":3},` +
		`"globalOutbound":{"rules":[{"action":"allow","host":"example.com"}]}}`
	if string(b) != want {
		t.Fatalf("WorkerCode JSON\n got %s\nwant %s", b, want)
	}
}

// The wire contract compiles alone: the standard library and isoerr, nothing else (no
// wazero, no engine), so that every client of isobox stays small.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/isobox/isobox/api" && p != "github.com/isobox/isobox/isoerr" {
			t.Errorf("api depends on %s; it may use only the standard library and isoerr", p)
		}
	}
}
