package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that the server's logger and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// requestLines returns the "request" log lines written so far, decoded.
func (l *lockedBuffer) requestLines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// Every request gives exactly one log line with its method, route, worker, status,
// duration and error code.
func TestRequestLog(t *testing.T) {
	var buf lockedBuffer
	ts := start(t, Config{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	good := []byte(`{"mainModule":"main.js","modules":{"main.js":"export default { v() { return 1 } }"}}`)
	type want struct {
		level, method, route, worker, path, errCode string
		status                                      int
		invocation                                  bool
	}
	requests := []struct {
		method, path string
		body         []byte
		header       http.Header
		want         want
	}{
		{"PUT", "/v1/workers/logged", good, nil, want{level: "INFO", method: "PUT", route: "PUT /v1/workers/{id}", worker: "logged", status: 201}},
		{"POST", "/v1/workers/logged/call/v", nil, nil, want{level: "INFO", method: "POST", route: "POST /v1/workers/{id}/call/{method}", worker: "logged", status: 200, invocation: true}},
		{"POST", "/v1/workers/logged/call/nope", nil, nil, want{level: "INFO", method: "POST", route: "POST /v1/workers/{id}/call/{method}", worker: "logged", status: 404, errCode: "method_not_found", invocation: true}},
		{"PUT", "/v1/workers/broken", []byte(`{"mainModule":"main.js","modules":{"main.js":"export default {"}}`), nil, want{level: "INFO", method: "PUT", route: "PUT /v1/workers/{id}", worker: "broken", status: 400, errCode: "invalid_worker_code"}},
		{"GET", "/v1/nothing/here", nil, nil, want{level: "INFO", method: "GET", path: "/v1/nothing/here", status: 404, errCode: "not_found"}},
		{"GET", "/v1/workers", nil, http.Header{"Authorization": {"Bearer wrong-key-0123456789"}}, want{level: "INFO", method: "GET", path: "/v1/workers", status: 401, errCode: "unauthorized"}},
		{"GET", "/healthz", nil, nil, want{level: "DEBUG", method: "GET", route: "GET /healthz", status: 200}},
	}
	for i, rq := range requests {
		r := ts.raw(t, rq.method, rq.path, rq.body, rq.header)
		if r.status != rq.want.status {
			t.Fatalf("%s %s: status %d %s", rq.method, rq.path, r.status, r.body)
		}
		// The line is written when the handler returns, just after the answer is sent.
		deadline := time.Now().Add(time.Minute)
		for len(buf.requestLines(t)) <= i && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
	}
	lines := buf.requestLines(t)
	if len(lines) != len(requests) {
		t.Fatalf("%d request lines for %d requests:\n%v", len(lines), len(requests), lines)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	for i, rq := range requests {
		l, w := lines[i], rq.want
		d, hasDuration := l["duration"].(float64)
		status, _ := l["status"].(float64)
		if str(l, "level") != w.level || str(l, "method") != w.method || str(l, "route") != w.route || str(l, "worker") != w.worker ||
			str(l, "path") != w.path || str(l, "error") != w.errCode || int(status) != w.status || !hasDuration || d <= 0 ||
			(str(l, "invocation") != "") != w.invocation {
			t.Errorf("%s %s: logged %v, want %+v", rq.method, rq.path, l, w)
		}
	}
}
