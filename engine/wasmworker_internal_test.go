package engine

import (
	"slices"
	"testing"
)

// A command's stdout is a response with headers only when it starts with a CGI header
// block; anything else, however header-like later, is all body.
func TestParseCGI(t *testing.T) {
	for _, tc := range []struct {
		out     string
		status  int
		headers [][2]string
		body    string
	}{
		{"plain body", 200, nil, "plain body"},
		{"", 200, nil, ""},
		{"Status: 404 Not Found\r\n\r\nnope", 404, nil, "nope"},
		{"content-type: text/html\nX-A: 1\n\n<p>", 200, [][2]string{{"content-type", "text/html"}, {"x-a", "1"}}, "<p>"},
		{"Status: 302\nLocation: /x\n\n", 302, [][2]string{{"location", "/x"}}, ""},
		{"Status: 201\nno blank line after the headers", 200, nil, "Status: 201\nno blank line after the headers"},
		{"Status: 99\n\nbad status", 200, nil, "Status: 99\n\nbad status"},
		{"Content-Type: a\nnot a header\n\nx", 200, nil, "Content-Type: a\nnot a header\n\nx"},
		{"X-First: 1\n\nbody", 200, nil, "X-First: 1\n\nbody"},
		{"hello\nStatus: 500\n\n", 200, nil, "hello\nStatus: 500\n\n"},
	} {
		status, headers, body := parseCGI([]byte(tc.out))
		if status != tc.status || !slices.Equal(headers, tc.headers) || string(body) != tc.body {
			t.Errorf("parseCGI(%q) = %d %v %q, want %d %v %q", tc.out, status, headers, body, tc.status, tc.headers, tc.body)
		}
	}
}
