// Package jsonschema validates JSON values against JSON Schema documents, with no work at
// process start.
//
// It speaks drafts 2020-12 (the default), 2019-09, 07, 06 and 04, picked by a schema's
// $schema. A schema is compiled once and then validates any number of values,
// concurrently. Nothing outside the schema document is ever loaded: a $ref to anything
// the document does not itself hold (a remote URL, a file, an unknown id) makes Compile
// fail. Schemas and values may come from untrusted parties: nesting is bounded
// (MaxDepth), a reference cycle that consumes no input is a validation error, and the
// work one Validate does is bounded too (ErrTooComplex), so neither can crash the
// process or hold it.
//
// Formats are asserted for drafts 04 to 07 and are annotations only for 2019-09 and
// 2020-12, as the drafts' meta-schemas say.
package jsonschema

import (
	"errors"
	"strings"
	"sync"
)

// Dialect is a version of JSON Schema.
type Dialect int

// The dialects, numbered by their drafts; the zero Dialect is Draft2020.
const (
	Draft4    Dialect = 4
	Draft6    Dialect = 6
	Draft7    Dialect = 7
	Draft2019 Dialect = 2019
	Draft2020 Dialect = 2020
)

func (d Dialect) String() string {
	switch d {
	case Draft4:
		return "draft-04"
	case Draft6:
		return "draft-06"
	case Draft7:
		return "draft-07"
	case Draft2019:
		return "2019-09"
	case Draft2020, 0:
		return "2020-12"
	}
	return "unknown dialect"
}

// dialectOf returns the dialect a $schema names, or 0. http and https, and an empty
// fragment, are all accepted.
func dialectOf(uri string) Dialect {
	u := strings.TrimSuffix(uri, "#")
	if s, ok := strings.CutPrefix(u, "https://"); ok {
		u = s
	} else if s, ok := strings.CutPrefix(u, "http://"); ok {
		u = s
	} else {
		return 0
	}
	switch u {
	case "json-schema.org/schema", "json-schema.org/draft/2020-12/schema":
		return Draft2020
	case "json-schema.org/draft/2019-09/schema":
		return Draft2019
	case "json-schema.org/draft-07/schema":
		return Draft7
	case "json-schema.org/draft-06/schema":
		return Draft6
	case "json-schema.org/draft-04/schema":
		return Draft4
	}
	return 0
}

// MaxDepth bounds the nesting of a schema document and of a value: deeper ones are
// refused (Compile fails; Validate returns an error), so that nothing recurses without
// bound.
const MaxDepth = 1000

// maxEvalDepth bounds how deep evaluation recurses, $refs included.
const maxEvalDepth = 8 * MaxDepth

// Options configure Compile.
type Options struct {
	// Dialect is the dialect of a schema without $schema: Draft2020 when zero.
	Dialect Dialect
}

// Errors that Compile and Validate wrap.
var (
	// ErrNotJSON: the schema or the value is not JSON text.
	ErrNotJSON = errors.New("not JSON")
	// ErrInvalidSchema: the schema is not a valid schema of its dialect (a keyword of the
	// wrong type, a pattern Go's regexp does not compile, an unknown $schema), or refers to
	// something outside itself.
	ErrInvalidSchema = errors.New("invalid schema")
	// ErrTooComplex: checking the value would take more work than Validate allows (for a
	// value of n bytes, about a million steps plus 64 n).
	ErrTooComplex = errors.New("the value is too complex to check against the schema")
)

// Schema is a compiled schema. It is safe for concurrent use.
type Schema struct {
	root    *schema
	nodes   int  // compiled subschemas, numbered 0..nodes-1
	dynamic bool // the document uses $dynamicRef or $recursiveRef
	pool    sync.Pool
}

// ValidationError says why a value does not match a schema. Validate returns one whose
// Causes are the failures found; a failure's own Causes say why an applicator (allOf,
// anyOf, oneOf, $ref, ...) failed.
type ValidationError struct {
	// InstanceLocation is where in the value: property names and array indexes ("2").
	InstanceLocation []string
	// KeywordLocation is the JSON pointer to the failing keyword in the schema document,
	// after references are followed ("/$defs/item/required"); "" for the whole schema.
	KeywordLocation string
	// Keyword is the keyword that failed ("type", "required", "oneOf", ...): "false" for
	// the schema false, "" for the error Validate returns.
	Keyword string
	// Message says what is wrong, in words.
	Message string
	// Causes are the failures beneath this one.
	Causes []*ValidationError
}

// Error lists the leaves of the tree, each with its instance location as a JSON pointer.
func (e *ValidationError) Error() string {
	var b strings.Builder
	var walk func(e *ValidationError)
	walk = func(e *ValidationError) {
		if len(e.Causes) == 0 {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString("at '")
			for _, t := range e.InstanceLocation {
				b.WriteString("/" + escapeToken(t))
			}
			b.WriteString("': " + e.Message)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(e)
	return b.String()
}

func escapeToken(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}
