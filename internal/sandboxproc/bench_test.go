package sandboxproc

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/loader"
)

// The cost of the process boundary is the difference between these two: the same warm
// call, in this process's loader and through a worker process.
//
//	go test ./internal/sandboxproc -run '^$' -bench WarmCall -benchtime 2000x
//
// With ISOBOX_SANDBOXPROC_PROFILE_WORKER=<file> in the environment, the worker process
// writes a CPU profile of 3 s there, from 2 s after its start (the supervisor's is -cpuprofile).

const benchHello = `export default {
  hi() { return 1 },
  fetch() { return new Response("hi") },
};`

func BenchmarkWarmCallInProcess(b *testing.B) {
	ctx := context.Background()
	l := inProcessLoader(b, enginetest.Defaults)
	stub := l.Get("hello", func() (loader.WorkerCode, error) { return jsCode(benchHello), nil })
	benchCalls(b, func(op string) (*loader.Result, error) {
		if op == "fetch" {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://hello/", nil)
			return stub.Fetch(ctx, req)
		}
		return stub.Call(ctx, "hi", nil)
	}, func() int { return 0 })
}

func BenchmarkWarmCallThroughProcess(b *testing.B) {
	ctx := context.Background()
	p, err := New(Config{Processes: 1, Command: testCommand, CacheDir: cacheDir, Defaults: enginetest.Defaults})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	stub := p.Get("hello", func() (loader.WorkerCode, error) { return jsCode(benchHello), nil })
	benchCalls(b, func(op string) (*loader.Result, error) {
		if op == "fetch" {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://hello/", nil)
			return stub.Fetch(ctx, req)
		}
		return stub.Call(ctx, "hi", nil)
	}, func() int { return p.Processes()[0] })
}

// benchCalls measures call(op) for a fetch and an RPC call: the p50 and p90 of each call's
// wall time, and the CPU time per call of this process and of process pid() (0: none):
// on a busy machine the CPU cost is the steadier figure.
func benchCalls(b *testing.B, call func(op string) (*loader.Result, error), pid func() int) {
	for _, op := range []string{"call", "fetch"} {
		b.Run(op, func(b *testing.B) {
			if _, err := call(op); err != nil { // warm
				b.Fatal(err)
			}
			b.ReportAllocs()
			ds := make([]time.Duration, 0, b.N)
			self0, other0 := cpuOf(0), cpuOf(pid())
			b.ResetTimer()
			for range b.N {
				t := time.Now()
				if _, err := call(op); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t))
			}
			b.StopTimer()
			self, other := cpuOf(0)-self0, cpuOf(pid())-other0
			slices.Sort(ds)
			b.ReportMetric(float64(self.Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
			if pid() != 0 {
				b.ReportMetric(float64(other.Nanoseconds())/1000/float64(b.N), "worker-cpu-µs/op")
			}
			b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds())/1000, "p50-µs")
			b.ReportMetric(float64(ds[len(ds)*9/10].Nanoseconds())/1000, "p90-µs")
		})
	}
}

// cpuOf returns the CPU time (user and system) of process pid so far; 0 is this process.
func cpuOf(pid int) time.Duration {
	if pid == 0 {
		pid = os.Getpid()
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// The price of a place changing tenant: two tenants' snippets in turn on one process, so
// that every call recycles the process (the spare takes the place; a new spare starts in
// the background), against the same calls of one tenant.
//
//	go test ./internal/sandboxproc -run '^$' -bench TenantSwitch -benchtime 20x
func BenchmarkTenantSwitch(b *testing.B) {
	for _, tenants := range [][]string{{"acme"}, {"acme", "beta"}} {
		b.Run(fmt.Sprintf("tenants=%d", len(tenants)), func(b *testing.B) {
			ctx := context.Background()
			p, err := New(Config{Processes: 1, Command: testCommand, CacheDir: cacheDir, Defaults: enginetest.Defaults})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(ctx)
			if _, err := p.Eval(ctx, "1", loader.EvalOptions{Tenant: tenants[0]}); err != nil {
				b.Fatal(err)
			}
			ds := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				for p.Spare() == 0 { // the spare is up, as between two switches on a server
					time.Sleep(time.Millisecond)
				}
				t := time.Now()
				if _, err := p.Eval(ctx, "1", loader.EvalOptions{Tenant: tenants[(i+1)%len(tenants)]}); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t))
			}
			b.StopTimer()
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p.Recycles())/float64(b.N), "recycles/op")
		})
	}
}
