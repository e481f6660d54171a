// Package jsonv holds JSON values that keep the order of object keys and the digits of
// numbers as written: the TypeScript a model is shown lists properties in the order a
// schema's author wrote them (codemode), a JSON file edited in a workspace keeps its layout
// of keys (workspace), and an eval result prints as the object was built (jsvalue).
package jsonv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Object is a JSON object that remembers the order of its keys.
type Object struct {
	Keys []string
	M    map[string]any
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{M: map[string]any{}} }

// Set sets k, keeping its place if it was there.
func (o *Object) Set(k string, v any) {
	if _, ok := o.M[k]; !ok {
		o.Keys = append(o.Keys, k)
	}
	o.M[k] = v
}

// Delete removes k, and reports whether it was there.
func (o *Object) Delete(k string) bool {
	if _, ok := o.M[k]; !ok {
		return false
	}
	delete(o.M, k)
	for i, x := range o.Keys {
		if x == k {
			o.Keys = append(o.Keys[:i:i], o.Keys[i+1:]...)
			break
		}
	}
	return true
}

// MarshalJSON writes the object with its keys in order, and <, > and & as they are (an
// encoder that escapes HTML still escapes them; one that does not keeps a file's text).
func (o *Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.Keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := Marshal(o.M[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Marshal is json.Marshal that leaves <, > and & as they are.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// Get returns the value of k.
func (o *Object) Get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.M[k]
	return v, ok
}

// Str returns the value of k if it is a string, else "".
func (o *Object) Str(k string) string {
	v, _ := o.Get(k)
	s, _ := v.(string)
	return s
}

// Obj returns the value of k if it is an object, else nil.
func (o *Object) Obj(k string) *Object {
	v, _ := o.Get(k)
	x, _ := v.(*Object)
	return x
}

// Arr returns the value of k if it is an array, else nil.
func (o *Object) Arr(k string) []any {
	v, _ := o.Get(k)
	x, _ := v.([]any)
	return x
}

// Has reports whether o has k.
func (o *Object) Has(k string) bool {
	_, ok := o.Get(k)
	return ok
}

// Parse decodes one JSON value b into nil, bool, json.Number, string, []any and *Object,
// nested at most DefaultDepth levels.
func Parse(b []byte) (any, error) { return ParseDepth(b, DefaultDepth) }

// DefaultDepth is Parse's bound on nesting.
const DefaultDepth = 512

// ParseDepth is Parse with its own bound on nesting (the decoder recurses: a hostile
// [[[[...]]]] must end in an error, not exhaust the stack).
func ParseDepth(b []byte, maxDepth int) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec, 0, maxDepth)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth, maxDepth int) (any, error) {
	if depth >= maxDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d levels", maxDepth)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				v, err := decodeValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// Canonical writes v as JSON with object keys sorted: equal schemas give equal text.
func Canonical(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch v := v.(type) {
	case *Object:
		keys := append([]string(nil), v.Keys...)
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, k)
			b.WriteByte(':')
			writeCanonical(b, v.M[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, x)
		}
		b.WriteByte(']')
	default:
		j, _ := json.Marshal(v)
		b.Write(j)
	}
}

// Pointer resolves a JSON pointer ("/$defs/Address", already without "#") in root.
func Pointer(root any, p string) (any, bool) {
	if p == "" {
		return root, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	cur := root
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case *Object:
			v, ok := c.M[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
