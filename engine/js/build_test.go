package js

import (
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
)

// The committed qjs.wasm must be exactly what its checksum file says.
func TestWasmMatchesChecksum(t *testing.T) {
	sum := sha256.Sum256(Wasm())
	want := strings.Fields(checksum)[0]
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("qjs.wasm sha256 %s, qjs.wasm.sha256 says %s: rebuild with engine/js/build/build.sh", got, want)
	}
	if len(BuildID()) != 16 {
		t.Fatalf("BuildID %q is not 16 hex digits", BuildID())
	}
}

// The recipe must reproduce the committed module bit for bit from registry sources. It needs
// Debian's wasm toolchain (see README); .ci/run installs it.
func TestWasmReproduces(t *testing.T) {
	if _, err := exec.LookPath("clang-19"); err != nil {
		t.Fatal("clang-19 not found: apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 (or run bash .ci/run)")
	}
	out, err := exec.Command("bash", "build/build.sh", "--check").CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh --check: %v\n%s", err, out)
	}
}
