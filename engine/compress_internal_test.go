package engine

import (
	"bytes"
	"compress/gzip"
	"io"
	"runtime"
	"testing"
	"time"
)

// A decompressor runs on a goroutine of its own; the CPU time its steps report (which
// codecStep adds to the invocation's) must be the inflating work: at least a third of the
// thread CPU time inflating the same data takes Go here (both thread CPU clocks, so waiting
// for a core counts on neither side; a step that reported nothing fails).
func TestInflaterReportsCPU(t *testing.T) {
	const size = 200 << 20
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(make([]byte, size))
	w.Close()
	runtime.LockOSThread()
	start, ok := threadCPU()
	if !ok {
		runtime.UnlockOSThread()
		t.Skip("no thread CPU clock here")
	}
	r, _ := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	if n, err := io.Copy(io.Discard, r); err != nil || n != size {
		t.Fatalf("go: %d, %v", n, err)
	}
	end, _ := threadCPU()
	runtime.UnlockOSThread()
	inflate := end - start

	inv := &invocation{}
	d := newInflater(inv, "gzip")
	defer inv.hostOps.Wait()
	defer d.close()
	var cpu time.Duration
	got := 0
	out, more, c, err := d.step(buf.Bytes(), false)
	for {
		if err != nil {
			t.Fatal(err)
		}
		cpu += c
		got += len(out)
		if len(out) > codecSlice {
			t.Fatalf("a step handed out %d bytes, more than a slice", len(out))
		}
		if !more {
			break
		}
		out, more, c, err = d.step(nil, false)
	}
	if _, _, c, err = d.step(nil, true); err != nil {
		t.Fatal(err)
	}
	cpu += c
	if got != size {
		t.Fatalf("inflated %d bytes, want %d", got, size)
	}
	if cpu < inflate/3 {
		t.Fatalf("the steps reported %v of CPU; Go inflates the same data in %v", cpu, inflate)
	}
	t.Logf("steps reported %v; Go inflates in %v", cpu, inflate)
}
