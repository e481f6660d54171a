package jsonschema

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp/syntax"
	"strings"
	"sync/atomic"
	"testing"
)

// Schemas and values from untrusted parties: each case ends, without a panic, in the
// verdict or error named.
func TestHostile(t *testing.T) {
	deepNot := func(n int) string { return strings.Repeat(`{"not":`, n) + `{}` + strings.Repeat(`}`, n) }
	deepArr := func(n int) string { return strings.Repeat(`[`, n) + strings.Repeat(`]`, n) }
	var chain strings.Builder // a0 applies a1 twice, a1 a2 twice, ...: 2^60 paths
	chain.WriteString(`{"$ref":"#/$defs/a0","$defs":{`)
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&chain, `"a%d":{"allOf":[{"$ref":"#/$defs/a%d"},{"$ref":"#/$defs/a%d"}]},`, i, i+1, i+1)
	}
	chain.WriteString(`"a60":{"type":"integer"}}}`)
	nums := func(n int, dup bool) string {
		var b strings.Builder
		b.WriteString("[")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, `{"k":[%d,"%d"]},`, i, i)
		}
		if dup {
			b.WriteString(`{"k":[7.0,"7"]}`)
		} else {
			b.WriteString(`0`)
		}
		b.WriteString("]")
		return b.String()
	}
	for _, tc := range []struct {
		name, schema, value string
		compileErr          error // nil: compiles
		want                error // nil: valid; errInvalid: a *ValidationError
	}{
		{"ref to itself", `{"$ref":"#"}`, `1`, nil, errInvalid},
		{"ref cycle in allOf", `{"allOf":[{"$ref":"#"}]}`, `{}`, nil, errInvalid},
		{"ref cycle through two defs", `{"$ref":"#/$defs/a","$defs":{"a":{"anyOf":[{"$ref":"#/$defs/b"}]},"b":{"$ref":"#/$defs/a"}}}`, `"x"`, nil, errInvalid},
		{"cycle under not", `{"not":{"$ref":"#"}}`, `1`, nil, nil},
		{"dynamic cycle", `{"$dynamicAnchor":"m","$dynamicRef":"#m"}`, `1`, nil, errInvalid},
		{"recursive cycle", `{"$schema":"https://json-schema.org/draft/2019-09/schema","$recursiveAnchor":true,"$recursiveRef":"#"}`, `1`, nil, errInvalid},
		{"10000 nested nots", deepNot(10000), `1`, ErrNotJSON, nil},
		{"900 nested nots", deepNot(900), `1`, nil, nil},
		{"901 nested nots", deepNot(901), `1`, nil, errInvalid},
		{"10000 nested arrays", `{"items":{"$ref":"#"}}`, deepArr(10000), nil, ErrNotJSON},
		{"999 nested arrays", `{"items":{"$ref":"#"}}`, deepArr(999), nil, nil},
		{"exponential refs", chain.String(), `1`, nil, ErrTooComplex},
		{"huge uniqueItems", `{"uniqueItems":true}`, nums(100000, false), nil, nil},
		{"huge uniqueItems with a duplicate", `{"uniqueItems":true}`, nums(100000, true), nil, errInvalid},
		{"oneOf in oneOf in items", `{"items":{"oneOf":[{"oneOf":[{"type":"integer"},{"minimum":0}]},{"oneOf":[{"type":"string"},{"maxLength":0}]}]}}`, nums(20000, false), nil, errInvalid},
		{"pattern Go cannot compile", `{"pattern":"^(?!x)"}`, `"y"`, ErrInvalidSchema, nil},
		{"catastrophic pattern", `{"pattern":"^(a+)+$"}`, `"` + strings.Repeat("a", 100000) + `!"`, nil, errInvalid},
		{"huge multipleOf exponent", `{"multipleOf":0.7}`, `7e999999999999999999`, nil, nil},
		{"huge minLength", `{"minLength":1e300}`, `"a"`, nil, errInvalid},
		{"huge number bounds", `{"maximum":1e308}`, `1e309`, nil, errInvalid},
		{"pattern of 500 large repetitions", `{"pattern":"` + strings.Repeat("a{1000}", 500) + `"}`, `"a"`, ErrInvalidSchema, nil},
		{"patternProperties of 500 large repetitions", `{"patternProperties":{"` + strings.Repeat("[ab]{1000}", 500) + `":{}}}`, `{}`, ErrInvalidSchema, nil},
		// Each match is within the budget, their sum is not: ~40 matches of 5 KB run.
		{"many patterns over a long string", `{"allOf":[` + strings.Repeat(`{"pattern":"[\\s\\S]{100}x"},`, 300) + `{}]}`, `"` + strings.Repeat("a", 5000) + `"`, nil, ErrTooComplex},
		// One match would cost more than the whole budget: refused before it runs.
		{"largest pattern over a long string", `{"pattern":"` + strings.Repeat(`[\\s\\S]{1000}`, 9) + `x"}`, `"` + strings.Repeat("a", 20000) + `"`, nil, ErrTooComplex},
		{"large patternProperties over many keys", `{"patternProperties":{"` + strings.Repeat(`[\\s\\S]{1000}`, 9) + `x":{}}}`, `{` + longKeys(50, 500) + `}`, nil, ErrTooComplex},
		{"format regex of 500 large repetitions", `{"$schema":"http://json-schema.org/draft-07/schema#","format":"regex"}`, `"` + strings.Repeat("a{1000}", 500) + `"`, nil, errInvalid},
		{"file ref", `{"$ref":"file:///etc/passwd"}`, `1`, ErrInvalidSchema, nil},
		{"unknown id", `{"$ref":"urn:uuid:deadbeef-1234-5678-0000-000000000000"}`, `1`, ErrInvalidSchema, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile([]byte(tc.schema), Options{})
			if tc.compileErr != nil || err != nil {
				if !errors.Is(err, tc.compileErr) || tc.compileErr == nil {
					t.Fatalf("compile: %v, want %v", err, tc.compileErr)
				}
				return
			}
			err = s.Validate([]byte(tc.value))
			var ve *ValidationError
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("refused: %.300v", err)
			case tc.want == errInvalid && !errors.As(err, &ve):
				t.Errorf("got %.300v, want a ValidationError", err)
			case tc.want != nil && tc.want != errInvalid && !errors.Is(err, tc.want):
				t.Errorf("got %.300v, want %v", err, tc.want)
			}
		})
	}
}

var errInvalid = errors.New("invalid")

// longKeys is an object's members: n keys of size bytes each, all different.
func longKeys(n, size int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%d%s":0`, i, strings.Repeat("a", size))
	}
	return b.String()
}

// A schema naming a remote document is refused, and nothing is fetched: not for $ref,
// $schema, $id or a $ref that resolves against a remote $id.
func TestNothingLoaded(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"type":"object"}`))
	}))
	defer srv.Close()
	for _, s := range []string{
		`{"$ref":"` + srv.URL + `/s.json"}`,
		`{"$schema":"` + srv.URL + `/meta.json"}`,
		`{"$id":"` + srv.URL + `/root.json","$ref":"other.json"}`,
		`{"$defs":{"a":{"$id":"` + srv.URL + `/a.json"}},"$ref":"` + srv.URL + `/a.json#/missing"}`,
		`{"$dynamicRef":"` + srv.URL + `/x#m"}`,
	} {
		if _, err := Compile([]byte(s), Options{}); !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("%s: %v, want ErrInvalidSchema", s, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d fetches", hits.Load())
	}
}

// The size a pattern is bounded by is not far below the program Go compiles from it: an
// estimate that low would let a large program through.
func TestPatternSizeEstimate(t *testing.T) {
	for _, p := range []string{
		"a", "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$", "a{1000}", "(ab|cd){3,7}x?",
		"[\\s\\S]{100}x", "^\\d{4}-\\d{2}-\\d{2}$", "(a{10}b{20}){30}", "x{0,1000}",
		strings.Repeat("a{100}", 50),
	} {
		tree, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := syntax.Compile(tree.Simplify())
		if err != nil {
			t.Fatal(err)
		}
		if est := patternSize(tree); est*2 < len(prog.Inst) {
			t.Errorf("%.40s: estimated %d instructions, compiled %d", p, est, len(prog.Inst))
		}
	}
}
