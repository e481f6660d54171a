package toolset

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/internal/jsnorm"
)

// schemaSeeds are tool schemas as MCP servers and OpenAPI documents send them, hostile ones
// included: comment terminators and quotes in names and descriptions, remote and file
// $refs, deep nesting, recursive definitions.
var schemaSeeds = []string{
	`{"type":"object","properties":{"symbol":{"type":"string","description":"a ticker"}},"required":["symbol"]}`,
	`{"type":"object","properties":{"*/ globalThis.x = 1; /*":{"type":"string","description":"*/ evil() /*"},"a\"b":{"enum":["x\"y","*/",1,null]}}}`,
	`{"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":10,"exclusiveMaximum":true}},"$schema":"http://json-schema.org/draft-04/schema#"}`,
	`{"$ref":"#/$defs/a","$defs":{"a":{"type":"object","properties":{"next":{"$ref":"#/$defs/a"}}}}}`,
	`{"$ref":"file:///etc/passwd"}`, `{"$ref":"http://REMOTE/schema.json"}`, `{"$schema":"http://REMOTE/meta.json","type":"object"}`,
	`{"type":"array","items":{"oneOf":[{"type":"string","pattern":"^(a+)+$"},{"const":{"a":[1,2]}}]}}`,
	`{"allOf":[{"type":"object"},{"not":{"required":["x"]}}],"additionalProperties":false}`,
	`{"type":["string","null"],"format":"uri","default":"</script>\u2028"}`,
	strings.Repeat(`{"type":"array","items":`, 60) + `{}` + strings.Repeat(`}`, 60),
	`true`, `false`, `{}`, `[]`, `1`, ``,
}

// The TypeScript a tool's names, description and schemas become parses (nothing in them
// can end a comment or a string early), and so does the prelude that defines the
// namespace in the sandbox.
func FuzzToolTypes(f *testing.F) {
	for i, s := range schemaSeeds {
		f.Add("stocks", "quote", "The latest price. */ evil() /*", []byte(s), []byte(schemaSeeds[(i+1)%len(schemaSeeds)]))
	}
	f.Add("", "search-web", "Search.\n@param x */", []byte(`{}`), []byte(nil))
	f.Add("constructor", "__proto__", "", []byte(`{"type":"object"}`), []byte(`{"type":"string"}`))
	f.Add("a", "then", "`${", []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, ns, name, desc string, in, out []byte) {
		if len(in)+len(out)+len(desc) > 8192 {
			return // esbuild parses the result: keep each run short
		}
		p := Provider{Name: ns, Description: desc, Tools: []Tool{{Name: name, Description: desc,
			InputSchema: nilIfEmpty(in), OutputSchema: nilIfEmpty(out),
			Func: func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, nil }}}}
		ts, err := Resolve([]Provider{p})
		if err != nil {
			return
		}
		if pre := ts.Prelude(); pre != "" {
			imps, err := jsnorm.Imports("prelude.js", pre)
			if err != nil || len(imps) > 0 {
				t.Fatalf("the prelude of namespace %q, tool %q does not parse (%v) or imports %v:\n%s", ns, name, err, imps, pre)
			}
		}
		types, err := ts.Types()
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if _, err := jsnorm.Module("types.ts", types); err != nil {
			t.Fatalf("the TypeScript of namespace %q, tool %q does not parse: %v\n%s", ns, name, err, types)
		}
	})
}

func nilIfEmpty(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Checking tool arguments loads nothing from outside the schema (no remote $ref or
// $schema is fetched), refuses arguments that are not JSON, and says the same thing every
// time.
func FuzzCheckArgs(f *testing.F) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"type":"object"}`))
	}))
	defer srv.Close()
	for _, s := range schemaSeeds {
		s = strings.ReplaceAll(s, "http://REMOTE", srv.URL)
		for _, a := range []string{`{"symbol":"ACME"}`, `{"symbol":1}`, `{"n":10}`, `[1,"a"]`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaa!"`, `{"next":{"next":{}}}`, `{`, `null`, ``} {
			f.Add([]byte(s), []byte(a))
		}
	}
	f.Fuzz(func(t *testing.T, schema, args []byte) {
		if len(schema)+len(args) > 8192 {
			return
		}
		v := NewValidator()
		err := v.Check(schema, args)
		if n := hits.Load(); n > 0 {
			t.Fatalf("checking against %q fetched %d documents", schema, n)
		}
		c := v.compile(schema)
		if len(schema) > 0 && c.s != nil && !json.Valid(args) && err == nil {
			t.Fatalf("arguments %q that are not JSON passed schema %q", args, schema)
		}
		if string(schema) == "{}" && json.Valid(args) && err != nil {
			t.Fatalf("arguments %q refused by the empty schema: %v", args, err)
		}
		again := NewValidator().Check(schema, args)
		if (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("check is not deterministic:\n%v\n%v", err, again)
		}
	})
}
