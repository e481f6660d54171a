package isoerr

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodeOfAndAs(t *testing.T) {
	typed := New(CPULimitExceeded, "used %d ms", 60)
	wrapped := fmt.Errorf("load worker %q: %w", "w", typed)
	plain := errors.New("disk full")
	tests := []struct {
		name     string
		err      error
		code     Code
		asCode   Code
		asString string
	}{
		{"typed", typed, CPULimitExceeded, CPULimitExceeded, "cpu_limit_exceeded: used 60 ms"},
		{"wrapped", wrapped, CPULimitExceeded, CPULimitExceeded, "cpu_limit_exceeded: used 60 ms"},
		{"plain", plain, "", Internal, "internal_error: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CodeOf(tt.err); got != tt.code {
				t.Errorf("CodeOf = %q, want %q", got, tt.code)
			}
			e := As(tt.err)
			if e.Code != tt.asCode || e.Error() != tt.asString {
				t.Errorf("As = %v, want %s %q", e, tt.asCode, tt.asString)
			}
		})
	}
	if CodeOf(nil) != "" || As(nil) != nil {
		t.Fatal("nil error has a code")
	}
}
