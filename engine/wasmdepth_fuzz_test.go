package engine

import (
	"testing"
)

func FuzzWasmLimitDepth(f *testing.F) {
	f.Add(recursiveModule(2))
	f.Add(recursiveModuleStack(0, 5))
	f.Fuzz(func(t *testing.T, b []byte) {
		wasmLimitDepth(b) // must not panic
	})
}
