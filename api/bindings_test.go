package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

func TestCheckBindings(t *testing.T) {
	many := map[string]api.Binding{}
	for i := 0; i <= api.MaxBindings; i++ {
		many["B"+strings.Repeat("x", i)] = api.Binding{Workspace: "w"}
	}
	for _, c := range []struct {
		name string
		b    map[string]api.Binding
		ok   bool
	}{
		{"none", nil, true},
		{"fs", map[string]api.Binding{"FS": {Workspace: "proj"}, "$ro_2": {Workspace: "a.b:c-d", ReadOnly: true}}, true},
		{"empty workspace", map[string]api.Binding{"FS": {}}, false},
		{"workspace path", map[string]api.Binding{"FS": {Workspace: "../x"}}, false},
		{"dash in name", map[string]api.Binding{"F-S": {Workspace: "w"}}, false},
		{"digit first", map[string]api.Binding{"1FS": {Workspace: "w"}}, false},
		{"proto", map[string]api.Binding{"__proto__": {Workspace: "w"}}, false},
		{"empty name", map[string]api.Binding{"": {Workspace: "w"}}, false},
		{"too many", many, false},
	} {
		err := api.CheckBindings(c.b)
		if c.ok && err != nil || !c.ok && isoerr.CodeOf(err) != isoerr.InvalidWorkerCode {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// The wire form of a binding: {"workspace": ..., "readOnly": ...}, readOnly omitted when false.
func TestBindingJSON(t *testing.T) {
	var w api.WorkerCode
	if err := json.Unmarshal([]byte(`{"mainModule":"m.js","modules":{"m.js":""},"bindings":{"FS":{"workspace":"p","readOnly":true}}}`), &w); err != nil {
		t.Fatal(err)
	}
	if w.Bindings["FS"] != (api.Binding{Workspace: "p", ReadOnly: true}) {
		t.Fatalf("decoded %+v", w.Bindings)
	}
	b, _ := json.Marshal(api.Binding{Workspace: "p"})
	if string(b) != `{"workspace":"p"}` {
		t.Fatalf("encoded %s", b)
	}
}
