package sandboxproc

import (
	"context"
	"net/http"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/loader"
)

// The cost of the process boundary is the difference between these two: the same warm
// call, in this process's loader and through a worker process.
//
//	go test ./internal/sandboxproc -run '^$' -bench WarmCall -benchtime 2000x
//
// With ISOBOX_SANDBOXPROC_PROFILE_WORKER=<file> in the environment, the worker process
// writes a CPU profile of its first 3 s there (the supervisor's is -cpuprofile).

const benchHello = `export default {
  hi() { return 1 },
  fetch() { return new Response("hi") },
};`

func BenchmarkWarmCallInProcess(b *testing.B) {
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{CacheDir: cacheDir, Defaults: enginetest.Defaults})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	l, err := loader.New(loader.Config{Engine: e})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(ctx)
	stub := l.Get("hello", func() (loader.WorkerCode, error) { return jsCode(benchHello), nil })
	benchCalls(b, func(op string) (*loader.Result, error) {
		if op == "fetch" {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://hello/", nil)
			return stub.Fetch(ctx, req)
		}
		return stub.Call(ctx, "hi", nil)
	})
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
	})
}

func benchCalls(b *testing.B, call func(op string) (*loader.Result, error)) {
	for _, op := range []string{"call", "fetch"} {
		b.Run(op, func(b *testing.B) {
			if _, err := call(op); err != nil { // warm
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := call(op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
