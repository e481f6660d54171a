package egress

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/isobox/isobox/isoerr"
)

var policySeeds = []string{
	`{"rules":[{"action":"allow","host":"api.github.com","schemes":["https"],"methods":["GET"],"path":"/repos/*/issues","injectHeaders":{"Authorization":"Bearer {{secret:gh}}"}}]}`,
	`{"rules":[{"action":"deny","host":"*.internal.example.com"},{"action":"allow","host":"*.example.com","ports":[443,8443],"path":"/v1/"}]}`,
	`{"rules":[{"action":"allow","host":"*","path":"/files/**","stripHeaders":["Cookie"],"stripResponseHeaders":["Set-Cookie"],"maxResponseBytes":1024,"timeoutMs":900000}]}`,
	`{"rules":[{"action":"allow","host":"127.0.0.1","allowPrivate":true},{"action":"allow","host":"[::1]","allowPrivate":true}]}`,
	`{"rules":[{"action":"allow","host":"::ffff:169.254.169.254"},{"action":"allow","host":"64:ff9b::a9fe:a9fe"},{"action":"allow","host":"2130706433"},{"action":"allow","host":"0177.0.0.1"}]}`,
	`{"rules":[{"action":"allow","host":"*","injectHeaders":{"X":"{{secret:k}}"}}]}`,
	`{"rules":[{"action":"deny","host":"a.com","injectHeaders":{"Host":"x"}}]}`,
	`{"rules":[{"action":"allow","host":"*.","ports":[0,70000],"schemes":["ftp"],"methods":["G T"],"path":"v1?x"}]}`,
	`{"rules":[{"action":"allow","host":"http://a.com/"},{"action":"allow","host":"a.com:443"},{"action":"allow","host":"ex*ample.com"},{"action":"allow","host":"bücher.de"}]}`,
	`{"rules":[{"action":"allow","host":"a.com","unknown":1}]}`,
	`{"rules":[{"action":"allow","host":"a.com"}]} {}`,
	`{"rules":[{"action":"allow","host":"a.com","host":"*"}]}`,
	`{"rules":[]}}`, `{"rules":[]}]`, `{"rules":null}`, `{}`, `null`, `[]`, ``,
}

// ParsePolicy either refuses with invalid_request or returns a valid policy whose JSON
// parses back to the same policy.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range policySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			var e *isoerr.Error
			if !errors.As(err, &e) || e.Code != isoerr.InvalidRequest {
				t.Fatalf("error %v (%T) is not invalid_request", err, err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted %q, which is not one JSON value", b)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("a parsed policy does not validate: %v", err)
		}
		enc, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParsePolicy(enc)
		if err != nil {
			t.Fatalf("the JSON %s of a parsed policy does not parse: %v", enc, err)
		}
		enc2, _ := json.Marshal(p2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the policy:\n%s\n%s", enc, enc2)
		}
	})
}

// Check's verdict follows the rules' documented meaning: an allowed request has an http(s)
// URL with a host and no dot segments, is matched by the rule named, and that rule is the
// first that matches; host names match without regard to case or a trailing dot; a
// wildcard host never matches its own apex or an IP address.
func FuzzPolicyCheck(f *testing.F) {
	urls := []string{
		"https://api.github.com/repos/a/issues", "http://API.GITHUB.COM./repos/a/issues",
		"http://127.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::7f00:1]/", "http://2130706433/",
		"http://0x7f.1/", "http://017700000001/", "http://169.254.169.254/latest/meta-data/",
		"https://a.example.com:8443/v1/x", "https://example.com/v1beta", "https://x.internal.example.com/",
		"https://evilexample.com/", "http://a.com/%2e%2e/admin", "http://a.com/v1/..%2fadmin", "http://a.com/a\\..\\b",
		"ftp://a.com/", "http://user:pw@a.com@b.com/", "http://a.com:0/", "http://a.com:99999/", "http:///x",
		"http://[::1]:80/", "http://xn--bcher-kva.de/", "http://a.com/files/x/y/z",
	}
	for i, s := range policySeeds[:6] {
		f.Add([]byte(s), "GET", urls[i%len(urls)])
		f.Add([]byte(s), "POST", urls[(i+7)%len(urls)])
	}
	for _, u := range urls {
		f.Add([]byte(`{"rules":[{"action":"allow","host":"*"}]}`), "get", u)
		f.Add([]byte(`{"rules":[{"action":"allow","host":"*.example.com"},{"action":"allow","host":"127.0.0.1"}]}`), "CONNECT", u)
	}
	f.Fuzz(func(t *testing.T, pol []byte, method, raw string) {
		p, err := ParsePolicy(pol)
		if err != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		d := p.Check(method, u)
		if !d.Allowed {
			if d.Hint == "" {
				t.Fatalf("a denial of %s %q without a hint", method, raw)
			}
			if d.Rule >= 0 && p.Rules[d.Rule].Action != Deny {
				t.Fatalf("denied by rule %d, which is not a deny rule", d.Rule)
			}
		} else {
			if d.Rule < 0 || d.Rule >= len(p.Rules) || p.Rules[d.Rule].Action != Allow {
				t.Fatalf("allowed by rule %d of %d", d.Rule, len(p.Rules))
			}
			if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
				t.Fatalf("allowed a %q URL", u.Scheme)
			}
			switch strings.ToUpper(method) {
			case "CONNECT", "TRACE", "TRACK":
				t.Fatalf("allowed method %s", method)
			}
			host := normHost(u.Hostname())
			if host == "" {
				t.Fatalf("allowed %q without a host", raw)
			}
			for _, seg := range strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' || r == '\\' }) {
				if seg == "." || seg == ".." {
					t.Fatalf("allowed a dot segment in %q", u.Path)
				}
			}
			r := p.Rules[d.Rule]
			if wild, ok := strings.CutPrefix(r.Host, "*."); ok {
				apex := strings.ToLower(strings.TrimSuffix(wild, "."))
				if _, err := netip.ParseAddr(host); err == nil {
					t.Fatalf("wildcard %q allowed the address %q", r.Host, host)
				}
				if !strings.HasSuffix(host, "."+apex) {
					t.Fatalf("wildcard %q allowed %q, which is not a subdomain", r.Host, host)
				}
			} else if r.Host != "*" && normHost(r.Host) != host {
				t.Fatalf("rule host %q allowed host %q", r.Host, host)
			}
			if r.Path != "" && !pathOracle(r.Path, u.Path) && !(u.Path == "" && pathOracle(r.Path, "/")) {
				t.Fatalf("rule path %q allowed path %q", r.Path, u.Path)
			}
			tg, why := newTarget(method, u)
			if why != "" {
				t.Fatalf("allowed a request the target refuses: %s", why)
			}
			for j := 0; j < d.Rule; j++ {
				if p.Rules[j].matches(&tg) {
					t.Fatalf("allowed by rule %d, but rule %d matches first", d.Rule, j)
				}
			}
		}
		// The same request with the host in upper case and with a trailing dot is decided
		// the same way.
		if h := u.Hostname(); h != "" && !strings.Contains(h, ":") && utf8.ValidString(h) {
			for _, alt := range []string{strings.ToUpper(h), h + "."} {
				if strings.HasSuffix(h, ".") && strings.HasSuffix(alt, "..") {
					continue
				}
				v := *u
				v.Host = alt
				if port := u.Port(); port != "" {
					v.Host += ":" + port
				}
				d2 := p.Check(method, &v)
				if d2.Allowed != d.Allowed || d2.Rule != d.Rule {
					t.Fatalf("host %q: allowed %v by rule %d; host %q: allowed %v by rule %d", h, d.Allowed, d.Rule, alt, d2.Allowed, d2.Rule)
				}
			}
		}
	})
}

// pathOracle is the documented meaning of a rule's path, written independently of
// matchPath: a prefix at segment boundaries, or a glob ("*" within a segment, "**" across).
func pathOracle(pat, p string) bool {
	if strings.Contains(pat, "*") {
		return globRegexp(pat).MatchString(p)
	}
	if p == pat {
		return true
	}
	if strings.HasSuffix(pat, "/") {
		return strings.HasPrefix(p, pat)
	}
	return strings.HasPrefix(p, pat+"/")
}

func globRegexp(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(pat); {
		if pat[i] == '*' {
			j := i
			for j < len(pat) && pat[j] == '*' {
				j++
			}
			if j-i > 1 {
				b.WriteString(`.*`)
			} else {
				b.WriteString(`[^/]*`)
			}
			i = j
			continue
		}
		_, n := utf8.DecodeRuneInString(pat[i:])
		b.WriteString(regexp.QuoteMeta(pat[i : i+n]))
		i += n
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// matchPath agrees with the documented meaning on every pattern and path.
func FuzzMatchPath(f *testing.F) {
	for _, c := range [][2]string{
		{"/v1", "/v1"}, {"/v1", "/v1/x"}, {"/v1", "/v1beta"}, {"/v1/", "/v1"}, {"/v1/", "/v1/x"},
		{"/repos/*/issues", "/repos/a/issues"}, {"/repos/*/issues", "/repos/a/b/issues"}, {"/files/**", "/files/a/b"},
		{"/a/***/b", "/a/x/y/b"}, {"/*", "/"}, {"/**", ""}, {"/" + strings.Repeat("*a", 50), "/" + strings.Repeat("a", 200) + "b"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, pat, p string) {
		if !utf8.ValidString(pat) || !utf8.ValidString(p) {
			return // the oracle is a regexp, which reads UTF-8
		}
		if got, want := matchPath(pat, p), pathOracle(pat, p); got != want {
			t.Fatalf("matchPath(%q, %q) = %v, documented meaning says %v", pat, p, got, want)
		}
	})
}

// An IPv4 address the SSRF guard blocks stays blocked in every IPv6 form that carries it:
// IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
func FuzzAddrClass(f *testing.F) {
	for _, a := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "8.8.8.8", "192.168.1.1", "255.255.255.255"} {
		f.Add(netip.MustParseAddr(a).AsSlice())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		v4 := netip.AddrFrom4([4]byte(b[:4]))
		if addrClass(v4) == "" {
			return
		}
		var mapped, compat, nat64, six2four [16]byte
		mapped[10], mapped[11] = 0xff, 0xff
		copy(mapped[12:], b[:4])
		copy(compat[12:], b[:4])
		nat64[1], nat64[2], nat64[3] = 0x64, 0xff, 0x9b
		copy(nat64[12:], b[:4])
		six2four[0], six2four[1] = 0x20, 0x02
		copy(six2four[2:6], b[:4])
		for name, a := range map[string][16]byte{"mapped": mapped, "compatible": compat, "NAT64": nat64, "6to4": six2four} {
			if addrClass(netip.AddrFrom16(a)) == "" {
				t.Fatalf("%s is blocked but its %s form %s is not", v4, name, netip.AddrFrom16(a))
			}
		}
	})
}
