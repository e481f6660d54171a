package engine

import (
	"bytes"
	"crypto/sha256"
	"os"
	"slices"
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

// The analysis finds which funcref tables a module's code may change, reading whole
// instructions (a table.set opcode inside an immediate is not one), and refuses what it
// cannot capture.
func TestWasmStatePlan(t *testing.T) {
	fn := func(body ...byte) []byte {
		b := append(append([]byte{0}, body...), 0x0b)
		return wasmBinary([]byte{1}, wasmVec([]byte{0x60, 0, 0}), []byte{3}, wasmVec([]byte{0}),
			[]byte{4}, wasmVec([]byte{0x70, 1, 1, 2}, []byte{0x6f, 1, 0, 2}, []byte{0x70, 1, 0, 2}),
			[]byte{10}, wasmVec(append(wasmU32(uint32(len(b))), b...)))
	}
	for _, tc := range []struct {
		name    string
		bin     []byte
		changed []bool // tables 0 (funcref), 1 (externref), 2 (funcref)
		refuse  bool
	}{
		{"no table instruction", fn(0x41, 0x26, 0x1a, 0x42, 0xfc, 0x0f, 0x1a), []bool{false, false, false}, false}, // 0x26 and fc 0f in immediates
		{"table.set 2", fn(0x41, 0, 0xd0, 0x70, 0x26, 2), []bool{false, false, true}, false},
		{"table.grow 0", fn(0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x1a), []bool{true, false, false}, false},
		{"table.fill 2", fn(0x41, 0, 0xd0, 0x70, 0x41, 1, 0xfc, 17, 2), []bool{false, false, true}, false},
		{"table.copy 0 2", fn(0x41, 0, 0x41, 0, 0x41, 1, 0xfc, 14, 0, 2), []bool{true, false, false}, false},
		{"table.init elem 0 table 2", fn(0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 12, 0, 2), []bool{false, false, true}, false},
		{"externref table.set 1", fn(0x41, 0, 0xd0, 0x6f, 0x26, 1), []bool{false, false, false}, false},
		{"simd and loads", fn(0xfd, 12, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x1a,
			0x41, 0, 0x28, 2, 0x26, 0x1a), []bool{false, false, false}, false},
		{"unknown opcode", fn(0x06), []bool{true, false, true}, false},
		{"truncated", fn(0x41)[:30], nil, true},
		{"a table import", wasmBinary([]byte{2}, wasmVec(slices.Concat(wasmStr("m"), wasmStr("t"), []byte{1, 0x70, 0, 1}))), nil, true},
		{"a mutable funcref global", wasmBinary([]byte{6}, wasmVec([]byte{0x70, 1, 0xd0, 0x70, 0x0b})), nil, true},
		{"the reserved export name", wasmBinary([]byte{7}, wasmVec(slices.Concat(wasmStr(wasmStatePrefix+"g0"), []byte{0, 0}))), nil, true},
	} {
		p := analyzeWasmState(tc.bin)
		if (p.refuse != "") != tc.refuse {
			t.Errorf("%s: refuse %q, want %v", tc.name, p.refuse, tc.refuse)
			continue
		}
		for i, want := range tc.changed {
			if i < len(p.tables) && p.tables[i].rt == 0x70 && p.tables[i].changed != want {
				t.Errorf("%s: table %d changed %v, want %v", tc.name, i, p.tables[i].changed, want)
			}
		}
	}
}

// A module clang built (wasi-libc's cmd.wasm: __stack_pointer, __indirect_function_table)
// is captured whole: its global, and its funcref table, which its code never changes.
func TestWasmStatePlanOfCModule(t *testing.T) {
	b, err := os.ReadFile("testdata/wasm/cmd.wasm")
	if err != nil {
		t.Fatal(err)
	}
	p := analyzeWasmState(b)
	if p.refuse != "" || len(p.globals) != 1 || len(p.tables) != 1 || p.tables[0].changed {
		t.Fatalf("plan %+v", *p)
	}
}
