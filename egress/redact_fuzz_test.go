package egress

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

// fuzzAlphabet is what fuzzed secrets are made of: printable ASCII (every character an
// encoder treats specially among them) and multi-byte UTF-8. Header values, where secrets
// are injected, hold no control characters.
var fuzzAlphabet = []rune(` !"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_` + "`abcdefghijklmnopqrstuvwxyz{|}~é✓😀")

func fuzzText(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		s.WriteRune(fuzzAlphabet[int(c)%len(fuzzAlphabet)])
	}
	return s.String()
}

// FuzzRedact: a server writes text holding a secret in one of the encodings (choices drawn
// from seed), or base64 of it; whatever the text and however the body is cut, the
// redacted body, decoded as it was encoded, holds no secret, and the cut does not change
// the result.
//
//	go test ./egress -run X -fuzz FuzzRedact -fuzztime 30s
func FuzzRedact(f *testing.F) {
	f.Add([]byte("sk_live/Ab+cd=ef&<g>"), []byte(`{"a": "`), []byte(`"}`), uint64(3))
	f.Add([]byte("ghp_0123456789"), []byte("Bearer "), []byte(""), uint64(17))
	f.Add([]byte("aaaa"), []byte("aaaaaaa"), []byte("aaa"), uint64(0))
	f.Add([]byte{200, 201, 202, 203, 5}, []byte("\\"), []byte("%"), uint64(len(textEncodings)))
	f.Fuzz(func(t *testing.T, sec, pre, post []byte, seed uint64) {
		secret := fuzzText(sec)
		if len(secret) < minBase64 || len(secret) > 200 || len(pre)+len(post) > 2000 {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		whole := fuzzText(pre) + secret + fuzzText(post)
		var r redactor
		r.add(secret)
		var body string
		var dec func(string) (string, error)
		if k := int(seed % uint64(len(textEncodings)+1)); k < len(textEncodings) {
			body, dec = textEncodings[k].enc(rng, whole), textEncodings[k].dec
		} else {
			encs := []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}
			body = encs[rng.IntN(len(encs))].EncodeToString([]byte(whole))
			dec = func(s string) (string, error) { return s, nil } // leaks decodes base64 runs
		}
		out := r.string(body)
		if got := redactChunks(t, &r, splitRandom(rng, body)...); got != out {
			t.Fatalf("the cut changed the result:\n%s\n%s", out, got)
		}
		if d, err := dec(out); err == nil && strings.Contains(d, secret) {
			t.Fatalf("secret %q survives in %q (decoded %q)", secret, out, d)
		}
		if leak := leaks(out, secret); leak != "" {
			t.Fatalf("secret %q survives (%s) in %q", secret, leak, out)
		}
	})
}
