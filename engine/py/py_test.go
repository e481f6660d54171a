package py

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"testing"
)

// The committed python.wasm and python313.zip must be exactly what python.sha256 says.
func TestArtifactsMatchChecksums(t *testing.T) {
	zip, err := fs.ReadFile(Stdlib(), StdlibName)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"python.wasm", Wasm()}, {StdlibName, zip}} {
		sum := sha256.Sum256(c.data)
		want := Checksum(c.name)
		if want == "" {
			t.Fatalf("python.sha256 has no line for %s", c.name)
		}
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s sha256 %s, python.sha256 says %s: rebuild with engine/py/build/build.sh", c.name, got, want)
		}
	}
	if len(BuildID()) != 16 {
		t.Fatalf("BuildID %q is not 16 hex digits", BuildID())
	}
}

// A new standard library zip with the same module is a new build: an image made with the
// old zip holds zipimport's offsets into it ("bad local file header" with the new one).
func TestBuildIDCoversTheStdlib(t *testing.T) {
	w, z := Checksum("python.wasm"), Checksum(StdlibName)
	if BuildID() != buildID(w, z) || buildID(w, z) == buildID(w, z[1:]+"0") || buildID(w, z) == buildID(w[1:]+"0", z) {
		t.Fatalf("BuildID does not depend on both checksums")
	}
}

// The sandbox's file system holds the standard library and nothing else.
func TestStdlibFSHoldsOnlyTheZip(t *testing.T) {
	entries, err := fs.ReadDir(Stdlib(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != StdlibName {
		t.Fatalf("stdlib fs holds %v, want only %s", entries, StdlibName)
	}
}
