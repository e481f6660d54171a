// Package weburl is the host side of the sandbox's URL class: the "url_parse" and "url_set"
// operations of runtime/doc.go. It implements the WHATWG URL Standard's basic URL parser and
// the URL setters on top of github.com/nlnwa/whatwg-url, with these corrections for where that
// library (last synced with the standard in May 2023) departs from the current standard:
//
//   - hosts of special schemes are parsed here (host.go): domain to ASCII skips validation for
//     ASCII domains and uses UTS #46 with Unicode 17 tables (idna.go) for the rest;
//   - "^" is in the path percent-encode set;
//   - a space that ends an opaque path and is followed by "?" or "#" is written "%20";
//   - an empty base URL string is a failure, not "no base";
//   - "[[::1]]"-like host input is a failure.
//
// URLSearchParams lives in JavaScript (runtime/js/30_url.js).
package weburl

import (
	"errors"
	"fmt"
	"strings"

	wu "github.com/nlnwa/whatwg-url/url"
)

// Record holds the values of a URL's getters, as the URL interface returns them.
type Record struct {
	Href     string `json:"href"`
	Origin   string `json:"origin"`
	Protocol string `json:"protocol"`
	Username string `json:"username"`
	Password string `json:"password"`
	Host     string `json:"host"`
	Hostname string `json:"hostname"`
	Port     string `json:"port"`
	Pathname string `json:"pathname"`
	Search   string `json:"search"`
	Hash     string `json:"hash"`
}

// Parse runs the URL parser on input against base (nil for none), as new URL(input, base)
// does. The error (for a TypeError) reports an invalid URL or an invalid base.
func Parse(input string, base *string) (Record, error) {
	u, err := parse(input, base)
	if err != nil {
		return Record{}, err
	}
	return record(u), nil
}

// Set applies the URL setter prop (href, protocol, username, password, host, hostname, port,
// pathname, search or hash) with value to the URL href and returns the result. As in the
// standard, only the href setter fails (on an invalid URL); the others ignore values they
// cannot use and return the URL unchanged.
func Set(href, prop, value string) (Record, error) {
	if prop == "href" {
		return Parse(value, nil)
	}
	u, err := parse(href, nil)
	if err != nil {
		return Record{}, err
	}
	value = strings.ToValidUTF8(value, "\uFFFD")
	switch prop {
	case "protocol":
		u.SetProtocol(value)
	case "username":
		u.SetUsername(value)
	case "password":
		u.SetPassword(value)
	case "host":
		u.SetHost(value)
	case "hostname":
		u.SetHostname(value)
	case "port":
		u.SetPort(value)
	case "pathname":
		u.SetPathname(value)
	case "search":
		u.SetSearch(value)
	case "hash":
		u.SetHash(value)
	default:
		return Record{}, fmt.Errorf("URL has no settable property %q", prop)
	}
	return record(u), nil
}

// quote renders a URL for an error message, shortened if long.
func quote(s string) string {
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return fmt.Sprintf("%q", s)
}

func parse(input string, base *string) (*wu.Url, error) {
	p := newParser()
	input = strings.ToValidUTF8(input, "\uFFFD")
	if base == nil {
		u, err := p.Parse(input)
		if err != nil {
			return nil, errors.New("Invalid URL: " + quote(input))
		}
		return u, nil
	}
	b, err := p.Parse(strings.ToValidUTF8(*base, "\uFFFD"))
	if err != nil {
		return nil, errors.New("Invalid URL: " + quote(input) + " (invalid base URL " + quote(*base) + ")")
	}
	u, err := p.BasicParser(input, b, nil, wu.NoState)
	if err != nil {
		return nil, errors.New("Invalid URL: " + quote(input) + " (base " + quote(*base) + ")")
	}
	return u, nil
}

// hostPlaceholder stands in for a host that host.go has parsed while the library's own host
// code runs (it passes that code unchanged); the hook then swaps the real host back in.
const hostPlaceholder = "isobox-parsed-host"

// hostHook carries a host parsed by parseDomainHost past the library's host parser. Each
// parser (one per Parse or Set call) has its own, so concurrent calls do not share state.
type hostHook struct {
	pending string
}

func (h *hostHook) pre(u *wu.Url, input string) string {
	if input == "" {
		return input
	}
	if input[0] == '[' {
		// IPv6: the library strips every leading "[" and trailing "]"; only one pair is allowed.
		if len(input) < 2 || input[len(input)-1] != ']' || strings.ContainsAny(input[1:len(input)-1], "[]") {
			return "[" // unclosed IPv6 literal: makes the library fail
		}
		return input
	}
	if !u.IsSpecialScheme() {
		return input // opaque host
	}
	host, ok := parseDomainHost(input)
	if !ok {
		return "["
	}
	h.pending = host
	return hostPlaceholder
}

func (h *hostHook) post(_ *wu.Url, host string) string {
	if host == hostPlaceholder {
		return h.pending
	}
	return host
}

// pathPercentEncodeSet is the current standard's path percent-encode set: the library's
// plus U+005E (^).
var pathPercentEncodeSet = wu.PathPercentEncodeSet.Set('^')

func newParser() wu.Parser {
	h := &hostHook{}
	return wu.NewParser(
		wu.WithPathPercentEncodeSet(pathPercentEncodeSet),
		wu.WithPreParseHostFunc(h.pre),
		wu.WithPostParseHostFunc(h.post),
	)
}

func record(u *wu.Url) Record {
	r := Record{
		Href:     u.Href(false),
		Protocol: u.Protocol(),
		Username: u.Username(),
		Password: u.Password(),
		Host:     u.Host(),
		Hostname: u.Hostname(),
		Port:     u.Port(),
		Pathname: u.Pathname(),
		Search:   u.Search(),
		Hash:     u.Hash(),
	}
	// Opaque path state: a space followed by "?" or "#" is appended as "%20". Only the last
	// code point of an opaque path can be followed by either, and the serialization of a URL
	// with an opaque path is scheme ":" path, then "?" query and "#" fragment when present.
	if u.OpaquePath() && strings.HasSuffix(r.Pathname, " ") {
		start := len(r.Protocol)
		end := start + len(r.Pathname)
		if len(r.Href) > end {
			r.Pathname = r.Pathname[:len(r.Pathname)-1] + "%20"
			r.Href = r.Href[:start] + r.Pathname + r.Href[end:]
		}
	}
	r.Origin = origin(r)
	return r
}

// origin serializes the origin of the URL r describes.
func origin(r Record) string {
	switch scheme := strings.TrimSuffix(r.Protocol, ":"); scheme {
	case "http", "https", "ws", "wss", "ftp":
		s := scheme + "://" + r.Hostname
		if r.Port != "" {
			s += ":" + r.Port
		}
		return s
	case "blob":
		// The origin of the URL in the path, if it is an http(s) URL.
		inner, err := parse(r.Pathname, nil)
		if err != nil {
			return "null"
		}
		if s := inner.Scheme(); s == "http" || s == "https" {
			return origin(record(inner))
		}
		return "null"
	default:
		// file: and the rest have opaque origins, which serialize as "null".
		return "null"
	}
}
