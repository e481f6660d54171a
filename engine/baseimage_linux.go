package engine

import (
	"golang.org/x/sys/unix"
)

// loadBaseImage maps the base image kept at path: its memory is a read-only private mapping
// of the file (shared with the page cache, so a process reads only what its sandboxes
// touch), and sandboxes map the same file copy-on-write (cowFile). ok is false when the file
// is missing or damaged. The mapping is kept for the process's life: snapshots taken from
// the engine read the base image's pages (Image.Marshal), and may outlive it.
func loadBaseImage(path string) (img *image, dead span, ok bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, dead, false
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size <= baseImageTrailer || st.Size > 1<<32 {
		unix.Close(fd)
		return nil, dead, false
	}
	file, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		unix.Close(fd)
		return nil, dead, false
	}
	n, sum, dead, ok := checkBaseImage(file)
	if !ok {
		_ = unix.Munmap(file)
		unix.Close(fd)
		return nil, dead, false
	}
	return &image{data: file[:n:n], sum: sum, cow: &cowFile{fd: fd, size: n}}, dead, true
}
