package server

import (
	"net/http"
	"net/url"
	"strings"
)

// The two patterns of the worker HTTP route (routes.go), which forwardRoute matches without
// the ServeMux.
const (
	forwardPattern     = "/v1/workers/{id}/http"
	forwardRestPattern = "/v1/workers/{id}/http/{path...}"
)

// forwardRoute matches the worker HTTP route, the API's hot path, in one pass over the
// path: the ServeMux would be asked twice per request (once to tell a route from a 404 or
// 405, once to serve). It takes only what the mux would route the same way: not CONNECT, a
// clean path (the mux redirects the others) and an id and "http" segment without
// percent-escapes (the mux unescapes segments before matching); everything else is left
// to the mux. On a match it sets r.Pattern and the path values as the mux does ("id", and
// "path" for the second pattern: the rest of the path, unescaped).
// TestForwardRouteAgreesWithMux holds the two equal.
func forwardRoute(r *http.Request) bool {
	const prefix = "/v1/workers/"
	if r.Method == http.MethodConnect {
		return false
	}
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, prefix) || !cleanURLPath(p) {
		return false
	}
	rest := p[len(prefix):]
	i := strings.IndexByte(rest, '/')
	if i <= 0 {
		return false
	}
	id := rest[:i]
	rest = rest[i:] // "/http..." or another route
	if strings.IndexByte(id, '%') >= 0 || !strings.HasPrefix(rest, "/http") {
		return false
	}
	rest = rest[len("/http"):]
	switch {
	case rest == "":
		r.Pattern = forwardPattern
		r.SetPathValue("id", id)
	case rest[0] == '/':
		tail := rest[1:]
		if strings.IndexByte(tail, '%') >= 0 {
			if u, err := url.PathUnescape(tail); err == nil {
				tail = u
			}
		}
		r.Pattern = forwardRestPattern
		r.SetPathValue("id", id)
		r.SetPathValue("path", tail)
	default:
		return false // "/httpx": not this route
	}
	return true
}

// cleanURLPath reports whether p (starting with "/") is what the ServeMux's path
// cleaning leaves as it is: no empty segment but a trailing one, no "." or "..".
func cleanURLPath(p string) bool {
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.Contains(p, "//")
}
