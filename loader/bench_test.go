package loader_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/internal/dynworker"
	"github.com/isobox/isobox/loader"
)

func dynRequest(b *testing.B) *http.Request {
	req, err := http.NewRequest(http.MethodGet, "http://dynamic/?n=1000", nil)
	if err != nil {
		b.Fatal(err)
	}
	return req
}

// BenchmarkColdLoad is a new unique worker (the workerd anchor's dyn.js) loaded and its
// first response, as `isobox bench` measures it.
func BenchmarkColdLoad(b *testing.B) {
	l, err := loader.New(loader.Config{Engine: testEngine, MaxWorkers: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	i := 0
	for b.Loop() {
		i++
		n := i
		res, err := l.Get(fmt.Sprint("cold-", n), func() (loader.WorkerCode, error) { return dynworker.Code(n), nil }).Fetch(context.Background(), dynRequest(b))
		if err != nil || !res.Cold {
			b.Fatalf("%v cold=%v", err, res.Cold)
		}
	}
}

// BenchmarkWarmCall is a fetch to an already loaded worker id.
func BenchmarkWarmCall(b *testing.B) {
	l, err := loader.New(loader.Config{Engine: testEngine})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	stub := l.Get("warm", func() (loader.WorkerCode, error) { return dynworker.Code(0), nil })
	if _, err := stub.Fetch(context.Background(), dynRequest(b)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := stub.Fetch(context.Background(), dynRequest(b))
		if err != nil || res.Cold {
			b.Fatalf("%v cold=%v", err, res.Cold)
		}
	}
}

// BenchmarkWarmRPC is an RPC call to an already loaded worker id.
func BenchmarkWarmRPC(b *testing.B) {
	l, err := loader.New(loader.Config{Engine: testEngine})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	stub := l.Get("rpc", func() (loader.WorkerCode, error) { return code(counter), nil })
	for b.Loop() {
		if _, err := stub.Call(context.Background(), "increment", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResume is a call to a worker that was evicted and hibernated to a directory
// store a while ago: reading its image, restoring it, and the call. The loader keeps one
// worker warm (MaxWorkers: 1) and 16 take turns, so each call also evicts the previous
// worker, which hibernates in the background (on the other core, as it would in serve).
func BenchmarkResume(b *testing.B) {
	dir, err := images.NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	l, err := loader.New(loader.Config{Engine: testEngine, Images: dir, MaxWorkers: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(ctx)
	var stubs []*loader.Stub
	for i := range 16 {
		src := fmt.Sprintf("%s\n// worker %d", counter, i)
		s := l.Get(fmt.Sprint("w", i), func() (loader.WorkerCode, error) { return code(src), nil })
		if _, err := s.Call(ctx, "increment", nil); err != nil {
			b.Fatal(err)
		}
		stubs = append(stubs, s)
	}
	i := 0
	for b.Loop() {
		res, err := stubs[i%len(stubs)].Call(ctx, "increment", nil)
		if err != nil || !res.Resumed {
			b.Fatalf("%v resumed=%v", err, res.Resumed)
		}
		i++
	}
	if s := l.Stats(); s.HibernateErrors != 0 {
		b.Fatalf("%+v", s)
	}
}

// BenchmarkWarmCallParallel is warm fetches from 1, 2 and 8 concurrent callers, each to
// its own loaded worker id (so callers contend for the loader, not for one worker's
// sandboxes): the loader's locking is what changes across the cases. calls/s is the
// throughput of all callers together.
func BenchmarkWarmCallParallel(b *testing.B) {
	for _, callers := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("callers-%d", callers), func(b *testing.B) {
			l, err := loader.New(loader.Config{Engine: testEngine})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			stubs := make([]*loader.Stub, callers)
			for i := range stubs {
				stubs[i] = l.Get(fmt.Sprint("warm-", i), func() (loader.WorkerCode, error) { return dynworker.Code(0), nil })
				if _, err := stubs[i].Fetch(context.Background(), dynRequest(b)); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for _, stub := range stubs {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						req, _ := http.NewRequest(http.MethodGet, "http://dynamic/?n=1000", nil)
						res, err := stub.Fetch(context.Background(), req)
						if err != nil || res.Cold {
							b.Errorf("%v cold=%v", err, res != nil && res.Cold)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
