package engine

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pagemap reads /proc/self/pagemap: one 64-bit entry per virtual page of the process,
// whose flags say whether the page is present, swapped, shared with a file (the image's
// memfd) and mapped exactly once. Its flags are readable without privileges (only the
// frame numbers are hidden).
type pagemap struct{ fd int }

// Flags of a pagemap entry (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent   = 1 << 63
	pmSwapped   = 1 << 62
	pmFile      = 1 << 61 // file page or shared anonymous page: the image's, not ours
	pmExclusive = 1 << 56 // mapped exactly once
)

func openPagemap() *pagemap {
	fd, err := unix.Open("/proc/self/pagemap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return &pagemap{fd: fd}
}

func (p *pagemap) close() {
	if p != nil {
		unix.Close(p.fd)
	}
}

// privateBytes counts the bytes of b's pages that belong to this process alone: anonymous
// pages it wrote (copies made on write of the image, or fresh pages past it), resident or
// swapped out. Pages of the shared image and the kernel's zero page do not count. ok is
// false when the pagemap cannot be read.
func (p *pagemap) privateBytes(b []byte) (n int, ok bool) {
	if p == nil || len(b) == 0 {
		return 0, p != nil
	}
	const chunk = 512 // entries per read: 4 KiB, 2 MiB of memory
	var buf [chunk * 8]byte
	first := uintptr(unsafe.Pointer(unsafe.SliceData(b))) / osPage
	pages := (len(b) + osPage - 1) / osPage
	for i := 0; i < pages; i += chunk {
		want := min(chunk, pages-i) * 8
		got, err := unix.Pread(p.fd, buf[:want], int64(first+uintptr(i))*8)
		if err != nil || got != want {
			return 0, false
		}
		for j := 0; j < want; j += 8 {
			e := binary.NativeEndian.Uint64(buf[j:])
			if e&pmSwapped != 0 || e&(pmPresent|pmFile|pmExclusive) == pmPresent|pmExclusive {
				n += osPage
			}
		}
	}
	return n, true
}

// Kinds of a page of a sandbox's memory, as pageKinds reports them.
const (
	pageAbsent  = iota // not mapped: reads see the image (or zeros), no memory held
	pagePrivate        // written here (or swapped out): holds memory of its own
	pageShared         // the image's page, mapped because it was read
)

// pageKinds returns the kind of each of b's pages. ok is false when the pagemap cannot be
// read.
func (p *pagemap) pageKinds(b []byte) (kinds []byte, ok bool) {
	if p == nil {
		return nil, false
	}
	const chunk = 512
	var buf [chunk * 8]byte
	first := uintptr(unsafe.Pointer(unsafe.SliceData(b))) / osPage
	pages := len(b) / osPage
	kinds = make([]byte, pages)
	for i := 0; i < pages; i += chunk {
		want := min(chunk, pages-i) * 8
		got, err := unix.Pread(p.fd, buf[:want], int64(first+uintptr(i))*8)
		if err != nil || got != want {
			return nil, false
		}
		for j := 0; j < want; j += 8 {
			switch e := binary.NativeEndian.Uint64(buf[j:]); {
			case e&pmSwapped != 0 || e&(pmPresent|pmFile) == pmPresent:
				kinds[i+j/8] = pagePrivate
			case e&pmPresent != 0:
				kinds[i+j/8] = pageShared
			}
		}
	}
	return kinds, true
}
