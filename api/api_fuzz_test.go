package api_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// workerCodeSeeds are WorkerCode bodies as clients send them, hostile ones included: the
// red-team's CPU attacks as module code, every module type, bad base64, nested and
// oversized JSON.
var workerCodeSeeds = []string{
	`{"mainModule":"main.js","modules":{"main.js":"export default { fetch() { return new Response('hi') } }"}}`,
	`{"mainModule":"main.js","modules":{"main.js":"export default { run() { const s = \"a\".repeat(1e6), n = \"a\".repeat(1e3) + \"b\"; return s.indexOf(n) } }"}},"limits":{"cpuMs":50,"wallMs":3000}}`,
	`{"mainModule":"m.js","modules":{"m.js":"export default { run() { return (7n ** 300000n).toString().length } }"}}`,
	`{"mainModule":"a.ts","modules":{"a.ts":{"js":"const x: number = 1; export default {x}"},"t":{"text":"hello"},"d":{"data":"AAEC/w=="},"j":{"json":{"a":[1,2,{"b":null}]}},"c":{"cjs":"module.exports = 1"}}}`,
	`{"mainModule":"m.js","modules":{"m.js":{"wasm":"AGFzbQEAAAA="},"p.py":{"py":"print(1)"}}}`,
	`{"mainModule":"m.js","modules":{"m.js":{"data":"not base64!"}}}`,
	`{"mainModule":"m.js","modules":{"m.js":{"js":"a","text":"b"}}}`,
	`{"mainModule":"m.js","modules":{"m.js":{}}}`,
	`{"mainModule":"m.js","modules":{"m.js":{"exe":"x"}}}`,
	`{"mainModule":"m.js","modules":{"m.js":12}}`,
	`{"mainModule":"m.js","modules":{"../../etc/passwd":"x","/abs.js":"y","nul\u0000.js":"z"}}`,
	`{"mainModule":"m.js","modules":{"m.js":"x"},"env":{"k":"v","n":1.5e300,"deep":[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]}}`,
	`{"mainModule":"m.js","modules":{"m.js":"x"},"globalOutbound":{"rules":[{"action":"allow","host":"api.example.com"}]}}`,
	`{"mainModule":"m.js","modules":{"m.js":"x"},"compatibilityDate":"2025-01-01","compatibilityFlags":["nodejs_compat"]}`,
	`{"mainModule":"m.js","modules":{"m.js":"x"},"limits":{"cpuMs":-1,"memoryMb":1e9}}`,
	`{"mainModule":"m.js","modules":{"m.js":"\ud800"}}`,
	`{"mainModule":"m.js","modules":{"m.js":{"json":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}}}`,
	`{"mainModule":"m.js","modules":{"m.js":{"json":"\u2028 \u2029 </script>"}}}`,
	`{"mainModule":1}`,
	`null`,
	``,
	`[`,
}

// A WorkerCode that decodes re-encodes to JSON that decodes to the same value, and that
// re-encoding is a fixed point; a module's content survives byte for byte; every module
// that fails to decode says why in a sentence.
func FuzzWorkerCodeJSON(f *testing.F) {
	for _, s := range workerCodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var w api.WorkerCode
		if err := json.Unmarshal(b, &w); err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		enc, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("a decoded WorkerCode does not encode: %v", err)
		}
		var w2 api.WorkerCode
		if err := json.Unmarshal(enc, &w2); err != nil {
			t.Fatalf("the encoding of a decoded WorkerCode does not decode: %v\n%s", err, enc)
		}
		if w.MainModule != w2.MainModule || w.CompatibilityDate != w2.CompatibilityDate ||
			!slices.Equal(w.CompatibilityFlags, w2.CompatibilityFlags) || !reflect.DeepEqual(w.Limits, w2.Limits) {
			t.Fatalf("round trip changed the worker:\n%+v\n%+v", w, w2)
		}
		if len(w.Modules) != len(w2.Modules) {
			t.Fatalf("round trip changed the module count: %d -> %d", len(w.Modules), len(w2.Modules))
		}
		for name, m := range w.Modules {
			m2, ok := w2.Modules[name]
			if !ok || m.Type != m2.Type {
				t.Fatalf("module %q: %q -> %q (present %v)", name, m.Type, m2.Type, ok)
			}
			if m.Type == api.ModuleJSON {
				if !jsonEqual(m.Content, m2.Content) {
					t.Fatalf("json module %q changed: %s -> %s", name, m.Content, m2.Content)
				}
			} else if !bytes.Equal(m.Content, m2.Content) {
				t.Fatalf("module %q (%s) changed: %q -> %q", name, m.Type, m.Content, m2.Content)
			}
		}
		// An empty env is left out: the loader reads a missing env as {}.
		if (len(w.Env) > 0 || len(w2.Env) > 0) && !jsonEqual(mustJSON(t, w.Env), mustJSON(t, w2.Env)) {
			t.Fatalf("env changed: %v -> %v", w.Env, w2.Env)
		}
		if (len(w.GlobalOutbound) == 0) != (len(w2.GlobalOutbound) == 0) ||
			len(w.GlobalOutbound) > 0 && !jsonEqual(w.GlobalOutbound, w2.GlobalOutbound) {
			t.Fatalf("globalOutbound changed: %s -> %s", w.GlobalOutbound, w2.GlobalOutbound)
		}
		enc2, err := json.Marshal(w2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point:\n%s\n%s", enc, enc2)
		}
	})
}

// A Module's content of any type and any bytes survives encoding and decoding (text types
// as strings when they are UTF-8, data and wasm as base64 whatever the bytes).
func FuzzModuleJSON(f *testing.F) {
	for _, s := range []string{"", "export default 1", "\x00\xff\xfe", "\u2028", "sk_live\\/Ab", `{"a":1}`, "null"} {
		for _, typ := range []string{"", "js", "cjs", "text", "data", "json", "wasm", "py"} {
			f.Add(typ, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, typ string, content []byte) {
		m := api.Module{Type: api.ModuleType(typ), Content: content}
		enc, err := json.Marshal(m)
		switch typ {
		case "", "js", "cjs", "text", "py", "data", "wasm":
			if err != nil {
				t.Fatalf("a %q module does not encode: %v", typ, err)
			}
		case "json":
			if (err == nil) != json.Valid(content) {
				t.Fatalf("json module of %q: encode error %v, valid JSON %v", content, err, json.Valid(content))
			}
			if err != nil {
				return
			}
		default:
			// Unknown types encode as strings under their own key, which decoding refuses.
			if err == nil {
				var back api.Module
				if json.Unmarshal(enc, &back) == nil {
					t.Fatalf("a module of unknown type %q round-tripped: %s", typ, enc)
				}
			}
			return
		}
		var back api.Module
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("the encoding %s of a %q module does not decode: %v", enc, typ, err)
		}
		if back.Type != m.Type {
			t.Fatalf("type %q came back as %q", m.Type, back.Type)
		}
		switch typ {
		case "data", "wasm":
			if !bytes.Equal(back.Content, content) {
				t.Fatalf("%s bytes %q came back as %q", typ, content, back.Content)
			}
		case "json":
			if !jsonEqual(back.Content, content) {
				t.Fatalf("json %q came back as %q", content, back.Content)
			}
		default:
			// Text is a JSON string: each byte that is not UTF-8 becomes U+FFFD.
			want := replaceInvalid(content)
			if !bytes.Equal(back.Content, want) {
				t.Fatalf("%q text %q came back as %q", typ, content, back.Content)
			}
		}
	})
}

var idPattern = regexp.MustCompile(api.IDPattern)
var secretPattern = regexp.MustCompile(api.SecretNamePattern)

// The id rules accept exactly what their documented patterns match, and refuse with
// invalid_request.
func FuzzIDRules(f *testing.F) {
	for _, s := range []string{"w1", "a", "", "-x", "a/b", "a@1", "ü", "a\x00", "..", "a:b.c_d-e", strings.Repeat("a", 128), strings.Repeat("a", 129), "%2e%2e", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			name  string
			check func(string) error
			re    *regexp.Regexp
		}{
			{"worker id", api.CheckWorkerID, idPattern},
			{"session name", api.CheckSessionName, idPattern},
			{"secret name", api.CheckSecretName, secretPattern},
		} {
			err := c.check(s)
			// The patterns end in $, which also matches before a final "\n": the rules must not.
			want := c.re.MatchString(s) && !strings.HasSuffix(s, "\n")
			if (err == nil) != want {
				t.Fatalf("%s %q: accepted %v, pattern says %v", c.name, s, err == nil, want)
			}
			if err != nil && isoerr.CodeOf(err) != isoerr.InvalidRequest {
				t.Fatalf("%s %q: error %v is not invalid_request", c.name, s, err)
			}
		}
	})
}

func replaceInvalid(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
