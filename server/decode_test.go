package server

import (
	"github.com/isobox/isobox/internal/lineartest"

	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // "" when the body is fine, else a substring of the error
	}{
		{"top level", `{"a":1,"b":2,"a":3}`, `duplicate key "a":`},
		{"nested", `{"a":{"b":{"c":1,"c":2}}}`, `duplicate key "c" in a.b`},
		{"in an array", `{"a":[{"x":1},{"y":1,"y":2}]}`, `duplicate key "y" in a[1]`},
		{"array of arrays", `[[1],[{"k":1,"k":1}]]`, `duplicate key "k" in [1][0]`},
		{"escaped the same", `{"a":1,"\u0061":2}`, `duplicate key "a"`},
		{"after a nested value", `{"a":{"b":[1,{"c":2}]},"a":1}`, `duplicate key "a"`},
		{"key named like a path", `{"a.b":1,"a":{"b":1}}`, ""},
		{"same key in sibling objects", `{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]}`, ""},
		{"keys differ in case", `{"k":1,"K":2}`, ""},
		{"empty objects and arrays", `{"a":{},"b":[],"c":[{}],"d":""}`, ""},
		{"scalar", `"x"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			err := decodeStrict([]byte(tt.body), &v, false, isoerr.InvalidRequest)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%s: %v", tt.body, err)
				}
				return
			}
			if isoerr.CodeOf(err) != isoerr.InvalidRequest || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: got %v, want invalid_request containing %q", tt.body, err, tt.want)
			}
		})
	}
}

// The duplicate check is one pass: a body 16 times larger takes about 16 times longer (a
// check that compared each key with every earlier one would take 256 times longer for 16x
// the keys). lineartest compares the two in thread CPU time within this run.
func TestDuplicateKeysLinear(t *testing.T) {
	body := func(n int) []byte {
		var b strings.Builder
		b.WriteString(`{"wide":{`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k%d":[{"v":%d}]`, i, i)
		}
		b.WriteString(`},"last":1,"wide":0}`) // the duplicate is at the very end
		return []byte(b.String())
	}
	shapes := map[string]func(n int) string{"wide object": func(n int) string { return string(body(n)) }}
	lineartest.Check(t, 4000, shapes, func(in string) {
		if err := checkDuplicateKeys([]byte(in)); err == nil || !strings.Contains(err.Error(), `duplicate key "wide"`) {
			t.Fatalf("the duplicate at the end was not found: %v", err)
		}
	})
}

// Through the API: a duplicate key is a 400 wherever it is, and nothing is stored.
func TestDuplicateKeysAPI(t *testing.T) {
	ts := start(t, Config{})
	good := `"mainModule":"main.js","modules":{"main.js":"export default {}"}`
	tests := []struct {
		name, method, path, body, want string
	}{
		{"put top level", "PUT", "/v1/workers/w", `{` + good + `,"mainModule":"main.js"}`, `duplicate key "mainModule"`},
		{"put module map", "PUT", "/v1/workers/w", `{"mainModule":"main.js","modules":{"main.js":"export default {}","main.js":"export default 1"}}`, `duplicate key "main.js" in modules`},
		{"put env", "PUT", "/v1/workers/w", `{` + good + `,"env":{"a":{"b":1,"b":2}}}`, `duplicate key "b" in env.a`},
		{"run worker", "POST", "/v1/run", `{"worker":{` + good + `},"call":{"method":"x","method":"y"}}`, `duplicate key "method" in call`},
		{"call args", "POST", "/v1/workers/w/call/m", `[{"x":1,"x":2}]`, `duplicate key "x" in [0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.raw(t, tt.method, tt.path, []byte(tt.body), nil)
			if r.status != http.StatusBadRequest || r.err == nil || r.err.Code != isoerr.InvalidRequest || !strings.Contains(r.err.Message, tt.want) {
				t.Fatalf("%d %s, want 400 invalid_request containing %q", r.status, r.body, tt.want)
			}
		})
	}
	if _, err := ts.c.GetWorker(context.Background(), "w"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("a worker was stored from a body with a duplicate key: %v", err)
	}
}
