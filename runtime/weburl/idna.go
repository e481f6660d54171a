package weburl

import (
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// This file implements UTS #46 (Unicode IDNA Compatibility Processing) ToASCII with the
// parameters the URL Standard's "domain to ASCII" uses for the URL parser: CheckHyphens=false,
// CheckBidi=true, CheckJoiners=true, UseSTD3ASCIIRules=false, Transitional_Processing=false,
// VerifyDnsLength=false, IgnoreInvalidPunycode=false. The data (idnatables.go) is Unicode 17
// (golang.org/x/net/idna has Unicode 15.0 tables for Go 1.26 and uses STD3 rules).

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
