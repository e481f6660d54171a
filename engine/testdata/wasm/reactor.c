// reactor.wasm: a WASI reactor worker for engine/wasmworker_test.go: its exports are RPC
// methods, and its globals live as long as its sandbox.
#include <stdint.h>

static int32_t count;

__attribute__((export_name("add"))) int32_t add(int32_t a, int32_t b) { return a + b; }
__attribute__((export_name("mul64"))) int64_t mul64(int64_t a, int64_t b) { return a * b; }
__attribute__((export_name("half"))) double half(double x) { return x / 2; }
__attribute__((export_name("incr"))) int32_t incr(void) { return ++count; }
__attribute__((export_name("spin"))) void spin(void) {
	for (volatile int i = 0;; i++) {
	}
}
