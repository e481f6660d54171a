//go:build !linux

package sandboxproc

import (
	"errors"
	"os"
	"time"
)

// Without per-thread CPU clocks there is no call board: the watchdog uses the wall-time
// limit only (see board_linux.go).

type supBoard struct{ f *os.File }

func newBoard() (*supBoard, error) {
	return nil, errors.New("the call board is not available on this system")
}

func (b *supBoard) find(id uint64) (tid int, cpu0 time.Duration, slotAt int64, ok bool) {
	return 0, 0, 0, false
}

func (b *supBoard) close() {}

type workerBoard struct{}

func openBoard(fd int) (*workerBoard, error) {
	return nil, errors.New("the call board is not available on this system")
}

func (b *workerBoard) post(id uint64, tid int, cpu0 time.Duration, waiting bool) (int, bool) {
	return 0, false
}

func (b *workerBoard) slotTaken(s int) {}

func monoNow() int64 { return 0 }

func (b *workerBoard) clear(s int) {}
