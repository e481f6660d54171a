package main

import (
	"strings"
	"testing"
)

// isobox run MAIN.wasm runs a WebAssembly worker: a command gets fetches (the body on
// stdin, the response from stdout), a reactor RPC calls.
func TestRunWasm(t *testing.T) {
	const dir = "../../engine/testdata/wasm/"
	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{"echo", []string{"run", "--method", "POST", "--body", "hello", dir + "cmd.wasm"}, "hello", "", 0},
		{"headers", []string{"run", "--url", "http://x/status", "--header", "X-Name: Bob", dir + "cmd.wasm"}, "hello Bob", "", 0},
		{"exit status", []string{"run", "--url", "http://x/exit", dir + "cmd.wasm"}, "", "isobox: worker_exception: the WebAssembly program exited with status 3: something went wrong", 1},
		{"cpu limit", []string{"run", "--url", "http://x/loop", "--cpu-ms", "20", dir + "cmd.wasm"}, "", "isobox: cpu_limit_exceeded", 1},
		{"reactor", []string{"run", "--call", "add", "--args", "[40,2]", dir + "reactor.wasm"}, "42\n", "", 0},
		{"bad import", []string{"run", dir + "badimport.wasm"}, "", "invalid_worker_code: module \"badimport.wasm\" imports env.steal_secrets", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := cli(t, tt.args...)
			if code != tt.wantStatus || out != tt.wantOut || !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("isobox %q:\nexit %d (want %d)\nstdout %q (want %q)\nstderr %q (want it to contain %q)",
					tt.args, code, tt.wantStatus, out, tt.wantOut, errs, tt.wantErr)
			}
		})
	}
}
