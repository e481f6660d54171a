package egress

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// The secrets of the encoding tests: one with every character an encoder treats specially,
// a plain token, and one with 2-, 3- and 4-byte UTF-8 characters.
var encSecrets = []string{
	`sk_live/Ab+cd=ef&<g>"h'i\j%41 k`,
	"ghp_SECRETsecret0123",
	"pässwörd✓😀-x",
}

// textEncoding spells a secret as a server would: enc encodes it (rng picks among the
// choices an encoder may make), dec is the standard library's decoder of that encoding,
// which must still read the redacted body.
type textEncoding struct {
	name string
	enc  func(rng *rand.Rand, s string) string
	dec  func(s string) (string, error)
}

func jsonStd(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func jsonNoHTML(s string) string {
	var b strings.Builder
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s)
	q := strings.TrimSpace(b.String())
	return q[1 : len(q)-1]
}

// jsonMix escapes each character of s, or not, as JSON allows: "\" and '"' always, '/'
// as "\/" or not, anything as \uXXXX in either case (surrogate pairs past U+FFFF).
func jsonMix(rng *rand.Rand, s string, pEsc float64) string {
	var b strings.Builder
	for _, r := range s {
		short := map[rune]string{'"': `\"`, '\\': `\\`, '/': `\/`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}[r]
		switch {
		case rng.Float64() >= pEsc && r != '"' && r != '\\' && r >= 0x20:
			b.WriteRune(r)
		case short != "" && rng.IntN(2) == 0:
			b.WriteString(short)
		default:
			units := []rune{r}
			if r > 0xFFFF {
				hi, lo := utf16.EncodeRune(r)
				units = []rune{hi, lo}
			}
			for _, u := range units {
				f := `\u%04x`
				if rng.IntN(2) == 0 {
					f = `\u%04X`
				}
				fmt.Fprintf(&b, f, u)
			}
		}
	}
	return b.String()
}

func jsonDec(s string) (string, error) {
	var out string
	err := json.Unmarshal([]byte(`"`+s+`"`), &out)
	return out, err
}

// percentMix percent-encodes each byte of s, or not ('%' always), in random case.
func percentMix(rng *rand.Rand, s string, pEsc float64) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if rng.Float64() >= pEsc && c != '%' && c != '+' && c > 0x20 && c < 0x7f {
			b.WriteByte(c)
			continue
		}
		f := "%%%02X"
		if rng.IntN(2) == 0 {
			f = "%%%02x"
		}
		fmt.Fprintf(&b, f, c)
	}
	return b.String()
}

// htmlMix writes each character of s as itself (not & < > " '), a named reference or a
// numeric one (decimal or hex, x or X, with or without leading zeros).
func htmlMix(rng *rand.Rand, s string, pEsc float64) string {
	names := map[rune]string{'<': "&lt;", '>': "&gt;", '&': "&amp;", '"': "&quot;", '\'': "&apos;"}
	var b strings.Builder
	for _, r := range s {
		n, special := names[r]
		switch {
		case !special && rng.Float64() >= pEsc:
			b.WriteRune(r)
		case special && rng.IntN(3) == 0:
			b.WriteString(n)
		case rng.IntN(2) == 0:
			fmt.Fprintf(&b, "&#%0*d;", 1+rng.IntN(7), r)
		default:
			fmt.Fprintf(&b, "&#%c%0*x;", "xX"[rng.IntN(2)], 1+rng.IntN(6), r)
		}
	}
	return b.String()
}

func unescapeAll(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&apos;", "'").Replace(s)
}

var textEncodings = []textEncoding{
	{"verbatim", func(_ *rand.Rand, s string) string { return s }, func(s string) (string, error) { return s, nil }},
	{"json", func(_ *rand.Rand, s string) string { return jsonStd(s) }, jsonDec},
	{"json without HTML escapes", func(_ *rand.Rand, s string) string { return jsonNoHTML(s) }, jsonDec},
	{`json \/`, func(_ *rand.Rand, s string) string { return strings.ReplaceAll(jsonStd(s), "/", `\/`) }, jsonDec},
	{`json all \u`, func(rng *rand.Rand, s string) string { return jsonMix(rng, s, 1) }, jsonDec},
	{"json mixed", func(rng *rand.Rand, s string) string { return jsonMix(rng, s, 0.5) }, jsonDec},
	{"query escape", func(_ *rand.Rand, s string) string { return url.QueryEscape(s) }, url.QueryUnescape},
	{"path escape", func(_ *rand.Rand, s string) string { return url.PathEscape(s) }, url.PathUnescape},
	{"percent, / kept", func(_ *rand.Rand, s string) string {
		return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
	}, url.QueryUnescape},
	{"percent lower case", func(rng *rand.Rand, s string) string { return strings.ToLower(percentMix(rng, s, 1)) }, url.PathUnescape},
	{"percent mixed", func(rng *rand.Rand, s string) string { return percentMix(rng, s, 0.5) }, url.PathUnescape},
	{"html escape", func(_ *rand.Rand, s string) string { return html.EscapeString(s) }, unescapeHTML},
	{"html named", func(_ *rand.Rand, s string) string {
		return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
	}, unescapeHTML},
	{"html numeric", func(rng *rand.Rand, s string) string { return htmlMix(rng, s, 1) }, unescapeHTML},
	{"html mixed", func(rng *rand.Rand, s string) string { return htmlMix(rng, s, 0.5) }, unescapeHTML},
	{"url in json", func(rng *rand.Rand, s string) string {
		return strings.ReplaceAll(jsonStd(percentMix(rng, s, 0.5)), "/", `\/`)
	}, func(s string) (string, error) {
		j, err := jsonDec(s)
		if err != nil {
			return "", err
		}
		return url.PathUnescape(j)
	}},
	{"json in html", func(rng *rand.Rand, s string) string { return html.EscapeString(jsonMix(rng, s, 0.5)) },
		func(s string) (string, error) { return jsonDec(html.UnescapeString(s)) }},
}

func unescapeHTML(s string) (string, error) { return html.UnescapeString(s), nil }

// redactChunks redacts body delivered in the given pieces.
func redactChunks(t testing.TB, r *redactor, parts ...string) string {
	t.Helper()
	src := &chunks{}
	for _, p := range parts {
		src.parts = append(src.parts, []byte(p))
	}
	return redactAll(t, r, src)
}

// splits are the ways a body is cut: in two at every point, and a few random cuts.
func splits(rng *rand.Rand, body string, random int) [][]string {
	var out [][]string
	for i := 0; i <= len(body); i++ {
		out = append(out, []string{body[:i], body[i:]})
	}
	for range random {
		var parts []string
		for rest := body; rest != ""; {
			n := min(len(rest), 1+rng.IntN(9))
			parts, rest = append(parts, rest[:n]), rest[n:]
		}
		out = append(out, parts)
	}
	return out
}

// TestRedactEncodings: a secret in each encoding (and nested ones), however the body is cut,
// comes out as [redacted] with the text around it unchanged, and the encoding's own decoder
// still reads the body and finds no secret.
func TestRedactEncodings(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const before, after = `{"echo": "Bearer `, `", "n": 1}`
	for _, secret := range encSecrets {
		var r redactor
		r.add(secret)
		for _, e := range textEncodings {
			for try := range 3 {
				enc := e.enc(rng, secret)
				if dec, err := e.dec(enc); err != nil || dec != secret {
					t.Fatalf("%s: the test's encoding is wrong: %q -> %q, %v", e.name, enc, dec, err)
				}
				body := before + enc + after
				want := before + redacted + after
				for _, parts := range splits(rng, body, 10) {
					got := redactChunks(t, &r, parts...)
					if got != want {
						t.Fatalf("%s (%d) %q cut %q:\n got %s\nwant %s", e.name, try, secret, parts, got, want)
					}
				}
				if dec, err := e.dec(redacted); err != nil || strings.Contains(dec, secret) {
					t.Fatalf("%s: %v", e.name, err)
				}
			}
		}
	}
}

// b64run is a base64 text holding secret with pre bytes before it and post after.
type b64run struct {
	enc       *base64.Encoding
	pre, post int
}

// TestRedactBase64: the secret inside base64 text, in both alphabets, padded or not, at
// each of the three alignments, with text after it or not: every character that depends on
// the secret is redacted, the others (and the text around) are kept, however the body is
// cut. Also when the base64 is wrapped in lines, or JSON-escaped (\/), or percent-encoded.
func TestRedactBase64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const before, after = "data: ", " end"
	for _, secret := range encSecrets {
		var r redactor
		r.add(secret)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			for pre := range 3 {
				for _, post := range []int{0, 1, 2, 5} {
					plain := strings.Repeat("\xfb", pre) + secret + strings.Repeat("\xff", post)
					run := enc.EncodeToString([]byte(plain))
					// Characters [p, q) of the run hold bits of the secret.
					p, q := 8*pre/6, (8*(pre+len(secret))+5)/6
					want := before + run[:p] + redacted + run[q:] + after
					body := before + run + after
					for _, parts := range splits(rng, body, 5) {
						if got := redactChunks(t, &r, parts...); got != want {
							t.Fatalf("%q pre %d post %d cut %q:\n got %s\nwant %s", secret, pre, post, parts, got, want)
						}
					}
					// Wrapped, escaped, percent-encoded: nothing of the secret survives.
					for name, b := range map[string]string{
						"wrapped": wrap(run, 5+rng.IntN(70), "\r\n"),
						"json":    strings.ReplaceAll(run, "/", `\/`),
						"percent": strings.NewReplacer("+", "%2B", "/", "%2f", "=", "%3D").Replace(run),
						"json+lf": wrap(strings.ReplaceAll(run, "/", `\/`), 76, `\n`),
					} {
						got := redactChunks(t, &r, splitRandom(rng, before+b+after)...)
						if leak := leaks(got, secret); leak != "" || !strings.HasPrefix(got, before) || !strings.HasSuffix(got, after) {
							t.Fatalf("%s %q pre %d: %s in %s", name, secret, pre, leak, got)
						}
					}
				}
			}
		}
	}
}

func wrap(s string, width int, nl string) string {
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width] + nl)
		s = s[width:]
	}
	b.WriteString(s)
	return b.String()
}

func splitRandom(rng *rand.Rand, body string) []string {
	all := splits(rng, body, 1)
	return all[len(all)-1]
}

// leaks names the decoding of out that holds secret ("" when none does): out itself, its
// JSON, percent and HTML decodings (lenient: what does not decode stays), and the base64
// decoding of every run of base64 characters in any of those, from each of its first 4
// characters, line breaks removed.
func leaks(out, secret string) string {
	texts := map[string]string{"raw": out}
	if s, err := jsonDec(out); err == nil {
		texts["json"] = s
	}
	texts["json lenient"] = lenientJSON(out)
	texts["percent"] = lenientPercent(out)
	texts["html"] = html.UnescapeString(out)
	texts["nested"] = lenientPercent(lenientJSON(html.UnescapeString(out)))
	for name, s := range texts {
		if strings.Contains(s, secret) {
			return name
		}
		s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
		for _, run := range strings.FieldsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf || !isBase64(byte(r)) }) {
			for off := 0; off < 4 && off < len(run); off++ {
				r := run[off:]
				r = r[:len(r)/4*4]
				for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
					if dec, err := enc.DecodeString(r); err == nil && strings.Contains(string(dec), secret) {
						return name + " base64"
					}
				}
			}
		}
	}
	return ""
}

// lenientJSON decodes the JSON escapes in s that are whole, leaving the rest.
func lenientJSON(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+6 <= len(s) && s[i+1] == 'u' {
			var r string
			// A surrogate pair first, then one escape.
			if i+12 <= len(s) && json.Unmarshal([]byte(`"`+s[i:i+12]+`"`), &r) == nil && !strings.ContainsRune(r, utf8.RuneError) {
				b.WriteString(r)
				i += 11
				continue
			}
			if json.Unmarshal([]byte(`"`+s[i:i+6]+`"`), &r) == nil {
				b.WriteString(r)
				i += 5
				continue
			}
		}
		var r string
		if json.Unmarshal([]byte(`"`+s[i:i+2]+`"`), &r) == nil {
			b.WriteString(r)
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// lenientPercent decodes the %XX in s, leaving the rest.
func lenientPercent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+3 <= len(s) {
			if c, err := url.PathUnescape(s[i : i+3]); err == nil {
				b.WriteString(c)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestRedactManySecrets: several secrets, one of 300 bytes, each in several encodings in
// one body, however it is cut.
func TestRedactManySecrets(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	long := make([]byte, 300)
	for i := range long {
		long[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/+="[rng.IntN(68)]
	}
	secrets := append([]string{string(long)}, encSecrets...)
	var r redactor
	r.add(secrets...)
	for try := range 20 {
		var body, want strings.Builder
		for i := range 12 {
			s := secrets[rng.IntN(len(secrets))]
			e := textEncodings[rng.IntN(len(textEncodings))]
			sep := fmt.Sprintf(" (%d) ", i)
			body.WriteString(sep + e.enc(rng, s))
			want.WriteString(sep + redacted)
		}
		for range 5 {
			if got := redactChunks(t, &r, splitRandom(rng, body.String())...); got != want.String() {
				t.Fatalf("try %d:\n got %s\nwant %s\nbody %s", try, got, want.String(), body.String())
			}
		}
	}
}

// TestRedactInnocent: text that is not a secret, even when it begins like one in some
// encoding, comes out unchanged.
func TestRedactInnocent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, secret := range encSecrets {
		var r redactor
		r.add(secret)
		for _, e := range textEncodings {
			enc := e.enc(rng, secret)
			// Every proper prefix of the encoding, followed by text that ends it.
			for i := 1; i < len(enc); i++ {
				body := "x " + enc[:i] + "\x00 y " + e.enc(rng, secret[:len(secret)-1]) + "."
				if leaks(body, secret) != "" {
					continue // the cut left an encoding of the whole secret
				}
				for _, parts := range [][]string{{body}, splitRandom(rng, body)} {
					if got := redactChunks(t, &r, parts...); got != body {
						t.Fatalf("%s %q: %q became %q", e.name, secret, body, got)
					}
				}
			}
		}
	}
	var r redactor
	r.add(encSecrets...)
	for _, s := range []string{
		"plain text, JSON {\"a\": \"b\\/c\\u0041\"}, a URL https://x.test/?a=%2F+b&c=d, HTML &lt;p&gt; &#65; &#x42;",
		strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", 20),
	} {
		if got := r.string(s); got != s {
			t.Errorf("%q became %q", s, got)
		}
	}
}

// TestRedactHeaders: header values in any encoding are redacted, a header named after a
// secret is dropped, and the status line is redacted.
func TestRedactHeaders(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, secret := range encSecrets {
		var r redactor
		r.add(secret)
		for _, e := range textEncodings {
			h := http.Header{"X-Echo": {"Bearer " + e.enc(rng, secret)}, "X-Other": {"fine"}}
			r.header(h)
			if h.Get("X-Echo") != "Bearer "+redacted || h.Get("X-Other") != "fine" {
				t.Errorf("%s: %v", e.name, h)
			}
		}
		run := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
		h := http.Header{"X-Basic": {"Basic " + run}}
		r.header(h)
		if leak := leaks(h.Get("X-Basic"), secret); leak != "" || !strings.HasPrefix(h.Get("X-Basic"), "Basic ") {
			t.Errorf("base64: %s %v", leak, h)
		}
		if got := r.string("200 " + url.QueryEscape(secret)); got != "200 "+redacted {
			t.Errorf("status: %s", got)
		}
	}
	var r redactor
	r.add("ToKeN-abc")
	h := http.Header{http.CanonicalHeaderKey("x-token-abc"): {"1"}, "X-Keep": {"1"}}
	r.header(h)
	if len(h) != 1 || h.Get("X-Keep") != "1" {
		t.Errorf("a header named after a secret (in another case) is kept: %v", h)
	}
}

// TestRedactMarkerNeverReformsSecret: a secret that shares an end with "[redacted]", or
// lies inside it, gets another replacement, so that no text around a replaced secret
// re-forms it (CI's fuzzer found "   [" + "P" -> "   [redacted]P"); other secrets keep
// "[redacted]".
func TestRedactMarkerNeverReformsSecret(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := []struct {
		secrets []string
		keep    bool // "[redacted]" is still the marker
	}{
		{[]string{"sk_live_abc"}, true},
		{[]string{"   ["}, false},
		{[]string{"abc[r"}, false},
		{[]string{"d]xyz"}, false},
		{[]string{"dact"}, false},
		{[]string{"x[redacted]y"}, false},
		{[]string{"abc<", "(abc", "{x}", "a|", "~b", "ab[re"}, false},
	}
	for _, c := range cases {
		var r redactor
		r.add(c.secrets...)
		if (r.marker == redacted) != c.keep {
			t.Errorf("%q: marker %q", c.secrets, r.marker)
		}
		for _, secret := range c.secrets {
			for _, around := range []string{"", " ", "   ", "[", "]", "[r", "ed]", "P", "<", ">", "(", ")", "d]xyz", "   ["} {
				for _, e := range textEncodings {
					body := e.enc(rng, around+secret+around+secret+around)
					out := redactChunks(t, &r, splitRandom(rng, body)...)
					if d, err := e.dec(out); err == nil && strings.Contains(d, secret) {
						t.Errorf("%s: secret %q re-formed in %q", e.name, secret, out)
					}
				}
			}
		}
	}
}

// TestGatewayRedactsEncodedEchoes: a real server that echoes the injected secrets in each
// encoding the red-team run saw getting through (JSON with \/, percent-encoding that keeps
// '/', lower-case %2f, HTML references, base64), streamed in small flushed pieces, gives
// the sandbox none of them.
func TestGatewayRedactsEncodedEchoes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	forms := func(v string) []string {
		var out []string
		for _, e := range textEncodings {
			out = append(out, e.enc(rng, v))
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			for pre := range 3 {
				out = append(out, enc.EncodeToString([]byte(strings.Repeat("u", pre)+":"+v)))
			}
		}
		return append(out, strings.ReplaceAll(url.PathEscape(v), "%2F", "%2f"))
	}
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var body strings.Builder
		for _, v := range []string{strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.Header.Get("X-Odd")} {
			for i, f := range forms(v) {
				fmt.Fprintf(&body, "<%d>%s</%d>\n", i, f, i)
			}
		}
		w.Header().Set("X-Echo", forms(r.Header.Get("X-Odd"))[3])
		for b := body.String(); b != ""; {
			n := min(len(b), 1+rng.IntN(20))
			w.Write([]byte(b[:n]))
			w.(http.Flusher).Flush()
			b = b[n:]
		}
	})
	g := newGateway(t, nil, `{"rules": [{"action": "allow", "host": "echo.test", "allowPrivate": true,
		"injectHeaders": {"Authorization": "Bearer {{secret:tok}}", "X-Odd": "{{secret:odd}}"}}]}`)
	r := get(g, "http://echo.test:"+s.port+"/")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, secret := range []string{tok, tokOdd} {
		for _, line := range strings.Split(r.body, "\n") {
			if leak := leaks(line, secret); leak != "" {
				t.Errorf("%s leaks %q: %s", leak, secret, line)
			}
		}
		if leak := leaks(r.header.Get("X-Echo"), secret); leak != "" {
			t.Errorf("header leaks: %s", r.header.Get("X-Echo"))
		}
	}
	if n := strings.Count(r.body, "</"); n != 2*(len(textEncodings)+7) || !strings.Contains(r.body, "<0>[redacted]</0>") {
		t.Errorf("the text around the secrets changed:\n%s", r.body)
	}
}
