package loader_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// The loader's wire types are the api package's, not copies: one Outcome, one log line
// (the engine's too), one Limits, one Module.
func TestWireTypesAreTheAPIs(t *testing.T) {
	for _, c := range []struct{ got, want reflect.Type }{
		{reflect.TypeFor[loader.Outcome](), reflect.TypeFor[api.Outcome]()},
		{reflect.TypeFor[loader.LogLine](), reflect.TypeFor[api.LogLine]()},
		{reflect.TypeFor[engine.Log](), reflect.TypeFor[api.LogLine]()},
		{reflect.TypeFor[loader.Limits](), reflect.TypeFor[api.Limits]()},
		{reflect.TypeFor[loader.Module](), reflect.TypeFor[api.Module]()},
		{reflect.TypeFor[engine.ModuleType](), reflect.TypeFor[api.ModuleType]()},
	} {
		if c.got != c.want {
			t.Errorf("%v is not %v", c.got, c.want)
		}
	}
}

// Wire limits are whole milliseconds and MiB; the engine's are durations and bytes, with
// subRequests spelled one way on both sides.
func TestEngineLimits(t *testing.T) {
	got := loader.EngineLimits(&api.Limits{CPUMs: 20, WallMs: 3000, MemoryMB: 64, SubRequests: 7})
	want := engine.Limits{CPU: 20 * time.Millisecond, Wall: 3 * time.Second, Memory: 64 << 20, SubRequests: 7}
	if got != want {
		t.Fatalf("EngineLimits: %+v, want %+v", got, want)
	}
	if loader.EngineLimits(nil) != (engine.Limits{}) {
		t.Fatal("nil limits must leave every engine limit unset")
	}
}

// WorkerCode carries every wire field of api.WorkerCode, both ways, except those that are
// not the loader's: globalOutbound (it becomes Outbound), files (a project the bundler
// turns into modules first) and sourceHash (what a stored worker was bundled from).
func TestWorkerCodeFromAPI(t *testing.T) {
	w := api.WorkerCode{
		CompatibilityDate: "2026-11-01", CompatibilityFlags: []string{"f"}, MainModule: "main.js",
		Modules: map[string]api.Module{"main.js": api.JS("export default {}")},
		Env:     map[string]any{"K": "v"}, Limits: &api.Limits{CPUMs: 5},
		Bindings: map[string]api.Binding{"FS": {Workspace: "w", ReadOnly: true}},
	}
	// Not the loader's: globalOutbound becomes Outbound; files (a project) and its
	// sourceHash are the server's, bundled into modules before code reaches a loader.
	notCarried := map[string]bool{"GlobalOutbound": true, "Files": true, "SourceHash": true}
	// Every other field is set: a field added to api.WorkerCode must be set here, and carried.
	v := reflect.ValueOf(w)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; !notCarried[name] && v.Field(i).IsZero() {
			t.Fatalf("set api.WorkerCode.%s in this test", name)
		}
		if name := v.Type().Field(i).Name; !notCarried[name] {
			if _, ok := reflect.TypeFor[loader.WorkerCode]().FieldByName(name); !ok {
				t.Errorf("loader.WorkerCode has no %s", name)
			}
		}
	}
	if back := loader.FromAPI(w).API(); !reflect.DeepEqual(back, w) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, w)
	}
	// Its JSON is the wire's.
	b, err := json.Marshal(loader.FromAPI(w))
	want, _ := json.Marshal(w)
	if err != nil || string(b) != string(want) {
		t.Fatalf("JSON %s, %v; want %s", b, err, want)
	}
	var c loader.WorkerCode
	if err := json.Unmarshal(want, &c); err != nil || !reflect.DeepEqual(c.API(), w) {
		t.Fatalf("decode: %+v, %v", c, err)
	}
	// A policy cannot be honoured without a gateway: decoding it into loader.WorkerCode
	// fails instead of dropping it.
	err = json.Unmarshal([]byte(`{"mainModule":"m.js","modules":{"m.js":""},"globalOutbound":{"rules":[]}}`), &c)
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), "globalOutbound") {
		t.Fatalf("globalOutbound into loader.WorkerCode: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"mainModule":"m.js","modules":{"m.js":""},"globalOutbound":null}`), &c); err != nil {
		t.Fatalf("null globalOutbound: %v", err)
	}
	// Nor can a project that was not bundled: it is refused, not dropped.
	err = json.Unmarshal([]byte(`{"files":{"package.json":"{}","index.js":"export default {}"}}`), &c)
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), "files") {
		t.Fatalf("files into loader.WorkerCode: %v", err)
	}
}

// Loader ids follow the rule of worker ids (api.CheckWorkerID), with an optional
// "@version" (the server's id@codehash).
func TestLoaderIDRule(t *testing.T) {
	l := newLoader(t, loader.Config{})
	codeFn := func() (loader.WorkerCode, error) { return code(counter), nil }
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"counter", true},
		{"tenant:counter", true},
		{"counter@" + strings.Repeat("ab", 32), true},
		{"counter@v1.2_rc-1", true},
		{"", false},
		{"a b", false},
		{"-x", false},
		{strings.Repeat("a", 129), false},
		{"a/b", false},
		{"a\x00", false},
		{"@v1", false},
		{"a@", false},
		{"a@b c", false},
		{"a@b@c", false},
		{"a@" + strings.Repeat("v", 129), false},
	} {
		_, err := l.Get(c.id, codeFn).Call(context.Background(), "increment", json.RawMessage("[]"))
		if c.ok && err != nil {
			t.Errorf("%q: %v", c.id, err)
		}
		if !c.ok && isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("%q: error %v, want invalid_request", c.id, err)
		}
	}
}
