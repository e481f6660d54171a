package egress

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

func TestPolicyMatrix(t *testing.T) {
	p, err := ParsePolicy([]byte(`{"rules": [
		{"action": "deny",  "host": "secret.example.com"},
		{"action": "allow", "host": "*.example.com", "schemes": ["https"], "methods": ["GET", "head"]},
		{"action": "allow", "host": "api.github.com", "schemes": ["https"], "path": "/repos/*/issues"},
		{"action": "allow", "host": "files.test", "path": "/pub/**"},
		{"action": "allow", "host": "v1.test", "path": "/v1"},
		{"action": "allow", "host": "dir.test", "path": "/v1/"},
		{"action": "allow", "host": "ports.test", "ports": [8080, 443]},
		{"action": "allow", "host": "127.0.0.1", "allowPrivate": true},
		{"action": "allow", "host": "::1", "ports": [8443]},
		{"action": "deny",  "host": "*.internal.test"},
		{"action": "allow", "host": "db.internal.test"},
		{"action": "allow", "host": "post.test", "methods": ["POST"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, url string
		allowed     bool
		rule        int
		hint        string // a substring of the hint, for denials
	}{
		// host: exact, wildcard (subdomains only), case, trailing dot, order
		{"GET", "https://a.example.com/", true, 1, ""},
		{"GET", "https://a.b.example.com/x", true, 1, ""},
		{"GET", "https://A.Example.COM./", true, 1, ""},
		{"GET", "https://example.com/", false, -1, "add a rule such as"},
		{"GET", "https://badexample.com/", false, -1, `"host":"badexample.com"`},
		{"GET", "https://secret.example.com/", false, 0, "rule 0 (deny"},
		// scheme and method
		{"GET", "http://a.example.com/", false, -1, `its schemes are [https], not "http"`},
		{"HEAD", "https://a.example.com/", true, 1, ""},
		{"POST", "https://a.example.com/", false, -1, `add "POST" to its "methods"`},
		{"GET", "ftp://a.example.com/", false, -1, "only http and https"},
		{"TRACE", "https://a.example.com/", false, -1, "TRACE method is never sent"},
		{"CONNECT", "https://a.example.com/", false, -1, "never sent"},
		// glob: * within a segment, ** across
		{"GET", "https://api.github.com/repos/x/issues", true, 2, ""},
		{"GET", "https://api.github.com/repos/x/y/issues", false, -1, `its path is "/repos/*/issues"`},
		{"GET", "https://api.github.com/repos/x/pulls", false, -1, "rule 2 allows host"},
		{"GET", "http://files.test/pub/a/b/c.txt", true, 3, ""},
		{"GET", "http://files.test/pub", false, -1, "path"},
		{"GET", "http://files.test/private/pub/x", false, -1, "path"},
		// prefix at segment boundaries
		{"GET", "http://v1.test/v1", true, 4, ""},
		{"GET", "http://v1.test/v1/users", true, 4, ""},
		{"GET", "http://v1.test/v1beta", false, -1, "path"},
		{"GET", "http://dir.test/v1/x", true, 5, ""},
		{"GET", "http://dir.test/v1", false, -1, "path"},
		// dot segments are refused, encoded or not
		{"GET", "http://v1.test/v1/../admin", false, -1, `".." segment`},
		{"GET", "http://v1.test/v1/%2e%2e/admin", false, -1, `".." segment`},
		{"GET", "http://v1.test/v1/..%2fadmin", false, -1, `".." segment`},
		// ports: default by scheme, explicit
		{"GET", "http://ports.test:8080/", true, 6, ""},
		{"GET", "https://ports.test/", true, 6, ""},
		{"GET", "http://ports.test/", false, -1, `add 80 to its "ports"`},
		{"GET", "http://ports.test:9999/", false, -1, "9999"},
		// IP literals, IPv6 in canonical form
		{"GET", "http://127.0.0.1:1234/", true, 7, ""},
		{"GET", "https://[0:0::1]:8443/", true, 8, ""},
		{"GET", "https://[::1]/", false, -1, "ports"},
		// order: a deny before an allow, with the shadowed rule named
		{"GET", "http://db.internal.test/", false, 9, "rule 10 would allow it"},
		{"GET", "http://x.internal.test/", false, 9, "rule 9 denies it"},
		{"post", "http://post.test/", true, 11, ""},
	}
	for _, c := range cases {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		d := p.Check(c.method, u)
		if d.Allowed != c.allowed || d.Rule != c.rule || !strings.Contains(d.Hint, c.hint) {
			t.Errorf("%s %s: got %+v, want allowed=%v rule=%d hint~%q", c.method, c.url, d, c.allowed, c.rule, c.hint)
		}
	}
}

func TestEmptyPolicyDeniesEverything(t *testing.T) {
	u, _ := url.Parse("https://example.com/")
	for _, p := range []*Policy{nil, {}} {
		d := p.Check("GET", u)
		if d.Allowed || d.Rule != -1 || !strings.Contains(d.Hint, `{"action":"allow","host":"example.com","methods":["GET"],"schemes":["https"]}`) {
			t.Errorf("%v: %+v", p, d)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		json string
		want []string // substrings of the error; none: valid
	}{
		{`{"rules": []}`, nil},
		{`{"rules": [{"action": "allow", "host": "*"}]}`, nil},
		{`{"rules": [{"action": "allow", "host": "a.test", "injectHeaders": {"Authorization": "Bearer {{secret:tok}}", "X-Plain": "1"}}]}`, nil},
		{`{"rules": [{"action": "permit", "host": "a.test"}]}`, []string{`rules[0].action: "permit"`}},
		{`{"rules": [{"host": "a.test"}]}`, []string{"rules[0].action: missing"}},
		{`{"rules": [{"action": "allow"}]}`, []string{"rules[0].host: missing"}},
		{`{"rules": [{"action": "allow", "host": "a.test"}, {"action": "allow", "host": "*."}]}`, []string{`rules[1].host: "*.": a wildcard host`}},
		{`{"rules": [{"action": "allow", "host": "a.*.test"}]}`, []string{"rules[0].host", "only wildcard"}},
		{`{"rules": [{"action": "allow", "host": "a.test:8080"}]}`, []string{`rules[0].host`, `"ports"`}},
		{`{"rules": [{"action": "allow", "host": "https://a.test/"}]}`, []string{"not a URL"}},
		{`{"rules": [{"action": "allow", "host": "bücher.test"}]}`, []string{"xn--"}},
		{`{"rules": [{"action": "allow", "host": "a.test", "schemes": ["ws"], "ports": [0, 70000], "methods": ["GE T"]}]}`,
			[]string{`rules[0].schemes[0]: "ws"`, "rules[0].ports[0]: 0", "rules[0].ports[1]: 70000", `rules[0].methods[0]: "GE T"`}},
		{`{"rules": [{"action": "allow", "host": "a.test", "path": "v1"}]}`, []string{`rules[0].path: "v1": must start with "/"`}},
		{`{"rules": [{"action": "allow", "host": "a.test", "path": "/v1?x"}]}`, []string{"rules[0].path"}},
		{`{"rules": [{"action": "allow", "host": "*", "injectHeaders": {"Authorization": "{{secret:tok}}"}}]}`,
			[]string{`rules[0].injectHeaders["Authorization"]: a rule that injects a secret must name its host`}},
		{`{"rules": [{"action": "allow", "host": "a.test", "injectHeaders": {"X": "{{secret:}}"}}]}`, []string{`injectHeaders["X"]`, "{{secret:NAME}}"}},
		{`{"rules": [{"action": "allow", "host": "a.test", "injectHeaders": {"X": "{{ token }}"}}]}`, []string{`injectHeaders["X"]`}},
		{`{"rules": [{"action": "allow", "host": "a.test", "injectHeaders": {"Host": "b.test"}}]}`, []string{`injectHeaders["Host"]`, "managed by the gateway"}},
		{`{"rules": [{"action": "allow", "host": "a.test", "injectHeaders": {"X": "a\nb"}}]}`, []string{"CR, LF"}},
		{`{"rules": [{"action": "deny", "host": "a.test", "injectHeaders": {"X": "1"}}]}`, []string{"a deny rule sends nothing"}},
		{`{"rules": [{"action": "allow", "host": "a.test", "stripHeaders": ["Content-Length", "bad header"]}]}`,
			[]string{"rules[0].stripHeaders[0]", "rules[0].stripHeaders[1]"}},
		{`{"rules": [{"action": "allow", "host": "a.test", "maxResponseBytes": -1, "timeoutMs": 900001}]}`,
			[]string{"rules[0].maxResponseBytes: -1", "rules[0].timeoutMs: 900001"}},
		{`{"rules": [{"action": "allow", "host": "*.a.test", "allowPrivate": true}]}`, []string{"rules[0].allowPrivate: needs an exact host"}},
		{`{"rules": [{"action": "deny", "host": "a.test", "allowPrivate": true}]}`, []string{"rules[0].allowPrivate: only an allow rule"}},
		{`{"rules": [{"action": "allow", "host": "a.test", "allow_private": true}]}`, []string{"rules[0]", `unknown field "allow_private"`}},
		{`{"rulez": []}`, []string{`unknown field "rulez"`}},
		{`{"rules": []} {}`, []string{"unexpected data"}},
	}
	for _, c := range cases {
		_, err := ParsePolicy([]byte(c.json))
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.json, err)
			}
			continue
		}
		if isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("%s: got %v, want invalid_request", c.json, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s:\n got  %v\n want ~%q", c.json, err, w)
			}
		}
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pat, path string
		want      bool
	}{
		{"/a/*", "/a/b", true},
		{"/a/*", "/a/", true},
		{"/a/*", "/a/b/c", false},
		{"/a/**", "/a/b/c", true},
		{"/a/**/z", "/a/b/c/z", true},
		{"/a/**/z", "/a/z", false},
		{"/*.json", "/x.json", true},
		{"/*.json", "/d/x.json", false},
		{"/**.json", "/d/x.json", true},
		{"/a*b*c", "/aXbYc", true},
		{"/a*b*c", "/aXbY/c", false},
		{"/" + strings.Repeat("*", 50) + "x", "/" + strings.Repeat("a", 5000), false}, // no blow-up
	}
	for _, c := range cases {
		if got := matchGlob(c.pat, c.path); got != c.want {
			t.Errorf("matchGlob(%q, %q) = %v", c.pat, c.path, got)
		}
	}
}

// The policy shown in README.md is valid.
func TestREADMEPolicy(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "```json\n")
	doc, _, _ := strings.Cut(rest, "```")
	p, err := ParsePolicy([]byte(doc))
	if err != nil || len(p.Rules) != 4 {
		t.Fatalf("%v %+v", err, p)
	}
}
