package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// bodyKinds are the request bodies the API decodes, with the code their content errors get.
var bodyKinds = []struct {
	name    string
	new     func() any
	content isoerr.Code
}{
	{"any", func() any { return new(any) }, isoerr.InvalidRequest},
	{"PUT /v1/workers/{id}", func() any { return new(codeBody) }, isoerr.InvalidWorkerCode},
	{"POST /v1/run", func() any { return new(runBody) }, isoerr.InvalidWorkerCode},
	{"fetch", func() any { return new(api.FetchRequest) }, isoerr.InvalidRequest},
	{"session eval", func() any { return new(api.SessionEvalRequest) }, isoerr.InvalidRequest},
	{"codemode execute", func() any { return new(api.ExecuteRequest) }, isoerr.InvalidRequest},
	{"secret", func() any { return new(api.SecretValue) }, isoerr.InvalidRequest},
}

// The strict decoder of API bodies never accepts invalid UTF-8, a lone surrogate escape, a
// key twice in one object or a field name in the wrong case, and refuses with a typed error.
func FuzzDecodeStrict(f *testing.F) {
	seeds := []string{
		`{"mainModule":"m.js","modules":{"m.js":"export default {}"}}`,
		`{"mainModule":"m.js","mainModule":"x.js","modules":{}}`,
		`{"mainModule":"m.js","\u006dainModule":"x.js"}`,
		`{"a":{"b":1,"b":2}}`, `[{"a":1},{"a":1}]`, `{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, `{"a":"\ud83d\ude00"}`,
		`{"a":"\\ud800"}`, `{"a":"\ufffd"}`, "{\"a\":\"\xff\"}", "{\"a\":\"\xed\xa0\x80\"}",
		`{"mainmodule":"m.js"}`, `{"MainModule":"m.js"}`, `{"worker":{"mainModule":"m.js","modules":{"m.js":"x"}},"call":{"method":"run","args":[1]}}`,
		`{"code":"const s = \"a\".repeat(1e6), n = \"a\".repeat(1e3) + \"b\"; s.indexOf(n)"}`,
		`{"code":"(7n ** 300000n).toString()"}`,
		`{"code":"const p = Promise.resolve(); Object.defineProperty(Object.prototype, 'then', {get() { throw 1 }}); p"}`,
		`{"value":"sk_live\/AbCdEf"}`, `{"a":1} {"b":2}`, `{"a":1}]`, ``, `   `, `{`, `"\u0000"`,
		strings.Repeat(`{"a":`, 1000) + `1` + strings.Repeat(`}`, 1000),
		strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000),
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i))
	}
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		k := bodyKinds[int(which)%len(bodyKinds)]
		v := k.new()
		err := decodeStrict(b, v, false, k.content)
		if err != nil {
			var e *isoerr.Error
			if !errors.As(err, &e) || (e.Code != isoerr.InvalidRequest && e.Code != k.content) {
				t.Fatalf("%s: error %v (%T) is neither invalid_request nor %s", k.name, err, err, k.content)
			}
			return
		}
		if !utf8.Valid(b) {
			t.Fatalf("%s: accepted invalid UTF-8 %q", k.name, b)
		}
		var generic any
		if err := json.Unmarshal(b, &generic); err != nil {
			t.Fatalf("%s: accepted what encoding/json refuses: %v", k.name, err)
		}
		if got, want := countReplacement(generic), literalReplacements(b); got != want {
			t.Fatalf("%s: accepted a lone surrogate: %d U+FFFD decoded, %d written in %q", k.name, got, want, b)
		}
		if got, want := countKeys(generic), members(b); got != want {
			t.Fatalf("%s: accepted a repeated key: %d members written, %d keys decoded in %q", k.name, want, got, b)
		}
		if obj, ok := generic.(map[string]any); ok && k.name != "any" {
			fields := jsonFields(reflect.TypeOf(v).Elem())
			for key := range obj {
				if !fields[key] {
					t.Fatalf("%s: accepted key %q, which is not a field (fields: %v)", k.name, key, fields)
				}
			}
		}
	})
}

// countReplacement counts U+FFFD in the keys and strings of a decoded value.
func countReplacement(v any) int {
	switch v := v.(type) {
	case string:
		return strings.Count(v, "\uFFFD")
	case []any:
		n := 0
		for _, x := range v {
			n += countReplacement(x)
		}
		return n
	case map[string]any:
		n := 0
		for k, x := range v {
			n += strings.Count(k, "\uFFFD") + countReplacement(x)
		}
		return n
	}
	return 0
}

// literalReplacements counts the U+FFFD a JSON text writes on purpose: the character
// itself and its \ufffd escape.
func literalReplacements(b []byte) int {
	n := bytes.Count(b, []byte("\uFFFD"))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+5 < len(b) && b[i+1] == 'u' && strings.EqualFold(string(b[i+2:i+6]), "fffd") {
			n++
		}
		i++ // skip the escaped character
	}
	return n
}

// countKeys counts the keys of every object in a decoded value.
func countKeys(v any) int {
	switch v := v.(type) {
	case []any:
		n := 0
		for _, x := range v {
			n += countKeys(x)
		}
		return n
	case map[string]any:
		n := len(v)
		for _, x := range v {
			n += countKeys(x)
		}
		return n
	}
	return 0
}

// members counts the object members a valid JSON text writes: its colons outside strings.
func members(b []byte) int {
	n, in := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && c == ':':
			n++
		}
	}
	return n
}

// jsonFields is the set of JSON names of a struct's fields, embedded structs' included.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Anonymous && name == "" {
			for k := range jsonFields(sf.Type) {
				out[k] = true
			}
			continue
		}
		if name == "-" || !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out[name] = true
	}
	return out
}
