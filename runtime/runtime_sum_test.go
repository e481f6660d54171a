package runtime_test

import (
	"crypto/sha256"
	"testing"

	"github.com/isobox/isobox/runtime"
)

// The runtime's cached bytecode is keyed by SourceSum: it must be the hash of exactly the
// text that gets compiled, or a stale bytecode would run after the runtime changed. (An
// external test: an internal one made the package's test binary compile the engine, the
// loader and enginetest again, for a test that needs neither.)
func TestSourceSumIsSourceHash(t *testing.T) {
	if got, want := runtime.SourceSum(), sha256.Sum256([]byte(runtime.Source())); got != want {
		t.Fatalf("SourceSum() = %x, want sha256(Source()) = %x", got, want)
	}
}
