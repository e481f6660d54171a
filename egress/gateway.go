package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/isobox/isobox/fetchctx"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// Defaults for the Config fields left zero.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 10 << 20
	DefaultMaxRedirects     = 10
)

// Config configures a Gateway. Every field but Policy has a default.
type Config struct {
	// Policy decides every request and redirect. nil: every request is denied.
	Policy *Policy
	// Secrets backs the {{secret:NAME}} references in the policy's injectHeaders. Needed
	// only when the policy references secrets.
	Secrets Secrets
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver Resolver
	// Audit receives an Entry for every decision (default: a new NewAudit(0), returned by
	// Gateway.Audit). Gateways may share one.
	Audit *Audit
	// Timeout bounds a request whose rule sets no timeoutMs (default DefaultTimeout).
	Timeout time.Duration
	// MaxResponseBytes caps a response body whose rule sets no maxResponseBytes (default
	// DefaultMaxResponseBytes).
	MaxResponseBytes int64
	// MaxRedirects is how many redirects the gateway follows (default DefaultMaxRedirects;
	// negative: none, a 3xx response is returned as it is).
	MaxRedirects int
	// TLSConfig is used for https (cloned; default: the system's roots). Set RootCAs to
	// trust a private CA.
	TLSConfig *tls.Config

	// connect replaces the real connect(2), for tests that must not touch the network.
	connect func(ctx context.Context, network, address string) (net.Conn, error)
}

// Gateway is the egress gateway: an http.RoundTripper that sends a request only when its
// policy allows it, injects the rule's headers and secrets, refuses non-public addresses
// (the SSRF guard), follows redirects itself (checking every hop), bounds the time and the
// response size, redacts the secrets it injected from what it returns, and audits every
// decision. It is safe for concurrent use.
//
// Unlike other RoundTrippers it follows redirects: an http.Client using it sees only final
// responses. Every error it returns is an *isoerr.Error (see the Code constants).
type Gateway struct {
	policy *Policy
	inject [][]injection // per rule, in header-name order
	*shared
}

// shared is what gateways derived with WithPolicy have in common.
type shared struct {
	secrets         Secrets
	audit           *Audit
	timeout         time.Duration
	maxBytes        int64
	maxRedirects    int
	public, private *http.Transport
}

type injection struct {
	name string // canonical
	tmpl template
}

// New returns a Gateway for cfg.
//
//	g, err := egress.New(egress.Config{Policy: p, Secrets: egress.NewMemorySecrets(m)})
//	client := &http.Client{Transport: g}
//
// # Errors
//
// An *isoerr.Error with code isoerr.InvalidRequest naming the Config field or policy rule
// at fault.
func New(cfg Config) (*Gateway, error) {
	switch {
	case cfg.Timeout < 0:
		return nil, isoerr.New(isoerr.InvalidRequest, "egress.Config.Timeout: %v is negative", cfg.Timeout)
	case cfg.MaxResponseBytes < 0:
		return nil, isoerr.New(isoerr.InvalidRequest, "egress.Config.MaxResponseBytes: %d is negative", cfg.MaxResponseBytes)
	}
	s := &shared{secrets: cfg.Secrets, audit: cfg.Audit, timeout: cfg.Timeout, maxBytes: cfg.MaxResponseBytes, maxRedirects: cfg.MaxRedirects}
	if s.audit == nil {
		s.audit = NewAudit(0)
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxResponseBytes
	}
	if s.maxRedirects == 0 {
		s.maxRedirects = DefaultMaxRedirects
	}
	var r Resolver = net.DefaultResolver
	if cfg.Resolver != nil {
		r = cfg.Resolver
	}
	s.public = newTransport(newDialer(r, false, cfg.connect), cfg.TLSConfig)
	s.private = newTransport(newDialer(r, true, cfg.connect), cfg.TLSConfig)
	return s.gateway(cfg.Policy)
}

// WithPolicy returns a gateway with policy p that shares g's secrets, resolver, audit,
// limits and connection pools: one per worker, cheaply.
//
// # Errors
//
// As New, for the policy.
func (g *Gateway) WithPolicy(p *Policy) (*Gateway, error) { return g.shared.gateway(p) }

func (s *shared) gateway(p *Policy) (*Gateway, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.clone()
	g := &Gateway{policy: p, inject: make([][]injection, len(p.Rules)), shared: s}
	for i, r := range p.Rules {
		for _, name := range slices.Sorted(maps.Keys(r.InjectHeaders)) {
			t, _ := parseTemplate(r.InjectHeaders[name]) // Validate parsed it
			if t.hasSecret() && s.secrets == nil {
				return nil, isoerr.New(isoerr.InvalidRequest,
					"egress.Config.Secrets: rules[%d].injectHeaders[%q] references a secret but there is no Secrets store", i, name)
			}
			g.inject[i] = append(g.inject[i], injection{http.CanonicalHeaderKey(name), t})
		}
	}
	return g, nil
}

func newTransport(d *dialer, tc *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                  nil, // never a proxy from the environment: it would bypass the guard
		DialContext:            d.DialContext,
		TLSClientConfig:        tc.Clone(),
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    32,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// Audit returns the audit log the gateway records to.
func (g *Gateway) Audit() *Audit { return g.audit }

// CloseIdleConnections closes the idle connections of g and of every gateway derived from it
// with WithPolicy.
func (g *Gateway) CloseIdleConnections() {
	g.public.CloseIdleConnections()
	g.private.CloseIdleConnections()
}

// WithManualRedirects returns a context whose requests the gateway does not redirect: a
// 3xx response comes back as it is (fetch's redirect: "manual"), with its secrets redacted.
// The engine sets the same for a sandbox's fetch(url, {redirect: "manual"}) (fetchctx).
func WithManualRedirects(ctx context.Context) context.Context {
	return fetchctx.WithRedirect(ctx, fetchctx.Manual)
}

// errHopTimeout is the cause of a hop's context when the rule's timeout ends it.
var errHopTimeout = errors.New("egress: rule timeout")

// call is one RoundTrip: the caller's request as redirects change it, and the secrets
// injected so far.
type call struct {
	g       *Gateway
	ctx     context.Context
	worker  string
	method  string
	url     *url.URL
	header  http.Header // the caller's headers, without anything the gateway injected
	body    io.ReadCloser
	getBody func() (io.ReadCloser, error)
	length  int64
	hasBody bool
	red     redactor
}

// hop is one request the gateway sends.
type hop struct {
	n       int
	rule    *Rule
	timeout time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
	sent    *counter
	entry   Entry
}

// RoundTrip sends req if the policy allows it, following redirects. The response's Request
// is the caller's request at the final URL (without injected headers).
//
// # Errors
//
// An *isoerr.Error: CodeDenied, CodePrivateAddress, CodeTimeout, CodeTooManyRedirects,
// CodeSecretUnavailable, CodeUnsafeResponse, CodeFailed, isoerr.Canceled when req's context
// ends, isoerr.InvalidRequest for a request without a URL. Reading the body can fail with
// CodeResponseTooLarge, CodeTimeout, isoerr.Canceled or CodeFailed. No error, audit entry or
// response field the caller can read contains a secret the gateway injected.
func (g *Gateway) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &call{g: g, ctx: req.Context(), worker: workerOf(req.Context()), method: req.Method, url: req.URL,
		header: req.Header.Clone(), body: req.Body, getBody: req.GetBody, length: req.ContentLength}
	c.hasBody = req.Body != nil && req.Body != http.NoBody
	defer func() {
		if c.body != nil {
			c.body.Close()
		}
	}()
	if c.method == "" {
		c.method = http.MethodGet
	}
	if c.header == nil {
		c.header = http.Header{}
	}
	c.header.Del("Host") // the URL's host is the one the policy checked; no other is sent
	if c.url == nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "egress: the request has no URL")
	}
	follow := fetchctx.Redirect(c.ctx) != fetchctx.Manual && g.maxRedirects > 0
	for n := 0; ; n++ {
		resp, h, err := c.send(n)
		if err != nil {
			return nil, err
		}
		next, err := c.redirect(resp, h, follow)
		if err != nil {
			return nil, err
		}
		if !next {
			return c.deliver(resp, h)
		}
	}
}

// send checks the policy and sends one hop.
func (c *call) send(n int) (*http.Response, *hop, error) {
	h := &hop{n: n, entry: Entry{Time: time.Now(), Worker: c.worker, Method: c.method, URL: safeURL(c.url), Hop: n}}
	d := c.g.policy.Check(c.method, c.url)
	h.entry.Rule = d.Rule
	if !d.Allowed {
		h.entry.Hint, h.entry.Error = d.Hint, CodeDenied
		c.record(h.entry)
		what := ""
		if n > 0 {
			what = "a redirect to "
		}
		return nil, nil, c.errorf(CodeDenied, "%s%s %s is not allowed by the egress policy: %s", what, c.method, safeURL(c.url), d.Hint)
	}
	h.entry.Allowed = true
	h.rule = &c.g.policy.Rules[d.Rule]

	header := c.header.Clone()
	for _, name := range h.rule.StripHeaders {
		header.Del(name)
	}
	for _, inj := range c.g.inject[d.Rule] {
		v, used, err := inj.tmpl.expand(c.ctx, c.g.secrets)
		if err != nil {
			h.entry.Error = CodeSecretUnavailable
			c.record(h.entry)
			return nil, nil, c.errorf(CodeSecretUnavailable, "%s %s: rules[%d].injectHeaders[%q]: %v", c.method, safeURL(c.url), d.Rule, inj.name, err)
		}
		c.red.add(used...)
		header.Set(inj.name, v)
	}
	if c.red.active() {
		// Go's transport then asks for gzip itself and decodes it, so the body can be redacted.
		header.Del("Accept-Encoding")
	}

	h.timeout = c.g.timeout
	if h.rule.TimeoutMs > 0 {
		h.timeout = time.Duration(h.rule.TimeoutMs) * time.Millisecond
	}
	h.ctx, h.cancel = context.WithTimeoutCause(c.ctx, h.timeout, errHopTimeout)
	u := *c.url
	out := &http.Request{Method: c.method, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: header, Host: u.Host, GetBody: c.getBody}
	if c.body != nil && c.hasBody {
		h.sent = &counter{r: c.body}
		out.Body, out.ContentLength = h.sent, c.length
	}
	c.body = nil // the transport closes it
	out = out.WithContext(h.ctx)
	tr := c.g.public
	if h.rule.AllowPrivate {
		tr = c.g.private
	}
	resp, err := tr.RoundTrip(out)
	if err != nil {
		e := c.fail(err, h)
		h.cancel()
		if e.Code == CodePrivateAddress {
			// The policy allowed the URL but the SSRF guard refused the address it resolved
			// to: nothing was sent, so the audit records a refusal, not a failed request.
			h.entry.Allowed = false
			h.entry.Hint = fmt.Sprintf(`the host resolved to a non-public address; "allowPrivate": true on rules[%d] would allow it`, d.Rule)
		}
		c.end(h, e.Code, 0)
		return nil, nil, e
	}
	h.entry.Status = resp.StatusCode
	return resp, h, nil
}

// redirect follows resp when it is a redirect the gateway should follow, preparing the
// next hop; it reports whether there is one.
func (c *call) redirect(resp *http.Response, h *hop, follow bool) (bool, error) {
	switch resp.StatusCode {
	case 301, 302, 303, 307, 308:
	default:
		return false, nil
	}
	loc := resp.Header.Get("Location")
	if !follow || loc == "" {
		return false, nil
	}
	method, keepBody := c.method, true
	if (resp.StatusCode == 303 && method != http.MethodHead) || (resp.StatusCode <= 302 && method == http.MethodPost) {
		method, keepBody = http.MethodGet, false
	}
	if keepBody && c.hasBody && c.getBody == nil {
		return false, nil // the body cannot be sent again: the caller gets the redirect
	}
	next, err := c.url.Parse(loc)
	if err != nil {
		return false, nil
	}
	drained, _ := io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	h.cancel()
	switch {
	case c.red.contains(loc, false) || c.red.contains(next.String(), false):
		e := c.errorf(CodeUnsafeResponse, "%s %s: the redirect's Location carries a secret the gateway injected; not followed", c.method, safeURL(c.url))
		c.end(h, e.Code, drained)
		return false, e
	case h.n >= c.g.maxRedirects:
		e := c.errorf(CodeTooManyRedirects, "%s %s: more than %d redirects", c.method, safeURL(c.url), c.g.maxRedirects)
		c.end(h, e.Code, drained)
		return false, e
	}
	c.end(h, "", drained)

	if next.Scheme != c.url.Scheme || next.Host != c.url.Host {
		// The caller's own credentials stay with the origin they were meant for.
		for _, k := range []string{"Authorization", "Cookie", "Cookie2", "Proxy-Authorization"} {
			c.header.Del(k)
		}
	}
	if !keepBody {
		c.hasBody, c.getBody, c.length = false, nil, 0
		for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Language", "Content-Location"} {
			c.header.Del(k)
		}
	} else if c.hasBody {
		b, err := c.getBody()
		if err != nil {
			return false, c.errorf(CodeFailed, "%s %s: cannot send the body again after a redirect: %v", c.method, safeURL(next), err)
		}
		c.body = b
	}
	c.method, c.url = method, next
	return true, nil
}

// deliver checks the final response and wraps its body.
func (c *call) deliver(resp *http.Response, h *hop) (*http.Response, error) {
	limit := c.g.maxBytes
	if h.rule.MaxResponseBytes > 0 {
		limit = h.rule.MaxResponseBytes
	}
	refuse := func(e *isoerr.Error) (*http.Response, error) {
		resp.Body.Close()
		h.cancel()
		c.end(h, e.Code, 0)
		return nil, e
	}
	if ce := resp.Header.Get("Content-Encoding"); c.red.active() && ce != "" && !strings.EqualFold(ce, "identity") {
		return refuse(c.errorf(CodeUnsafeResponse, "%s %s: the response is %q-encoded, so the gateway cannot check it for the "+
			"secrets it injected; it was not delivered", c.method, safeURL(c.url), ce))
	}
	if resp.ContentLength > limit && c.method != http.MethodHead {
		return refuse(c.tooLarge(limit))
	}
	stripHopHeaders(resp.Header)
	for _, k := range h.rule.StripResponseHeaders {
		resp.Header.Del(k)
	}
	c.red.header(resp.Header)
	resp.Status = c.red.string(resp.Status)
	resp.Trailer = nil
	b := &body{rc: resp.Body, c: c, h: h, limit: limit}
	context.AfterFunc(h.ctx, func() { // the timeout or the caller ended it unread
		if !b.done.Load() {
			b.finish(c.fail(context.Cause(h.ctx), h))
		}
	})
	resp.Body = b
	if c.red.active() {
		resp.Body = c.red.reader(b)
		resp.ContentLength = -1
		resp.Header.Del("Content-Length")
	}
	u := *c.url
	final := &http.Request{Method: c.method, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: c.header.Clone(), Host: u.Host}
	resp.Request = final.WithContext(c.ctx)
	return resp, nil
}

// stripHopHeaders removes the hop-by-hop headers of RFC 9110 §7.6.1.
func stripHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(k)
	}
}

// fail turns a transport or body error into the gateway's error.
func (c *call) fail(err error, h *hop) *isoerr.Error {
	var e *isoerr.Error
	switch {
	case context.Cause(h.ctx) == errHopTimeout:
		return c.errorf(CodeTimeout, "%s %s: no complete response within %v (the rule's timeout)", c.method, safeURL(c.url), h.timeout)
	case c.ctx.Err() != nil:
		return c.errorf(isoerr.Canceled, "%s %s: canceled: %v", c.method, safeURL(c.url), context.Cause(c.ctx))
	case errors.As(err, &e):
		return c.errorf(e.Code, "%s %s: %s", c.method, safeURL(c.url), e.Message)
	default:
		return c.errorf(CodeFailed, "%s %s: %v", c.method, safeURL(c.url), err)
	}
}

func (c *call) tooLarge(limit int64) *isoerr.Error {
	return c.errorf(CodeResponseTooLarge, "%s %s: the response body is larger than %d bytes (the rule's maxResponseBytes)", c.method, safeURL(c.url), limit)
}

// errorf makes an error whose message is free of injected secrets.
func (c *call) errorf(code isoerr.Code, format string, args ...any) *isoerr.Error {
	return &isoerr.Error{Code: code, Message: c.red.string(fmt.Sprintf(format, args...))}
}

// end records a hop that has finished.
func (c *call) end(h *hop, code isoerr.Code, bytesIn int64) {
	h.entry.Error, h.entry.BytesIn = code, bytesIn
	if h.sent != nil {
		h.entry.BytesOut = h.sent.n.Load()
	}
	h.entry.Duration = time.Since(h.entry.Time)
	c.record(h.entry)
}

func (c *call) record(e Entry) {
	e.URL, e.Hint = c.red.string(e.URL), c.red.string(e.Hint)
	c.g.audit.Record(e)
}

// body is the final response's body: it counts, enforces the size limit, maps errors and
// records the hop when it ends (read to the end, failed, closed, or timed out unread).
type body struct {
	rc    io.ReadCloser
	c     *call
	h     *hop
	limit int64
	n     atomic.Int64
	once  sync.Once
	done  atomic.Bool   // set after err
	err   *isoerr.Error // what the body ended with; later reads return it
}

func (b *body) Read(p []byte) (int, error) {
	if b.done.Load() && b.err != nil {
		return 0, b.err // the timeout (or a cancel) ended it, whatever the transport still holds
	}
	n, err := b.rc.Read(p)
	if total := b.n.Add(int64(n)); total > b.limit {
		n -= int(total - b.limit)
		b.n.Store(b.limit)
		e := b.c.tooLarge(b.limit)
		b.finish(e)
		return n, e
	}
	switch {
	case err == io.EOF:
		b.finish(nil)
	case err != nil:
		e := b.c.fail(err, b.h)
		b.finish(e)
		return n, e
	}
	return n, err
}

func (b *body) Close() error {
	err := b.rc.Close()
	b.finish(nil)
	return err
}

func (b *body) finish(e *isoerr.Error) {
	b.once.Do(func() {
		b.err = e
		b.done.Store(true)
		b.h.cancel()
		var code isoerr.Code
		if e != nil {
			code = e.Code
		}
		b.c.end(b.h, code, b.n.Load())
	})
}

// counter counts the bytes of a request body as the transport reads them.
type counter struct {
	r io.ReadCloser
	n atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *counter) Close() error { return c.r.Close() }

// safeURL is u for logs and messages: no user info, no fragment, query values replaced.
func safeURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.User, v.Fragment, v.RawFragment, v.ForceQuery = nil, "", "", false
	if v.RawQuery != "" {
		parts := strings.Split(v.RawQuery, "&")
		for i, p := range parts {
			if k, _, ok := strings.Cut(p, "="); ok {
				parts[i] = k + "=" + redacted
			}
		}
		v.RawQuery = strings.Join(parts, "&")
	}
	return v.String()
}
