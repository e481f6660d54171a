package egress

import (
	"github.com/isobox/isobox/internal/lineartest"

	"encoding/base64"
	"strings"
	"testing"
)

const limitSecret = "sk_live/Ab+cd=ef&<g>q"

// hostile are inputs built to keep the redactor waiting: prefixes of the secret and of its
// encodings over and over, endless escapes, line breaks inside a base64 match, the secret
// overlapping itself.
var hostile = map[string]func(n int) string{
	"secret prefixes":   func(n int) string { return strings.Repeat(limitSecret[:len(limitSecret)-1], n/20) },
	"json prefixes":     func(n int) string { return strings.Repeat(`sk_live\/Ab+cd=ef\u0026\u003cg`, n/30) },
	"backslashes":       func(n int) string { return strings.Repeat(`\`, n) },
	"surrogates":        func(n int) string { return strings.Repeat(`\uD83D`, n/6) },
	"percents":          func(n int) string { return strings.Repeat("%", n) },
	"percent prefixes":  func(n int) string { return strings.Repeat("sk_live%2FAb%2", n/14) },
	"ampersands":        func(n int) string { return strings.Repeat("&#", n/2) },
	"numeric refs":      func(n int) string { return strings.Repeat("&#0000000", n/9) },
	"names":             func(n int) string { return strings.Repeat("&quo", n/4) },
	"base64 then lines": func(n int) string { return b64Prefix() + strings.Repeat("\r\n", n/2) },
	"base64 prefixes":   func(n int) string { return strings.Repeat(b64Prefix(), n/len(b64Prefix())) },
	"overlapping":       func(n int) string { return strings.Repeat("a", n) },
	"secret repeated":   func(n int) string { return strings.Repeat(limitSecret, n/len(limitSecret)) },
}

func b64Prefix() string {
	s := base64.StdEncoding.EncodeToString([]byte(limitSecret))
	return s[:len(s)-3]
}

// TestRedactBoundedMemory: whatever the input, the redactor holds back no more than the
// longest input that can spell a secret (and a merged run of overlapping matches as long),
// not a number of bytes that grows with the input.
func TestRedactBoundedMemory(t *testing.T) {
	var r redactor
	r.add(limitSecret, strings.Repeat("a", 8))
	for name, shape := range hostile {
		st := r.stream()
		in := []byte(shape(1 << 18))
		most := 0
		for len(in) > 0 {
			n := min(len(in), 4096)
			st.write(in[:n])
			st.decide(false)
			in = in[n:]
			most = max(most, len(st.pending))
			st.out = st.out[:0]
		}
		if limit := 2 * int(st.window); most > limit {
			t.Errorf("%s: held back %d bytes (limit %d)", name, most, limit)
		}
		// Plain inputs hold back little more than the encoded secret.
		if name == "secret prefixes" || name == "percents" || name == "backslashes" {
			if most > 8*len(limitSecret) {
				t.Errorf("%s: held back %d bytes", name, most)
			}
		}
	}
}

// TestRedactLinearTime: redaction time grows linearly with the input, for the hostile
// inputs: 16 times the input takes about 16 times the CPU time, not 256.
func TestRedactLinearTime(t *testing.T) {
	var r redactor
	r.add(limitSecret, strings.Repeat("a", 8))
	lineartest.Check(t, 1<<12, hostile, func(in string) {
		st := r.stream()
		for p := []byte(in); len(p) > 0; {
			n := min(len(p), 4096)
			st.write(p[:n])
			st.decide(false)
			p = p[n:]
			st.out = st.out[:0]
		}
		st.decide(true)
	})
}
