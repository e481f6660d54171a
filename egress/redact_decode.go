package egress

import (
	"unicode/utf16"
	"unicode/utf8"
)

// The decoders: small state machines that turn a stream in one encoding into the bytes it
// stands for, each decoded byte carrying the input span it came from, so that a secret found
// in the decoded stream redacts exactly the input that spelled it. A token that turns out
// not to be an escape is passed on as the literal bytes it was.

// maxToken is the longest input a decoder turns into one token: an HTML numeric reference
// with 8 digits, "&#x0010FFFF;".
const maxToken = 12

// maxExpansion bounds the input bytes behind one byte of the most nested pipeline (HTML,
// then JSON, then percent-encoding, then up to two dropped line-break bytes): a percent
// escape is 3 JSON-decoded bytes, each up to a 6-byte JSON escape of 12-byte HTML
// references, and one decoded byte may follow two dropped ones.
const maxExpansion = maxToken * 6 * 3 * 3

// unit is a byte a decoder holds while it decides what its token is.
type unit struct {
	c          byte
	start, end int64
}

// token is what every decoder shares: the next stage and the units of the open token.
type token struct {
	next sink
	buf  []unit
}

func (t *token) hold(c byte, start, end int64) { t.buf = append(t.buf, unit{c, start, end}) }

// literal passes the held units on as themselves: they were not an escape.
func (t *token) literal(from int) {
	for _, u := range t.buf[from:] {
		t.next.put(u.c, u.start, u.end)
	}
	t.buf = t.buf[:0]
}

// rune passes on r (U+FFFD when r is not a valid character) decoded from [start, end).
func (t *token) rune(r rune, start, end int64) {
	var b [utf8.UTFMax]byte
	n := utf8.EncodeRune(b[:], r)
	for _, c := range b[:n] {
		t.next.put(c, start, end)
	}
}

func (t *token) live() int64 {
	at := t.next.live()
	if len(t.buf) > 0 {
		at = min(at, t.buf[0].start)
	}
	return at
}

// passRun passes on the start of p up to the first special byte in one call, reading the rest
// one byte at a time from there: runs of ordinary text cost one scan per stage.
func passRun(p []byte, off int64, next sink, special *[256]bool, put func(c byte, start, end int64), ground func() bool) {
	for len(p) > 0 {
		if ground() {
			i := 0
			for i < len(p) && !special[p[i]] {
				i++
			}
			if i > 0 {
				next.write(p[:i], off)
				p, off = p[i:], off+int64(i)
				continue
			}
		}
		put(p[0], off, off+1)
		p, off = p[1:], off+1
	}
}

// The bytes that may begin a token, per decoder.
var (
	jsonSpecial    = specials("\\")
	percentSpecial = specials("%+")
	htmlSpecial    = specials("&")
	lineSpecial    = specials("\r\n")
)

func specials(s string) *[256]bool {
	var t [256]bool
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return &t
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// jsonDecoder decodes JSON string escapes: \" \\ \/ \b \f \n \r \t and \uXXXX in either
// case, surrogate pairs included (a lone surrogate decodes to U+FFFD, as encoding/json does).
type jsonDecoder struct {
	token
	state uint8
	cp    rune // the \u digits so far
	hi    rune // a high surrogate waiting for its low half
}

const (
	jText    = iota
	jEsc     // after \
	jU       // in \uXXXX
	jHigh    // after a high surrogate's \uXXXX
	jHighEsc // after a high surrogate and \
	jLow     // in the \uXXXX after a high surrogate
)

func (j *jsonDecoder) write(p []byte, off int64) {
	passRun(p, off, j.next, jsonSpecial, j.put, func() bool { return j.state == jText })
}

func (j *jsonDecoder) put(c byte, start, end int64) {
	switch j.state {
	case jText:
		if c == '\\' {
			j.hold(c, start, end)
			j.state = jEsc
			return
		}
		j.next.put(c, start, end)
	case jEsc:
		var d byte
		switch c {
		case '"', '\\', '/':
			d = c
		case 'b':
			d = '\b'
		case 'f':
			d = '\f'
		case 'n':
			d = '\n'
		case 'r':
			d = '\r'
		case 't':
			d = '\t'
		case 'u':
			j.hold(c, start, end)
			j.state, j.cp = jU, 0
			return
		default:
			j.fail(c, start, end)
			return
		}
		j.next.put(d, j.buf[0].start, end)
		j.buf, j.state = j.buf[:0], jText
	case jU, jLow:
		h, ok := unhex(c)
		if !ok {
			j.fail(c, start, end)
			return
		}
		j.hold(c, start, end)
		j.cp = j.cp<<4 | rune(h)
		if len(j.buf) != 6 && len(j.buf) != 12 {
			return
		}
		if j.state == jLow {
			if utf16.IsSurrogate(j.cp) && j.cp >= 0xDC00 {
				j.rune(utf16.DecodeRune(j.hi, j.cp), j.buf[0].start, end)
				j.buf, j.state = j.buf[:0], jText
				return
			}
			// The high surrogate stands alone; the second escape is a token of its own.
			j.rune(utf8.RuneError, j.buf[0].start, j.buf[5].end)
			j.buf = append(j.buf[:0], j.buf[6:]...)
		}
		if 0xD800 <= j.cp && j.cp < 0xDC00 {
			j.hi, j.state = j.cp, jHigh
			return
		}
		j.rune(j.cp, j.buf[0].start, end) // a lone low surrogate becomes U+FFFD
		j.buf, j.state = j.buf[:0], jText
	case jHigh:
		if c == '\\' {
			j.hold(c, start, end)
			j.state = jHighEsc
			return
		}
		j.fail(c, start, end)
	case jHighEsc:
		if c == 'u' {
			j.hold(c, start, end)
			j.state, j.cp = jLow, 0
			return
		}
		// The high surrogate stands alone; its backslash starts another escape.
		j.rune(utf8.RuneError, j.buf[0].start, j.buf[5].end)
		j.buf = append(j.buf[:0], j.buf[6])
		j.state = jEsc
		j.put(c, start, end)
	}
}

// fail ends the open token before c: a complete high surrogate decodes to U+FFFD, the rest
// is literal; then c is read afresh.
func (j *jsonDecoder) fail(c byte, start, end int64) {
	j.close()
	j.put(c, start, end)
}

func (j *jsonDecoder) close() {
	from := 0
	if j.state >= jHigh {
		j.rune(utf8.RuneError, j.buf[0].start, j.buf[5].end)
		from = 6
	}
	j.literal(from)
	j.state = jText
}

func (j *jsonDecoder) reset() {
	j.buf, j.state = j.buf[:0], jText
	j.next.reset()
}

func (j *jsonDecoder) flush() {
	j.close()
	j.next.flush()
}

// percentDecoder decodes %XX in either case; with plus, '+' is a space (HTML forms).
type percentDecoder struct {
	token
	plus bool
	hi   byte
}

func (p *percentDecoder) write(b []byte, off int64) {
	passRun(b, off, p.next, percentSpecial, p.put, func() bool { return len(p.buf) == 0 })
}

func (p *percentDecoder) put(c byte, start, end int64) {
	switch len(p.buf) {
	case 0:
		switch {
		case c == '%':
			p.hold(c, start, end)
		case c == '+' && p.plus:
			p.next.put(' ', start, end)
		default:
			p.next.put(c, start, end)
		}
		return
	case 1:
		if h, ok := unhex(c); ok {
			p.hold(c, start, end)
			p.hi = h
			return
		}
	case 2:
		if h, ok := unhex(c); ok {
			p.next.put(p.hi<<4|h, p.buf[0].start, end)
			p.buf = p.buf[:0]
			return
		}
	}
	p.literal(0)
	p.put(c, start, end)
}

func (p *percentDecoder) reset() {
	p.buf = p.buf[:0]
	p.next.reset()
}

func (p *percentDecoder) flush() {
	p.literal(0)
	p.next.flush()
}

// htmlDecoder decodes HTML character references: &lt; &gt; &amp; &quot; &apos; (in any
// case, and the first four without ';' as HTML5 accepts them) and numeric references &#NN;
// and &#xHH; of up to 8 digits (';' optional, as in HTML5; 0, surrogates and values past
// U+10FFFF decode to U+FFFD).
type htmlDecoder struct {
	token
	state  uint8
	base   rune
	cp     rune
	digits int
	name   []byte // lower case
}

const (
	hText = iota
	hAmp  // after &
	hHash // after &#
	hNum  // in the digits of a numeric reference
	hName // in a name
)

const maxDigits = 8

// entities are the named references decoded; legacy ones may omit the ';'.
var entities = [...]struct {
	name   string
	c      byte
	legacy bool
}{{"lt", '<', true}, {"gt", '>', true}, {"amp", '&', true}, {"quot", '"', true}, {"apos", '\'', false}}

// entity is the index of the reference named s (-1 if none), and whether s begins a name.
func entity(s []byte) (int, bool) {
	prefix := false
	for i, e := range entities {
		if len(s) <= len(e.name) && e.name[:len(s)] == string(s) {
			if len(s) == len(e.name) {
				return i, true
			}
			prefix = true
		}
	}
	return -1, prefix
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (h *htmlDecoder) write(p []byte, off int64) {
	passRun(p, off, h.next, htmlSpecial, h.put, func() bool { return h.state == hText })
}

func (h *htmlDecoder) put(c byte, start, end int64) {
	switch h.state {
	case hText:
		if c == '&' {
			h.hold(c, start, end)
			h.state = hAmp
			return
		}
		h.next.put(c, start, end)
		return
	case hAmp:
		if c == '#' {
			h.hold(c, start, end)
			h.state = hHash
			return
		}
		if _, ok := entity([]byte{lower(c)}); ok {
			h.hold(c, start, end)
			h.state, h.name = hName, append(h.name[:0], lower(c))
			return
		}
	case hHash:
		if c == 'x' || c == 'X' {
			h.hold(c, start, end)
			h.state, h.base, h.cp, h.digits = hNum, 16, 0, 0
			return
		}
		if '0' <= c && c <= '9' {
			h.hold(c, start, end)
			h.state, h.base, h.cp, h.digits = hNum, 10, rune(c-'0'), 1
			return
		}
	case hNum:
		d, ok := unhex(c)
		digit := ok && rune(d) < h.base
		if digit && h.digits < maxDigits {
			h.hold(c, start, end)
			h.cp = min(h.cp*h.base+rune(d), utf8.MaxRune+1)
			h.digits++
			return
		}
		if !digit && h.digits > 0 {
			if c == ';' {
				h.hold(c, start, end)
				h.emit()
				return
			}
			h.emit()
			h.put(c, start, end)
			return
		}
		// "&#x" without a digit, or more digits than decoded: not a reference.
	case hName:
		if _, ok := entity(append(h.name, lower(c))); ok {
			h.hold(c, start, end)
			h.name = append(h.name, lower(c))
			return
		}
		if i, _ := entity(h.name); i >= 0 && (c == ';' || entities[i].legacy) {
			if c == ';' {
				h.hold(c, start, end)
			}
			h.next.put(entities[i].c, h.buf[0].start, h.buf[len(h.buf)-1].end)
			h.buf, h.state = h.buf[:0], hText
			if c != ';' {
				h.put(c, start, end)
			}
			return
		}
	}
	h.literal(0)
	h.state = hText
	h.put(c, start, end)
}

// emit passes on the numeric reference held.
func (h *htmlDecoder) emit() {
	r := h.cp
	if r == 0 {
		r = utf8.RuneError
	}
	h.rune(r, h.buf[0].start, h.buf[len(h.buf)-1].end)
	h.buf, h.state = h.buf[:0], hText
}

func (h *htmlDecoder) reset() {
	h.buf, h.state = h.buf[:0], hText
	h.next.reset()
}

func (h *htmlDecoder) flush() {
	switch {
	case h.state == hNum && h.digits > 0:
		h.emit()
	case h.state == hName:
		if i, _ := entity(h.name); i >= 0 && entities[i].legacy {
			h.next.put(entities[i].c, h.buf[0].start, h.buf[len(h.buf)-1].end)
			h.buf = h.buf[:0]
		}
		h.literal(0)
	default:
		h.literal(0)
	}
	h.state = hText
	h.next.flush()
}

// lineDropper drops single line breaks ("\n" or "\r\n"), so that a base64 text wrapped
// in lines reads as one run; a blank line passes, as it ends such a text.
type lineDropper struct {
	next sink
	run  []byte // the line break bytes just dropped
}

func (l *lineDropper) put(c byte, start, end int64) {
	if c == '\r' && len(l.run) == 0 || c == '\n' && (len(l.run) == 0 || string(l.run) == "\r") {
		l.run = append(l.run, c)
		return
	}
	if c != '\r' && c != '\n' {
		l.run = l.run[:0]
	}
	l.next.put(c, start, end)
}

func (l *lineDropper) write(p []byte, off int64) {
	passRun(p, off, l.next, lineSpecial, l.put, func() bool { return len(l.run) == 0 })
}

func (l *lineDropper) flush()      { l.next.flush() }
func (l *lineDropper) reset()      { l.run = l.run[:0]; l.next.reset() }
func (l *lineDropper) live() int64 { return l.next.live() }
