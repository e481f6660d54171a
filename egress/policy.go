package egress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/isobox/isobox/isoerr"
)

// Action is what a matching rule does with a request.
type Action string

// The two actions.
const (
	Allow Action = "allow"
	Deny  Action = "deny"
)

// maxTimeoutMs is the longest timeoutMs a rule may set: the longest wall time of an
// invocation (15 minutes).
const maxTimeoutMs = 15 * 60 * 1000

// Policy is an ordered list of rules: the first rule that matches a request decides it, and a
// request that no rule matches is denied. A nil or empty Policy denies everything.
//
// Its JSON form is {"rules": [...]} (see Rule); ParsePolicy reads it strictly.
type Policy struct {
	Rules []Rule `json:"rules"`
}

// Rule matches requests and allows or denies them. A criterion that is left empty matches
// every request; a request matches the rule when it matches every criterion.
type Rule struct {
	// Action is "allow" or "deny". Required.
	Action Action `json:"action"`
	// Host is the request's host: an exact name or IP address ("api.github.com",
	// "127.0.0.1", "::1"), "*.example.com" for every subdomain of example.com (not
	// example.com itself), or "*" for any host. Matched without regard to case. Required.
	Host string `json:"host"`
	// Schemes lists the URL schemes, "http" and/or "https". Empty: both.
	Schemes []string `json:"schemes,omitempty"`
	// Ports lists the ports; a URL without a port has its scheme's (80, 443). Empty: any.
	Ports []int `json:"ports,omitempty"`
	// Methods lists the HTTP methods ("GET", "POST", ...), matched without regard to case.
	// Empty: any.
	Methods []string `json:"methods,omitempty"`
	// Path is a path prefix, matched at segment boundaries ("/v1" matches "/v1" and
	// "/v1/x", not "/v1beta"; "/v1/" only "/v1/..."), or, when it contains "*", a glob
	// over the whole path in which "*" matches within one segment and "**" across
	// segments ("/repos/*/issues", "/files/**"). Empty: any path.
	Path string `json:"path,omitempty"`

	// InjectHeaders are set on matching requests (replacing the caller's value), after
	// StripHeaders. A value may reference secrets as {{secret:NAME}}:
	// {"Authorization": "Bearer {{secret:github_token}}"}. Only allow rules inject, and a
	// rule that injects a secret must name a host (not "*").
	InjectHeaders map[string]string `json:"injectHeaders,omitempty"`
	// StripHeaders are removed from matching requests before they leave ("Cookie").
	StripHeaders []string `json:"stripHeaders,omitempty"`
	// StripResponseHeaders are removed from the responses to matching requests
	// ("Set-Cookie"). Hop-by-hop headers (Connection, Keep-Alive, ...) always are.
	StripResponseHeaders []string `json:"stripResponseHeaders,omitempty"`
	// MaxResponseBytes caps the response body (after decompression). 0: the gateway's
	// default (Config.MaxResponseBytes).
	MaxResponseBytes int64 `json:"maxResponseBytes,omitempty"`
	// TimeoutMs bounds one request from sending to the end of its response body, in
	// milliseconds (at most 900000). 0: the gateway's default (Config.Timeout).
	TimeoutMs int `json:"timeoutMs,omitempty"`
	// AllowPrivate lets this rule's host resolve to loopback, private, link-local and other
	// non-public addresses, which the SSRF guard otherwise refuses. It is for operators
	// (an internal service, a test server) and requires an exact Host.
	AllowPrivate bool `json:"allowPrivate,omitempty"`
}

// ParsePolicy reads a policy from its JSON form, rejecting unknown fields, and validates it.
//
// # Errors
//
// An *isoerr.Error with code isoerr.InvalidRequest whose message names the rule index and
// field of every problem found ("rules[2].ports[0]: 70000 is not a port").
func ParsePolicy(data []byte) (*Policy, error) {
	var raw struct {
		Rules []json.RawMessage `json:"rules"`
	}
	if err := strictJSON(data, &raw); err != nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "invalid egress policy: %v", err)
	}
	p := &Policy{Rules: make([]Rule, len(raw.Rules))}
	for i, r := range raw.Rules {
		if err := strictJSON(r, &p.Rules[i]); err != nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "invalid egress policy: rules[%d]: %v", i, err)
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func strictJSON(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	// Not d.More(): it reports false before a stray '}' or ']', which would pass.
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// Validate checks every rule and reports all problems at once. A nil Policy is valid (it
// denies everything).
//
// # Errors
//
// An *isoerr.Error with code isoerr.InvalidRequest; each problem is named by rule index and
// JSON field: `rules[1].host: "*.": a wildcard host is "*.example.com"`.
func (p *Policy) Validate() error {
	if p == nil {
		return nil
	}
	var probs []string
	for i := range p.Rules {
		for _, msg := range p.Rules[i].problems() {
			probs = append(probs, fmt.Sprintf("rules[%d].%s", i, msg))
		}
	}
	if len(probs) > 0 {
		return isoerr.New(isoerr.InvalidRequest, "invalid egress policy: %s", strings.Join(probs, "; "))
	}
	return nil
}

func (r *Rule) problems() []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	switch r.Action {
	case Allow, Deny:
	case "":
		bad(`action: missing; use "allow" or "deny"`)
	default:
		bad(`action: %q: use "allow" or "deny"`, r.Action)
	}
	if msg := hostProblem(r.Host); msg != "" {
		bad("host: %s", msg)
	}
	for i, s := range r.Schemes {
		if s = strings.ToLower(s); s != "http" && s != "https" {
			bad(`schemes[%d]: %q: only "http" and "https" can be fetched`, i, r.Schemes[i])
		}
	}
	for i, p := range r.Ports {
		if p < 1 || p > 65535 {
			bad("ports[%d]: %d is not a port (1-65535)", i, p)
		}
	}
	for i, m := range r.Methods {
		if !validToken(m) {
			bad("methods[%d]: %q is not an HTTP method", i, m)
		}
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		bad(`path: %q: must start with "/"`, r.Path)
	} else if strings.ContainsAny(r.Path, "?# \t\r\n") {
		bad("path: %q: a path has no query, fragment or spaces", r.Path)
	}
	names := slices.Sorted(maps.Keys(r.InjectHeaders))
	for _, name := range names {
		field := fmt.Sprintf("injectHeaders[%q]", name)
		if msg := headerNameProblem(name); msg != "" {
			bad("%s: %s", field, msg)
			continue
		}
		if r.Action == Deny {
			bad("%s: a deny rule sends nothing, so it cannot inject headers", field)
		}
		tmpl, err := parseTemplate(r.InjectHeaders[name])
		if err != nil {
			bad("%s: %v", field, err)
			continue
		}
		if tmpl.hasSecret() && (r.Host == "*" || r.Host == "") {
			bad(`%s: a rule that injects a secret must name its host, not "*": `+
				`the secret would go wherever the sandbox asks`, field)
		}
	}
	for i, name := range r.StripHeaders {
		if msg := headerNameProblem(name); msg != "" {
			bad("stripHeaders[%d]: %s", i, msg)
		}
	}
	for i, name := range r.StripResponseHeaders {
		if !validToken(name) {
			bad("stripResponseHeaders[%d]: %q is not a header name", i, name)
		}
	}
	if r.MaxResponseBytes < 0 {
		bad("maxResponseBytes: %d: must be 0 (the default) or more", r.MaxResponseBytes)
	}
	if r.TimeoutMs < 0 || r.TimeoutMs > maxTimeoutMs {
		bad("timeoutMs: %d: must be between 0 (the default) and %d", r.TimeoutMs, maxTimeoutMs)
	}
	if r.AllowPrivate {
		if r.Action != Allow {
			bad("allowPrivate: only an allow rule can set it")
		}
		if strings.Contains(r.Host, "*") {
			bad("allowPrivate: needs an exact host, not %q: it is an override for one host", r.Host)
		}
	}
	return out
}

// hostProblem says what is wrong with a rule's host, or "".
func hostProblem(h string) string {
	switch {
	case h == "":
		return `missing; name a host ("api.example.com", "*.example.com", or "*" for any)`
	case h == "*":
		return ""
	case strings.ContainsAny(h, "/?#@ \t"):
		return fmt.Sprintf("%q: a host is a name or an IP address, not a URL", h)
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return ""
	}
	if strings.Contains(h, ":") {
		return fmt.Sprintf("%q: put the port in \"ports\", not in the host", h)
	}
	name, wild := strings.CutPrefix(h, "*.")
	if strings.Contains(name, "*") {
		return fmt.Sprintf(`%q: the only wildcard is a leading "*." ("*.example.com")`, h)
	}
	if name == "" || strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
		if wild {
			return fmt.Sprintf(`%q: a wildcard host is "*.example.com"`, h)
		}
		return fmt.Sprintf("%q: not a host name", h)
	}
	for _, c := range name {
		if c > 0x7f {
			return fmt.Sprintf("%q: write an international name in its ASCII (xn--) form", h)
		}
	}
	return ""
}

// headerNameProblem says why a request header cannot be injected or stripped, or "".
func headerNameProblem(name string) string {
	if !validToken(name) {
		return fmt.Sprintf("%q is not a header name", name)
	}
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Te", "Trailer", "Upgrade":
		return fmt.Sprintf("%q is managed by the gateway and cannot be set or removed", name)
	}
	return ""
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Decision is a policy's verdict on one request.
type Decision struct {
	// Allowed reports whether the request may be sent.
	Allowed bool
	// Rule is the index of the rule that decided, or -1 when none matched.
	Rule int
	// Hint, for a denial, says which rule would allow the request, or how to write one.
	Hint string
}

// Check decides a request by its method and URL. It looks at names only; the gateway's
// SSRF guard checks the addresses a name resolves to when it connects.
//
//	d := p.Check("GET", u)
//	if !d.Allowed { log.Print(d.Hint) }
func (p *Policy) Check(method string, u *url.URL) Decision {
	t, why := newTarget(method, u)
	if why != "" {
		return Decision{Rule: -1, Hint: why}
	}
	var rules []Rule
	if p != nil {
		rules = p.Rules
	}
	first := -1
	for i := range rules {
		if rules[i].matches(&t) {
			first = i
			break
		}
	}
	if first >= 0 && rules[first].Action == Allow {
		return Decision{Allowed: true, Rule: first}
	}
	if first >= 0 {
		for j := first + 1; j < len(rules); j++ {
			if rules[j].Action == Allow && rules[j].matches(&t) {
				return Decision{Rule: first, Hint: fmt.Sprintf(
					"rule %d (deny, host %q) matches it first; rule %d would allow it", first, rules[first].Host, j)}
			}
		}
		return Decision{Rule: first, Hint: fmt.Sprintf("rule %d denies it (deny, host %q)", first, rules[first].Host)}
	}
	for j := range rules {
		if rules[j].Action == Allow && rules[j].matchHost(t.host) {
			return Decision{Rule: -1, Hint: fmt.Sprintf("rule %d allows host %q but not this request: %s",
				j, rules[j].Host, rules[j].miss(&t))}
		}
	}
	return Decision{Rule: -1, Hint: "no rule matches it and the default is deny; to allow it, add a rule such as " + t.suggest()}
}

// target is a request reduced to what rules match on.
type target struct {
	scheme, host, method, path string
	port                       int
}

func newTarget(method string, u *url.URL) (target, string) {
	if u == nil {
		return target{}, "the request has no URL"
	}
	t := target{scheme: strings.ToLower(u.Scheme), method: method, path: u.Path}
	if t.scheme != "http" && t.scheme != "https" {
		return t, fmt.Sprintf("only http and https URLs can be fetched, not %q", u.Scheme)
	}
	switch strings.ToUpper(method) {
	case "CONNECT", "TRACE", "TRACK":
		return t, fmt.Sprintf("the %s method is never sent", strings.ToUpper(method))
	}
	t.host = normHost(u.Hostname())
	if t.host == "" {
		return t, "the URL has no host"
	}
	t.port = 80
	if t.scheme == "https" {
		t.port = 443
	}
	if ps := u.Port(); ps != "" {
		p, err := strconv.Atoi(ps)
		if err != nil || p < 1 || p > 65535 {
			return t, fmt.Sprintf("%q is not a port", ps)
		}
		t.port = p
	}
	if t.path == "" {
		t.path = "/"
	}
	for _, seg := range strings.FieldsFunc(t.path, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == "." || seg == ".." {
			return t, "the path has a \".\" or \"..\" segment (perhaps percent-encoded); resolve it before fetching"
		}
	}
	return t, ""
}

// normHost lowercases a host, drops a trailing dot and IPv6 brackets, and writes an IP
// address in its canonical form.
func normHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String()
	}
	return h
}

func (t *target) suggest() string {
	r := map[string]any{"action": "allow", "host": t.host, "schemes": []string{t.scheme}, "methods": []string{strings.ToUpper(t.method)}}
	if t.port != 80 && t.port != 443 {
		r["ports"] = []int{t.port}
	}
	b, _ := json.Marshal(r)
	return string(b)
}

func (r *Rule) matches(t *target) bool { return r.matchHost(t.host) && r.miss(t) == "" }

func (r *Rule) matchHost(h string) bool {
	switch {
	case r.Host == "*":
		return true
	case strings.HasPrefix(r.Host, "*."):
		if _, err := netip.ParseAddr(h); err == nil {
			return false
		}
		suffix := strings.ToLower(strings.TrimSuffix(r.Host[1:], "."))
		return len(h) > len(suffix) && strings.HasSuffix(h, suffix)
	default:
		return normHost(r.Host) == h
	}
}

// miss says which criterion other than the host t fails, or "" when it matches them all.
func (r *Rule) miss(t *target) string {
	if len(r.Schemes) > 0 && !slices.ContainsFunc(r.Schemes, func(s string) bool { return strings.EqualFold(s, t.scheme) }) {
		return fmt.Sprintf("its schemes are %v, not %q", r.Schemes, t.scheme)
	}
	if len(r.Ports) > 0 && !slices.Contains(r.Ports, t.port) {
		return fmt.Sprintf("its ports are %v, not %d; add %d to its \"ports\"", r.Ports, t.port, t.port)
	}
	if len(r.Methods) > 0 && !slices.ContainsFunc(r.Methods, func(m string) bool { return strings.EqualFold(m, t.method) }) {
		return fmt.Sprintf("its methods are %v, not %s; add %q to its \"methods\"", r.Methods, t.method, t.method)
	}
	if r.Path != "" && !matchPath(r.Path, t.path) {
		return fmt.Sprintf("its path is %q, which %q does not match", r.Path, t.path)
	}
	return ""
}

// matchPath matches a rule's path (a segment-wise prefix, or a glob when it has a "*").
func matchPath(pat, p string) bool {
	if strings.Contains(pat, "*") {
		return matchGlob(pat, p)
	}
	if !strings.HasPrefix(p, pat) {
		return false
	}
	return len(p) == len(pat) || strings.HasSuffix(pat, "/") || p[len(pat)] == '/'
}

// matchGlob matches a whole path against a glob in which "*" matches any run of bytes
// without "/" and "**" any run at all. It is dynamic programming over (pattern, path), so
// its cost is linear in each whatever the pattern.
func matchGlob(pat, s string) bool {
	prev := make([]bool, len(s)+1) // prev[j]: the pattern so far matches s[:j]
	cur := make([]bool, len(s)+1)
	prev[0] = true
	for i := 0; i < len(pat); i++ {
		switch {
		case pat[i] == '*' && i+1 < len(pat) && pat[i+1] == '*':
			for i+1 < len(pat) && pat[i+1] == '*' {
				i++
			}
			cur[0] = prev[0]
			for j := 1; j <= len(s); j++ {
				cur[j] = prev[j] || cur[j-1]
			}
		case pat[i] == '*':
			cur[0] = prev[0]
			for j := 1; j <= len(s); j++ {
				cur[j] = prev[j] || (cur[j-1] && s[j-1] != '/')
			}
		default:
			cur[0] = false
			for j := 1; j <= len(s); j++ {
				cur[j] = prev[j-1] && s[j-1] == pat[i]
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(s)]
}

// clone returns a deep copy, so a gateway never sees its caller's later edits.
func (p *Policy) clone() *Policy {
	if p == nil {
		return &Policy{}
	}
	c := &Policy{Rules: slices.Clone(p.Rules)}
	for i := range c.Rules {
		r := &c.Rules[i]
		r.Schemes, r.Ports, r.Methods = slices.Clone(r.Schemes), slices.Clone(r.Ports), slices.Clone(r.Methods)
		r.StripHeaders, r.StripResponseHeaders = slices.Clone(r.StripHeaders), slices.Clone(r.StripResponseHeaders)
		r.InjectHeaders = maps.Clone(r.InjectHeaders)
	}
	return c
}
