//go:build !linux

package engine

// cowFile is Linux-only (memfd); elsewhere images are copied into each sandbox.
type cowFile struct{ size int }

func newCOWFile(data []byte) *cowFile { return nil }

func (c *cowFile) close() {}

func (c *cowFile) mapInto(region []byte) bool { return false }

func discard(b []byte) {}

func zeroPages(b []byte) bool { return false }

// forkFile is Linux-only; elsewhere Fork copies the parent's changed pages into the child.
type forkFile struct{}

func newForkFile(mem []byte, runs []pageRun) (*forkFile, []layer)  { return nil, nil }
func (f *forkFile) acquire()                                       {}
func (f *forkFile) release()                                       {}
func (f *forkFile) readPage(b []byte, off int) bool                { return false }
func newLiveFile(region []byte) (*forkFile, bool)                  { return nil, true }
func (f *forkFile) dataRuns(off, end int) []pageRun                { return []pageRun{{off, end - off}} }
func mapLayer(region []byte, l layer) bool                         { return false }
func (p *pagemap) privateRuns(b []byte, max int) ([]pageRun, bool) { return nil, false }
