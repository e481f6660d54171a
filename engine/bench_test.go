package engine_test

import (
	"context"
	"testing"

	"github.com/isobox/isobox/engine"
)

const fib = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) } fib(27)"

// BenchmarkFib compares the two ways of stopping guest code on wazero: QuickJS's interrupt
// handler polling a host import (what isobox uses) and wazero's WithCloseOnContextDone
// (checks compiled into every loop and call).
func BenchmarkFib(b *testing.B) {
	for _, mode := range []struct {
		name  string
		close bool
	}{{"interrupt-handler", false}, {"close-on-context-done", true}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			e, err := engine.New(ctx, engine.Config{CacheDir: b.TempDir(), CloseOnContextDone: mode.close})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close(ctx)
			sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close(ctx)
			b.ResetTimer()
			for b.Loop() {
				res, err := sb.Eval(ctx, engine.Limits{CPU: engine.MaxCPU}, fib)
				if err != nil || string(res.Value) != "196418" {
					b.Fatalf("fib: %s %v", res.Value, err)
				}
			}
		})
	}
}

// BenchmarkNewSandbox is the cost of a sandbox with the runtime ready and no code.
func BenchmarkNewSandbox(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			b.Fatal(err)
		}
		sb.Close(ctx)
	}
}

// BenchmarkEvalWarm is one eval in an existing sandbox.
func BenchmarkEvalWarm(b *testing.B) {
	ctx := context.Background()
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(ctx)
	for b.Loop() {
		if _, err := sb.Eval(ctx, engine.Limits{}, "1+1"); err != nil {
			b.Fatal(err)
		}
	}
}
