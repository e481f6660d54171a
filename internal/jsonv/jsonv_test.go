package jsonv

import (
	"strings"
	"testing"
)

// Parse keeps key order and number digits, Marshal writes them back as they were (and
// <, >, & unescaped), and edits keep the order of the keys left.
func TestRoundTripKeepsOrderAndDigits(t *testing.T) {
	for _, in := range []string{
		`{"z":1,"a":[1.50,{"y":"<&>","b":null}],"m":true}`,
		`[]`, `{}`, `"x"`, `12345678901234567890`, `{"k":{"k":{"k":1e3}}}`,
	} {
		v, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, err := Marshal(v)
		if err != nil || string(out) != in {
			t.Errorf("%s came back as %s (%v)", in, out, err)
		}
	}
	v, _ := Parse([]byte(`{"a":1,"b":2,"c":3}`))
	o := v.(*Object)
	if !o.Delete("b") || o.Delete("b") {
		t.Fatal("Delete reports whether the key was there")
	}
	o.Set("a", 9)
	o.Set("d", 4)
	if out, _ := Marshal(o); string(out) != `{"a":9,"c":3,"d":4}` {
		t.Fatalf("after edits: %s", out)
	}
}

// Bad input is an error, never a crash: deep nesting past the bound, trailing data,
// truncated documents.
func TestParseRefusesBadInput(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	cases := []struct {
		in    string
		depth int
	}{
		{deep, DefaultDepth},
		{strings.Repeat("[", 11) + strings.Repeat("]", 11), 10},
		{`{"a":1} {"b":2}`, DefaultDepth},
		{`{"a":`, DefaultDepth},
		{`{"a" 1}`, DefaultDepth},
		{``, DefaultDepth},
	}
	for _, c := range cases {
		if _, err := ParseDepth([]byte(c.in), c.depth); err == nil {
			t.Errorf("%.20q (depth %d) parsed", c.in, c.depth)
		}
	}
	if _, err := ParseDepth([]byte(strings.Repeat("[", 10)+strings.Repeat("]", 10)), 10); err != nil {
		t.Errorf("10 levels within a bound of 10: %v", err)
	}
}
