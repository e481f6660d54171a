package engine_test

import (
	"runtime"

	"github.com/isobox/isobox/engine"
	"testing"
)

// ResidentBytes counts the pages a sandbox wrote, not its linear memory: a new sandbox
// shares almost everything with the base image, memory the guest fills counts in full,
// trimming lowers it, and it never falls below what a snapshot must store (every page that
// differs from the image was written).
func TestResidentBytes(t *testing.T) {
	sb := newSandbox(t, engine.SandboxConfig{})
	fresh := sb.ResidentBytes()
	if runtime.GOOS == "linux" && fresh > sb.MemoryBytes()/4 {
		t.Fatalf("a new sandbox holds %d KiB of its %d KiB on its own", fresh>>10, sb.MemoryBytes()>>10)
	}
	mustEval(t, sb, "globalThis.big = new Uint8Array(8 << 20).fill(1); big.length", "8388608")
	filled := sb.ResidentBytes()
	if filled < fresh+8<<20 {
		t.Fatalf("after filling 8 MiB: %d KiB resident, %d KiB before", filled>>10, fresh>>10)
	}
	mustEval(t, sb, "let s = 0; for (let i = 0; i < 1000; i++) s += String(i).length; s", "2890")
	before := sb.ResidentBytes()
	sb.Trim()
	trimmed := sb.ResidentBytes()
	if runtime.GOOS == "linux" && trimmed >= before {
		t.Fatalf("trim: %d KiB resident, %d KiB before", trimmed>>10, before>>10)
	}
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if trimmed < img.Size() || trimmed < 8<<20 {
		t.Fatalf("after trim %d KiB resident, but the snapshot holds %d KiB of changed pages", trimmed>>10, img.Size()>>10)
	}
}
