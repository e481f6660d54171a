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
