package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// The HTTP API takes the language `isobox eval` takes: /v1/run with code, session evals,
// and stored TypeScript workers, which are compiled (and refused) when they are stored.
func TestAPILanguage(t *testing.T) {
	ts := start(t, Config{})
	result := func(r rawResult) string {
		t.Helper()
		var o struct {
			OK     bool            `json:"ok"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(r.body, &o); err != nil || !o.OK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		return string(o.Result)
	}
	for _, c := range []struct{ code, want string }{
		{"const x: number = 1; x", "1"},
		{"const a = 20; return a + 22", "42"},
		{"new Map([[1, 2]])", `{"$type":"Map","entries":[[1,2]]}`},
	} {
		body, _ := json.Marshal(map[string]string{"code": c.code})
		if got := result(ts.raw(t, "POST", "/v1/run", body, nil)); got != c.want {
			t.Errorf("/v1/run %q = %s, want %s", c.code, got, c.want)
		}
	}
	r := ts.raw(t, "POST", "/v1/run", []byte(`{"code":"import fs from \"fs\"\n1"}`), nil)
	if r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidWorkerCode || !strings.Contains(r.err.Message, `"fs"`) {
		t.Fatalf("/v1/run with an import of fs: %d %s", r.status, r.body)
	}

	ts.raw(t, "POST", "/v1/sessions", []byte(`{"name":"ts"}`), nil)
	for _, c := range []struct{ code, want string }{
		{"let n: number = 41", ""},
		{"return n + 1", "42"},
	} {
		body, _ := json.Marshal(map[string]string{"code": c.code})
		if got := result(ts.raw(t, "POST", "/v1/sessions/ts/eval", body, nil)); got != c.want {
			t.Errorf("session eval %q = %s, want %s", c.code, got, c.want)
		}
	}

	put := ts.raw(t, "PUT", "/v1/workers/tsw", []byte(`{"mainModule":"main.ts","modules":{"main.ts":"import { k } from \"./k.js\";\nexport default { f(x: number): number { return x + k } }","k.ts":"export const k: number = 1;"}}`), nil)
	if put.status/100 != 2 {
		t.Fatalf("PUT a TypeScript worker: %d %s", put.status, put.body)
	}
	if got := result(ts.raw(t, "POST", "/v1/workers/tsw/call/f", []byte(`[41]`), nil)); got != "42" {
		t.Fatalf("call f = %s", got)
	}
	bad := ts.raw(t, "PUT", "/v1/workers/tsbad", []byte(`{"mainModule":"main.ts","modules":{"main.ts":"import x from \"./nope\";\nexport default {}"}}`), nil)
	if bad.status != 400 || bad.err == nil || bad.err.Code != isoerr.InvalidWorkerCode || !strings.Contains(bad.err.Message, `"./nope"`) {
		t.Fatalf("PUT a TypeScript worker with a missing import: %d %s", bad.status, bad.body)
	}
}
