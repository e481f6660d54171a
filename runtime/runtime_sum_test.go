package runtime

import (
	"crypto/sha256"
	"testing"
)

// The runtime's cached bytecode is keyed by SourceSum: it must be the hash of exactly the
// text that gets compiled, or a stale bytecode would run after the runtime changed.
func TestSourceSumIsSourceHash(t *testing.T) {
	if got, want := SourceSum(), sha256.Sum256([]byte(Source())); got != want {
		t.Fatalf("SourceSum() = %x, want sha256(Source()) = %x", got, want)
	}
}
