package engine

import (
	"os"
	"testing"
)

// FuzzWasmStatePlan: the analysis and the rewrite of any bytes (a guest's) end, and never panic.
func FuzzWasmStatePlan(f *testing.F) {
	f.Add(bigCodeWasm(30))
	if cmd, err := os.ReadFile("testdata/wasm/cmd.wasm"); err == nil {
		f.Add(cmd)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := analyzeWasmState(b)
		p.rewrite(b, false)
		p.rewrite(b, true)
		if _, err := unmarshalWasmImage(b); err == nil && len(b) == 0 {
			t.Fatal("an empty WebAssembly state was accepted")
		}
		_, _ = unmarshalWasmWorkerImage(b)
	})
}
