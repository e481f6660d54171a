package engine

import (
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// A completion is written inside the sandbox. Whatever arrives, the outcome is the
// worker's: never internal_error, and never a code the worker may not claim.
func TestDecodeCompletion(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		errCode isoerr.Code // decodeCompletion's own error
		code    isoerr.Code // the completion's code after decoding
	}{
		{"missing", "", isoerr.WorkerException, ""},
		{"not JSON", "undefined", isoerr.WorkerException, ""},
		{"not an object", `"T"`, isoerr.WorkerException, ""},
		{"success", `{"ok":true,"result":42}`, "", ""},
		{"no code", `{"ok":false,"error":{"message":"x"}}`, "", isoerr.WorkerException},
		{"method_not_found", `{"ok":false,"code":"method_not_found","error":{}}`, "", isoerr.MethodNotFound},
		{"invalid_worker_code", `{"ok":false,"code":"invalid_worker_code","error":{}}`, "", isoerr.InvalidWorkerCode},
		{"claims internal_error", `{"ok":false,"code":"internal_error","error":{}}`, "", isoerr.WorkerException},
		{"claims a limit", `{"ok":false,"code":"cpu_limit_exceeded","error":{}}`, "", isoerr.WorkerException},
		{"claims an API code", `{"ok":false,"code":"unauthorized","error":{}}`, "", isoerr.WorkerException},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := decodeCompletion([]byte(tt.raw))
			if tt.errCode != "" {
				if err == nil || err.Code != tt.errCode {
					t.Fatalf("got %v, want %s", err, tt.errCode)
				}
				return
			}
			if err != nil || c.Code != tt.code {
				t.Fatalf("got code %q, %v; want %q", c.Code, err, tt.code)
			}
		})
	}
}

// An exception description the guest spoiled (its toJSON ran inside the sandbox) is still
// the guest's error, with the code the caller asked for.
func TestErrorFromJSONUndecodable(t *testing.T) {
	for _, raw := range []string{"undefined", `"J"`, `[1]`} {
		if e := errorFromJSON(isoerr.WorkerException, []byte(raw)); e.Code != isoerr.WorkerException {
			t.Errorf("%s: %v", raw, e)
		}
	}
}
