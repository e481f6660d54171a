package weburl

import (
	"strconv"
	"strings"
)

// This file is the URL Standard's URL record, basic URL parser and URL serializer, written
// from the standard (https://url.spec.whatwg.org/#concept-basic-url-parser). Every state
// does constant work per code point and appends to builders, so parsing is linear in the
// input: guest code can hand the host a URL of any length.

// url is a URL record.
type url struct {
	scheme   string
	username string
	password string
	hasHost  bool   // host is non-null
	host     string // serialized host; "" with hasHost is the empty host
	port     int    // -1 is null
	opaque   bool   // the path is opaque: it is path[0]
	path     []string
	hasQuery bool
	query    string
	hasFrag  bool
	fragment string
}

type state int

const (
	noOverride state = iota
	schemeStartState
	schemeState
	noSchemeState
	specialRelativeOrAuthorityState
	pathOrAuthorityState
	relativeState
	relativeSlashState
	specialAuthoritySlashesState
	specialAuthorityIgnoreSlashesState
	authorityState
	hostState
	hostnameState
	portState
	fileState
	fileSlashState
	fileHostState
	pathStartState
	pathState
	opaquePathState
	queryState
	fragmentState
)

var specialPorts = map[string]int{"ftp": 21, "file": -1, "http": 80, "https": 443, "ws": 80, "wss": 443}

func isSpecialScheme(s string) bool {
	_, ok := specialPorts[s]
	return ok
}

func (u *url) special() bool { return isSpecialScheme(u.scheme) }

func (u *url) includesCredentials() bool { return u.username != "" || u.password != "" }

func (u *url) cannotHaveUsernamePasswordPort() bool {
	return !u.hasHost || u.host == "" || u.scheme == "file"
}

// defaultPort is the scheme's default port, -1 if none.
func defaultPort(scheme string) int {
	if p, ok := specialPorts[scheme]; ok {
		return p
	}
	return -1
}

func (u *url) clone() *url {
	c := *u
	c.path = append([]string(nil), u.path...)
	return &c
}

// shortenPath is the standard's "shorten a URL's path".
func (u *url) shortenPath() {
	if u.scheme == "file" && len(u.path) == 1 && isNormalizedWindowsDriveLetter(u.path[0]) {
		return
	}
	if len(u.path) > 0 {
		u.path = u.path[:len(u.path)-1]
	}
}

// Percent-encode sets, for ASCII code points; every set also holds everything above U+007E.
type encodeSet [128]bool

func newEncodeSet(base *encodeSet, extra string) *encodeSet {
	var s encodeSet
	if base != nil {
		s = *base
	} else {
		for c := 0; c < 0x20; c++ {
			s[c] = true
		}
		s[0x7F] = true
	}
	for i := 0; i < len(extra); i++ {
		s[extra[i]] = true
	}
	return &s
}

var (
	c0ControlSet    = newEncodeSet(nil, "")
	fragmentSet     = newEncodeSet(c0ControlSet, " \"<>`")
	querySet        = newEncodeSet(c0ControlSet, " \"#<>")
	specialQuerySet = newEncodeSet(querySet, "'")
	pathSet         = newEncodeSet(querySet, "?^`{}")
	userinfoSet     = newEncodeSet(pathSet, "/:;=@[\\]|")
)

const upperHex = "0123456789ABCDEF"

// appendEncoded appends code point c, UTF-8 percent-encoded with set.
func appendEncoded(b *strings.Builder, c rune, set *encodeSet) {
	if c < 0x80 && !set[c] {
		b.WriteByte(byte(c))
		return
	}
	var buf [4]byte
	n := encodeRune(buf[:], c)
	for _, x := range buf[:n] {
		b.WriteByte('%')
		b.WriteByte(upperHex[x>>4])
		b.WriteByte(upperHex[x&15])
	}
}

func encodeRune(p []byte, c rune) int {
	switch {
	case c < 0x80:
		p[0] = byte(c)
		return 1
	case c < 0x800:
		p[0], p[1] = 0xC0|byte(c>>6), 0x80|byte(c)&0x3F
		return 2
	case c < 0x10000:
		p[0], p[1], p[2] = 0xE0|byte(c>>12), 0x80|byte(c>>6)&0x3F, 0x80|byte(c)&0x3F
		return 3
	}
	p[0], p[1], p[2], p[3] = 0xF0|byte(c>>18), 0x80|byte(c>>12)&0x3F, 0x80|byte(c>>6)&0x3F, 0x80|byte(c)&0x3F
	return 4
}

// encodeString UTF-8 percent-encodes every code point of s with set.
func encodeString(s string, set *encodeSet) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		appendEncoded(&b, c, set)
	}
	return b.String()
}

func isASCIIAlpha(c rune) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isASCIIDigit(c rune) bool { return c >= '0' && c <= '9' }

func isWindowsDriveLetter(s string) bool {
	return len(s) == 2 && isASCIIAlpha(rune(s[0])) && (s[1] == ':' || s[1] == '|')
}

func isNormalizedWindowsDriveLetter(s string) bool {
	return len(s) == 2 && isASCIIAlpha(rune(s[0])) && s[1] == ':'
}

// startsWithWindowsDriveLetter is the standard's check on a code point substring.
func startsWithWindowsDriveLetter(cps []rune) bool {
	if len(cps) < 2 || !isASCIIAlpha(cps[0]) || (cps[1] != ':' && cps[1] != '|') {
		return false
	}
	if len(cps) == 2 {
		return true
	}
	switch cps[2] {
	case '/', '\\', '?', '#':
		return true
	}
	return false
}

func isSingleDot(s string) bool { return s == "." || strings.EqualFold(s, "%2e") }

func isDoubleDot(s string) bool {
	switch strings.ToLower(s) {
	case "..", ".%2e", "%2e.", "%2e%2e":
		return true
	}
	return false
}

// isC0ControlOrSpace reports whether c is trimmed from both ends of parser input.
func isC0ControlOrSpace(c rune) bool { return c >= 0 && c <= 0x20 }

const eof = -1

// basicParse is the basic URL parser. With override (a setter), it changes u in place and
// returns false on failure; otherwise it returns the new URL, or nil on failure.
func basicParse(input string, base *url, u *url, override state) (*url, bool) {
	if u == nil {
		u = &url{port: -1}
		input = strings.TrimFunc(input, isC0ControlOrSpace)
	}
	if strings.ContainsAny(input, "\t\n\r") {
		input = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(input)
	}
	p := parser{in: []rune(input), base: base, u: u, override: override}
	if !p.run() {
		return nil, false
	}
	return u, true
}

type parser struct {
	in       []rune
	ptr      int
	base     *url
	u        *url
	override state
	st       state
	buf      strings.Builder
	bufLen   int // code points in buf (authority and host states)

	atSignSeen, insideBrackets, passwordTokenSeen bool
	user, pass                                    strings.Builder // userinfo being parsed
}

// at returns the code point at i, or eof.
func (p *parser) at(i int) rune {
	if i < 0 || i >= len(p.in) {
		return eof
	}
	return p.in[i]
}

// remainingStartsWith reports whether the code points after the pointer start with s (ASCII).
func (p *parser) remainingStartsWith(s string) bool {
	for i := 0; i < len(s); i++ {
		if p.at(p.ptr+1+i) != rune(s[i]) {
			return false
		}
	}
	return true
}

func (p *parser) bufAppend(c rune) {
	p.buf.WriteRune(c)
	p.bufLen++
}

func (p *parser) bufReset() {
	p.buf.Reset()
	p.bufLen = 0
}

// run is the state machine; it returns false for failure. A plain "return" of the standard
// (setters stopping early) is true.
func (p *parser) run() bool {
	u := p.u
	p.st = p.override
	if p.st == noOverride {
		p.st = schemeStartState
	}
	given := p.override != noOverride
	for ; ; p.ptr++ {
		c := p.at(p.ptr)
		switch p.st {
		case schemeStartState:
			if isASCIIAlpha(c) {
				p.buf.WriteRune(c | 0x20)
				p.st = schemeState
			} else if !given {
				p.st = noSchemeState
				p.ptr--
			} else {
				return false
			}

		case schemeState:
			if isASCIIAlpha(c) || isASCIIDigit(c) || c == '+' || c == '-' || c == '.' {
				if isASCIIAlpha(c) {
					c |= 0x20
				}
				p.buf.WriteRune(c)
			} else if c == ':' {
				scheme := p.buf.String()
				if given {
					if u.special() != isSpecialScheme(scheme) {
						return true
					}
					if (u.includesCredentials() || u.port >= 0) && scheme == "file" {
						return true
					}
					if u.scheme == "file" && u.hasHost && u.host == "" {
						return true
					}
				}
				u.scheme = scheme
				if given {
					if u.port == defaultPort(u.scheme) {
						u.port = -1
					}
					return true
				}
				p.buf.Reset()
				switch {
				case u.scheme == "file":
					p.st = fileState
				case u.special() && p.base != nil && p.base.scheme == u.scheme:
					p.st = specialRelativeOrAuthorityState
				case u.special():
					p.st = specialAuthoritySlashesState
				case p.remainingStartsWith("/"):
					p.st = pathOrAuthorityState
					p.ptr++
				default:
					u.opaque = true
					u.path = []string{""}
					p.st = opaquePathState
				}
			} else if !given {
				p.buf.Reset()
				p.st = noSchemeState
				p.ptr = -1 // start over from the first code point
			} else {
				return false
			}

		case noSchemeState:
			b := p.base
			switch {
			case b == nil || (b.opaque && c != '#'):
				return false
			case b.opaque && c == '#':
				u.scheme = b.scheme
				u.opaque = true
				u.path = append([]string(nil), b.path...)
				u.hasQuery, u.query = b.hasQuery, b.query
				u.hasFrag, u.fragment = true, ""
				p.st = fragmentState
			case b.scheme != "file":
				p.st = relativeState
				p.ptr--
			default:
				p.st = fileState
				p.ptr--
			}

		case specialRelativeOrAuthorityState:
			if c == '/' && p.remainingStartsWith("/") {
				p.st = specialAuthorityIgnoreSlashesState
				p.ptr++
			} else {
				p.st = relativeState
				p.ptr--
			}

		case pathOrAuthorityState:
			if c == '/' {
				p.st = authorityState
			} else {
				p.st = pathState
				p.ptr--
			}

		case relativeState:
			b := p.base
			u.scheme = b.scheme
			if c == '/' || (u.special() && c == '\\') {
				p.st = relativeSlashState
			} else {
				u.username, u.password = b.username, b.password
				u.hasHost, u.host, u.port = b.hasHost, b.host, b.port
				u.path = append([]string(nil), b.path...)
				u.hasQuery, u.query = b.hasQuery, b.query
				switch c {
				case '?':
					u.hasQuery, u.query = true, ""
					p.st = queryState
				case '#':
					u.hasFrag, u.fragment = true, ""
					p.st = fragmentState
				case eof:
				default:
					u.hasQuery, u.query = false, ""
					u.shortenPath()
					p.st = pathState
					p.ptr--
				}
			}

		case relativeSlashState:
			if u.special() && (c == '/' || c == '\\') {
				p.st = specialAuthorityIgnoreSlashesState
			} else if c == '/' {
				p.st = authorityState
			} else {
				b := p.base
				u.username, u.password = b.username, b.password
				u.hasHost, u.host, u.port = b.hasHost, b.host, b.port
				p.st = pathState
				p.ptr--
			}

		case specialAuthoritySlashesState:
			p.st = specialAuthorityIgnoreSlashesState
			if c == '/' && p.remainingStartsWith("/") {
				p.ptr++
			} else {
				p.ptr--
			}

		case specialAuthorityIgnoreSlashesState:
			if c != '/' && c != '\\' {
				p.st = authorityState
				p.ptr--
			}

		case authorityState:
			if c == '@' {
				buffer := p.buf.String()
				if p.atSignSeen {
					buffer = "%40" + buffer
				}
				p.atSignSeen = true
				for _, cp := range buffer {
					if cp == ':' && !p.passwordTokenSeen {
						p.passwordTokenSeen = true
						continue
					}
					if p.passwordTokenSeen {
						appendEncoded(&p.pass, cp, userinfoSet)
					} else {
						appendEncoded(&p.user, cp, userinfoSet)
					}
				}
				p.bufReset()
			} else if c == eof || c == '/' || c == '?' || c == '#' || (u.special() && c == '\\') {
				if p.atSignSeen && p.bufLen == 0 {
					return false // host-missing
				}
				u.username += p.user.String()
				u.password += p.pass.String()
				p.ptr -= p.bufLen + 1
				p.bufReset()
				p.st = hostState
			} else {
				p.bufAppend(c)
			}

		case hostState, hostnameState:
			if given && u.scheme == "file" {
				p.ptr--
				p.st = fileHostState
			} else if c == ':' && !p.insideBrackets {
				if p.bufLen == 0 {
					return false // host-missing
				}
				if p.override == hostnameState {
					return false
				}
				host, ok := parseHost(p.buf.String(), !u.special())
				if !ok {
					return false
				}
				u.hasHost, u.host = true, host
				p.bufReset()
				p.st = portState
			} else if c == eof || c == '/' || c == '?' || c == '#' || (u.special() && c == '\\') {
				p.ptr--
				if u.special() && p.bufLen == 0 {
					return false // host-missing
				} else if given && p.bufLen == 0 && (u.includesCredentials() || u.port >= 0) {
					return true
				}
				host, ok := parseHost(p.buf.String(), !u.special())
				if !ok {
					return false
				}
				u.hasHost, u.host = true, host
				p.bufReset()
				p.st = pathStartState
				if given {
					return true
				}
			} else {
				if c == '[' {
					p.insideBrackets = true
				} else if c == ']' {
					p.insideBrackets = false
				}
				p.bufAppend(c)
			}

		case portState:
			if isASCIIDigit(c) {
				p.bufAppend(c)
			} else if c == eof || c == '/' || c == '?' || c == '#' || (u.special() && c == '\\') || given {
				if p.bufLen != 0 {
					digits := strings.TrimLeft(p.buf.String(), "0")
					if len(digits) > 5 {
						return false // port-out-of-range
					}
					port, _ := strconv.Atoi("0" + digits)
					if port > 65535 {
						return false
					}
					if port == defaultPort(u.scheme) {
						u.port = -1
					} else {
						u.port = port
					}
					p.bufReset()
					if given {
						return true
					}
				}
				if given {
					return false
				}
				p.st = pathStartState
				p.ptr--
			} else {
				return false // port-invalid
			}

		case fileState:
			u.scheme = "file"
			u.hasHost, u.host = true, ""
			if c == '/' || c == '\\' {
				p.st = fileSlashState
			} else if b := p.base; b != nil && b.scheme == "file" {
				u.hasHost, u.host = b.hasHost, b.host
				u.path = append([]string(nil), b.path...)
				u.hasQuery, u.query = b.hasQuery, b.query
				switch c {
				case '?':
					u.hasQuery, u.query = true, ""
					p.st = queryState
				case '#':
					u.hasFrag, u.fragment = true, ""
					p.st = fragmentState
				case eof:
				default:
					u.hasQuery, u.query = false, ""
					if !startsWithWindowsDriveLetter(p.in[p.ptr:]) {
						u.shortenPath()
					} else {
						u.path = nil
					}
					p.st = pathState
					p.ptr--
				}
			} else {
				p.st = pathState
				p.ptr--
			}

		case fileSlashState:
			if c == '/' || c == '\\' {
				p.st = fileHostState
			} else {
				if b := p.base; b != nil && b.scheme == "file" {
					u.hasHost, u.host = b.hasHost, b.host
					if !startsWithWindowsDriveLetter(p.in[min(p.ptr, len(p.in)):]) &&
						len(b.path) > 0 && isNormalizedWindowsDriveLetter(b.path[0]) {
						u.path = append(u.path, b.path[0])
					}
				}
				p.st = pathState
				p.ptr--
			}

		case fileHostState:
			if c == eof || c == '/' || c == '\\' || c == '?' || c == '#' {
				p.ptr--
				if !given && isWindowsDriveLetter(p.buf.String()) {
					// The buffer is kept: the path state takes it as the first segment.
					p.st = pathState
				} else if p.bufLen == 0 {
					u.hasHost, u.host = true, ""
					if given {
						return true
					}
					p.st = pathStartState
				} else {
					host, ok := parseHost(p.buf.String(), !u.special())
					if !ok {
						return false
					}
					if host == "localhost" {
						host = ""
					}
					u.hasHost, u.host = true, host
					if given {
						return true
					}
					p.bufReset()
					p.st = pathStartState
				}
			} else {
				p.bufAppend(c)
			}

		case pathStartState:
			if u.special() {
				p.st = pathState
				if c != '/' && c != '\\' {
					p.ptr--
				}
			} else if !given && c == '?' {
				u.hasQuery, u.query = true, ""
				p.st = queryState
			} else if !given && c == '#' {
				u.hasFrag, u.fragment = true, ""
				p.st = fragmentState
			} else if c != eof {
				p.st = pathState
				if c != '/' {
					p.ptr--
				}
			} else if given && !u.hasHost {
				u.path = append(u.path, "")
			}

		case pathState:
			slash := c == '/' || (u.special() && c == '\\')
			if c == eof || slash || (!given && (c == '?' || c == '#')) {
				segment := p.buf.String()
				if isDoubleDot(segment) {
					u.shortenPath()
					if !slash {
						u.path = append(u.path, "")
					}
				} else if isSingleDot(segment) {
					if !slash {
						u.path = append(u.path, "")
					}
				} else {
					if u.scheme == "file" && len(u.path) == 0 && isWindowsDriveLetter(segment) {
						segment = segment[:1] + ":"
					}
					u.path = append(u.path, segment)
				}
				p.bufReset()
				if c == '?' {
					u.hasQuery, u.query = true, ""
					p.st = queryState
				} else if c == '#' {
					u.hasFrag, u.fragment = true, ""
					p.st = fragmentState
				}
			} else {
				appendEncoded(&p.buf, c, pathSet)
			}

		case opaquePathState:
			switch {
			case c == '?' || c == '#' || c == eof:
				u.path[0] = p.buf.String()
				p.bufReset()
				if c == '?' {
					u.hasQuery, u.query = true, ""
					p.st = queryState
				} else if c == '#' {
					u.hasFrag, u.fragment = true, ""
					p.st = fragmentState
				}
			case c == ' ':
				if next := p.at(p.ptr + 1); next == '?' || next == '#' {
					p.buf.WriteString("%20")
				} else {
					p.buf.WriteByte(' ')
				}
			default:
				appendEncoded(&p.buf, c, c0ControlSet)
			}

		case queryState:
			if (!given && c == '#') || c == eof {
				set := querySet
				if u.special() {
					set = specialQuerySet
				}
				u.query += encodeString(p.buf.String(), set)
				p.bufReset()
				if c == '#' {
					u.hasFrag, u.fragment = true, ""
					p.st = fragmentState
				}
			} else {
				p.buf.WriteRune(c)
			}

		case fragmentState:
			if c != eof {
				appendEncoded(&p.buf, c, fragmentSet)
			} else {
				u.fragment += p.buf.String()
			}
		}

		if p.ptr >= len(p.in) {
			return true
		}
	}
}

// parseHost is the host parser; isOpaque is true for URLs with non-special schemes.
func parseHost(input string, isOpaque bool) (string, bool) {
	if strings.HasPrefix(input, "[") {
		if !strings.HasSuffix(input, "]") || len(input) < 2 {
			return "", false
		}
		return parseIPv6(input[1 : len(input)-1])
	}
	if isOpaque {
		return parseOpaqueHost(input)
	}
	return parseDomainHost(input)
}

func isForbiddenHostCodePoint(c rune) bool {
	switch c {
	case 0, '\t', '\n', '\r', ' ', '#', '/', ':', '<', '>', '?', '@', '[', '\\', ']', '^', '|':
		return true
	}
	return false
}

// parseOpaqueHost is the opaque-host parser.
func parseOpaqueHost(input string) (string, bool) {
	for _, c := range input {
		if isForbiddenHostCodePoint(c) {
			return "", false
		}
	}
	return encodeString(input, c0ControlSet), true
}

// parseIPv6 is the IPv6 parser; it returns the serialized host, brackets included.
func parseIPv6(s string) (string, bool) {
	in := []rune(s)
	at := func(i int) rune {
		if i < len(in) {
			return in[i]
		}
		return eof
	}
	var address [8]uint16
	pieceIndex, compress, ptr := 0, -1, 0
	if at(0) == ':' {
		if at(1) != ':' {
			return "", false
		}
		ptr = 2
		pieceIndex++
		compress = pieceIndex
	}
	for at(ptr) != eof {
		if pieceIndex == 8 {
			return "", false
		}
		if at(ptr) == ':' {
			if compress >= 0 {
				return "", false
			}
			ptr++
			pieceIndex++
			compress = pieceIndex
			continue
		}
		value, length := 0, 0
		for length < 4 && isHexDigitRune(at(ptr)) {
			value = value*16 + int(hexRuneValue(at(ptr)))
			ptr++
			length++
		}
		if at(ptr) == '.' {
			if length == 0 {
				return "", false
			}
			ptr -= length
			if pieceIndex > 6 {
				return "", false
			}
			numbersSeen := 0
			for at(ptr) != eof {
				ipv4Piece := -1
				if numbersSeen > 0 {
					if at(ptr) == '.' && numbersSeen < 4 {
						ptr++
					} else {
						return "", false
					}
				}
				if !isASCIIDigit(at(ptr)) {
					return "", false
				}
				for isASCIIDigit(at(ptr)) {
					number := int(at(ptr) - '0')
					if ipv4Piece == -1 {
						ipv4Piece = number
					} else if ipv4Piece == 0 {
						return "", false
					} else {
						ipv4Piece = ipv4Piece*10 + number
					}
					if ipv4Piece > 255 {
						return "", false
					}
					ptr++
				}
				address[pieceIndex] = address[pieceIndex]*0x100 + uint16(ipv4Piece)
				numbersSeen++
				if numbersSeen == 2 || numbersSeen == 4 {
					pieceIndex++
				}
			}
			if numbersSeen != 4 {
				return "", false
			}
			break
		} else if at(ptr) == ':' {
			ptr++
			if at(ptr) == eof {
				return "", false
			}
		} else if at(ptr) != eof {
			return "", false
		}
		address[pieceIndex] = uint16(value)
		pieceIndex++
	}
	if compress >= 0 {
		swaps := pieceIndex - compress
		pieceIndex = 7
		for pieceIndex != 0 && swaps > 0 {
			address[pieceIndex], address[compress+swaps-1] = address[compress+swaps-1], address[pieceIndex]
			pieceIndex--
			swaps--
		}
	} else if pieceIndex != 8 {
		return "", false
	}
	return "[" + serializeIPv6(address) + "]", true
}

func isHexDigitRune(c rune) bool { return c >= 0 && c < 0x80 && isHexDigit(byte(c)) }

func hexRuneValue(c rune) byte { return unhex(byte(c)) }

// serializeIPv6 is the IPv6 serializer (without brackets).
func serializeIPv6(a [8]uint16) string {
	// The first longest run of more than one zero piece is compressed.
	compress, best := -1, 1
	for i := 0; i < 8; {
		if a[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && a[j] == 0 {
			j++
		}
		if j-i > best {
			compress, best = i, j-i
		}
		i = j
	}
	var b strings.Builder
	for i := 0; i < 8; i++ {
		if i == compress {
			if i == 0 {
				b.WriteString("::")
			} else {
				b.WriteByte(':')
			}
			i += best - 1
			continue
		}
		b.WriteString(strconv.FormatUint(uint64(a[i]), 16))
		if i != 7 {
			b.WriteByte(':')
		}
	}
	return b.String()
}

// pathname is the URL path serializer.
func (u *url) pathname() string {
	if u.opaque {
		return u.path[0]
	}
	n := 0
	for _, s := range u.path {
		n += 1 + len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range u.path {
		b.WriteByte('/')
		b.WriteString(s)
	}
	return b.String()
}

// href is the URL serializer.
func (u *url) href() string {
	var b strings.Builder
	b.WriteString(u.scheme)
	b.WriteByte(':')
	if u.hasHost {
		b.WriteString("//")
		if u.includesCredentials() {
			b.WriteString(u.username)
			if u.password != "" {
				b.WriteByte(':')
				b.WriteString(u.password)
			}
			b.WriteByte('@')
		}
		b.WriteString(u.host)
		if u.port >= 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(u.port))
		}
	} else if !u.opaque && len(u.path) > 1 && u.path[0] == "" {
		b.WriteString("/.")
	}
	b.WriteString(u.pathname())
	if u.hasQuery {
		b.WriteByte('?')
		b.WriteString(u.query)
	}
	if u.hasFrag {
		b.WriteByte('#')
		b.WriteString(u.fragment)
	}
	return b.String()
}
