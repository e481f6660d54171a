package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// depthFunc is one function of a test module for the depth rewrite.
type depthFunc struct {
	export          string
	params, results []byte
	locals          []byte // one local each, of that type
	body            []byte // without the final end
}

func depthVec(items ...[]byte) []byte {
	b := wasmU32(uint32(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func depthName(s string) []byte { return append(wasmU32(uint32(len(s))), s...) }

// depthModule assembles a module of funcs, each with its own type, and extra sections.
func depthModule(funcs []depthFunc, extra map[byte][]byte) []byte {
	var types, fidx, code, exports [][]byte
	for i, f := range funcs {
		types = append(types, append(append([]byte{0x60}, depthVec(split(f.params)...)...), depthVec(split(f.results)...)...))
		fidx = append(fidx, wasmU32(uint32(i)))
		var decl [][]byte
		for _, l := range f.locals {
			decl = append(decl, []byte{1, l})
		}
		body := append(append(depthVec(decl...), f.body...), 0x0b)
		code = append(code, append(wasmU32(uint32(len(body))), body...))
		if f.export != "" {
			exports = append(exports, append(append(depthName(f.export), 0), wasmU32(uint32(i))...))
		}
	}
	secs := map[byte][]byte{1: depthVec(types...), 3: depthVec(fidx...), 7: depthVec(exports...), 10: depthVec(code...)}
	for id, s := range extra {
		secs[id] = s
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	for _, id := range []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11} {
		if s, ok := secs[id]; ok {
			out = append(append(append(out, id), wasmU32(uint32(len(s)))...), s...)
		}
	}
	return out
}

func split(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// recursiveModule is a module exporting f(n): 0 when n is 0, else f(n-1)+1, with extra i64
// locals set before the recursive call and summed after it (live across it, so spilled).
func recursiveModule(extra int) []byte {
	return recursiveModuleStack(extra, 0)
}

// recursiveModuleStack is recursiveModule with stack values pushed before the recursive
// call and added to its result after it.
func recursiveModuleStack(extra, stack int) []byte {
	var locals, pre, post []byte
	for i := 0; i < stack; i++ {
		pre = append(pre, 0x20, 0, 0x41, byte(i&0x3f), 0x6a) // n+i
		post = append(post, 0x6a)
	}
	for i := 0; i < extra; i++ {
		l := byte(1 + i) // local indices up to 127 fit a byte
		locals = append(locals, 0x7e)
		pre = append(pre, 0x20, 0, 0xad, 0x42, byte(i&0x3f), 0x7c, 0x21, l) // local.get 0 i64.extend_i32_u i64.const i i64.add local.set l
		post = append(post, 0x20, l, 0xa7, 0x6a)                            // local.get l i32.wrap_i64 i32.add
	}
	body := []byte{0x20, 0, 0x45, 0x04, 0x40, 0x41, 0, 0x0f, 0x0b} // if n == 0: return 0
	body = append(body, pre...)
	body = append(body, 0x20, 0, 0x41, 1, 0x6b, 0x10, 0, 0x41, 1, 0x6a) // f(n-1)+1
	body = append(body, post...)
	return depthModule([]depthFunc{{export: "f", params: []byte{0x7f}, results: []byte{0x7f}, locals: locals, body: body}}, nil)
}

// TestWasmDepthFrameSize measures (with ISOBOX_MEASURE=1) the native stack a frame of an
// unrewritten module takes: the depth at which wazero's 400 MB stack overflows.
func TestWasmDepthFrameSize(t *testing.T) {
	if os.Getenv("ISOBOX_MEASURE") == "" {
		t.Skip("a measurement: ISOBOX_MEASURE=1")
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	for _, tc := range [][2]int{{0, 0}, {10, 0}, {100, 0}, {0, 10}, {0, 100}, {0, 1000}} {
		extra, stack := tc[0], tc[1]
		mod, err := rt.Instantiate(ctx, recursiveModuleStack(extra, stack))
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := uint64(1), uint64(1<<27)
		for hi-lo > hi/100 {
			mid := (lo + hi) / 2
			if _, err := mod.ExportedFunction("f").Call(ctx, mid); err != nil {
				hi = mid
			} else {
				lo = mid
			}
		}
		t.Logf("%d extra i64 locals, %d values on the stack: overflow at depth %d: %d bytes a frame (estimate %d)",
			extra, stack, hi, 400_000_000/hi, wasmFrameCost(uint64(1+extra), uint64(stack+2)))
		mod.Close(ctx)
	}
}

// instantiateLimited compiles bin's rewrite on a fresh runtime.
func instantiateLimited(t *testing.T, bin []byte) (wazero.Runtime, api.Module) {
	t.Helper()
	ctx := context.Background()
	limited, err := wasmLimitDepth(bin)
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, limited)
	if err != nil {
		t.Fatalf("the rewrite does not instantiate: %v", err)
	}
	return rt, mod
}

// A deep recursion ends with the stack overflow error long before wazero's 400 MB stack,
// and the Go memory the call takes stays small; the counter is back to 0 after the trap,
// so recursion within the limit works again on the same instance.
func TestWasmDepthBoundsRecursion(t *testing.T) {
	ctx := context.Background()
	for _, extra := range []int{0, 100} {
		_, mod := instantiateLimited(t, recursiveModule(extra))
		f := mod.ExportedFunction("f")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := wasmDepthCall(ctx, mod, f, 50_000_000)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, errWasmDepth) || !strings.Contains(err.Error(), "stack overflow") {
			t.Fatalf("%d locals: got %v, want the depth limit's stack overflow", extra, err)
		}
		grown := after.TotalAlloc - before.TotalAlloc // wazero's stack is Go memory
		t.Logf("%d locals: the call allocated %d KiB", extra, grown>>10)
		if grown > 64<<20 {
			t.Fatalf("%d locals: the call allocated %d MiB", extra, grown>>20)
		}
		if g := mod.ExportedGlobal(wasmDepthExport).Get(); g != 0 {
			t.Fatalf("the counter is %d after the trap, want 0", g)
		}
		res, err := wasmDepthCall(ctx, mod, f, 1000)
		if err != nil || extra == 0 && res[0] != 1000 {
			t.Fatalf("recursion of 1000 after the trap: %v %v", res, err)
		}
	}
}

// The rewrite keeps what a module computes: returns with several values, branches to the
// function's label from nested blocks and through br_table, returns from inside loops; the
// counter is back to 0 after every call.
func TestWasmDepthRewriteKeepsBehaviour(t *testing.T) {
	const i32, i64 = 0x7f, 0x7e
	funcs := []depthFunc{
		// pair() -> (i32, i64): a block of its own type, left by a branch.
		{export: "pair", results: []byte{i32, i64}, body: []byte{0x02, 0, 0x41, 7, 0x42, 8, 0x0c, 0, 0x0b}},
		// early(n) -> (i32, i64): returns two values from inside an if.
		{export: "early", params: []byte{i32}, results: []byte{i32, i64}, body: []byte{
			0x20, 0, 0x04, 0x40, 0x41, 1, 0x42, 2, 0x0f, 0x0b, 0x41, 3, 0x42, 4}},
		// out() -> i32: br 2 from two blocks deep leaves the function.
		{export: "out", results: []byte{i32}, body: []byte{0x02, 0x40, 0x02, 0x40, 0x41, 5, 0x0c, 2, 0x0b, 0x0b, 0x00}},
		// sel(n) -> i32: br_table to two blocks and the function's label.
		{export: "sel", params: []byte{i32}, results: []byte{i32}, body: []byte{
			0x02, i32, 0x02, i32, 0x41, 10, 0x20, 0, 0x0e, 2, 0, 1, 2, 0x0b, 0x41, 1, 0x6a, 0x0b, 0x41, 2, 0x6a}},
		// loopret(n) -> i32: sums n, n+1, ... until 5, returning from a block in a loop.
		{export: "loopret", params: []byte{i32}, results: []byte{i32}, locals: []byte{i32}, body: []byte{
			0x03, 0x40, 0x02, 0x40, 0x20, 0, 0x41, 5, 0x46, 0x04, 0x40, 0x20, 1, 0x0f, 0x0b, 0x0b,
			0x20, 1, 0x20, 0, 0x6a, 0x21, 1, 0x20, 0, 0x41, 1, 0x6a, 0x21, 0, 0x0c, 0, 0x0b, 0x41, 0x7f}},
		// ifelse(n) -> i32: both arms end the function's block.
		{export: "ifelse", params: []byte{i32}, results: []byte{i32}, body: []byte{
			0x20, 0, 0x04, i32, 0x41, 1, 0x05, 0x41, 2, 0x0b}},
	}
	_, mod := instantiateLimited(t, depthModule(funcs, nil))
	ctx := context.Background()
	for _, tc := range []struct {
		fn   string
		args []uint64
		want []uint64
	}{
		{"pair", nil, []uint64{7, 8}},
		{"early", []uint64{1}, []uint64{1, 2}},
		{"early", []uint64{0}, []uint64{3, 4}},
		{"out", nil, []uint64{5}},
		{"sel", []uint64{0}, []uint64{13}},
		{"sel", []uint64{1}, []uint64{12}},
		{"sel", []uint64{9}, []uint64{10}},
		{"loopret", []uint64{0}, []uint64{10}},
		{"ifelse", []uint64{1}, []uint64{1}},
		{"ifelse", []uint64{0}, []uint64{2}},
	} {
		got, err := wasmDepthCall(ctx, mod, mod.ExportedFunction(tc.fn), tc.args...)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s%v = %v, %v; want %v", tc.fn, tc.args, got, err, tc.want)
		}
		if g := mod.ExportedGlobal(wasmDepthExport).Get(); g != 0 {
			t.Errorf("after %s%v the counter is %d, want 0", tc.fn, tc.args, g)
		}
	}
}

// The rewrite reads every byte as an attacker's: a malformed module is an error (or a
// module wazero refuses), never a panic, and a module without functions is left as it is.
func TestWasmDepthMalformed(t *testing.T) {
	good := recursiveModule(3)
	cases := map[string][]byte{
		"empty":        nil,
		"header only":  []byte("\x00asm\x01\x00\x00\x00"),
		"not wasm":     []byte("hello, world"),
		"section size": append([]byte("\x00asm\x01\x00\x00\x00"), 10, 0xff, 0xff, 0xff, 0xff, 0x0f),
		"bad leb":      append([]byte("\x00asm\x01\x00\x00\x00"), 1, 5, 0xff, 0xff, 0xff, 0xff, 0xff),
	}
	for i := 8; i < len(good); i++ { // every truncation, every byte flipped
		cases[fmt.Sprintf("truncated at %d", i)] = good[:i]
		for _, x := range []byte{0x00, 0xff, 0x80, 0x0b, 0x0f} {
			b := bytes.Clone(good)
			b[i] = x
			cases[fmt.Sprintf("byte %d = %#x", i, x)] = b
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	for _, b := range cases {
		out, err := wasmLimitDepth(b)
		if err != nil {
			continue
		}
		if cm, err := rt.CompileModule(ctx, out); err == nil {
			cm.Close(ctx)
		}
	}
	if out, err := wasmLimitDepth(cases["header only"]); err != nil || !bytes.Equal(out, cases["header only"]) {
		t.Fatalf("a module without functions: %v, %v", out, err)
	}
}

// BenchmarkWasmDepthFib is the rewrite's cost on calls: a recursive fib(25) (242785 calls)
// as the module is and rewritten.
func BenchmarkWasmDepthFib(b *testing.B) {
	bin := depthModule([]depthFunc{{export: "fib", params: []byte{0x7f}, results: []byte{0x7f}, body: []byte{
		0x20, 0, 0x41, 2, 0x48, 0x04, 0x7f, 0x20, 0, 0x05,
		0x20, 0, 0x41, 1, 0x6b, 0x10, 0, 0x20, 0, 0x41, 2, 0x6b, 0x10, 0, 0x6a, 0x0b}}}, nil)
	limited, err := wasmLimitDepth(bin)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	for _, tc := range []struct {
		name string
		bin  []byte
	}{{"plain", bin}, {"limited", limited}} {
		mod, err := rt.InstantiateWithConfig(ctx, tc.bin, wazero.NewModuleConfig().WithName(tc.name))
		if err != nil {
			b.Fatal(err)
		}
		fib := mod.ExportedFunction("fib")
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if res, err := fib.Call(ctx, 25); err != nil || res[0] != 75025 {
					b.Fatal(res, err)
				}
			}
		})
	}
}
