package egress

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// collect is a sink that records what a decoder passes on.
type collect struct {
	out   []byte
	spans []string
}

func (c *collect) put(b byte, start, end int64) {
	c.out = append(c.out, b)
	c.spans = append(c.spans, fmt.Sprintf("%d-%d", start, end))
}

func (c *collect) write(p []byte, off int64) {
	for i, b := range p {
		c.put(b, off+int64(i), off+int64(i)+1)
	}
}

func (c *collect) flush()      {}
func (c *collect) reset()      {}
func (c *collect) live() int64 { return math.MaxInt64 }

// TestDecoders: what each decoder reads from tricky input, and the input span of each
// decoded byte (a secret found in the decoded stream redacts exactly that span).
func TestDecoders(t *testing.T) {
	newJSON := func(c *collect) sink { return &jsonDecoder{token: token{next: c}} }
	newPct := func(c *collect) sink { return &percentDecoder{token: token{next: c}} }
	newForm := func(c *collect) sink { return &percentDecoder{token: token{next: c}, plus: true} }
	newHTML := func(c *collect) sink { return &htmlDecoder{token: token{next: c}} }
	for _, tc := range []struct {
		dec       func(*collect) sink
		in, want  string
		wantSpans string // of the decoded bytes, when given
	}{
		{newJSON, `a\u0041b`, "aAb", "0-1 1-7 7-8"},
		{newJSON, `\/\"\\\b\f\n\r\t`, "/\"\\\b\f\n\r\t", ""},
		{newJSON, `\uD83D\uDE00.`, "😀.", "0-12 0-12 0-12 0-12 12-13"},
		{newJSON, `\ud83d\ude00`, "😀", ""},
		{newJSON, `\uD83Dx`, "\uFFFDx", ""},
		{newJSON, `\uD83D\u0041`, "\uFFFDA", "0-6 0-6 0-6 6-12"},
		{newJSON, `\uD83D\uD83D\uDE00`, "\uFFFD😀", ""},
		{newJSON, `\uD83D\n`, "\uFFFD\n", ""},
		{newJSON, `\uDE00`, "\uFFFD", ""},
		{newJSON, `\u12G4`, `\u12G4`, ""},
		{newJSON, `\\u0041`, `\u0041`, ""},
		{newJSON, `\q\`, `\q\`, ""},
		{newJSON, `\uD83D`, "\uFFFD", ""},
		{newPct, "%41%2f%2F%4", "A//%4", "0-3 3-6 6-9 9-10 10-11"},
		{newPct, "%%41+%zz", "%A+%zz", ""},
		{newForm, "a+b%2B", "a b+", ""},
		{newHTML, "&lt;&GT;&amp;&quot;&apos;", `<>&"'`, ""},
		{newHTML, "&amp&ampx&lt", "&&x<", ""},
		{newHTML, "&apos &aposx", "&apos &aposx", ""},
		{newHTML, "&#65;&#x42;&#X43&#0000068;x", "ABCDx", "0-5 5-11 11-16 16-26 26-27"},
		{newHTML, "&#000000065;", "&#000000065;", ""},
		{newHTML, "&#0;&#xD800;&#x110000;", "\uFFFD\uFFFD\uFFFD", ""},
		{newHTML, "&#x;&#;&nbsp;&", "&#x;&#;&nbsp;&", ""},
		{newHTML, "&#128512;", "😀", ""},
	} {
		for _, byteWise := range []bool{false, true} {
			c := &collect{}
			d := tc.dec(c)
			if byteWise {
				for i := 0; i < len(tc.in); i++ {
					d.put(tc.in[i], int64(i), int64(i+1))
				}
			} else {
				d.write([]byte(tc.in), 0)
			}
			d.flush()
			if string(c.out) != tc.want {
				t.Errorf("%q: %q, want %q", tc.in, c.out, tc.want)
			}
			if tc.wantSpans != "" && strings.Join(c.spans, " ") != tc.wantSpans {
				t.Errorf("%q: spans %s, want %s", tc.in, strings.Join(c.spans, " "), tc.wantSpans)
			}
		}
	}
}
