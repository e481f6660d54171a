package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
)

// heap10MiB is the state `isobox bench` forks: 10 MiB of typed arrays and 20,000 objects.
const heap10MiB = `
	globalThis.heap = [];
	for (let i = 0; i < 160; i++) heap.push(new Uint8Array(64 << 10).fill(i));
	globalThis.objs = Array.from({length: 20000}, (_, i) => ({i, s: "v" + i}));
	1`

// BenchmarkFork10MiB is Fork of a sandbox holding 10 MiB of live heap, plus closing the
// child. "again" forks a parent that did not run since its last fork; "after-write" has the
// parent write one byte between forks (outside the timed part), so every fork must capture
// a changed memory.
func BenchmarkFork10MiB(b *testing.B) {
	for _, mode := range []string{"again", "after-write"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close(ctx)
			if _, err := sb.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, heap10MiB); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if mode == "after-write" {
					b.StopTimer()
					if _, err := sb.Eval(ctx, engine.Limits{CPU: time.Second}, "heap[3][7] = 1; 1"); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				child, err := sb.Fork(ctx)
				if err != nil {
					b.Fatal(err)
				}
				child.Close(ctx)
			}
		})
	}
}
