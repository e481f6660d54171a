package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// anchorWdbench finds the workerd anchor's wdbench source (shared/anchors/workerd/wdbench
// beside the repository or one of its parents), or "".
func anchorWdbench(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "shared", "anchors", "workerd", "wdbench")
		if _, err := os.Stat(filepath.Join(p, "main.go")); err == nil {
			return p
		}
	}
	return ""
}

// raceBuild says whether this test binary was built with -race.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	return ok && slices.ContainsFunc(bi.Settings, func(s debug.BuildSetting) bool { return s.Key == "-race" && s.Value == "true" })
}

// TestBenchLoadGeneratorAndProfile runs a tiny `isobox bench --json` with each HTTP load
// generator and a CPU profile: the figure names its generator and the profile is a gzipped
// pprof protobuf.
func TestBenchLoadGeneratorAndProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs isobox bench")
	}
	// --metering 2000, not its default 200,000: the metering figure still runs (20 batches
	// of 100 calls), at a hundredth of the cost (15 s of each run under -race on a busy core).
	tiny := []string{"bench", "--json", "--cold", "2", "--warm", "5", "--ids", "3", "--eval", "0", "--bundle", "0", "--app", "0",
		"--workspace", "0", "--metering", "2000", "--sandbox-processes", "0", "--http-seconds", "1"}
	tests := []struct {
		name      string
		args      []string
		generator string
	}{
		{"in-process client", []string{"--load-generator", "go-in-process"}, "go-in-process"},
		// With a sandbox process, whose HTTP figure uses the same generator.
		{"wdbench", []string{"--load-generator", "wdbench", "--wdbench", anchorWdbench(t),
			"--sandbox-processes", "1", "--hostile-seconds", "1", "--replacements", "0"}, "wdbench"},
		// auto without the anchor: TestBenchAutoFallsBack (the rest of the run is the
		// in-process client's, above).
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.generator == "wdbench" {
				if anchorWdbench(t) == "" {
					t.Skip("no workerd anchor (shared/anchors/workerd/wdbench) above this directory")
				}
				// The bench builds wdbench with the caller's GOFLAGS: built as this test
				// binary was, it finds the standard library that build compiled, where a
				// plain build under -race compiles it again (~65 s of CPU on a cold cache).
				if raceBuild() {
					t.Setenv("GOFLAGS", "-race")
				}
			}
			prof := filepath.Join(t.TempDir(), "cpu.prof")
			stdout, stderr, code := cli(t, append(append(tiny, tt.args...), "--cpuprofile", prof)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got struct {
				Generator string  `json:"http_load_generator"`
				RPS       float64 `json:"http_hello_rps"`
				N         int     `json:"http_hello_samples"`
				Process   string  `json:"http_hello_process_load_generator"`
				MeterN    int     `json:"metering_quota_samples"`
				ProcN     int     `json:"warm_call_process_samples"`
				InProcP50 float64 `json:"warm_call_in_process_p50_ms"`
				Blocks    int     `json:"process_boundary_blocks"`
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%v: %s", err, stdout)
			}
			if got.Generator != tt.generator || got.RPS <= 0 || got.N == 0 {
				t.Fatalf("HTTP figure %+v, want one from %s", got, tt.generator)
			}
			if got.MeterN != 2000 {
				t.Errorf("metering figure of %d calls, want the 2000 of --metering", got.MeterN)
			}
			if tt.generator == "wdbench" && got.Process != "wdbench" {
				t.Errorf("sandbox-process HTTP figure from %q, want wdbench", got.Process)
			}
			// The boundary's figures: --warm calls each way, in one block of 5 (< 50).
			if tt.generator == "wdbench" && (got.ProcN != 5 || got.InProcP50 <= 0 || got.Blocks != 1) {
				t.Errorf("boundary figures: %d calls through a process, in process p50 %v ms, %d blocks; want 5, > 0, 1", got.ProcN, got.InProcP50, got.Blocks)
			}
			b, err := os.ReadFile(prof)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("profile is not gzip: %v", err)
			}
			pb, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("profile: %v", err)
			}
			// A pprof Profile names its sample types (samples/count, cpu/nanoseconds) and
			// the functions sampled in its string table.
			if !bytes.Contains(pb, []byte("cpu")) || !bytes.Contains(pb, []byte("nanoseconds")) || !bytes.Contains(pb, []byte("runtime.")) {
				t.Fatalf("profile is not a pprof CPU profile (%d bytes)", len(pb))
			}
		})
	}
}

// auto falls back to the in-process client, and says so, when wdbench does not build. That
// choice is all the load generator changes in a run (an empty wdbench path is the
// in-process client, whose whole run TestBenchLoadGeneratorAndProfile checks), so it is
// checked here without a second run of the bench.
func TestBenchAutoFallsBack(t *testing.T) {
	var stderr strings.Builder
	bin, err := wdbenchBinary(t.Context(), "auto", filepath.Join(t.TempDir(), "none"), "", &stderr)
	if err != nil || bin != "" {
		t.Fatalf("wdbenchBinary(auto, no anchor) = %q, %v; want the in-process client", bin, err)
	}
	if !strings.Contains(stderr.String(), "not comparable to the workerd anchor") {
		t.Errorf("the fallback is not said on stderr: %s", stderr.String())
	}
}

// A load generator that cannot be had stops the bench before it runs, rather than
// producing a figure from another generator than the one asked for.
func TestBenchBadLoadGenerator(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown", []string{"--load-generator", "wrk"}, "--load-generator wants auto, wdbench or go-in-process"},
		{"wdbench without its source", []string{"--load-generator", "wdbench", "--wdbench", filepath.Join(t.TempDir(), "none")}, "wdbench source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := cli(t, append([]string{"bench", "--eval", "0"}, tt.args...)...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tt.wantErr) || strings.Contains(stderr, "cold load") {
				t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
			}
		})
	}
}
