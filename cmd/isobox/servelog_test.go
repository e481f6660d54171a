package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// `isobox serve` logs one slog line per request on stderr, at the level and in the format
// its flags choose.
func TestServeRequestLog(t *testing.T) {
	t.Setenv("ISOBOX_API_KEY", "serve-log-test-key-0123")
	for _, tt := range []struct {
		args  []string
		lines int // request lines: the health check is logged at debug level only
	}{
		{[]string{"--log-format", "json"}, 1},
		{[]string{"--log-format", "json", "--log-level", "debug"}, 2},
		{[]string{"--log-format", "json", "--log-level", "warn"}, 0},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			s := serve(t, append([]string{"--data", t.TempDir()}, tt.args...)...)
			for _, path := range []string{"/healthz", "/v1/workers/nobody"} {
				req, _ := http.NewRequest("GET", s.url+path, nil)
				req.Header.Set("Authorization", "Bearer serve-log-test-key-0123")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			s.stop() // every line is written once the server has stopped
			var got []map[string]any
			for _, line := range strings.Split(s.stderr.String(), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" {
					got = append(got, m)
				}
			}
			if len(got) != tt.lines {
				t.Fatalf("%d request lines, want %d:\n%s", len(got), tt.lines, s.stderr)
			}
			if tt.lines == 0 {
				return
			}
			if l := got[len(got)-1]; l["route"] != "GET /v1/workers/{id}" || l["worker"] != "nobody" || l["status"] != float64(404) || l["error"] != "not_found" || l["duration"] == nil {
				t.Fatalf("line %v", l)
			}
		})
	}
}

func TestServeLogFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{{"serve", "--log-level", "loud"}, {"serve", "--log-format", "xml"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 || !strings.Contains(errb.String(), args[1]) {
			t.Errorf("%q: exit %d, %s", args, code, errb.String())
		}
	}
}
