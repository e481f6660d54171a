package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/internal/proccpu"
)

// reportCPU reports the process's CPU time per op (cpu-µs/op) when the returned function
// runs, where the OS says it: on a loaded machine it is steadier than ns/op, which counts
// waiting for a core.
func reportCPU(b *testing.B) func() {
	start, ok := proccpu.Process()
	return func() {
		if end, ok2 := proccpu.Process(); ok && ok2 {
			b.ReportMetric(float64((end-start).Microseconds())/float64(b.N), "cpu-µs/op")
		}
	}
}

// BenchmarkFetchTrivial is the fixed cost of a fetch invocation: a worker that returns
// new Response("hi").
func BenchmarkFetchTrivial(b *testing.B) {
	ctx := context.Background()
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{
		"main.js": {Type: engine.ModuleJS, Content: []byte(`export default { fetch() { return new Response("hi") }, rpc() { return 1 } }`)},
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(ctx)
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		b.Fatal(err)
	}
	req := &engine.Request{Method: "GET", URL: "http://localhost/"}
	b.Run("fetch", func(b *testing.B) {
		for b.Loop() {
			if _, err := sb.Fetch(ctx, engine.Limits{}, "", req, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rpc", func(b *testing.B) {
		for b.Loop() {
			if _, err := sb.Call(ctx, engine.Limits{}, "", "rpc", nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFetchPath splits the request path into steps: each case is a fetch handler that
// does one more thing than a bare RPC call, so the differences between cases are what each
// Web API step costs inside the guest. cpu-us/op is the process's CPU per invocation
// (host and guest), which a busy machine inflates less than ns/op.
func BenchmarkFetchPath(b *testing.B) {
	ctx := context.Background()
	req := &engine.Request{Method: "GET", URL: "http://localhost/path?q=1", Headers: [][2]string{
		{"host", "localhost"}, {"user-agent", "bench"}, {"accept", "*/*"},
	}}
	post := &engine.Request{Method: "POST", URL: "http://localhost/", Headers: [][2]string{
		{"content-type", "application/json"},
	}, Body: []byte(`{"a":1,"b":[1,2,3]}`)}
	for _, c := range []struct {
		name, handler string
		req           *engine.Request
	}{
		{"rpc", ``, nil},
		{"response-null", `return new Response(null)`, req},
		{"response-hi", `return new Response("hi")`, req},
		{"response-bytes", `return new Response(new Uint8Array([104, 105]))`, req},
		{"response-null-ct", `return new Response(null, {headers: {"content-type": "text/plain;charset=UTF-8"}})`, req},
		{"response-headers", `return new Response("hi", {headers: {"content-type": "text/plain", "x-a": "1"}})`, req},
		{"response-json", `return Response.json({ok: true, n: 1})`, req},
		{"read-header", `return new Response(request.headers.get("user-agent"))`, req},
		{"read-url", `return new Response(new URL(request.url).pathname)`, req},
		{"read-json", `return request.json().then((v) => new Response(String(v.a)))`, post},
		{"read-text", `return request.text().then((t) => new Response(t))`, post},
	} {
		b.Run(c.name, func(b *testing.B) {
			src := `export default { fetch(request) { ` + c.handler + ` }, rpc() { return 1 } }`
			sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{
				"main.js": {Type: engine.ModuleJS, Content: []byte(src)},
			}})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close(ctx)
			if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
				b.Fatal(err)
			}
			start, ok := proccpu.Process()
			for b.Loop() {
				var err error
				if c.req == nil {
					_, err = sb.Call(ctx, engine.Limits{}, "", "rpc", nil, nil)
				} else {
					var res *engine.Result
					res, err = sb.Fetch(ctx, engine.Limits{}, "", c.req, nil)
					if err == nil && res.Status != 200 {
						b.Fatalf("status %d", res.Status)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if end, ok2 := proccpu.Process(); ok && ok2 {
				b.ReportMetric(float64((end-start).Microseconds())/float64(b.N), "cpu-us/op")
			}
		})
	}
}

// BenchmarkFirstFetch is the first-use cost of the fetch path: each iteration restores a
// new sandbox, loads the hello worker and fetches it twice; first-us is the CPU of the
// first fetch, second-us of the second, so their difference is the work a sandbox does
// only once (what the base image can hold already done).
// "pooled" takes its sandboxes from a pool of blank sandboxes whose hot pages are written
// ahead (Engine.KeepBlank, as the loader does), after a pause for the pool to refill, so
// its first fetch pays no copy-on-write faults the pool could have taken.
func BenchmarkFirstFetch(b *testing.B) {
	b.Run("new", func(b *testing.B) { firstFetch(b, testEngine, 0) })
	b.Run("pooled", func(b *testing.B) {
		e, err := engine.New(context.Background(), engine.Config{CacheDir: enginetest.CacheDir(), Defaults: enginetest.Defaults})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close(context.Background())
		e.KeepBlank(2)
		firstFetch(b, e, 2*time.Millisecond)
	})
}

func firstFetch(b *testing.B, e *engine.Engine, pause time.Duration) {
	ctx := context.Background()
	req := &engine.Request{Method: "GET", URL: "http://localhost/path?q=1", Headers: [][2]string{
		{"host", "localhost"}, {"user-agent", "bench"}, {"accept", "*/*"},
	}}
	mods := engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: []byte(`export default { fetch() { return new Response("hi") } }`)}}
	var load, first, second time.Duration
	var firstFaults, secondFaults int64
	// A metric the OS does not say (CPU time, fault count) is left out, not reported as 0.
	_, cpuOK := proccpu.Process()
	_, faultsOK := minorFaults()
	cpu := func() time.Duration { d, _ := proccpu.Process(); return d }
	faults := func() int64 { n, _ := minorFaults(); return n }
	for b.Loop() {
		if pause > 0 {
			b.StopTimer()
			time.Sleep(pause)
			b.StartTimer()
		}
		sb, err := e.NewSandbox(ctx, engine.SandboxConfig{Modules: mods})
		if err != nil {
			b.Fatal(err)
		}
		t0 := cpu()
		if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
			b.Fatal(err)
		}
		t1 := cpu()
		for i, d := range []*time.Duration{&first, &second} {
			f := faults()
			t := cpu()
			res, err := sb.Fetch(ctx, engine.Limits{}, "", req, nil)
			if err != nil || res.Status != 200 {
				b.Fatalf("fetch %d: %v", i, err)
			}
			*d += cpu() - t
			if i == 0 {
				firstFaults += faults() - f
			} else {
				secondFaults += faults() - f
			}
		}
		load += t1 - t0
		sb.Close(ctx)
	}
	n := float64(b.N)
	if cpuOK {
		b.ReportMetric(float64(load.Microseconds())/n, "load-us")
		b.ReportMetric(float64(first.Microseconds())/n, "first-us")
		b.ReportMetric(float64(second.Microseconds())/n, "second-us")
	}
	if faultsOK {
		b.ReportMetric(float64(firstFaults)/n, "first-faults")
		b.ReportMetric(float64(secondFaults)/n, "second-faults")
	}
}
