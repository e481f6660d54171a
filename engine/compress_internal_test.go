package engine

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io"
	"runtime"
	"testing"
	"time"
)

// GzipZeros is one gzip member holding n zeros (n a multiple of 1 MiB), made without
// compressing n bytes, which under -race takes Go's compressor ~10 s per 100 MiB on one
// core: one MiB of zeros deflated and flushed (whole non-final blocks, byte-aligned, whose
// matches reach back no further than their own first byte), repeated n/1 MiB times, then
// an empty final block and the trailer. TestGzipZeros checks it against compress/gzip.
func GzipZeros(n int) []byte {
	const chunk = 1 << 20
	var blocks bytes.Buffer
	fw, _ := flate.NewWriter(&blocks, flate.BestCompression)
	fw.Write(make([]byte, chunk))
	fw.Flush()
	out := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff} // gzip, deflate, no flags or time
	for range n / chunk {
		out = append(out, blocks.Bytes()...)
	}
	out = append(out, 0x03, 0x00) // final block, fixed codes: end of block only
	crc := uint32(0)
	for range n / chunk {
		crc = crc32.Update(crc, crc32.IEEETable, make([]byte, chunk))
	}
	out = binary.LittleEndian.AppendUint32(out, crc)
	return binary.LittleEndian.AppendUint32(out, uint32(n))
}

func TestGzipZeros(t *testing.T) {
	const n = 3 << 20
	in := bytes.NewReader(GzipZeros(n))
	r, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	r.Multistream(false) // one member, and nothing after it
	got, err := io.ReadAll(r)
	if err != nil || len(got) != n || !bytes.Equal(got, make([]byte, n)) || in.Len() != 0 {
		t.Fatalf("%d bytes (all zero: %v), %d bytes left, %v", len(got), bytes.Equal(got, make([]byte, n)), in.Len(), err)
	}
}

// A decompressor runs on a goroutine of its own; the CPU time its steps report (which
// codecStep adds to the invocation's) must be the inflating work: at least a third of the
// thread CPU time inflating the same data takes Go here (both thread CPU clocks, so waiting
// for a core counts on neither side; a step that reported nothing fails).
func TestInflaterReportsCPU(t *testing.T) {
	const size = 200 << 20
	buf := bytes.NewBuffer(GzipZeros(size))
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
