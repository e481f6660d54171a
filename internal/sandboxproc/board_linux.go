package sandboxproc

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The call board replaces a frame per call (msgStarted) for the CPU watchdog: a small
// shared memory file (memfd) in which the worker process posts, for each call it runs,
// the call's id, the thread running it and that thread's CPU time when the call started.
// The supervisor reads it only when a call has run longer than its CPU limit, so a call
// costs the process two memory writes instead of a write(2) and a wake-up of the
// supervisor. The supervisor maps it read-only and seals its size (a worker process cannot
// shrink it under the supervisor's mapping); what a lying worker can post is only a thread
// id, looked up under that worker's own /proc/PID/task.
//
// A slot is four words: call id (0: free), thread id, CPU time in ns, and the moment
// (CLOCK_MONOTONIC, ns; 0: not yet) the call took its worker's slot — a call may first wait
// behind the worker's other calls, and its wall time, as the engine counts it, starts
// there. The worker writes the thread, CPU time and moment, then the call id; it sets the
// moment later for a call that waits; it clears the call id when the call ends. The
// supervisor reads the call id, then the rest, then the call id again, and trusts the rest
// only if the id did not change.
const (
	boardSlots    = 1024
	boardSlotSize = 32
	boardSize     = boardSlots * boardSlotSize
)

// supBoard is the supervisor's read-only view of one process's board.
type supBoard struct {
	f   *os.File // passed to the process as fd 4
	mem []byte
}

// newBoard makes a sealed memfd of boardSize bytes and maps it read-only.
func newBoard() (*supBoard, error) {
	fd, err := unix.MemfdCreate("isobox-calls", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("sandboxproc: call board: %w", err)
	}
	f := os.NewFile(uintptr(fd), "isobox-calls")
	if err := unix.Ftruncate(fd, boardSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("sandboxproc: call board: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("sandboxproc: call board: seal: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, boardSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sandboxproc: call board: %w", err)
	}
	return &supBoard{f: f, mem: mem}, nil
}

func boardWord(mem []byte, slot, word int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&mem[slot*boardSlotSize+word*8]))
}

// find returns the thread running call id, its CPU time when the call started and the
// moment (monotonic ns, 0: not yet) the call took its worker's slot, when the call is on
// the board.
func (b *supBoard) find(id uint64) (tid int, cpu0 time.Duration, slotAt int64, ok bool) {
	if b == nil || id == 0 {
		return 0, 0, 0, false
	}
	for s := range boardSlots {
		if boardWord(b.mem, s, 0).Load() != id {
			continue
		}
		t, c, at := boardWord(b.mem, s, 1).Load(), boardWord(b.mem, s, 2).Load(), boardWord(b.mem, s, 3).Load()
		if boardWord(b.mem, s, 0).Load() != id || t == 0 || t > 1<<31 || at > 1<<62 {
			return 0, 0, 0, false
		}
		return int(t), time.Duration(c), int64(at), true
	}
	return 0, 0, 0, false
}

// close unmaps the board and closes its file (after the process has exited).
func (b *supBoard) close() {
	if b == nil {
		return
	}
	_ = unix.Munmap(b.mem)
	b.f.Close()
}

// workerBoard is the worker process's writable view of its board.
type workerBoard struct {
	mem  []byte
	mu   sync.Mutex
	free []int
}

// openBoard maps the board the supervisor passed as fd.
func openBoard(fd int) (*workerBoard, error) {
	mem, err := unix.Mmap(fd, 0, boardSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("sandboxproc: call board: %w", err)
	}
	unix.Close(fd)
	b := &workerBoard{mem: mem, free: make([]int, 0, boardSlots)}
	for s := boardSlots - 1; s >= 0; s-- {
		b.free = append(b.free, s)
	}
	return b, nil
}

// post puts call id, running on thread tid whose CPU time is cpu0, on the board and
// returns its slot; false when the board is full (the caller then sends msgStarted). A
// call that may wait for its worker's slot is posted waiting, and its slotTaken follows.
func (b *workerBoard) post(id uint64, tid int, cpu0 time.Duration, waiting bool) (int, bool) {
	if b == nil {
		return 0, false
	}
	b.mu.Lock()
	if len(b.free) == 0 {
		b.mu.Unlock()
		return 0, false
	}
	s := b.free[len(b.free)-1]
	b.free = b.free[:len(b.free)-1]
	b.mu.Unlock()
	boardWord(b.mem, s, 1).Store(uint64(tid))
	boardWord(b.mem, s, 2).Store(uint64(cpu0))
	at := uint64(0)
	if !waiting {
		at = uint64(monoNow())
	}
	boardWord(b.mem, s, 3).Store(at)
	boardWord(b.mem, s, 0).Store(id)
	return s, true
}

// slotTaken notes on slot s that its call has taken its worker's slot (now).
func (b *workerBoard) slotTaken(s int) {
	boardWord(b.mem, s, 3).Store(uint64(monoNow()))
}

// monoNow is CLOCK_MONOTONIC in ns: one clock for the supervisor and its processes.
func monoNow() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

// clear takes slot s (of a call that ended) off the board.
func (b *workerBoard) clear(s int) {
	boardWord(b.mem, s, 0).Store(0)
	b.mu.Lock()
	b.free = append(b.free, s)
	b.mu.Unlock()
}
