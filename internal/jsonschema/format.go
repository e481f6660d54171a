package jsonschema

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"
)

// formatChecker returns the check of a format, or nil for a format it does not know
// (which is then not checked, as the drafts allow). The set is santhosh-tekuri/
// jsonschema's: the drafts' formats but idn-email and idn-hostname, with uuid, duration,
// period and semver.
func formatChecker(name string) func(string) error {
	switch name {
	case "date":
		return checkDate
	case "time":
		return checkTime
	case "date-time":
		return checkDateTime
	case "duration":
		return checkDuration
	case "period":
		return checkPeriod
	case "email":
		return checkEmail
	case "hostname":
		return checkHostname
	case "ipv4":
		return checkIPv4
	case "ipv6":
		return checkIPv6
	case "uri":
		return func(s string) error { return checkURI(s, true, false) }
	case "uri-reference":
		return func(s string) error { return checkURI(s, false, false) }
	case "iri":
		return func(s string) error { return checkURI(s, true, true) }
	case "iri-reference":
		return func(s string) error { return checkURI(s, false, true) }
	case "uri-template":
		return checkURITemplate
	case "json-pointer":
		return checkJSONPointer
	case "relative-json-pointer":
		return checkRelativeJSONPointer
	case "uuid":
		return checkUUID
	case "regex":
		return func(s string) error { _, err := compileRegexp(s); return err }
	case "semver":
		return checkSemver
	}
	return nil
}

// digits reads n decimal digits at s[i:].
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	x := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		x = x*10 + int(c-'0')
	}
	return x, true
}

// checkDate: RFC 3339 full-date, YYYY-MM-DD, a day the month has.
func checkDate(s string) error {
	y, ok1 := digits(s, 0, 4)
	m, ok2 := digits(s, 5, 2)
	d, ok3 := digits(s, 8, 2)
	if len(s) != 10 || !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' {
		return errors.New("not YYYY-MM-DD")
	}
	if m < 1 || m > 12 {
		return errors.New("no such month")
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	if d < 1 || d > days {
		return errors.New("no such day")
	}
	return nil
}

// checkTime: RFC 3339 full-time, HH:MM:SS[.frac](Z|+HH:MM|-HH:MM); a leap second only
// at 23:59:60 UTC.
func checkTime(s string) error {
	h, ok1 := digits(s, 0, 2)
	m, ok2 := digits(s, 3, 2)
	sec, ok3 := digits(s, 6, 2)
	if !ok1 || !ok2 || !ok3 || s[2] != ':' || s[5] != ':' {
		return errors.New("not HH:MM:SS")
	}
	if h > 23 || m > 59 || sec > 60 {
		return errors.New("hour, minute or second out of range")
	}
	i := 8
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return errors.New("no digits after the decimal point")
		}
		i = j
	}
	rest := s[i:]
	utc := h*60 + m
	switch {
	case rest == "Z" || rest == "z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest, 1, 2)
		om, ok2 := digits(rest, 4, 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return errors.New("malformed offset")
		}
		off := oh*60 + om
		if rest[0] == '+' {
			off = -off
		}
		utc = ((utc+off)%(24*60) + 24*60) % (24 * 60)
	default:
		return errors.New("no Z or offset")
	}
	if sec == 60 && utc != 23*60+59 {
		return errors.New("a leap second not at 23:59:60 UTC")
	}
	return nil
}

func checkDateTime(s string) error {
	if len(s) < 11 || s[10] != 'T' && s[10] != 't' {
		return errors.New("not a date, T and a time")
	}
	if err := checkDate(s[:10]); err != nil {
		return err
	}
	return checkTime(s[11:])
}

// checkDuration: ISO 8601 duration as RFC 3339 appendix A has it: P and weeks, or P,
// years, months, days, and T, hours, minutes, seconds, each optional but in that order,
// with at least one.
func checkDuration(s string) error {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" {
		return errors.New("not P and at least one element")
	}
	if w, ok := strings.CutSuffix(rest, "W"); ok {
		if _, ok := digits(w, 0, len(w)); ok && w != "" {
			return nil
		}
		return errors.New("malformed weeks")
	}
	date, tm, hasT := strings.Cut(rest, "T")
	if hasT && tm == "" {
		return errors.New("no element after T")
	}
	for _, part := range []struct{ s, units string }{{date, "YMD"}, {tm, "HMS"}} {
		p, units := part.s, part.units
		for p != "" {
			j := 0
			for j < len(p) && p[j] >= '0' && p[j] <= '9' {
				j++
			}
			if j == 0 || j == len(p) {
				return errors.New("an element is not a number and a unit")
			}
			k := strings.IndexByte(units, p[j])
			if k < 0 {
				return errors.New("unit out of place")
			}
			units = units[k+1:]
			p = p[j+1:]
		}
	}
	return nil
}

// checkPeriod: ISO 8601 time interval: start/end, start/duration or duration/end.
func checkPeriod(s string) error {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return errors.New("no /")
	}
	if strings.HasPrefix(a, "P") {
		if err := checkDuration(a); err != nil {
			return err
		}
		return checkDateTime(b)
	}
	if err := checkDateTime(a); err != nil {
		return err
	}
	if strings.HasPrefix(b, "P") {
		return checkDuration(b)
	}
	return checkDateTime(b)
}

// checkHostname: RFC 1123 host name: dot-separated labels of letters, digits and hyphens,
// 1 to 63 bytes each, not starting or ending with a hyphen, 253 bytes in all (a final
// dot aside).
func checkHostname(s string) error {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 {
		return errors.New("longer than 253 characters")
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 {
			return errors.New("a label is empty or longer than 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("a label starts or ends with a hyphen")
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return errors.New("a label holds a character other than letters, digits and hyphens")
			}
		}
	}
	return nil
}

// checkEmail: RFC 5321 mailbox: a dot-atom or quoted local part of at most 64 bytes, @,
// and a host name or an address literal; 254 bytes in all.
func checkEmail(s string) error {
	if len(s) > 254 {
		return errors.New("longer than 254 characters")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return errors.New("no @")
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return errors.New("local part longer than 64 characters")
	}
	if len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
		if strings.ContainsAny(local[1:len(local)-1], "\"\\") {
			return errors.New("a quote or backslash inside the quoted local part")
		}
	} else {
		if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
			return errors.New("local part empty, or with a dot at an end or two in a row")
		}
		for _, c := range local {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".!#$%&'*+-/=?^_`{|}~", c)) {
				return errors.New("local part holds a character an unquoted one may not")
			}
		}
	}
	if len(domain) >= 2 && domain[0] == '[' && domain[len(domain)-1] == ']' {
		lit := domain[1 : len(domain)-1]
		if v6, ok := strings.CutPrefix(lit, "IPv6:"); ok {
			return checkIPv6(v6)
		}
		return checkIPv4(lit)
	}
	return checkHostname(domain)
}

// checkIPv4: dotted quad, no leading zeros.
func checkIPv4(s string) error {
	n := 0
	for part := range strings.SplitSeq(s, ".") {
		n++
		x, ok := digits(part, 0, len(part))
		if !ok || part == "" || len(part) > 3 || x > 255 || len(part) > 1 && part[0] == '0' {
			return errors.New("not four decimal numbers 0-255 without leading zeros")
		}
	}
	if n != 4 {
		return errors.New("not four numbers")
	}
	return nil
}

// checkIPv6: RFC 4291 text form, without a zone.
func checkIPv6(s string) error {
	if !strings.Contains(s, ":") || strings.Contains(s, "%") {
		return errors.New("not an IPv6 address")
	}
	if _, err := netip.ParseAddr(s); err != nil {
		return errors.New("not an IPv6 address")
	}
	return nil
}

// checkURI checks an RFC 3986 URI (absolute) or URI reference; an IRI (RFC 3987) may also
// hold non-ASCII characters.
func checkURI(s string, absolute, iri bool) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			if !iri {
				return errors.New("a character that is not ASCII")
			}
		case c <= ' ' || c == 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0:
			return errors.New("a character a URI may not hold")
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return errors.New("a % not followed by two hex digits")
			}
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("malformed")
	}
	if absolute && u.Scheme == "" {
		return errors.New("no scheme")
	}
	if h := u.Hostname(); strings.Contains(h, ":") {
		if !strings.HasPrefix(u.Host, "[") || checkIPv6(h) != nil {
			return errors.New("a malformed IPv6 host")
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// checkURITemplate: RFC 6570 level 4 syntax: literals, and expressions in braces that do
// not nest.
func checkURITemplate(s string) error {
	open := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '{':
			if open {
				return errors.New("nested braces")
			}
			open = true
		case c == '}':
			if !open {
				return errors.New("a } without {")
			}
			open = false
		case c <= ' ' || strings.IndexByte("\"'<>\\^`|", c) >= 0:
			return errors.New("a character a template may not hold")
		}
	}
	if open {
		return errors.New("a { without }")
	}
	return nil
}

// checkJSONPointer: RFC 6901: empty, or tokens each after a /, ~ followed by 0 or 1.
func checkJSONPointer(s string) error {
	if s != "" && s[0] != '/' {
		return errors.New("does not start with /")
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '~' && (i+1 >= len(s) || s[i+1] != '0' && s[i+1] != '1') {
			return errors.New("a ~ not followed by 0 or 1")
		}
	}
	return nil
}

// checkRelativeJSONPointer: a non-negative integer (no leading zero), then # or a JSON
// pointer.
func checkRelativeJSONPointer(s string) error {
	j := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == 0 || j > 1 && s[0] == '0' {
		return errors.New("does not start with a non-negative integer")
	}
	if s[j:] == "#" {
		return nil
	}
	return checkJSONPointer(s[j:])
}

// checkUUID: RFC 4122 text form, 8-4-4-4-12 hex digits.
func checkUUID(s string) error {
	if len(s) != 36 {
		return errors.New("not 36 characters")
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return errors.New("no - where one goes")
			}
		} else if !isHex(s[i]) {
			return errors.New("not a hex digit")
		}
	}
	return nil
}

// checkSemver: semver.org 2.0.0: MAJOR.MINOR.PATCH[-pre][+build].
func checkSemver(s string) error {
	core, build, hasBuild := strings.Cut(s, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	ident := func(id string, numeric bool) bool {
		if id == "" {
			return false
		}
		allDigits := true
		for _, c := range []byte(id) {
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-':
				allDigits = false
			default:
				return false
			}
		}
		return !(numeric && allDigits && len(id) > 1 && id[0] == '0')
	}
	n := 0
	for part := range strings.SplitSeq(core, ".") {
		n++
		if _, ok := digits(part, 0, len(part)); !ok || part == "" || len(part) > 1 && part[0] == '0' {
			return errors.New("not MAJOR.MINOR.PATCH")
		}
	}
	if n != 3 {
		return errors.New("not MAJOR.MINOR.PATCH")
	}
	if hasPre {
		for id := range strings.SplitSeq(pre, ".") {
			if !ident(id, true) {
				return errors.New("a malformed pre-release identifier")
			}
		}
	}
	if hasBuild {
		for id := range strings.SplitSeq(build, ".") {
			if !ident(id, false) {
				return errors.New("a malformed build identifier")
			}
		}
	}
	return nil
}
