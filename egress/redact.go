package egress

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// redacted replaces every injected secret in what the gateway returns.
const redacted = "[redacted]"

// redactor knows the secret values injected into one request (and its redirects) and
// removes them, in the forms an echoing server commonly writes them, from everything the
// caller can read: headers, status, body, error messages, audit entries.
type redactor struct {
	needles [][]byte // longest first
}

// add registers secret values. Empty values are ignored.
func (r *redactor) add(values ...string) {
	for _, v := range values {
		if v == "" {
			continue
		}
		for _, f := range forms(v) {
			if !slices.ContainsFunc(r.needles, func(n []byte) bool { return string(n) == f }) {
				r.needles = append(r.needles, []byte(f))
			}
		}
	}
	slices.SortFunc(r.needles, func(a, b []byte) int { return len(b) - len(a) })
}

// forms are the spellings of v an echo server produces: as is, JSON-escaped (with and
// without HTML escaping) and percent-encoded.
func forms(v string) []string {
	out := []string{v}
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(html)
		_ = e.Encode(v)
		q := strings.TrimSuffix(b.String(), "\n")
		out = append(out, q[1:len(q)-1])
	}
	out = append(out, url.QueryEscape(v), url.PathEscape(v))
	return out
}

func (r *redactor) active() bool { return r != nil && len(r.needles) > 0 }

// maxLen is the length of the longest needle.
func (r *redactor) maxLen() int { return len(r.needles[0]) }

// string redacts s.
func (r *redactor) string(s string) string {
	if !r.active() {
		return s
	}
	for _, n := range r.needles {
		s = strings.ReplaceAll(s, string(n), redacted)
	}
	return s
}

// contains reports whether s holds a secret (ignoring case when fold is set).
func (r *redactor) contains(s string, fold bool) bool {
	if !r.active() {
		return false
	}
	for _, n := range r.needles {
		if fold && strings.Contains(strings.ToLower(s), strings.ToLower(string(n))) || strings.Contains(s, string(n)) {
			return true
		}
	}
	return false
}

// header redacts h in place. A header whose name contains a secret (in any case, since
// names are canonicalized) is dropped.
func (r *redactor) header(h http.Header) {
	if !r.active() {
		return
	}
	for k, vs := range h {
		if r.contains(k, true) {
			delete(h, k)
			continue
		}
		for i, v := range vs {
			vs[i] = r.string(v)
		}
	}
}

// reader redacts a stream. It holds back the last maxLen-1 bytes of what it has read until it
// knows they do not start a secret, so a secret split across reads is still found.
type redactReader struct {
	src     io.ReadCloser
	r       *redactor
	pending []byte // read, not yet decided
	out     []byte // decided, not yet returned
	err     error
}

func (r *redactor) reader(src io.ReadCloser) io.ReadCloser {
	return &redactReader{src: src, r: r}
}

func (rr *redactReader) Read(p []byte) (int, error) {
	for len(rr.out) == 0 && rr.err == nil {
		if free := cap(rr.pending) - len(rr.pending); free < 2048 {
			rr.pending = append(make([]byte, 0, 2*cap(rr.pending)+4096), rr.pending...)
		}
		n, err := rr.src.Read(rr.pending[len(rr.pending):cap(rr.pending)])
		rr.pending = rr.pending[:len(rr.pending)+n]
		switch {
		case err == io.EOF:
			rr.decide(true)
			rr.err = io.EOF
		case err != nil:
			// Whatever is pending may be the start of a secret: it is never returned.
			rr.pending, rr.err = nil, err
		default:
			rr.decide(false)
		}
	}
	if len(rr.out) > 0 {
		n := copy(p, rr.out)
		rr.out = rr.out[n:]
		return n, nil
	}
	return 0, rr.err
}

// decide moves pending bytes to out, redacting, up to where a secret could still begin
// (all of them when final).
func (rr *redactReader) decide(final bool) {
	p := rr.pending
	limit := len(p) // positions before limit can be decided: every secret fits after them
	if !final {
		limit -= rr.r.maxLen() - 1
	}
	i := 0
	for i < limit {
		at, size := -1, 0
		for _, n := range rr.r.needles {
			j := bytes.Index(p[i:], n)
			if j >= 0 && i+j < limit && (at < 0 || i+j < at) {
				at, size = i+j, len(n) // needles are longest first: ties keep the longest
			}
		}
		if at < 0 {
			break
		}
		rr.out = append(rr.out, p[i:at]...)
		rr.out = append(rr.out, redacted...)
		i = at + size
	}
	if i < limit {
		rr.out = append(rr.out, p[i:limit]...)
		i = limit
	}
	rr.pending = append(p[:0], p[i:]...)
}

func (rr *redactReader) Close() error { return rr.src.Close() }
