package mcpconn

import (
	"io"
	"strings"
	"testing"
)

// The event-stream reader finds the answer to its request however the stream is cut and
// whatever line endings it uses, and passes every byte on unchanged.
func TestSSERecorder(t *testing.T) {
	const result = `{"tools":[{"name":"t","inputSchema":{"type":"object","properties":{"b":{},"a":{}}}}]}`
	for _, tt := range []struct {
		name, stream string
		want         bool
	}{
		{"LF", "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":" + result + "}\n\n", true},
		{"CRLF", "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":" + result + "}\r\n\r\n", true},
		{"after a notification", "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n" +
			"id: 2\ndata:{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":" + result + "}\n\n", true},
		{"data on two lines", "data: {\"jsonrpc\":\"2.0\",\"id\":7,\ndata: \"result\":" + result + "}\n\n", true},
		{"another request's answer", "data: {\"jsonrpc\":\"2.0\",\"id\":8,\"result\":" + result + "}\n\n", false},
		{"an error", "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-1,\"message\":\"no\"}}\n\n", false},
		{"cut before the blank line", "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":" + result + "}\n", false},
	} {
		for _, chunk := range []int{1, 7, 1 << 20} {
			raw := newRawSchemas()
			rec := &sseRecorder{ReadCloser: io.NopCloser(strings.NewReader(tt.stream)), id: int64(7), raw: raw}
			var got strings.Builder
			buf := make([]byte, chunk)
			for {
				n, err := rec.Read(buf)
				got.Write(buf[:n])
				if err != nil {
					break
				}
			}
			if got.String() != tt.stream {
				t.Errorf("%s, chunks of %d: the stream changed", tt.name, chunk)
			}
			_, recorded := raw.tools["t"]
			if recorded != tt.want {
				t.Errorf("%s, chunks of %d: recorded %v, want %v", tt.name, chunk, recorded, tt.want)
			}
			if recorded && string(raw.tools["t"].in) != `{"type":"object","properties":{"b":{},"a":{}}}` {
				t.Errorf("%s: schema %s", tt.name, raw.tools["t"].in)
			}
		}
	}
}
