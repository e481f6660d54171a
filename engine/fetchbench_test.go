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
