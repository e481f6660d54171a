package egress

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// redacted replaces every injected secret in what the gateway returns, unless a secret
// could be re-formed from it and the text beside it (see marker).
const redacted = "[redacted]"

// markers are the replacements tried in order: the first that no secret overlaps is used.
// None holds a character any decoder treats specially (%, &, \, +).
var markers = []string{redacted, "<redacted>", "(redacted)", "{redacted}", "|redacted|", "~redacted~"}

// overlaps reports whether the secret s could appear in a text made of the marker m and
// any text beside it: s and m share a piece where one's end meets the other's start, or
// one holds the other.
func overlaps(m, s string) bool {
	if strings.Contains(m, s) || strings.Contains(s, m) {
		return true
	}
	for k := 1; k < min(len(m), len(s)); k++ {
		if strings.HasSuffix(s, m[:k]) || strings.HasPrefix(s, m[len(m)-k:]) {
			return true
		}
	}
	return false
}

// marker is the replacement for secrets: the first of markers no secret overlaps, else a
// run of one printable character no secret begins or ends with, else redacted. A
// replaced secret therefore never re-forms from the replacement and the text around it
// (a secret ending in "[" beside "[redacted]" would).
func marker(secrets []string) string {
	free := func(m string) bool {
		for _, s := range secrets {
			if overlaps(m, s) {
				return false
			}
		}
		return true
	}
	for _, m := range markers {
		if free(m) {
			return m
		}
	}
	for c := byte('!'); c <= '~'; c++ {
		if m := strings.Repeat(string(c), 8); !strings.ContainsAny(m, `%&\+`) && free(m) {
			return m
		}
	}
	return redacted
}

// redactor knows the secret values injected into one request (and its redirects) and
// removes them from everything the caller can read (headers, status, body, error messages,
// audit entries) in every form the decoders of redact_decode.go read: verbatim,
// JSON-escaped, percent-encoded, as HTML references, nested in that order (HTML around JSON
// around a URL), and as the stable middle of their base64 encodings in either alphabet at
// any alignment.
//
// add is called while the request is sent; the other methods may then be called from
// several goroutines (the body's reader, and the timeout that ends it).
type redactor struct {
	secrets []string
	a       *automaton // compiled from secrets
	marker  string     // what replaces a secret: marker(secrets)

	mu  sync.Mutex
	str *stream // reused by redact
}

// add registers secret values. Empty values are ignored.
func (r *redactor) add(values ...string) {
	n := len(r.secrets)
	for _, v := range values {
		if v != "" && !slices.Contains(r.secrets, v) {
			r.secrets = append(r.secrets, v)
		}
	}
	if len(r.secrets) > n {
		r.a, r.str, r.marker = compile(r.secrets), nil, marker(r.secrets)
	}
}

func (r *redactor) active() bool { return r != nil && len(r.secrets) > 0 }

// redact returns s with every secret replaced, and whether it found one.
func (r *redactor) redact(s string) (string, bool) {
	if !r.active() {
		return s, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.str == nil {
		r.str = r.stream()
	}
	st := r.str
	st.reset()
	st.write([]byte(s))
	st.decide(true)
	return string(st.out), st.found
}

// string redacts s.
func (r *redactor) string(s string) string {
	out, _ := r.redact(s)
	return out
}

// contains reports whether s holds a secret (also verbatim in any case, when fold is set).
func (r *redactor) contains(s string, fold bool) bool {
	if !r.active() {
		return false
	}
	if _, found := r.redact(s); found {
		return true
	}
	if fold {
		for _, v := range r.secrets {
			if strings.Contains(strings.ToLower(s), strings.ToLower(v)) {
				return true
			}
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

// stream is one redaction in progress. Every input byte goes through each decoding
// pipeline; a pipeline's matcher marks the input span of each secret it finds; bytes are
// released once no pipeline can still find a secret covering them, marked spans replaced.
type stream struct {
	pipes   []sink
	base    int64  // input offset of pending[0]; everything before it is in out
	pending []byte // read, not yet decided
	spans   []span // marked, sorted, disjoint, all starting at or after base
	out     []byte // decided, not yet returned
	found   bool
	window  int64  // the longest input a match can cover
	marker  string // what replaces a marked span
}

type span struct{ start, end int64 }

func (r *redactor) stream() *stream {
	a := r.a
	st := &stream{window: int64(a.maxLen+2) * maxExpansion, marker: r.marker}
	m := func() *matcher { return newMatcher(a, st.mark) }
	buf := func() token { return token{buf: make([]unit, 0, maxToken)} }
	pipe := func(stages ...interface{ setNext(sink) }) sink {
		next := sink(m())
		for i := len(stages) - 1; i >= 0; i-- {
			stages[i].setNext(next)
			next = stages[i].(sink)
		}
		return next
	}
	st.pipes = []sink{
		m(), // verbatim
		pipe(&jsonDecoder{token: buf()}),
		pipe(&percentDecoder{token: buf()}),
		pipe(&htmlDecoder{token: buf()}),
		// Nested as a page holds JSON that holds a URL; base64 lines joined. (Without the
		// URL too, for a secret that holds a literal "%XX".)
		pipe(&htmlDecoder{token: buf()}, &jsonDecoder{token: buf()}),
		pipe(&htmlDecoder{token: buf()}, &jsonDecoder{token: buf()}, &percentDecoder{token: buf()}, &lineDropper{}),
	}
	if slices.ContainsFunc(r.secrets, func(v string) bool { return strings.Contains(v, " ") }) {
		st.pipes = append(st.pipes, pipe(&percentDecoder{token: buf(), plus: true}))
	}
	return st
}

func (t *token) setNext(s sink)       { t.next = s }
func (l *lineDropper) setNext(s sink) { l.next = s }

// reset makes st ready for a new input.
func (st *stream) reset() {
	for _, pipe := range st.pipes {
		pipe.reset()
	}
	st.base, st.pending, st.spans, st.out, st.found = 0, st.pending[:0], st.spans[:0], st.out[:0], false
}

// write reads p through every pipeline.
func (st *stream) write(p []byte) {
	off := st.base + int64(len(st.pending))
	st.pending = append(st.pending, p...)
	for _, pipe := range st.pipes {
		pipe.write(p, off)
	}
}

// mark records that input [start, end) spells a secret.
func (st *stream) mark(start, end int64) {
	st.found = true
	start = max(start, st.base) // what is before base went out inside an earlier span
	if start >= end {
		return
	}
	i := len(st.spans)
	for i > 0 && st.spans[i-1].start > start {
		i--
	}
	// Merge with the spans it overlaps (touching is not overlapping: two secrets side by
	// side are two redactions).
	if i > 0 && st.spans[i-1].end > start {
		i--
		start = st.spans[i].start
	}
	j := i
	for j < len(st.spans) && st.spans[j].start < end {
		end = max(end, st.spans[j].end)
		j++
	}
	st.spans = slices.Replace(st.spans, i, j, span{start, end})
}

// decide moves to out the pending bytes no pipeline can still find a secret in (all of
// them when final), with marked spans replaced.
func (st *stream) decide(final bool) {
	limit := st.base + int64(len(st.pending))
	if final {
		for _, pipe := range st.pipes {
			pipe.flush()
		}
	} else {
		for _, pipe := range st.pipes {
			limit = min(limit, pipe.live())
		}
		// A span that reaches past the limit may still grow (a longer secret overlapping
		// it): it waits, unless overlapping matches have made it longer than any one.
		for _, s := range st.spans {
			if s.start < limit && limit < s.end && s.end-s.start <= st.window {
				limit = s.start
			}
		}
	}
	cur, i := st.base, 0
	for ; i < len(st.spans) && st.spans[i].start < limit; i++ {
		s := st.spans[i]
		st.out = append(st.out, st.pending[cur-st.base:s.start-st.base]...)
		st.out = append(st.out, st.marker...)
		cur = s.end
	}
	st.spans = append(st.spans[:0], st.spans[i:]...)
	if cur < limit {
		st.out = append(st.out, st.pending[cur-st.base:limit-st.base]...)
		cur = limit
	}
	st.pending = append(st.pending[:0], st.pending[cur-st.base:]...)
	st.base = cur
}

// redactReader redacts a stream as it is read, holding back only what may still be part
// of a secret.
type redactReader struct {
	src io.ReadCloser
	st  *stream
	buf []byte
	off int // st.out[:off] is returned
	err error
}

func (r *redactor) reader(src io.ReadCloser) io.ReadCloser {
	return &redactReader{src: src, st: r.stream(), buf: make([]byte, 8<<10)}
}

func (rr *redactReader) Read(p []byte) (int, error) {
	st := rr.st
	if rr.off == len(st.out) {
		st.out, rr.off = st.out[:0], 0
	}
	for len(st.out) == 0 && rr.err == nil {
		n, err := rr.src.Read(rr.buf)
		st.write(rr.buf[:n])
		switch {
		case err == io.EOF:
			st.decide(true)
			rr.err = io.EOF
		case err != nil:
			// Whatever is pending may be the start of a secret: it is never returned.
			st.pending, rr.err = nil, err
		default:
			st.decide(false)
		}
	}
	if rr.off < len(st.out) {
		n := copy(p, st.out[rr.off:])
		rr.off += n
		return n, nil
	}
	return 0, rr.err
}

func (rr *redactReader) Close() error { return rr.src.Close() }
