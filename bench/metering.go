package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/isobox/isobox/meter"
	"github.com/isobox/isobox/tenant/quota"
)

// Metering is the cost of the quota checks and usage metering a warm invocation of
// `isobox serve` adds (issue 16's target: ≤ 2 µs per call).
type Metering struct {
	// NsPerCall is the median, over batches, of one call's quota and metering work done in
	// one goroutine: quota.Acquire with every quota set, AdmitWorker of a worker seen
	// today, meter.Record into a meter writing to a real SQLite file once a second,
	// quota.Charge, the three per-tenant Prometheus counters, and the slot's release.
	NsPerCall float64 `json:"metering_quota_ns_per_call,omitempty"`
	// ParallelNsPerCall is the same work in GOMAXPROCS goroutines of one tenant at once,
	// as wall time per call per goroutine (the contended case: one tenant's mutex).
	ParallelNsPerCall float64 `json:"metering_quota_parallel_ns_per_call,omitempty"`
	N                 int     `json:"metering_quota_samples,omitempty"`
}

// RunMetering measures Metering over calls calls (20 batches).
func RunMetering(ctx context.Context, calls int) (Metering, error) {
	dir, err := os.MkdirTemp("", "isobox-bench-meter-")
	if err != nil {
		return Metering{}, err
	}
	defer os.RemoveAll(dir)
	m, err := meter.Open(ctx, meter.Options{Path: filepath.Join(dir, "usage.db")})
	if err != nil {
		return Metering{}, err
	}
	defer m.Close(ctx)
	q := quota.New(quota.Limits{Concurrent: 1 << 30, InvocationsPerMinute: 1 << 40, CPUMsPerDay: 1 << 40,
		MemoryMBPerSandbox: 1 << 20, StorageBytes: 1 << 50, EgressBytesPerDay: 1 << 50, UniqueWorkersPerDay: 1 << 20})
	counters := []*prometheus.CounterVec{}
	for _, name := range []string{"invocations", "cpu", "wall"} {
		counters = append(counters, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bench_" + name}, []string{"tenant"}))
	}
	const tenant, worker, hash = "default", "hello", "sha256:0123456789abcdef"
	key := worker + "@" + hash
	if err := q.AdmitWorker(tenant, key); err != nil {
		return Metering{}, err
	}
	call := func() error {
		release, err := q.Acquire(tenant)
		if err != nil {
			return err
		}
		if err := q.AdmitWorker(tenant, key); err != nil {
			return err
		}
		cpu, wall := 150*time.Microsecond, 180*time.Microsecond
		m.Record(meter.Usage{Tenant: tenant, Worker: worker, CodeHash: hash, Invocations: 1, CPU: cpu, Wall: wall})
		q.Charge(tenant, cpu, 0)
		counters[0].WithLabelValues(tenant).Inc()
		counters[1].WithLabelValues(tenant).Add(float64(cpu.Microseconds()) / 1000)
		counters[2].WithLabelValues(tenant).Add(float64(wall.Microseconds()) / 1000)
		release()
		return nil
	}
	batch := max(calls/20, 1)
	var single, parallel []float64
	for range 20 {
		t := time.Now()
		for range batch {
			if err := call(); err != nil {
				return Metering{}, err
			}
		}
		single = append(single, float64(time.Since(t).Nanoseconds())/float64(batch))

		g := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		t = time.Now()
		for range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range batch {
					_ = call()
				}
			}()
		}
		wg.Wait()
		parallel = append(parallel, float64(time.Since(t).Nanoseconds())/float64(batch))
	}
	return Metering{NsPerCall: median(single), ParallelNsPerCall: median(parallel), N: 20 * batch}, nil
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}
