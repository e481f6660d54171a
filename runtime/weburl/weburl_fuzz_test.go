package weburl

import (
	"testing"
)

var urlSeeds = []string{
	"https://user:pw@example.com:8443/a/./b/../c?q=1#f", "http://EXAMPLE.com./", "http://[::ffff:127.0.0.1]/",
	"http://[::ffff:7f00:1]/", "http://[64:ff9b::7f00:1]/", "http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/",
	"http://017700000001/", "http://127.1/", "http://0x7f000001/", "http://169.254.169.254/latest/meta-data/",
	"http://a.com/%2e%2e/%2E/admin", "http://a.com\\..\\b", "http://xn--bcher-kva.de/", "http://bücher.de/",
	"http://ａｂｃ.com/", "http://a.com:99999/", "http://a.com@b.com@c.com/", "javascript:alert(1)", "data:text/html,<b>",
	"blob:https://a.com/uuid", "file:///C:/x/../y", "  http://a.com/\t\n ", "http://a.com/?%zz", "http://[1:2:3:4:5:6:7:8:9]/",
	"http://1.2.3.4.5/", "http://%41.com/", "http://a.com/\u2028", "http://xn--/", "http://a..b/", "non-special://x/y/../../z",
	"sc://ñ/", "http://\U0001F600.com/", "http://a.com/\xff\xfe", "http://a.com/sk_live%2fAb", "https://a.com/#\x00",
}

// Parsing a URL's href gives back the same URL: href is a fixed point of the parser, and
// every getter agrees. An href is printable ASCII (hosts in xn-- form, the rest
// percent-encoded).
func FuzzParse(f *testing.F) {
	for _, s := range urlSeeds {
		f.Add(s, "")
		f.Add(s, "http://base.example/dir/file")
	}
	f.Fuzz(func(t *testing.T, input, base string) {
		var bp *string
		if base != "" {
			bp = &base
		}
		r, err := Parse(input, bp)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		for i := 0; i < len(r.Href); i++ {
			// (A space can stay in an opaque path: "a: b".)
			if r.Href[i] >= 0x7f || r.Href[i] < 0x20 {
				t.Fatalf("href of %q holds byte %#x: %q", input, r.Href[i], r.Href)
			}
		}
		r2, err := Parse(r.Href, nil)
		if err != nil {
			t.Fatalf("the href %q of %q does not parse: %v", r.Href, input, err)
		}
		if r2 != r {
			t.Fatalf("parsing href %q changed the URL:\n%+v\n%+v", r.Href, r, r2)
		}
	})
}

// A setter's result is a URL whose href parses back to it.
func FuzzSet(f *testing.F) {
	props := []string{"protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash", "href"}
	for i, s := range urlSeeds {
		f.Add("https://a.example/p?q#h", props[i%len(props)], s)
		f.Add(s, props[(i+3)%len(props)], "..%2f..")
	}
	f.Fuzz(func(t *testing.T, href, prop, value string) {
		r, err := Set(href, prop, value)
		if err != nil {
			return
		}
		r2, err := Parse(r.Href, nil)
		if err != nil {
			t.Fatalf("after %s = %q on %q, the href %q does not parse: %v", prop, value, href, r.Href, err)
		}
		if r2 != r {
			t.Fatalf("after %s = %q on %q, parsing href %q changed the URL:\n%+v\n%+v", prop, value, href, r.Href, r, r2)
		}
	})
}
