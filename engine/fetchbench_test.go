package engine_test

import (
	"context"
	"testing"

	"github.com/isobox/isobox/engine"
)

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
			start := processCPU()
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
			b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(b.N), "cpu-us/op")
		})
	}
}
