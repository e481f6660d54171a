package jsonschema

import (
	"errors"
	"strings"
	"testing"
)

// keywordCases: per dialect, a schema and the instances it accepts and refuses. The
// tricky ones are here on purpose: 1.0 is an integer, 0.3 is a multiple of 0.1, draft-04's
// boolean exclusiveMinimum, $ref siblings ignored before 2019-09, annotations that flow
// through $ref and in-place applicators into unevaluated*, dynamic references.
var keywordCases = []struct {
	name    string
	dialect Dialect
	schema  string
	valid   []string
	invalid []string
}{
	{"type", 0, `{"type":"integer"}`, []string{`1`, `1.0`, `-5`, `1e3`, `1e400`, `0.5e1`}, []string{`1.5`, `"1"`, `null`, `1e-400`, `1.0000000000000000001`}},
	{"type list", 0, `{"type":["string","null"]}`, []string{`"a"`, `null`}, []string{`1`, `{}`, `[]`, `true`}},
	{"type number", 0, `{"type":"number"}`, []string{`1`, `1.5`, `-0`}, []string{`"1"`}},
	{"enum", 0, `{"enum":[1,"a",null,{"x":[1,2]},[true]]}`, []string{`1`, `1.0`, `"a"`, `null`, `{"x":[1,2.0]}`, `[true]`}, []string{`2`, `"b"`, `{"x":[2,1]}`, `[false]`, `{}`, `true`}},
	{"const object unordered", 0, `{"const":{"a":1,"b":[1,{"c":null}]}}`, []string{`{"b":[1.0,{"c":null}],"a":1e0}`}, []string{`{"a":1}`, `{"a":1,"b":[1,{"c":0}]}`, `{"a":1,"b":[1,{"c":null}],"d":1}`}},
	{"const number", 0, `{"const":100}`, []string{`100`, `1e2`, `100.000`, `10000e-2`}, []string{`100.0000000000000000001`, `"100"`}},
	{"const false is not 0", 0, `{"const":false}`, []string{`false`}, []string{`0`, `null`}},
	{"multipleOf exact", 0, `{"multipleOf":0.1}`, []string{`0.3`, `0.7`, `1e10`, `19.9`, `-0.2`, `0`}, []string{`0.35`, `1e-10`, `0.30000000000000004`}},
	{"multipleOf small", 0, `{"multipleOf":0.0001}`, []string{`0.0075`, `12.3456`}, []string{`0.00751`}},
	{"multipleOf integer", 0, `{"multipleOf":5}`, []string{`10`, `-15`, `0`, `1e300`, `5.0`}, []string{`7`, `2.5`, `1e-3`}},
	{"multipleOf huge", 0, `{"multipleOf":12345678901234567890123}`, []string{`24691357802469135780246`, `0`}, []string{`12345678901234567890124`}},
	{"multipleOf big exponent", 0, `{"multipleOf":7}`, []string{`7e1000000000`}, []string{`1e1000000000`}},
	{"minimum maximum", 0, `{"minimum":1,"maximum":10}`, []string{`1`, `10`, `5.5`, `"x"`}, []string{`0.999999999999999999999`, `10.000000000000000000001`, `-1`}},
	{"exclusive 2020", 0, `{"exclusiveMinimum":0,"exclusiveMaximum":1}`, []string{`0.5`, `1e-400`}, []string{`0`, `1`, `-0`}},
	{"exclusive draft-04", Draft4, `{"minimum":0,"exclusiveMinimum":true,"maximum":1}`, []string{`0.5`, `1`}, []string{`0`, `1.5`}},
	{"exclusive draft-04 false", Draft4, `{"minimum":0,"exclusiveMinimum":false}`, []string{`0`}, []string{`-1`}},
	{"minLength code points", 0, `{"minLength":2,"maxLength":3}`, []string{`"ab"`, `"😀😀"`, `"日本語"`, `1`}, []string{`"a"`, `"😀"`, `"abcd"`}},
	{"pattern unanchored", 0, `{"pattern":"[0-9]+"}`, []string{`"a1b"`, `"9"`, `1`}, []string{`"abc"`, `""`}},
	{"pattern anchored", 0, `{"pattern":"^[A-Z]+$"}`, []string{`"AB"`}, []string{`"ab"`, `"AB1"`}},
	{"format draft-07 asserts", Draft7, `{"format":"email"}`, []string{`"a@b.c"`, `1`}, []string{`"nope"`}},
	{"format 2020 annotates", 0, `{"format":"email"}`, []string{`"nope"`, `"a@b.c"`}, nil},
	{"format 2019 annotates", Draft2019, `{"format":"date"}`, []string{`"nope"`}, nil},
	{"format unknown", Draft7, `{"format":"color"}`, []string{`"anything"`}, nil},
	{"format date-time", Draft7, `{"format":"date-time"}`, []string{`"2024-02-29T12:00:00Z"`, `"1998-12-31T23:59:60Z"`, `"2024-01-01t10:00:00.5+02:00"`}, []string{`"2023-02-29T12:00:00Z"`, `"2024-01-01T24:00:00Z"`, `"2024-01-01T12:00:60Z"`, `"2024-01-01 12:00:00Z"`}},
	{"format ipv4", Draft7, `{"format":"ipv4"}`, []string{`"192.168.0.1"`}, []string{`"256.1.1.1"`, `"01.1.1.1"`, `"1.1.1"`}},
	{"format ipv6", Draft7, `{"format":"ipv6"}`, []string{`"::1"`, `"2001:db8::ff00:42:8329"`, `"::ffff:1.2.3.4"`}, []string{`"1.2.3.4"`, `"::1%eth0"`, `":::"`}},
	{"format uri", Draft7, `{"format":"uri"}`, []string{`"https://example.com/a?b#c"`, `"urn:isbn:0451450523"`}, []string{`"/relative"`, `"http://a/b c"`, `"http://[::1"`}},
	{"format uuid", Draft7, `{"format":"uuid"}`, []string{`"2EB8AA08-AA98-11EA-B4AA-73B441D16380"`}, []string{`"2eb8aa08-aa98-11ea-b4aa-73b441d1638"`}},
	{"format regex", Draft7, `{"format":"regex"}`, []string{`"^a+$"`}, []string{`"(?=x)"`, `"["`}},
	{"format duration", Draft7, `{"format":"duration"}`, []string{`"P1Y2M3DT4H5M6S"`, `"P4W"`, `"PT1S"`, `"P1D"`}, []string{`"P"`, `"PT"`, `"P1S"`, `"P1M1Y"`, `"1D"`}},
	{"items and prefixItems", 0, `{"prefixItems":[{"type":"string"}],"items":{"type":"integer"}}`, []string{`[]`, `["a"]`, `["a",1,2]`}, []string{`[1]`, `["a","b"]`}},
	{"items array draft-07", Draft7, `{"items":[{"type":"string"}],"additionalItems":false}`, []string{`["a"]`, `[]`}, []string{`["a",1]`, `[1]`}},
	{"items array 2019", Draft2019, `{"items":[{"type":"string"}],"additionalItems":{"type":"integer"}}`, []string{`["a",1]`}, []string{`["a","b"]`}},
	{"additionalItems without items array", Draft7, `{"additionalItems":false}`, []string{`[1,2]`}, nil},
	{"prefixItems ignored in 2019", Draft2019, `{"prefixItems":[{"type":"string"}]}`, []string{`[1]`}, nil},
	{"contains", 0, `{"contains":{"const":1}}`, []string{`[1]`, `[2,1.0]`, `{}`}, []string{`[]`, `[2]`}},
	{"minContains maxContains", 0, `{"contains":{"const":1},"minContains":2,"maxContains":3}`, []string{`[1,1]`, `[1,2,1,1]`}, []string{`[1]`, `[1,1,1,1]`}},
	{"minContains 0", 0, `{"contains":{"const":1},"minContains":0}`, []string{`[]`, `[2]`}, nil},
	{"minContains needs contains", 0, `{"minContains":2}`, []string{`[]`}, nil},
	{"min max items", 0, `{"minItems":1,"maxItems":2}`, []string{`[1]`, `[1,2]`}, []string{`[]`, `[1,2,3]`}},
	{"uniqueItems", 0, `{"uniqueItems":true}`, []string{`[1,2]`, `[{"a":1},{"a":2}]`, `[[1],[true]]`, `[0,false]`, `[1,"1"]`}, []string{`[1,1.0]`, `[{"a":1,"b":2},{"b":2,"a":1}]`, `[[1],[1.0]]`, `[null,null]`}},
	{"uniqueItems many", 0, `{"uniqueItems":true}`, []string{`[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]`}, []string{`[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,1e0]`, `[{"a":[1]},2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,{"a":[1.0]}]`}},
	{"properties required additional", 0, `{"properties":{"a":{"type":"number"}},"required":["a"],"additionalProperties":false}`, []string{`{"a":1}`}, []string{`{}`, `{"a":"x"}`, `{"a":1,"b":2}`}},
	{"patternProperties", 0, `{"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":{"type":"integer"}}`, []string{`{"x-a":"s","b":1}`}, []string{`{"x-a":1}`, `{"b":"s"}`}},
	{"patternProperties unanchored", 0, `{"patternProperties":{"id":{"type":"integer"}}}`, []string{`{"pid":1}`}, []string{`{"idx":"a"}`}},
	{"min max properties", 0, `{"minProperties":1,"maxProperties":1}`, []string{`{"a":1}`, `[]`}, []string{`{}`, `{"a":1,"b":2}`}},
	{"propertyNames", 0, `{"propertyNames":{"maxLength":2}}`, []string{`{"ab":1}`, `{}`}, []string{`{"abc":1}`}},
	{"dependencies both forms", Draft7, `{"dependencies":{"a":["b"],"c":{"required":["d"]}}}`, []string{`{"a":1,"b":2}`, `{"c":1,"d":1}`, `{"b":1}`}, []string{`{"a":1}`, `{"c":1}`}},
	{"dependencies kept in 2020", 0, `{"dependencies":{"a":["b"]}}`, nil, []string{`{"a":1}`}},
	{"dependentRequired dependentSchemas", 0, `{"dependentRequired":{"a":["b"]},"dependentSchemas":{"c":{"properties":{"d":{"type":"string"}}}}}`, []string{`{"a":1,"b":1}`, `{"c":1,"d":"x"}`}, []string{`{"a":1}`, `{"c":1,"d":1}`}},
	{"dependentRequired not in draft-07", Draft7, `{"dependentRequired":{"a":["b"]}}`, []string{`{"a":1}`}, nil},
	{"allOf anyOf oneOf not", 0, `{"allOf":[{"type":"integer"}],"anyOf":[{"minimum":10},{"maximum":0}],"oneOf":[{"multipleOf":2},{"multipleOf":3}],"not":{"const":-6}}`, []string{`10`, `-2`, `-3`, `-4`}, []string{`12`, `6`, `-6`, `5`, `1.5`, `-2.0001`}},
	{"if then else", 0, `{"if":{"type":"string"},"then":{"minLength":2},"else":{"type":"integer"}}`, []string{`"ab"`, `1`}, []string{`"a"`, `1.5`}},
	{"then without if", 0, `{"then":false}`, []string{`1`}, nil},
	{"boolean schemas", 0, `{"properties":{"a":true,"b":false}}`, []string{`{"a":1}`}, []string{`{"b":1}`}},
	{"false", 0, `false`, nil, []string{`1`, `null`}},
	{"true", 0, `true`, []string{`1`, `{}`}, nil},
	{"ref pointer escapes", 0, `{"$defs":{"a/b":{"type":"integer"},"c~d":{"type":"string"},"e%f":{"type":"null"}},"properties":{"x":{"$ref":"#/$defs/a~1b"},"y":{"$ref":"#/$defs/c~0d"},"z":{"$ref":"#/$defs/e%25f"}}}`, []string{`{"x":1,"y":"s","z":null}`}, []string{`{"x":"s"}`, `{"y":1}`, `{"z":1}`}},
	{"ref to array item", 0, `{"prefixItems":[{"type":"integer"},{"$ref":"#/prefixItems/0"}]}`, []string{`[1,2]`}, []string{`[1,"a"]`}},
	{"ref recursive tree", 0, `{"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"additionalProperties":false}}}`, []string{`{"kids":[{"kids":[]},{}]}`}, []string{`{"kids":[{"x":1}]}`}},
	{"ref siblings ignored draft-07", Draft7, `{"definitions":{"a":{"type":"integer"}},"$ref":"#/definitions/a","maximum":5}`, []string{`10`}, []string{`"a"`}},
	{"ref siblings apply 2019", Draft2019, `{"$defs":{"a":{"type":"integer"}},"$ref":"#/$defs/a","maximum":5}`, []string{`4`}, []string{`10`}},
	{"id base change", 0, `{"$id":"http://example.com/root.json","$defs":{"a":{"$id":"nested/a.json","type":"integer"},"b":{"$id":"http://other.example/b","$ref":"http://example.com/nested/a.json"}},"properties":{"p":{"$ref":"nested/a.json"},"q":{"$ref":"http://other.example/b"}}}`, []string{`{"p":1,"q":2}`}, []string{`{"p":"a"}`, `{"q":"b"}`}},
	{"relative ref in embedded resource", 0, `{"$id":"http://x.test/a/","$defs":{"inner":{"$id":"b/","$defs":{"t":{"type":"string"}},"$ref":"#/$defs/t"}},"$ref":"b/"}`, []string{`"s"`}, []string{`1`}},
	{"anchor", 0, `{"$defs":{"a":{"$anchor":"num","type":"number"}},"$ref":"#num"}`, []string{`1`}, []string{`"a"`}},
	{"draft-07 id anchor", Draft7, `{"definitions":{"a":{"$id":"#num","type":"number"}},"allOf":[{"$ref":"#num"}]}`, []string{`1`}, []string{`"a"`}},
	{"draft-04 id", Draft4, `{"id":"http://x.test/s","definitions":{"a":{"id":"#n","type":"number"}},"allOf":[{"$ref":"http://x.test/s#n"}]}`, []string{`1`}, []string{`"a"`}},
	{"embedded dialect", 0, `{"$defs":{"old":{"id":"http://x.test/old","$schema":"http://json-schema.org/draft-04/schema#","minimum":5,"exclusiveMinimum":true}},"$ref":"http://x.test/old"}`, []string{`6`}, []string{`5`}},
	{"unevaluatedProperties", 0, `{"properties":{"a":true},"allOf":[{"properties":{"b":true}}],"unevaluatedProperties":false}`, []string{`{"a":1,"b":1}`}, []string{`{"a":1,"c":1}`}},
	{"unevaluatedProperties through ref", 0, `{"$ref":"#/$defs/base","properties":{"b":true},"unevaluatedProperties":false,"$defs":{"base":{"properties":{"a":true}}}}`, []string{`{"a":1,"b":1}`}, []string{`{"c":1}`}},
	{"unevaluatedProperties anyOf all branches", 0, `{"anyOf":[{"properties":{"a":true}},{"properties":{"b":true}}],"unevaluatedProperties":false}`, []string{`{"a":1,"b":1}`, `{"a":1}`}, []string{`{"a":1,"c":1}`}},
	{"unevaluatedProperties failed branch", 0, `{"anyOf":[{"properties":{"a":true,"x":true},"required":["x"]},true],"unevaluatedProperties":false}`, []string{`{"x":1,"a":1}`, `{}`}, []string{`{"a":1}`}},
	{"unevaluatedProperties not drops", 0, `{"not":{"not":{"properties":{"a":true}}},"unevaluatedProperties":false}`, []string{`{}`}, []string{`{"a":1}`}},
	{"unevaluatedProperties if", 0, `{"if":{"properties":{"a":{"const":1}}},"then":{"properties":{"b":true}},"else":{"properties":{"c":true}},"unevaluatedProperties":false}`, []string{`{"a":1,"b":1}`, `{"b":1}`, `{}`}, []string{`{"a":1,"c":1}`, `{"a":2,"c":1}`, `{"c":1}`}},
	{"unevaluatedProperties nested", 0, `{"properties":{"o":{"unevaluatedProperties":false}},"unevaluatedProperties":false}`, []string{`{"o":{}}`}, []string{`{"o":{"x":1}}`, `{"o":{},"p":1}`}},
	{"unevaluatedProperties sees additional", 0, `{"additionalProperties":true,"unevaluatedProperties":false}`, []string{`{"a":1}`}, nil},
	{"unevaluatedProperties schema", 0, `{"properties":{"a":true},"unevaluatedProperties":{"type":"string"}}`, []string{`{"a":1,"b":"s"}`}, []string{`{"b":1}`}},
	{"unevaluatedProperties dependentSchemas", 0, `{"dependentSchemas":{"a":{"properties":{"b":true}}},"properties":{"a":true},"unevaluatedProperties":false}`, []string{`{"a":1,"b":1}`}, []string{`{"b":1}`}},
	{"unevaluatedItems prefixItems", 0, `{"prefixItems":[true],"unevaluatedItems":false}`, []string{`[1]`, `[]`}, []string{`[1,2]`}},
	{"unevaluatedItems contains", 0, `{"contains":{"const":1},"unevaluatedItems":false}`, []string{`[1,1]`}, []string{`[1,2]`}},
	{"unevaluatedItems contains not in 2019", Draft2019, `{"contains":{"const":1},"unevaluatedItems":false}`, nil, []string{`[1]`}},
	{"unevaluatedItems 2019 items", Draft2019, `{"items":[true],"unevaluatedItems":false}`, []string{`[1]`}, []string{`[1,2]`}},
	{"unevaluatedItems oneOf", 0, `{"oneOf":[{"prefixItems":[{"type":"integer"},true]},{"prefixItems":[{"type":"string"}]}],"unevaluatedItems":false}`, []string{`[1,2]`, `["a"]`}, []string{`[1,2,3]`, `["a","b","c"]`}},
	{"recursiveRef", Draft2019, `{"$id":"http://x.test/tree","$recursiveAnchor":true,"type":"object","properties":{"kids":{"type":"array","items":{"$recursiveRef":"#"}}}}`, []string{`{"kids":[{"kids":[]}]}`}, []string{`{"kids":[1]}`}},
	{"recursiveRef extends", Draft2019, `{"$id":"http://x.test/strict","$recursiveAnchor":true,"$ref":"tree","unevaluatedProperties":false,"$defs":{"tree":{"$id":"tree","$recursiveAnchor":true,"type":"object","properties":{"kids":{"type":"array","items":{"$recursiveRef":"#"}},"name":true}}}}`, []string{`{"kids":[{"name":1}]}`}, []string{`{"kids":[{"extra":1}]}`}},
	{"dynamicRef extends", 0, `{"$id":"http://x.test/strict","$dynamicAnchor":"node","$ref":"tree","unevaluatedProperties":false,"$defs":{"tree":{"$id":"tree","$dynamicAnchor":"node","type":"object","properties":{"kids":{"type":"array","items":{"$dynamicRef":"#node"}},"name":true}}}}`, []string{`{"kids":[{"name":1}]}`}, []string{`{"kids":[{"extra":1}]}`}},
	{"dynamicRef without dynamic anchor is a ref", 0, `{"$defs":{"a":{"$anchor":"a","type":"integer"}},"$dynamicRef":"#a"}`, []string{`1`}, []string{`"x"`}},
	{"ref cycle", 0, `{"$ref":"#"}`, nil, []string{`1`, `{}`}},
	{"ref cycle through defs", 0, `{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}},"properties":{"x":{"$ref":"#/$defs/a"}}}`, []string{`{}`, `{"y":1}`}, []string{`{"x":1}`}},
	{"recursion that consumes input", 0, `{"type":"array","items":{"$ref":"#"}}`, []string{`[]`, `[[],[[]]]`}, []string{`[1]`, `[[1]]`}},
}

func TestKeywords(t *testing.T) {
	for _, tc := range keywordCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile([]byte(tc.schema), Options{Dialect: tc.dialect})
			if err != nil {
				t.Fatalf("compile %s: %v", tc.schema, err)
			}
			for _, in := range tc.valid {
				if err := s.Validate([]byte(in)); err != nil {
					t.Errorf("%s refused %s: %v", tc.schema, in, err)
				}
			}
			for _, in := range tc.invalid {
				err := s.Validate([]byte(in))
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Errorf("%s accepted %s (%v)", tc.schema, in, err)
				}
			}
		})
	}
}

// Schemas that must not compile: each is refused with ErrInvalidSchema, so the caller can
// tell them from a value that does not match.
func TestInvalidSchemas(t *testing.T) {
	for _, tc := range []struct {
		dialect Dialect
		schema  string
	}{
		{0, `{"type":"strng"}`},
		{0, `{"type":[]}`},
		{0, `{"type":["string","string"]}`},
		{0, `{"minLength":-1}`},
		{0, `{"minLength":1.5}`},
		{0, `{"multipleOf":0}`},
		{0, `{"multipleOf":-1}`},
		{0, `{"required":"a"}`},
		{0, `{"required":["a","a"]}`},
		{0, `{"properties":{"a":1}}`},
		{0, `{"allOf":[]}`},
		{0, `{"items":[{}]}`},
		{0, `{"pattern":"(?=lookahead)"}`},
		{0, `{"pattern":"["}`},
		{0, `{"patternProperties":{"(?<!x)":{}}}`},
		{0, `{"$ref":"#/$defs/missing"}`},
		{0, `{"$ref":"#nowhere"}`},
		{0, `{"$ref":"http://example.com/schema.json"}`},
		{0, `{"$ref":"file:///etc/passwd"}`},
		{0, `{"$ref":"other.json"}`},
		{0, `{"$ref":"https://json-schema.org/draft/2020-12/schema"}`},
		{0, `{"$schema":"http://example.com/meta","type":"object"}`},
		{0, `{"$id":"http://x.test/a#frag"}`},
		{0, `{"$anchor":"1bad"}`},
		{0, `{"$defs":{"a":{"$id":"http://x.test/s"},"b":{"$id":"http://x.test/s"}}}`},
		{Draft7, `{"enum":[]}`},
		{Draft7, `{"enum":[1,1.0]}`},
		{Draft4, `{"properties":{"a":true}}`},
		{Draft4, `{"exclusiveMinimum":true}`},
		{Draft4, `{"required":[]}`},
		{Draft7, `{"exclusiveMinimum":true}`},
		{0, `{"$recursiveAnchor":true}`},
		{0, `[]`},
		{0, `1`},
		{0, `{`},
		{0, `{"dependentRequired":{"a":"b"}}`},
	} {
		_, err := Compile([]byte(tc.schema), Options{Dialect: tc.dialect})
		if err == nil || !errors.Is(err, ErrInvalidSchema) && !errors.Is(err, ErrNotJSON) {
			t.Errorf("%v %s compiled (%v)", tc.dialect, tc.schema, err)
		}
	}
}

// The messages, in the words santhosh-tekuri/jsonschema used, which codemode shows the
// model.
func TestMessages(t *testing.T) {
	schema := `{"type":"object","properties":{"a":{"type":"number"},"s":{"enum":["slow","fast"]},"n":{"type":"integer","minimum":1},
		"name":{"type":"string","minLength":1},"age":{"exclusiveMinimum":0},"o":{"oneOf":[{"type":"string"},{"type":"integer"}]},
		"p":{"pattern":"^[A-Z]+$"},"item":{"$ref":"#/$defs/item"}},"required":["a","b","c"],"additionalProperties":false,
		"$defs":{"item":{"required":["qty"]}}}`
	s, err := Compile([]byte(schema), Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Validate([]byte(`{"a":"x","s":"warp","n":0,"name":"","age":0,"o":1.5,"p":"ab","item":{},"extra":1,"more":2}`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("no ValidationError: %v", err)
	}
	var got []string
	var walk func(e *ValidationError)
	walk = func(e *ValidationError) {
		if len(e.Causes) == 0 || e.Keyword == "oneOf" {
			got = append(got, "/"+strings.Join(e.InstanceLocation, "/")+" "+e.KeywordLocation+" "+e.Message)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	want := []string{
		"/ /required missing properties 'b', 'c'",
		"/a /properties/a/type got string, want number",
		"/s /properties/s/enum value must be one of 'slow', 'fast'",
		"/n /properties/n/minimum minimum: got 0, want 1",
		"/name /properties/name/minLength minLength: got 0, want 1",
		"/age /properties/age/exclusiveMinimum exclusiveMinimum: got 0, want 0",
		"/o /properties/o/oneOf 'oneOf' failed, none matched",
		"/p /properties/p/pattern 'ab' does not match pattern '^[A-Z]+$'",
		"/item /$defs/item/required missing property 'qty'",
		"/ /additionalProperties additional properties 'extra', 'more' not allowed",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
