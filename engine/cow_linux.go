package engine

import (
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
