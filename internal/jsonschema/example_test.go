package jsonschema_test

import (
	"errors"
	"fmt"

	"github.com/isobox/isobox/internal/jsonschema"
)

func Example() {
	s, err := jsonschema.Compile([]byte(`{"type":"object","properties":{"qty":{"type":"integer","minimum":1}},"required":["sku"]}`), jsonschema.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Validate([]byte(`{"sku":"A1","qty":2}`)))
	var ve *jsonschema.ValidationError
	if errors.As(s.Validate([]byte(`{"qty":0}`)), &ve) {
		for _, c := range ve.Causes {
			fmt.Println(c.InstanceLocation, c.Keyword, c.Message)
		}
	}
	// Output:
	// <nil>
	// [] required missing property 'sku'
	// [qty] minimum minimum: got 0, want 1
}
