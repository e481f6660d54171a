package jsonschema

import (
	"errors"
	"testing"
)

// FuzzValidate compiles and validates random schemas and values: an error of a known kind
// or a verdict, the same twice, and never a panic or a hang. (.ci/fuzz finds it by this
// file's name.)
func FuzzValidate(f *testing.F) {
	for _, tc := range keywordCases {
		for _, in := range append(tc.valid, tc.invalid...) {
			f.Add([]byte(tc.schema), []byte(in))
		}
	}
	f.Add([]byte(`{"$ref":"#"}`), []byte(`1`))
	f.Add([]byte(`{"uniqueItems":true,"items":{"oneOf":[{"$ref":"#"},{"type":"integer"}]}}`), []byte(`[[1,[2]],[1,[2.0]]]`))
	f.Fuzz(func(t *testing.T, schema, inst []byte) {
		if len(schema)+len(inst) > 1<<14 {
			return
		}
		s, err := Compile(schema, Options{})
		if err != nil {
			if !errors.Is(err, ErrInvalidSchema) && !errors.Is(err, ErrNotJSON) {
				t.Fatalf("compile error %v is neither ErrInvalidSchema nor ErrNotJSON", err)
			}
			return
		}
		err = s.Validate(inst)
		again := s.Validate(inst)
		if (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("not deterministic: %v / %v", err, again)
		}
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) && !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrTooComplex) {
			t.Fatalf("error %v of no known kind", err)
		}
		if ve != nil && (len(ve.Causes) == 0 || ve.Error() == "") {
			t.Fatalf("a ValidationError without causes: %#v", ve)
		}
	})
}
