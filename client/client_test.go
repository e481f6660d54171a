package client

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// The client is exercised end to end by the server's integration tests; these cover what
// needs no server.

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8787", "ftp://x", "http://", "::"} {
		if _, err := New(u, "k"); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
	c, err := New("http://127.0.0.1:8787/", "k")
	if err != nil || c.URL("/v1/workers") != "http://127.0.0.1:8787/v1/workers" {
		t.Fatalf("%v %v", c, err)
	}
}

func TestLogStreamParsesEvents(t *testing.T) {
	sse := ": following\n\n" +
		"id: 1\nevent: log\ndata: {\"seq\":1,\"level\":\"log\",\"message\":\"a\"}\n\n" +
		": keep-alive\n\n" +
		"event: other\ndata: {\"seq\":99}\n\n" +
		"id: 2\r\nevent: log\r\ndata: {\"seq\":2,\"level\":\"warn\",\r\ndata: \"message\":\"b\"}\r\n\r\n"
	s := &LogStream{body: io.NopCloser(nil), r: bufioReader(sse)}
	for _, want := range []string{"1 log a", "2 warn b"} {
		e, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join([]string{itoa(e.Seq), e.Level, e.Message}, " "); got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	}
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("end of stream: %v", err)
	}
}

func TestErrorBodies(t *testing.T) {
	resp := &http.Response{StatusCode: 404, Status: "404 Not Found",
		Body: io.NopCloser(strings.NewReader(`{"error":{"code":"not_found","message":"worker \"x\" does not exist"}}`))}
	var e *isoerr.Error
	if err := ResponseError(resp); !errors.As(err, &e) || e.Code != isoerr.NotFound {
		t.Fatalf("%v", err)
	}
	resp = &http.Response{StatusCode: 502, Status: "502 Bad Gateway", Body: io.NopCloser(strings.NewReader("<html>proxy</html>"))}
	if err := ResponseError(resp); !errors.As(err, &e) || e.Code != isoerr.Internal || !strings.Contains(e.Message, "502") {
		t.Fatalf("%v", err)
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
