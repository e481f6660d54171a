package codemode_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/codemode"
)

// BenchmarkExecute is one run end to end: normalising (esbuild), a fresh sandbox, the
// prelude, one tool call with schema validation.
//
//	go test ./codemode -run X -bench Execute
func BenchmarkExecute(b *testing.B) {
	var n atomic.Int64
	p := []codemode.Provider{calculator(&n)}
	x := codemode.NewExecutor(testLoader)
	ctx := context.Background()
	for b.Loop() {
		res := x.Execute(ctx, "async () => { const r: { sum: number } = await codemode.add({ a: 1, b: 2 }); return r.sum }", p, codemode.Options{})
		if res.Error != nil {
			b.Fatal(res.Error)
		}
	}
}

// BenchmarkNormalize is the esbuild part alone.
func BenchmarkNormalize(b *testing.B) {
	for b.Loop() {
		if _, err := codemode.Normalize("```ts\nasync function main(): Promise<number> {\n  const xs: number[] = [1, 2, 3];\n  return xs.reduce((a, b) => a + b, 0);\n}\n```"); err != nil {
			b.Fatal(err)
		}
	}
}
