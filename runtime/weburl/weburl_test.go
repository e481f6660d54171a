package weburl

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/isobox/isobox/internal/lineartest"
)

// The WPT URL data lives in shared/ beside the repository (../shared from its root).
const wptDir = "../../../shared/conformance/wpt-url"

// Floors: the number of WPT cases that pass. A drop below a floor is a regression; cases
// that fail must be listed in knownFailures, and a listed case that passes fails the test too,
// so that the table and the floors are kept exact.
const (
	floorURLTestData = 891 // of 891 cases in urltestdata.json
	floorSetters     = 278 // of 278 cases in setters_tests.json
	floorToASCII     = 261 // of 87 cases x 3 ways (constructor, host setter, hostname setter)
	floorPercentEnc  = 7   // of 7 utf-8 cases in percent-encoding.json
)

// knownFailures maps a case key (see the tests) to the reason it fails.
var knownFailures = map[string]string{}

// readWPT decodes a WPT data file into v; a missing file fails the test (CI lays
// shared/ beside the repository, so it must be there).
func readWPT(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(wptDir, name))
	if err != nil {
		t.Fatalf("WPT URL data missing (expected at %s beside the repo): %v", wptDir, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// tally counts passes and checks failures against knownFailures.
type tally struct {
	t          *testing.T
	file       string
	pass, fail int
	seen       map[string]bool
}

func newTally(t *testing.T, file string) *tally {
	return &tally{t: t, file: file, seen: map[string]bool{}}
}

func (ta *tally) result(key string, problem string) {
	ta.t.Helper()
	ta.seen[key] = true
	reason, known := knownFailures[key]
	switch {
	case problem == "" && known:
		ta.pass++
		ta.t.Errorf("%s: unexpected pass of known failure %s (%s): remove it from knownFailures and raise the floor", ta.file, key, reason)
	case problem == "":
		ta.pass++
	case known:
		ta.fail++
		ta.t.Logf("%s: known failure %s: %s (%s)", ta.file, key, problem, reason)
	default:
		ta.fail++
		ta.t.Errorf("%s: FAIL %s: %s", ta.file, key, problem)
	}
}

func (ta *tally) finish(floor int) {
	ta.t.Helper()
	ta.t.Logf("%s: %d passed, %d failed", ta.file, ta.pass, ta.fail)
	if ta.pass < floor {
		ta.t.Errorf("%s: %d cases pass, below the floor of %d", ta.file, ta.pass, floor)
	}
	prefix := ta.file + " "
	for key := range knownFailures {
		if strings.HasPrefix(key, prefix) && !ta.seen[key] {
			ta.t.Errorf("knownFailures entry %q matches no case", key)
		}
	}
}

var getterNames = []string{"href", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"}

func (r Record) get(name string) string {
	switch name {
	case "href":
		return r.Href
	case "origin":
		return r.Origin
	case "protocol":
		return r.Protocol
	case "username":
		return r.Username
	case "password":
		return r.Password
	case "host":
		return r.Host
	case "hostname":
		return r.Hostname
	case "port":
		return r.Port
	case "pathname":
		return r.Pathname
	case "search":
		return r.Search
	case "hash":
		return r.Hash
	}
	panic("no getter " + name)
}

// compare lists the getters of got that differ from want (a WPT expectation object).
func compare(got Record, want map[string]any, names []string) string {
	var diffs []string
	for _, name := range names {
		w, ok := want[name].(string)
		if !ok {
			continue
		}
		if g := got.get(name); g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	return strings.Join(diffs, "; ")
}

// TestWPTURLTestData runs urltestdata.json as url-constructor.any.js and url-origin.any.js
// do: new URL(input, base) must throw for "failure" cases and otherwise give the expected
// getters, origin included where given. (The searchParams values are checked by the JS side.)
func TestWPTURLTestData(t *testing.T) {
	var cases []any
	readWPT(t, "urltestdata.json", &cases)
	ta := newTally(t, "urltestdata.json")
	names := append([]string{"origin"}, getterNames...)
	for _, c := range cases {
		m, ok := c.(map[string]any)
		if !ok {
			continue // comment
		}
		input := m["input"].(string)
		var base *string
		key := fmt.Sprintf("urltestdata.json %q", input)
		if b, ok := m["base"].(string); ok {
			base = &b
			key += fmt.Sprintf(" base %q", b)
		}
		got, err := Parse(input, base)
		switch {
		case m["failure"] == true && err == nil:
			ta.result(key, fmt.Sprintf("parsed as %q, want failure", got.Href))
		case m["failure"] == true:
			ta.result(key, "")
		case err != nil:
			ta.result(key, err.Error())
		default:
			ta.result(key, compare(got, m, names))
		}
	}
	ta.finish(floorURLTestData)
}

// TestWPTSetters runs setters_tests.json as url-setters.any.js does: parse href, set the
// property to new_value, and compare the getters named in expected.
func TestWPTSetters(t *testing.T) {
	var all map[string]json.RawMessage
	readWPT(t, "setters_tests.json", &all)
	ta := newTally(t, "setters_tests.json")
	props := make([]string, 0, len(all))
	for prop := range all {
		if prop != "comment" {
			props = append(props, prop)
		}
	}
	sort.Strings(props)
	for _, prop := range props {
		var cases []struct {
			Href     string         `json:"href"`
			NewValue string         `json:"new_value"`
			Expected map[string]any `json:"expected"`
		}
		if err := json.Unmarshal(all[prop], &cases); err != nil {
			t.Fatalf("setters_tests.json %s: %v", prop, err)
		}
		for _, c := range cases {
			key := fmt.Sprintf("setters_tests.json %s %q = %q", prop, c.Href, c.NewValue)
			start, err := Parse(c.Href, nil)
			if err != nil {
				ta.result(key, "href does not parse: "+err.Error())
				continue
			}
			got, err := Set(start.Href, prop, c.NewValue)
			if err != nil {
				ta.result(key, "setter failed: "+err.Error())
				continue
			}
			ta.result(key, compare(got, c.Expected, append([]string{"origin"}, getterNames...)))
		}
	}
	ta.finish(floorSetters)
}

// TestWPTToASCII runs toascii.json as toascii.window.js does, through the URL constructor
// (https://<input>/x) and through the host and hostname setters of https://x/x.
func TestWPTToASCII(t *testing.T) {
	var cases []any
	readWPT(t, "toascii.json", &cases)
	ta := newTally(t, "toascii.json")
	for _, c := range cases {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		input := m["input"].(string)
		output, valid := m["output"].(string)

		key := fmt.Sprintf("toascii.json %q (URL)", input)
		got, err := Parse("https://"+input+"/x", nil)
		switch {
		case !valid && err == nil:
			ta.result(key, fmt.Sprintf("host %q, want failure", got.Host))
		case !valid:
			ta.result(key, "")
		case err != nil:
			ta.result(key, err.Error())
		default:
			ta.result(key, compare(got, map[string]any{
				"host": output, "hostname": output, "pathname": "/x", "href": "https://" + output + "/x",
			}, getterNames))
		}

		want := output
		if !valid {
			want = "x" // the setters leave the URL as it was
		}
		for _, prop := range []string{"host", "hostname"} {
			key := fmt.Sprintf("toascii.json %q (URL.%s)", input, prop)
			got, err := Set("https://x/x", prop, input)
			if err != nil {
				ta.result(key, err.Error())
				continue
			}
			ta.result(key, compare(got, map[string]any{prop: want}, getterNames))
		}
	}
	ta.finish(floorToASCII)
}

// TestWPTPercentEncoding runs the utf-8 expectations of percent-encoding.json as
// percent-encoding.window.js does for a UTF-8 document: the query and fragment of
// https://doesnotmatter.invalid/?<input>#<input>. The other encodings are not applicable:
// they are the encodings of legacy documents, and a sandbox's URL parser always uses UTF-8.
func TestWPTPercentEncoding(t *testing.T) {
	var cases []any
	readWPT(t, "percent-encoding.json", &cases)
	ta := newTally(t, "percent-encoding.json")
	notApplicable := 0
	for _, c := range cases {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		input := m["input"].(string)
		outputs := m["output"].(map[string]any)
		notApplicable += len(outputs) - 1
		out := outputs["utf-8"].(string)
		key := fmt.Sprintf("percent-encoding.json %q", input)
		got, err := Parse("https://doesnotmatter.invalid/?"+input+"#"+input, nil)
		if err != nil {
			ta.result(key, err.Error())
			continue
		}
		ta.result(key, compare(got, map[string]any{"search": "?" + out, "hash": "#" + out}, getterNames))
	}
	t.Logf("percent-encoding.json: %d non-UTF-8 expectations not applicable", notApplicable)
	ta.finish(floorPercentEnc)
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse("not a url", nil); err == nil || err.Error() != `Invalid URL: "not a url"` {
		t.Errorf("Parse(not a url) error = %v", err)
	}
	empty := ""
	if _, err := Parse("/path", &empty); err == nil {
		t.Error("an empty base must be a failure, not no base")
	}
	bad := "nope"
	if _, err := Parse("/path", &bad); err == nil || !strings.Contains(err.Error(), "base") {
		t.Errorf("invalid base error = %v", err)
	}
	if _, err := Set("https://a/", "href", "::"); err == nil {
		t.Error("setting href to an invalid URL must fail")
	}
	if _, err := Set("https://a/", "nosuch", "x"); err == nil {
		t.Error("setting an unknown property must fail")
	}
	if _, err := Parse("http://[[::1]]/", nil); err == nil {
		t.Error("doubled IPv6 brackets must fail")
	}
}

func TestOrigin(t *testing.T) {
	for input, want := range map[string]string{
		"https://user:pw@EXAMPLE.com:443/a?b#c": "https://example.com",
		"http://[::1]:8080/":                    "http://[::1]:8080",
		"ws://x:81":                             "ws://x:81",
		"blob:https://a.example:8443/uuid":      "https://a.example:8443",
		"blob:file:///x":                        "null",
		"file:///etc/passwd":                    "null",
		"data:text/plain,hi":                    "null",
		"about:blank":                           "null",
	} {
		r, err := Parse(input, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", input, err)
			continue
		}
		if r.Origin != want {
			t.Errorf("origin of %q = %q, want %q", input, r.Origin, want)
		}
	}
}

// TestLoneSurrogate: the JS side sends JSON.stringify output, where a lone surrogate is an
// escape that encoding/json decodes to U+FFFD, as the URL constructor's USVString conversion.
func TestLoneSurrogate(t *testing.T) {
	var req struct {
		Input string `json:"input"`
	}
	if err := json.Unmarshal([]byte(`{"input":"https://h.example/a?x=\ud800#\udc00"}`), &req); err != nil {
		t.Fatal(err)
	}
	r, err := Parse(req.Input, nil)
	if err != nil || r.Href != "https://h.example/a?x=%EF%BF%BD#%EF%BF%BD" {
		t.Errorf("Parse = %q, %v", r.Href, err)
	}
	if r, err := Parse("https://h.example/\xff", nil); err != nil || r.Pathname != "/%EF%BF%BD" {
		t.Errorf("invalid UTF-8 = %q, %v", r.Pathname, err)
	}
}

func TestPunycode(t *testing.T) {
	for _, s := range []string{"bücher", "ß", "例え", "mañana-ü", "\U0001F600x"} {
		enc, err := punycodeEncode(s)
		if err != nil {
			t.Fatalf("encode %q: %v", s, err)
		}
		dec, err := punycodeDecode(enc)
		if err != nil || dec != s {
			t.Errorf("round trip %q -> %q -> %q, %v", s, enc, dec, err)
		}
	}
	if enc, _ := punycodeEncode("bücher"); enc != "bcher-kva" {
		t.Errorf("encode bücher = %q", enc)
	}
	for _, bad := range []string{"99999999999", "a-é", "ab!"} {
		if _, err := punycodeDecode(bad); err == nil {
			t.Errorf("decode %q must fail", bad)
		}
	}
}

// TestPunycodeFast checks the O(n log n) Punycode code against the textbook algorithm
// (RFC 3492 section 6.2 and 6.3, below) on random labels.
func TestPunycodeFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := []rune{'a', 'z', '-', '0', 0x80, 0xE9, 0xFC, 0x3B1, 0x4E00, 0x4E01, 0xFFFD, 0x1F4A9, 0x10FFFF}
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			if rng.IntN(4) == 0 {
				b.WriteRune(rune(0x80 + rng.IntN(0x3000)))
			} else {
				b.WriteRune(pool[rng.IntN(len(pool))])
			}
		}
		s := b.String()
		got, err1 := punycodeEncode(s)
		want, err2 := naivePunycodeEncode(s)
		if got != want || (err1 == nil) != (err2 == nil) {
			t.Fatalf("encode %q = %q, %v; textbook %q, %v", s, got, err1, want, err2)
		}
		dec, err := punycodeDecode(got)
		if err != nil || dec != s {
			t.Fatalf("decode %q = %q, %v; want %q", got, dec, err, s)
		}
		// Arbitrary ASCII input must decode (or fail) as the textbook decoder does.
		junk := got
		if len(junk) > 0 {
			j := rng.IntN(len(junk))
			junk = junk[:j] + string(rune('0'+rng.IntN(75))) + junk[j+1:]
		}
		d1, e1 := punycodeDecode(junk)
		d2, e2 := naivePunycodeDecode(junk)
		if d1 != d2 || (e1 == nil) != (e2 == nil) {
			t.Fatalf("decode %q = %q, %v; textbook %q, %v", junk, d1, e1, d2, e2)
		}
	}
}

func naivePunycodeDecode(s string) (string, error) {
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
			t := punyThreshold(k, bias)
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

func naivePunycodeEncode(s string) (string, error) {
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
				t := punyThreshold(k, bias)
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

// TestDomains spot-checks domain to ASCII beyond toascii.json.
func TestDomains(t *testing.T) {
	for in, want := range map[string]string{
		"💩":                    "xn--ls8h",
		"Ⅷ":                    "viii",
		"مثال.إختبار":          "xn--mgbh0fb.xn--kgbechtv",
		"straße.de":            "xn--strae-oqa.de", // nontransitional: ß is kept
		"日本語。ＪＰ":               "xn--wgv71a119e.jp",
		"Ａ\u0308.com":          "xn--4ca.com", // mapped, then NFC
		"%E2%98%83.com":        "xn--n3h.com",
		"bücher.xn--bcher-kva": "xn--bcher-kva.xn--bcher-kva",
		"क्\u200dष":            "xn--11b2ezcw70k", // ZWJ after a virama
		"ب\u200cب":             "xn--ngba799q",    // ZWNJ between dual-joining letters
		"0x7F.1":               "127.0.0.1",
		"XN--A.example":        "xn--a.example", // ASCII: lowercased, not validated
		"ab\u200cc":            "",              // ZWNJ without joining context
		"a.\u0661\u0662":       "",              // RFC 5893 rule 1: a label may not start with AN
		"1.\u0661":             "",              // ... nor, in a bidi domain, with EN
		"%ff.com":              "",              // not UTF-8
		"xn--abé":              "",              // non-ASCII Punycode
		"\u00ad":               "",              // maps to nothing: empty host
		"a%00b":                "",              // forbidden code point
		"1.2.3.256":            "",              // IPv4 part out of range
	} {
		r, err := Parse("http://"+in+"/", nil)
		switch {
		case want == "" && err == nil:
			t.Errorf("%q: host %q, want failure", in, r.Hostname)
		case want != "" && err != nil:
			t.Errorf("%q: %v, want %q", in, err, want)
		case want != "" && r.Hostname != want:
			t.Errorf("%q: host %q, want %q", in, r.Hostname, want)
		}
	}
}

// TestLinearTime guards against quadratic work: the host parses whatever a guest passes, in
// an uninterruptible call, so long URLs of every awkward shape must parse in time linear in
// their length. Each shape is parsed at n and 16n bytes in the same run and the two times are
// compared: linear work takes ~16x as long, quadratic ~256x. A ratio, not a time, so the check
// holds on a slow or shared machine; the 4x margin absorbs the noise of a busy one.
func TestLinearTime(t *testing.T) {
	distinct := func(n int) string {
		var b strings.Builder
		for i := 0; i < n/4; i++ {
			b.WriteRune(rune(0x4E00 + i%2000))
		}
		return b.String()
	}
	shapes := map[string]func(n int) string{
		"userinfo":     func(n int) string { return "http://" + strings.Repeat("é", n/2) + "@h/" },
		"at signs":     func(n int) string { return "http://" + strings.Repeat("a@", n/2) + "h/" },
		"opaque host":  func(n int) string { return "foo://" + strings.Repeat("a", n) + "/" },
		"segments":     func(n int) string { return "http://h" + strings.Repeat("/a", n/2) },
		"dot segments": func(n int) string { return "http://h" + strings.Repeat("/..", n/3) },
		"relative":     func(n int) string { return strings.Repeat("../", n/3) },
		"labels":       func(n int) string { return "http://" + strings.Repeat("é.", n/2) + "/" },
		"idn label":    func(n int) string { return "http://" + distinct(n) + "/" },
		"punycode": func(n int) string {
			enc, err := punycodeEncode(distinct(n))
			if err != nil {
				t.Fatal(err)
			}
			return "http://é.xn--" + enc + "/"
		},
		"query":       func(n int) string { return "http://h/?" + strings.Repeat("é ", n/3) },
		"opaque path": func(n int) string { return "foo:" + strings.Repeat("é ", n/3) },
		"ipv6":        func(n int) string { return "http://[" + strings.Repeat("1:", n/2) + "]/" },
		"port":        func(n int) string { return "http://h:" + strings.Repeat("1", n) + "/" },
	}
	base := "http://h/a/b"
	lineartest.Check(t, 1<<13, shapes, func(in string) { _, _ = Parse(in, &base) })
}

// TestConcurrent: Parse is safe for concurrent use (the engine runs sandboxes in parallel).
func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				host := fmt.Sprintf("h%d-%d.example", i, j)
				r, err := Parse("https://"+host+"/", nil)
				if err != nil || r.Hostname != host {
					t.Errorf("Parse(%s) = %q, %v", host, r.Hostname, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
}
