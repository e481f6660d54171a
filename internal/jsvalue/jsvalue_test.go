package jsvalue

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{``, `undefined`},
		{`[2, 4, 6]`, `[2,4,6]`},
		{`{"b": 1, "a": "x\"y", "c": [true, null, 1.5e3]}`, `{"b":1,"a":"x\"y","c":[true,null,1.5e3]}`},
		{`"<tag> & é"`, `"<tag> & é"`},
		{`{"$type":"undefined"}`, `undefined`},
		{`[{"$type":"Number","value":"NaN"},{"$type":"Number","value":"-0"},{"$type":"Number","value":"-Infinity"}]`, `[NaN,-0,-Infinity]`},
		{`{"$type":"BigInt","value":"123456789012345678901234567890"}`, `123456789012345678901234567890n`},
		{`{"$type":"Map","entries":[[1,2],["k",{"$type":"Set","values":[1,"x"]}]]}`, `Map(2) {1 => 2, "k" => Set(2) {1, "x"}}`},
		{`{"$type":"Function","name":"f"}`, `[Function: f]`},
		{`{"$type":"Function","name":""}`, `[Function (anonymous)]`},
		{`{"$type":"Symbol","description":"s"}`, `Symbol(s)`},
		{`{"$type":"Symbol","description":null}`, `Symbol()`},
		{`{"$type":"Date","value":"1970-01-01T00:00:00.000Z"}`, `1970-01-01T00:00:00.000Z`},
		{`{"$type":"Date","value":null}`, `Invalid Date`},
		{`{"$type":"RegExp","source":"a+","flags":"gi"}`, `/a+/gi`},
		{`{"$type":"Error","name":"TypeError","message":"bad","stack":"..."}`, `[TypeError: bad]`},
		{`{"$type":"Uint8Array","values":[1,2,3]}`, `Uint8Array(3) [1,2,3]`},
		{`{"$type":"ArrayBuffer","base64":"AQL/"}`, `ArrayBuffer(3) <01 02 ff>`},
		{`{"$type":"Promise"}`, `Promise {}`},
		{`{"a":1,"self":{"$type":"Circular","path":"$"}}`, `{"a":1,"self":[Circular $]}`},
		{`{"$type":"Object","value":{"$type":"Map","x":{"$type":"undefined"}}}`, `{"$type":"Map","x":undefined}`},
		{`{"$type":"Martian","x":1}`, `{"$type":"Martian","x":1}`},
	} {
		got, err := Render([]byte(c.raw))
		if err != nil || got != c.want {
			t.Errorf("Render(%s) = %s, %v; want %s", c.raw, got, err, c.want)
		}
	}
	if _, err := Render([]byte(`{"a":`)); err == nil {
		t.Error("Render of broken JSON: no error")
	}
}

// A result nested past jsonv's bound (a sandbox can return one up to its output limit) is
// an error, not a crash of the CLI that renders it.
func TestRenderRefusesDeepNesting(t *testing.T) {
	deep := strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20)
	if s, err := Render(json.RawMessage(deep)); err == nil {
		t.Fatalf("rendered %.20s...", s)
	}
}
