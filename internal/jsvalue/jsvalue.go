// Package jsvalue reads the JSON of an eval result, in which the values JSON cannot hold
// are objects tagged with "$type" (the runtime writes them; the README has the table), and
// renders it for people: `isobox eval` prints a JSON value as JSON, and a tagged one in
// the notation of JavaScript consoles (undefined, NaN, 12n, Map(1) {1 => 2}, ...).
package jsvalue

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/isobox/isobox/internal/jsonv"
)

// Render returns the eval result raw (tagged JSON) as one line of text: plain JSON values
// as compact JSON, tagged values in JavaScript notation. An empty raw is undefined.
//
//	Render([]byte(`{"$type":"Map","entries":[[1,{"$type":"BigInt","value":"2"}]]}`))
//	// "Map(1) {1 => 2n}"
//
// # Errors
//
// When raw is not JSON.
func Render(raw json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "undefined", nil
	}
	v, err := jsonv.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("jsvalue: the result is not JSON: %w", err)
	}
	var b strings.Builder
	render(&b, v)
	return b.String(), nil
}

func render(b *strings.Builder, v any) {
	switch v := v.(type) {
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			render(b, e)
		}
		b.WriteByte(']')
	case *jsonv.Object:
		if t, ok := v.M["$type"].(string); ok {
			if renderTag(b, t, v.M) {
				return
			}
		}
		renderObject(b, v)
	default:
		writeJSON(b, v)
	}
}

func renderObject(b *strings.Builder, o *jsonv.Object) {
	b.WriteByte('{')
	for i, k := range o.Keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(b, k)
		b.WriteByte(':')
		render(b, o.M[k])
	}
	b.WriteByte('}')
}

// renderTag writes a tagged value; false for a tag it does not know (written as JSON).
func renderTag(b *strings.Builder, t string, o map[string]any) bool {
	str := func(k string) string { s, _ := o[k].(string); return s }
	list := func(k string) []any { l, _ := o[k].([]any); return l }
	switch t {
	case "undefined":
		b.WriteString("undefined")
	case "Number":
		b.WriteString(str("value"))
	case "BigInt":
		b.WriteString(str("value") + "n")
	case "Symbol":
		if d, ok := o["description"].(string); ok {
			b.WriteString("Symbol(" + d + ")")
		} else {
			b.WriteString("Symbol()")
		}
	case "Function":
		if n := str("name"); n != "" {
			b.WriteString("[Function: " + n + "]")
		} else {
			b.WriteString("[Function (anonymous)]")
		}
	case "Date":
		if s, ok := o["value"].(string); ok {
			b.WriteString(s)
		} else {
			b.WriteString("Invalid Date")
		}
	case "RegExp":
		b.WriteString("/" + str("source") + "/" + str("flags"))
	case "Map":
		es := list("entries")
		fmt.Fprintf(b, "Map(%d) {", len(es))
		for i, e := range es {
			if i > 0 {
				b.WriteString(", ")
			}
			kv, _ := e.([]any)
			if len(kv) != 2 {
				render(b, e)
				continue
			}
			render(b, kv[0])
			b.WriteString(" => ")
			render(b, kv[1])
		}
		b.WriteByte('}')
	case "Set":
		vs := list("values")
		fmt.Fprintf(b, "Set(%d) {", len(vs))
		for i, e := range vs {
			if i > 0 {
				b.WriteString(", ")
			}
			render(b, e)
		}
		b.WriteByte('}')
	case "Error":
		b.WriteString("[" + str("name") + ": " + str("message") + "]")
	case "ArrayBuffer", "SharedArrayBuffer", "DataView":
		raw, err := base64.StdEncoding.DecodeString(str("base64"))
		if err != nil {
			return false
		}
		fmt.Fprintf(b, "%s(%d) <", t, len(raw))
		for i, c := range raw {
			if i == 64 {
				b.WriteString(" ...")
				break
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(b, "%02x", c)
		}
		b.WriteByte('>')
	case "Promise", "WeakMap", "WeakSet", "WeakRef":
		b.WriteString(t + " {}")
	case "Circular":
		b.WriteString("[Circular " + str("path") + "]")
	case "Object":
		inner, ok := o["value"].(*jsonv.Object)
		if !ok {
			return false
		}
		renderObject(b, inner)
	default:
		if !strings.HasSuffix(t, "Array") {
			return false
		}
		vs := list("values")
		fmt.Fprintf(b, "%s(%d) [", t, len(vs))
		for i, e := range vs {
			if i > 0 {
				b.WriteByte(',')
			}
			render(b, e)
		}
		b.WriteByte(']')
	}
	return true
}

func writeJSON(b *strings.Builder, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b.WriteString("null")
		return
	}
	b.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}
