package engine

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cowFile holds a memory image in a sealed memfd. Every sandbox restored from the image maps
// it privately: pages are shared until a sandbox writes one, which then gets its own copy.
type cowFile struct {
	fd   int
	size int
}

func newCOWFile(data []byte) *cowFile {
	fd, err := unix.MemfdCreate("isobox-image", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil
	}
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(fd, data[off:], int64(off))
		if err != nil {
			unix.Close(fd)
			return nil
		}
		off += n
	}
	// The image never changes: seal it so no mapping can write through to it.
	_, _ = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL)
	return &cowFile{fd: fd, size: len(data)}
}

func (c *cowFile) close() { unix.Close(c.fd) }

// mapInto maps the image copy-on-write over the start of a reserved region.
func (c *cowFile) mapInto(region []byte) bool {
	if cap(region) < c.size {
		return false
	}
	_, err := unix.MmapPtr(c.fd, 0, unsafe.Pointer(unsafe.SliceData(region[:1])), uintptr(c.size),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
	return err == nil
}

// discard gives the pages of b back to the OS: the next touch sees the image again (a
// copy-on-write mapping) or zeros. Used on the dead part of the stack between calls.
func discard(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
}

// zeroPages discards b's pages, which then read as zeros (an anonymous mapping) or as the
// image (a copy-on-write one); false when the OS refused.
func zeroPages(b []byte) bool {
	return len(b) == 0 || unix.Madvise(b, unix.MADV_DONTNEED) == nil
}

// forkFile holds pages of a sandbox's memory as they were when it was forked, packed, in a
// sealed memfd. The parent and the child map them privately (see limitedMemory.layers), so
// the child gets no copy of them: each side copies a page only when it writes it, and
// neither sees the other's writes. Each layer that maps it holds a reference; the file
// descriptor is closed with the last (the kernel keeps the pages while a mapping exists).
type forkFile struct {
	fd   int
	refs atomic.Int32
}

// newForkFile writes the runs of mem's pages into a new memfd, packed in run order, with
// one reference for the caller. It returns the runs as layers. nil when the OS refuses.
func newForkFile(mem []byte, runs []pageRun) (*forkFile, []layer) {
	fd, err := unix.MemfdCreate("isobox-fork", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, nil
	}
	f := &forkFile{fd: fd}
	f.refs.Store(1)
	layers := make([]layer, 0, len(runs))
	pos := 0
	for _, r := range runs {
		src := mem[r.off : r.off+r.n]
		for done := 0; done < len(src); {
			n, err := unix.Pwrite(fd, src[done:], int64(pos+done))
			if err != nil || n == 0 {
				unix.Close(fd)
				return nil, nil
			}
			done += n
		}
		layers = append(layers, layer{f: f, memOff: r.off, fileOff: pos, n: r.n})
		pos += r.n
	}
	// The state never changes: seal it, so nothing can write through to the mappings.
	_, _ = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL)
	return f, layers
}

// newLiveFile maps a new memfd shared over region (a reservation's part past the memory's
// end, which holds nothing yet), with one reference for the caller. nil, true when the OS
// refuses (region is unchanged); nil, false when the mapping failed and region could not
// be made anonymous again: the memory must not be used.
func newLiveFile(region []byte) (*forkFile, bool) {
	fd, err := unix.MemfdCreate("isobox-live", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, true
	}
	if err := unix.Ftruncate(fd, int64(len(region))); err != nil {
		unix.Close(fd)
		return nil, true
	}
	addr := unsafe.Pointer(unsafe.SliceData(region))
	if _, err := unix.MmapPtr(fd, 0, addr, uintptr(len(region)),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED|mapNoReserve); err != nil {
		unix.Close(fd)
		// A failed MAP_FIXED may have unmapped the range: map it anonymous again.
		_, err = unix.MmapPtr(-1, 0, addr, uintptr(len(region)),
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_FIXED|mapNoReserve)
		return nil, err == nil
	}
	f := &forkFile{fd: fd}
	f.refs.Store(1)
	return f, true
}

// dataRuns returns the runs of the file's pages in [off, end) that hold data (lseek
// SEEK_DATA and SEEK_HOLE: pages in memory or swapped out); the rest are holes. All of
// [off, end) when the file cannot say.
func (f *forkFile) dataRuns(off, end int) []pageRun {
	var runs []pageRun
	for off < end {
		d, err := unix.Seek(f.fd, int64(off), unix.SEEK_DATA)
		if err == unix.ENXIO || err == nil && int(d) >= end {
			break
		}
		if err != nil {
			return []pageRun{{off, end - off}}
		}
		h, err := unix.Seek(f.fd, d, unix.SEEK_HOLE)
		if err != nil {
			return []pageRun{{off, end - off}}
		}
		d, h = d&^(osPage-1), min((h+osPage-1)&^(osPage-1), int64(end))
		runs = append(runs, pageRun{int(d), int(h - d)})
		off = int(h)
	}
	return runs
}

func (f *forkFile) acquire() { f.refs.Add(1) }

// release drops a reference; the last closes the file.
func (f *forkFile) release() {
	if f.refs.Add(-1) == 0 {
		unix.Close(f.fd)
	}
}

// readPage reads the page at off of the file into b (one page); false if it cannot.
func (f *forkFile) readPage(b []byte, off int) bool {
	n, err := unix.Pread(f.fd, b[:osPage], int64(off))
	return err == nil && n == osPage
}

// mapLayer maps l copy-on-write over its place in a reserved region, replacing what was
// mapped there.
func mapLayer(region []byte, l layer) bool {
	if l.memOff+l.n > cap(region) || l.n == 0 {
		return false
	}
	_, err := unix.MmapPtr(l.f.fd, int64(l.fileOff), unsafe.Pointer(unsafe.SliceData(region[l.memOff:l.memOff+1])), uintptr(l.n),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
	return err == nil
}

// privateRuns returns the runs of b's pages that belong to this process alone (written
// since they were mapped: anonymous, resident or swapped out), merged across the smallest
// gaps so that there are at most max runs. ok is false when the pagemap cannot be read.
func (p *pagemap) privateRuns(b []byte, max int) (runs []pageRun, ok bool) {
	if p == nil {
		return nil, false
	}
	first := uintptr(unsafe.Pointer(unsafe.SliceData(b))) / osPage
	pages := len(b) / osPage
	raw := make([]byte, pages*8)
	for got := 0; got < len(raw); {
		n, err := unix.Pread(p.fd, raw[got:], int64(first)*8+int64(got))
		if err != nil || n <= 0 {
			return nil, false
		}
		got += n
	}
	for i := 0; i < pages; i++ {
		e := binary.NativeEndian.Uint64(raw[i*8:])
		if !(e&pmSwapped != 0 || e&(pmPresent|pmFile|pmExclusive) == pmPresent|pmExclusive) {
			continue
		}
		if k := len(runs) - 1; k >= 0 && runs[k].off+runs[k].n == i*osPage {
			runs[k].n += osPage
		} else {
			runs = append(runs, pageRun{off: i * osPage, n: osPage})
		}
	}
	return mergeRuns(runs, max), true
}
