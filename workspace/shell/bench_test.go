package shell

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkExecGrepCount is ws_exec_p50_ms: `grep -rl TODO . | wc -l` over 1,000 files
// (4 KiB each, in 10 directories, a tenth with a TODO), the whole Run per iteration.
func BenchmarkExecGrepCount(b *testing.B) {
	files := map[string]string{}
	line := strings.Repeat("x", 63) + "\n"
	for i := range 1000 {
		body := strings.Repeat(line, 64)
		if i%10 == 0 {
			body = "// TODO\n" + body[8:]
		}
		files[fmt.Sprintf("d%d/f%03d.txt", i%10, i)] = body
	}
	st := newStore(b, files)
	var times []time.Duration
	for b.Loop() {
		t0 := time.Now()
		res, err := Run(context.Background(), st, testWS, "grep -rl TODO . | wc -l", Options{})
		times = append(times, time.Since(t0))
		if err != nil || res.Stdout != "100\n" {
			b.Fatalf("%+v %v", res, err)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
}

// BenchmarkExecStep is the cost of one shell command (the step budget's unit).
func BenchmarkExecStep(b *testing.B) {
	st := newStore(b, nil)
	for b.Loop() {
		if _, err := Run(context.Background(), st, testWS, "i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
