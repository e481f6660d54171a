package weburl

import (
	"errors"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// This file implements UTS #46 (Unicode IDNA Compatibility Processing) ToASCII with the
// parameters the URL Standard's "domain to ASCII" uses for the URL parser: CheckHyphens=false,
// CheckBidi=true, CheckJoiners=true, UseSTD3ASCIIRules=false, Transitional_Processing=false,
// VerifyDnsLength=false, IgnoreInvalidPunycode=false. The data (idnatables.go) is Unicode 17;
// golang.org/x/net/idna, which github.com/nlnwa/whatwg-url uses, has Unicode 15.0 tables and
// other differences that the WPT data catches.

// idnaEntry is one row of the IDNA mapping table (see idnaTable).
type idnaEntry struct {
	lo      rune
	status  uint8
	mapping string
}

// IDNA mapping table status codes, as written by gen_idnatables.js.
const (
	idnaValid uint8 = iota
	idnaMapped
	idnaDisallowed
	idnaDeviation
	idnaIgnored
)

// cpRanges is a sorted list of inclusive code point ranges, written as lo, hi pairs.
type cpRanges []rune

func (r cpRanges) has(c rune) bool {
	n := len(r) / 2
	i := sort.Search(n, func(i int) bool { return r[2*i+1] >= c })
	return i < n && r[2*i] <= c
}

func idnaLookup(c rune) *idnaEntry {
	i := sort.Search(len(idnaTable), func(i int) bool { return idnaTable[i].lo > c }) - 1
	if i < 0 {
		i = 0
	}
	return &idnaTable[i]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// uts46ToASCII runs UTS #46 ToASCII on domain; ok is false when it records an error.
func uts46ToASCII(domain string) (string, bool) {
	// 1. Map (nontransitional: deviations are kept; disallowed code points are kept and
	// rejected by the validity criteria).
	var b strings.Builder
	for _, c := range domain {
		e := idnaLookup(c)
		switch e.status {
		case idnaIgnored:
		case idnaMapped:
			b.WriteString(e.mapping)
		default:
			b.WriteRune(c)
		}
	}
	// 2. Normalize. 3. Break.
	labels := strings.Split(norm.NFC.String(b.String()), ".")

	// 4. Convert/Validate. Punycode labels are decoded first: the bidi rule applies when any
	// label of the (decoded) domain has a right-to-left or Arabic-number code point.
	ok := true
	decoded := make([]string, len(labels))
	fromPuny := make([]bool, len(labels))
	for i, label := range labels {
		decoded[i] = label
		if !strings.HasPrefix(label, "xn--") {
			continue
		}
		fromPuny[i] = true
		if !isASCII(label) {
			ok = false
			continue
		}
		u, err := punycodeDecode(label[4:])
		if err != nil {
			ok = false
			continue
		}
		if u == "" || isASCII(u) {
			ok = false
		}
		decoded[i] = u
	}
	if !ok {
		return "", false
	}
	bidiDomain := false
	for _, label := range decoded {
		for _, c := range label {
			if bidiRAL.has(c) || bidiAN.has(c) {
				bidiDomain = true
			}
		}
	}
	for i, label := range decoded {
		if !validLabel(label, bidiDomain, fromPuny[i]) {
			return "", false
		}
	}
	for i, label := range decoded {
		if !isASCII(label) {
			enc, err := punycodeEncode(label)
			if err != nil {
				return "", false
			}
			decoded[i] = "xn--" + enc
		}
	}
	return strings.Join(decoded, "."), true
}

// validLabel checks the UTS #46 validity criteria (section 4.1) for a nonempty label.
func validLabel(label string, bidiDomain, fromPuny bool) bool {
	if label == "" {
		return true
	}
	// 1. The label must be in NFC (only decoded Punycode can fail this: the rest was normalized).
	if fromPuny && !norm.NFC.IsNormalString(label) {
		return false
	}
	// 3. With CheckHyphens=false the label must not begin with "xn--".
	if strings.HasPrefix(label, "xn--") {
		return false
	}
	cps := []rune(label)
	// 5. The label must not begin with a combining mark.
	if idnaMark.has(cps[0]) {
		return false
	}
	for _, c := range cps {
		// 4. No U+002E FULL STOP.
		if c == '.' {
			return false
		}
		// 6. Nontransitional processing: each code point must be valid or deviation.
		if st := idnaLookup(c).status; st != idnaValid && st != idnaDeviation {
			return false
		}
	}
	// 7. CheckJoiners: the ContextJ rules of RFC 5892 appendix A.
	for i, c := range cps {
		if c != 0x200C && c != 0x200D {
			continue
		}
		if i > 0 && idnaVirama.has(cps[i-1]) {
			continue
		}
		if c == 0x200D {
			return false
		}
		j := i - 1
		for j >= 0 && joinT.has(cps[j]) {
			j--
		}
		k := i + 1
		for k < len(cps) && joinT.has(cps[k]) {
			k++
		}
		if j < 0 || !joinLD.has(cps[j]) || k >= len(cps) || !joinRD.has(cps[k]) {
			return false
		}
	}
	// 8. CheckBidi: the rules of RFC 5893 section 2, for labels of a bidi domain name.
	if bidiDomain && !bidiRuleOK(cps) {
		return false
	}
	return true
}

// bidiRuleOK reports whether a label satisfies the Bidi Rule of RFC 5893 section 2.
func bidiRuleOK(cps []rune) bool {
	// The end of the label, skipping trailing nonspacing marks.
	end := len(cps) - 1
	for end >= 0 && bidiNSM.has(cps[end]) {
		end--
	}
	switch {
	case bidiRAL.has(cps[0]): // right-to-left label: rules 2 to 4
		hasEN, hasAN := false, false
		for _, c := range cps {
			if !bidiRTLAllowed.has(c) {
				return false
			}
			hasEN = hasEN || bidiEN.has(c)
			hasAN = hasAN || bidiAN.has(c)
		}
		if end < 0 {
			return false
		}
		if e := cps[end]; !bidiRAL.has(e) && !bidiEN.has(e) && !bidiAN.has(e) {
			return false
		}
		return !(hasEN && hasAN)
	case bidiL.has(cps[0]): // left-to-right label: rules 5 and 6
		for _, c := range cps {
			if !bidiLTRAllowed.has(c) {
				return false
			}
		}
		if end < 0 {
			return false
		}
		e := cps[end]
		return bidiL.has(e) || bidiEN.has(e)
	default: // rule 1: the first character must be L, R or AL
		return false
	}
}

// Punycode (RFC 3492) parameters.
const (
	punyBase        = 36
	punyTMin        = 1
	punyTMax        = 26
	punySkew        = 38
	punyDamp        = 700
	punyInitialBias = 72
	punyInitialN    = 128
	punyMaxInt      = 1<<31 - 1
)

var errPunycode = errors.New("invalid punycode")

func punyAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= punyDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((punyBase-punyTMin)*punyTMax)/2 {
		delta /= punyBase - punyTMin
		k += punyBase
	}
	return k + (punyBase-punyTMin+1)*delta/(delta+punySkew)
}

func punyDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') + 26, true
	case c >= 'A' && c <= 'Z':
		return int(c - 'A'), true
	case c >= 'a' && c <= 'z':
		return int(c - 'a'), true
	}
	return 0, false
}

func punycodeDecode(s string) (string, error) {
	var out []rune
	pos := 0
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		for j := 0; j < i; j++ {
			if s[j] >= 0x80 {
				return "", errPunycode
			}
			out = append(out, rune(s[j]))
		}
		pos = i + 1
	}
	n, i, bias := punyInitialN, 0, punyInitialBias
	for pos < len(s) {
		oldi, w := i, 1
		for k := punyBase; ; k += punyBase {
			if pos >= len(s) {
				return "", errPunycode
			}
			d, ok := punyDigit(s[pos])
			pos++
			if !ok || d > (punyMaxInt-i)/w {
				return "", errPunycode
			}
			i += d * w
			t := k - bias
			if t < punyTMin {
				t = punyTMin
			} else if t > punyTMax {
				t = punyTMax
			}
			if d < t {
				break
			}
			if w > punyMaxInt/(punyBase-t) {
				return "", errPunycode
			}
			w *= punyBase - t
		}
		bias = punyAdapt(i-oldi, len(out)+1, oldi == 0)
		if i/(len(out)+1) > punyMaxInt-n {
			return "", errPunycode
		}
		n += i / (len(out) + 1)
		i %= len(out) + 1
		if n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF) {
			return "", errPunycode
		}
		out = append(out, 0)
		copy(out[i+1:], out[i:])
		out[i] = rune(n)
		i++
	}
	return string(out), nil
}

func punycodeEncode(s string) (string, error) {
	input := []rune(s)
	var out []byte
	for _, c := range input {
		if c < 0x80 {
			out = append(out, byte(c))
		}
	}
	b := len(out)
	h := b
	if b > 0 {
		out = append(out, '-')
	}
	n, delta, bias := punyInitialN, 0, punyInitialBias
	for h < len(input) {
		m := punyMaxInt
		for _, c := range input {
			if int(c) >= n && int(c) < m {
				m = int(c)
			}
		}
		if m-n > (punyMaxInt-delta)/(h+1) {
			return "", errPunycode
		}
		delta += (m - n) * (h + 1)
		n = m
		for _, c := range input {
			if int(c) < n {
				delta++
				if delta > punyMaxInt {
					return "", errPunycode
				}
			}
			if int(c) != n {
				continue
			}
			q := delta
			for k := punyBase; ; k += punyBase {
				t := k - bias
				if t < punyTMin {
					t = punyTMin
				} else if t > punyTMax {
					t = punyTMax
				}
				if q < t {
					break
				}
				out = append(out, punyEncodeDigit(t+(q-t)%(punyBase-t)))
				q = (q - t) / (punyBase - t)
			}
			out = append(out, punyEncodeDigit(q))
			bias = punyAdapt(delta, h+1, h == b)
			delta = 0
			h++
		}
		delta++
		n++
	}
	return string(out), nil
}

func punyEncodeDigit(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}
