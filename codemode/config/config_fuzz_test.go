package config_test

import (
	"encoding/json"
	"testing"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/codemode/config"
	"github.com/isobox/isobox/egress"
)

// A connector file that parses is one JSON value whose names are distinct JavaScript
// identifiers, whose MCP servers have exactly one of url and command (with only the fields
// that go with it), whose APIs have a document and a policy that parses.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"mcpServers":{"docs":{"url":"https://mcp.example.com/mcp","headers":{"Authorization":"Bearer ${DOCS_TOKEN}"}},"files":{"command":"npx","args":["-y","x"]}}}`,
		`{"openapi":{"petstore":{"document":"petstore.json","baseUrl":"https://petstore.example.com/v1","policy":{"rules":[{"action":"allow","host":"petstore.example.com","injectHeaders":{"Authorization":"Bearer {{secret:t}}"}}]},"secrets":{"t":"PETSTORE_TOKEN"}}}}`,
		`{"mcpServers":{"a":{"url":"http://x","command":"y"}}}`, `{"mcpServers":{"a":{}}}`,
		`{"mcpServers":{"a":{"url":"http://x","args":["1"]}}}`, `{"mcpServers":{"a":{"command":"x","headers":{"a":"b"}}}}`,
		`{"mcpServers":{"a-b":{"command":"x"}}}`, `{"mcpServers":{"class":{"command":"x"}}}`,
		`{"mcpServers":{"a":{"command":"x"}},"openapi":{"a":{"document":"d.json"}}}`,
		`{"openapi":{"a":{"document":""}}}`, `{"openapi":{"a":{"document":"d","policy":{"rules":[{"action":"allow","host":"*","injectHeaders":{"X":"{{secret:k}}"}}]}}}}`,
		`{"openapi":{"a":{"document":"d","policy":{"rules":[]}}}}}`, `{} {}`, `{}]`, `{"mcpservers":{}}`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := config.Parse(b, t.TempDir())
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("parsed %q, which is not one JSON value", b)
		}
		seen := map[string]bool{}
		name := func(n string) {
			if codemode.SanitizeName(n) != n {
				t.Fatalf("accepted the name %q, which is not an identifier", n)
			}
			if seen[n] {
				t.Fatalf("accepted the name %q twice", n)
			}
			seen[n] = true
		}
		for n, s := range file.MCPServers {
			name(n)
			if (s.URL == "") == (s.Command == "") {
				t.Fatalf("mcpServers.%s: url %q, command %q", n, s.URL, s.Command)
			}
			if s.URL != "" && (len(s.Args) > 0 || len(s.Env) > 0) || s.Command != "" && len(s.Headers) > 0 {
				t.Fatalf("mcpServers.%s mixes the fields of url and command: %+v", n, s)
			}
		}
		for n, a := range file.OpenAPI {
			name(n)
			if a.Document == "" {
				t.Fatalf("openapi.%s has no document", n)
			}
			if len(a.Policy) > 0 {
				if _, err := egress.ParsePolicy(a.Policy); err != nil {
					t.Fatalf("openapi.%s: accepted a policy that does not parse: %v", n, err)
				}
			}
		}
	})
}
