package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// PUT compiles the code before storing it: a worker that cannot load is a 400 that says
// where, and nothing is stored (a new id stays absent, an existing worker keeps its code).
func TestPutCompilesFirst(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	tests := []struct {
		name string
		body string
		want string
	}{
		{"syntax error", `{"mainModule":"main.js","modules":{"main.js":"export default {\n  add(a, b) {\n    return a +;\n  }\n}"}}`, "main.js:3:"},
		{"syntax error in an imported module", `{"mainModule":"main.js","modules":{"main.js":"import './lib/u.js'; export default {}","lib/u.js":"\nconst = 1"}}`, "lib/u.js:2:"},
		{"syntax error in a cjs module", `{"mainModule":"main.js","modules":{"main.js":"export default {}","c.cjs":{"cjs":"module.exports = {"}}}`, "c.cjs:"},
		{"missing module", `{"mainModule":"main.js","modules":{"main.js":"import x from './x.js'; export default {}"}}`, `cannot find module "./x.js"`},
		{"missing export", `{"mainModule":"main.js","modules":{"main.js":"import { y } from './x.js'; export default {}","x.js":"export const x = 1"}}`, "Could not find export 'y' in module 'x.js'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.raw(t, "PUT", "/v1/workers/fresh", []byte(tt.body), nil)
			if r.status != http.StatusBadRequest || r.err == nil || r.err.Code != isoerr.InvalidWorkerCode || !strings.Contains(r.err.Message, tt.want) {
				t.Fatalf("%d %s, want 400 invalid_worker_code containing %q", r.status, r.body, tt.want)
			}
			if g := ts.raw(t, "GET", "/v1/workers/fresh", nil, nil); g.status != http.StatusNotFound {
				t.Fatalf("GET after a refused PUT: %d %s, want 404", g.status, g.body)
			}

			// Over an existing worker: it keeps its code and still answers.
			if r := ts.raw(t, "PUT", "/v1/workers/kept", []byte(`{"mainModule":"main.js","modules":{"main.js":"export default { v() { return 1 } }"}}`), nil); r.status/100 != 2 {
				t.Fatalf("put the good version: %d %s", r.status, r.body)
			}
			before, err := ts.c.GetWorker(ctx, "kept")
			if err != nil {
				t.Fatal(err)
			}
			if r := ts.raw(t, "PUT", "/v1/workers/kept", []byte(tt.body), nil); r.status != http.StatusBadRequest {
				t.Fatalf("put the broken version: %d %s", r.status, r.body)
			}
			after, err := ts.c.GetWorker(ctx, "kept")
			if err != nil || after.Hash != before.Hash || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatalf("the stored worker changed: %+v %v", after, err)
			}
			if out, err := ts.c.Call(ctx, "kept", "v"); err != nil || string(out.Result) != "1" {
				t.Fatalf("the kept worker: %+v %v", out, err)
			}
		})
	}
}

// The check compiles; it runs nothing. A worker whose top level would loop forever (and so
// fail at its first call) is stored: only code that cannot compile is refused.
func TestPutRunsNoCode(t *testing.T) {
	ts := start(t, Config{})
	r := ts.raw(t, "PUT", "/v1/workers/loops", []byte(`{"mainModule":"main.js","modules":{"main.js":"while (true) {} export default {}"},"limits":{"cpuMs":10}}`), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("%d %s, want 201", r.status, r.body)
	}
	_, err := ts.c.Call(context.Background(), "loops", "x")
	wantCode(t, err, isoerr.CPULimitExceeded)
}
