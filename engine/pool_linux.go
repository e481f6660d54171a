package engine

import "golang.org/x/sys/unix"

// populate copies the pages of runs (offsets in m's reservation) into m's own memory now (MADV_POPULATE_WRITE: a write
// fault taken for each page, content unchanged), so the guest's first writes to them do
// not fault. A memory that is not a mapping, or a kernel without the advice (before 5.14),
// is left as it is: the pages are then copied on the guest's writes, as without a pool.
func populate(m *limitedMemory, runs []pageRun) {
	if m.release == nil {
		return
	}
	for _, r := range runs {
		if r.off+r.n > cap(m.buf) {
			return
		}
		// Past len(m.buf) is the reservation's untouched rest: zero pages, as a growth of
		// the memory must find them, whether populated or not.
		if unix.Madvise(m.buf[r.off:r.off+r.n:cap(m.buf)], unix.MADV_POPULATE_WRITE) != nil {
			return
		}
	}
}
