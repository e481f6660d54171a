package weburl

import (
	"strconv"
	"strings"
)

// This file is the URL Standard's host parser for domains, the hosts of special schemes
// (http, https, ws, wss, ftp, file) that are not IPv6 literals: percent-decoding, domain to
// ASCII, the forbidden domain code point check and the IPv4 parser. IPv6 literals and opaque
// hosts are in parser.go.

// parseDomainHost returns the serialized host for input, or ok false on failure.
func parseDomainHost(input string) (host string, ok bool) {
	// UTF-8 decode without BOM of the percent-decoding of input; invalid sequences become
	// U+FFFD, which domain to ASCII rejects.
	domain := strings.ToValidUTF8(percentDecode(input), "\uFFFD")
	ascii, ok := domainToASCII(domain)
	if !ok {
		return "", false
	}
	for i := 0; i < len(ascii); i++ {
		if isForbiddenDomainByte(ascii[i]) {
			return "", false
		}
	}
	if endsInANumber(ascii) {
		return parseIPv4(ascii)
	}
	return ascii, true
}

// domainToASCII is the URL Standard's "domain to ASCII" with beStrict false. An ASCII domain
// is only lowercased (its labels, "xn--" ones included, are not validated); any other goes
// through UTS #46 ToASCII.
func domainToASCII(domain string) (string, bool) {
	var result string
	if isASCII(domain) {
		result = strings.ToLower(domain)
	} else {
		var ok bool
		if result, ok = uts46ToASCII(domain); !ok {
			return "", false
		}
	}
	if result == "" {
		return "", false
	}
	return result, true
}

func isForbiddenDomainByte(c byte) bool {
	if c <= 0x20 || c == 0x7F || c >= 0x80 {
		return true
	}
	switch c {
	case '#', '%', '/', ':', '<', '>', '?', '@', '[', '\\', ']', '^', '|':
		return true
	}
	return false
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// percentDecode is the URL Standard's "percent-decode" of a string's UTF-8 bytes.
func percentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// endsInANumber is the URL Standard's "ends in a number checker".
func endsInANumber(s string) bool {
	parts := strings.Split(s, ".")
	if parts[len(parts)-1] == "" {
		if len(parts) == 1 {
			return false
		}
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := parseIPv4Number(last)
	return ok
}

// ipv4Cap bounds the values parseIPv4Number returns: anything larger fails the IPv4 parser
// anyway, and the cap keeps the arithmetic from overflowing.
const ipv4Cap = 1 << 40

// parseIPv4Number is the URL Standard's "IPv4 number parser" (values saturate at ipv4Cap).
func parseIPv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	radix := uint64(10)
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s, radix = s[2:], 16
	} else if len(s) >= 2 && s[0] == '0' {
		s, radix = s[1:], 8
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case radix == 16 && isHexDigit(c):
			d = uint64(unhex(c))
		default:
			return 0, false
		}
		if d >= radix {
			return 0, false
		}
		if n = n*radix + d; n > ipv4Cap {
			n = ipv4Cap
		}
	}
	return n, true
}

// parseIPv4 is the URL Standard's "IPv4 parser"; it returns the serialized address.
func parseIPv4(s string) (string, bool) {
	parts := strings.Split(s, ".")
	if parts[len(parts)-1] == "" && len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return "", false
	}
	numbers := make([]uint64, len(parts))
	for i, p := range parts {
		n, ok := parseIPv4Number(p)
		if !ok {
			return "", false
		}
		numbers[i] = n
	}
	last := len(numbers) - 1
	for _, n := range numbers[:last] {
		if n > 255 {
			return "", false
		}
	}
	if numbers[last] >= 1<<(8*(5-len(numbers))) {
		return "", false
	}
	ipv4 := numbers[last]
	for i, n := range numbers[:last] {
		ipv4 += n << (8 * (3 - i))
	}
	return strconv.Itoa(int(ipv4>>24)) + "." + strconv.Itoa(int(ipv4>>16&0xFF)) + "." +
		strconv.Itoa(int(ipv4>>8&0xFF)) + "." + strconv.Itoa(int(ipv4&0xFF)), true
}
