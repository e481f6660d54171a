package bench

import (
	"context"
	"strings"
	"testing"
)

// The eval figure runs both commands, in turn, the asked number of times, and refuses a
// command that does not print the answer (a broken isobox must not yield a fast figure).
func TestEvalRunsBesideDeno(t *testing.T) {
	ctx := context.Background()
	two := []string{"sh", "-c", "echo 2"}
	deno := []string{"sh", "-c", "exit 0"}
	tests := []struct {
		name      string
		cmd, deno []string
		wantErr   string
		wantDeno  bool
	}{
		{"alone", two, nil, "", false},
		{"beside deno", two, deno, "", true},
		{"wrong answer", []string{"sh", "-c", "echo 3"}, deno, "want 2", false},
		{"failing deno", two, []string{"sh", "-c", "exit 1"}, "exit status 1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p50, denoP50, n, err := evalRuns(ctx, tt.cmd, tt.deno, 3)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != 3 || p50 <= 0 {
				t.Errorf("n = %d, p50 = %v; want 3 runs and a positive median", n, p50)
			}
			if (denoP50 > 0) != tt.wantDeno {
				t.Errorf("deno median = %v, want one: %v", denoP50, tt.wantDeno)
			}
		})
	}
}
