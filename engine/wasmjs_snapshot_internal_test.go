package engine

import (
	"bytes"
	"crypto/sha256"
	"os"
	"testing"
)

// bigCodeWasm is a module of one exported function whose body is n bytes of instructions
// (i32.const 1, drop), and a mutable global: a large module's analysis and rewrite.
func bigCodeWasm(n int) []byte {
	body := append([]byte{0}, bytes.Repeat([]byte{0x41, 1, 0x1a}, n/3)...)
	body = append(body, 0x0b)
	code := wasmVec(append(wasmU32(uint32(len(body))), body...))
	return wasmBinary([]byte{1}, wasmVec([]byte{0x60, 0, 0}), []byte{3}, wasmVec([]byte{0}),
		[]byte{6}, wasmVec([]byte{0x7f, 1, 0x41, 0, 0x0b}), []byte{7}, wasmVec(append(wasmStr("f"), 0, 0)), []byte{10}, code)
}

// BenchmarkWasmStatePlan measures what images add to compiling a module in a sandbox: the
// analysis of its bytes and their rewrite, beside the SHA-256 the compile cache already
// takes of them.
func BenchmarkWasmStatePlan(b *testing.B) {
	cmd, err := os.ReadFile("testdata/wasm/cmd.wasm")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		bin  []byte
	}{{"cmd.wasm 15KiB", cmd}, {"1MiB of code", bigCodeWasm(1 << 20)}} {
		b.Run(bc.name+"/analyze", func(b *testing.B) {
			b.SetBytes(int64(len(bc.bin)))
			for b.Loop() {
				if p := analyzeWasmState(bc.bin); p.refuse != "" {
					b.Fatal(p.refuse)
				}
			}
		})
		p := analyzeWasmState(bc.bin)
		b.Run(bc.name+"/rewrite", func(b *testing.B) {
			b.SetBytes(int64(len(bc.bin)))
			for b.Loop() {
				p.rewrite(bc.bin, true)
			}
		})
		b.Run(bc.name+"/sha256", func(b *testing.B) {
			b.SetBytes(int64(len(bc.bin)))
			for b.Loop() {
				sha256.Sum256(bc.bin)
			}
		})
	}
}
