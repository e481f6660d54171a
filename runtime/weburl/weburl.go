// Package weburl is the host side of the sandbox's URL class: the "url_parse" and "url_set"
// operations of runtime/doc.go. It implements the WHATWG URL Standard as it stands today
// (as pinned by the WPT data in shared/conformance/wpt-url): the basic URL parser, the URL
// serializer, origins and the URL setters (parser.go), the host parser (host.go) and UTS #46
// ToASCII with Unicode 17 data (idna.go, idnatables.go).
//
// URLSearchParams lives in JavaScript (runtime/js/30_url.js).
package weburl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	return u.record(), nil
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
		basicParse(value+":", nil, u, schemeStartState)
	case "username":
		if !u.cannotHaveUsernamePasswordPort() {
			u.username = encodeString(value, userinfoSet)
		}
	case "password":
		if !u.cannotHaveUsernamePasswordPort() {
			u.password = encodeString(value, userinfoSet)
		}
	case "host", "hostname":
		if !u.opaque {
			st := hostState
			if prop == "hostname" {
				st = hostnameState
			}
			basicParse(value, nil, u, st)
		}
	case "port":
		if u.cannotHaveUsernamePasswordPort() {
			break
		}
		if value == "" {
			u.port = -1
		} else {
			basicParse(value, nil, u, portState)
		}
	case "pathname":
		if !u.opaque {
			u.path = nil
			basicParse(value, nil, u, pathStartState)
		}
	case "search":
		if value == "" {
			u.hasQuery, u.query = false, ""
			break
		}
		u.hasQuery, u.query = true, ""
		basicParse(strings.TrimPrefix(value, "?"), nil, u, queryState)
	case "hash":
		if value == "" {
			u.hasFrag, u.fragment = false, ""
			break
		}
		u.hasFrag, u.fragment = true, ""
		basicParse(strings.TrimPrefix(value, "#"), nil, u, fragmentState)
	default:
		return Record{}, fmt.Errorf("URL has no settable property %q", prop)
	}
	return u.record(), nil
}

// quote renders a URL for an error message, shortened if long.
func quote(s string) string {
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return fmt.Sprintf("%q", s)
}

func parse(input string, base *string) (*url, error) {
	input = strings.ToValidUTF8(input, "\uFFFD")
	var b *url
	if base != nil {
		var ok bool
		if b, ok = basicParse(strings.ToValidUTF8(*base, "\uFFFD"), nil, nil, noOverride); !ok {
			return nil, errors.New("Invalid URL: " + quote(input) + " (invalid base URL " + quote(*base) + ")")
		}
	}
	u, ok := basicParse(input, b, nil, noOverride)
	if !ok {
		if base != nil {
			return nil, errors.New("Invalid URL: " + quote(input) + " (base " + quote(*base) + ")")
		}
		return nil, errors.New("Invalid URL: " + quote(input))
	}
	return u, nil
}

func (u *url) record() Record {
	r := Record{
		Href:     u.href(),
		Protocol: u.scheme + ":",
		Username: u.username,
		Password: u.password,
		Hostname: u.host,
		Pathname: u.pathname(),
	}
	r.Host = r.Hostname
	if u.port >= 0 {
		r.Port = strconv.Itoa(u.port)
		r.Host += ":" + r.Port
	}
	if u.hasQuery && u.query != "" {
		r.Search = "?" + u.query
	}
	if u.hasFrag && u.fragment != "" {
		r.Hash = "#" + u.fragment
	}
	r.Origin = u.origin()
	return r
}

// origin serializes the URL's origin.
func (u *url) origin() string {
	switch u.scheme {
	case "http", "https", "ws", "wss", "ftp":
		s := u.scheme + "://" + u.host
		if u.port >= 0 {
			s += ":" + strconv.Itoa(u.port)
		}
		return s
	case "blob":
		// The origin of the URL in the path, if that is an http(s) URL.
		if inner, ok := basicParse(u.pathname(), nil, nil, noOverride); ok && (inner.scheme == "http" || inner.scheme == "https") {
			return inner.origin()
		}
		return "null"
	default:
		// file: and the rest have opaque origins, which serialize as "null".
		return "null"
	}
}
