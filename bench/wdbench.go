package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The names of the load generators an HTTP figure can come from (http_load_generator).
const (
	// GeneratorWdbench is the workerd anchor's own load client (`wdbench load`), run as a
	// separate process: the figure is comparable to the anchor's hthr_rps.
	GeneratorWdbench = "wdbench"
	// GeneratorInProcess is a Go client inside the bench process, beside the server: it
	// shares the server's CPUs and scheduler, so the figure is not comparable to the anchor.
	GeneratorInProcess = "go-in-process"
)

// BuildWdbench builds the workerd anchor's load client from its source folder srcDir
// (../shared/anchors/workerd/wdbench) into outDir and returns the binary's path. The
// source stays where it is: it is the anchor's, not isobox's. The caller's GOFLAGS apply
// (isobox's tests pass -race, whose standard library their own build has compiled: a
// plain build compiles it again, ~65 s of CPU on a cold cache).
func BuildWdbench(ctx context.Context, srcDir, outDir string) (string, error) {
	if _, err := os.Stat(filepath.Join(srcDir, "main.go")); err != nil {
		return "", fmt.Errorf("wdbench source: %w", err)
	}
	bin := filepath.Join(outDir, "wdbench")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = srcDir
	// The anchor's module has no dependencies: nothing to fetch, no go.sum to write.
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -buildvcs=false"), "GOTOOLCHAIN=local", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build wdbench in %s: %w: %s", srcDir, err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// wdbenchWarmup is the anchor's count of warm-up requests before the measured load.
const wdbenchWarmup = 200

// runWdbenchLoad runs `wdbench load` against url with the anchor's settings (conns
// keep-alive connections for d after 200 warm-up requests, body must hold "hi") and the
// server's CPU read from pid.
func runWdbenchLoad(ctx context.Context, bin, url string, conns int, d time.Duration, pid int) (*HTTPHello, error) {
	cmd := exec.CommandContext(ctx, bin, "load", "-url", url, "-c", strconv.Itoa(conns), "-d", d.String(),
		"-warmup", strconv.Itoa(wdbenchWarmup), "-expect", "hi", "-pid", strconv.Itoa(pid), "-prefix", "hthr")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("wdbench load: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return parseWdbenchLoad(out, "hthr")
}

// parseWdbenchLoad reads the PREFIX_key=value lines `wdbench load` prints. A run with
// failed requests, or none that succeeded, is an error: its rate would not be the hello's.
func parseWdbenchLoad(out []byte, prefix string) (*HTTPHello, error) {
	vals := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || !strings.HasPrefix(k, prefix+"_") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("wdbench load: %s is not a number: %q", k, v)
		}
		vals[strings.TrimPrefix(k, prefix+"_")] = f
	}
	for _, k := range []string{"ok", "errors", "rps", "p50_ms", "p99_ms", "conns"} {
		if _, ok := vals[k]; !ok {
			return nil, fmt.Errorf("wdbench load: no %s_%s in its output", prefix, k)
		}
	}
	if vals["errors"] > 0 {
		return nil, fmt.Errorf("wdbench load: %.0f of %.0f requests failed", vals["errors"], vals["errors"]+vals["ok"])
	}
	if vals["ok"] == 0 {
		return nil, fmt.Errorf("wdbench load: no request succeeded")
	}
	return &HTTPHello{RPS: vals["rps"], P50: vals["p50_ms"], P99: vals["p99_ms"], N: int(vals["ok"]), Conns: int(vals["conns"]),
		ServerCPUPerReq: vals["server_cpu_us_per_req"], Generator: GeneratorWdbench}, nil
}
