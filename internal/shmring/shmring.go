// Package shmring is a byte stream between two processes through shared memory: two
// single-producer, single-consumer rings in one memfd that both processes map, a reader
// that spins briefly before it sleeps on a futex, and a writer that wakes it only when it
// sleeps. A call that crosses a sandbox process's boundary and back then costs no system
// call while both sides are busy, where a socket costs a write, a read and the wake-ups
// between them (~4.5 µs each on the PVM guests this project runs on; RATIONALE, "The
// boundary through shared memory").
//
// The peer is not trusted: it can write anything into the mapping at any time. A side
// keeps its own positions (the producer its tail, the consumer its head) and reads only
// the peer's, checks it (a ring never holds more than its size), and copies data out
// before it is parsed. A position out of bounds ends the stream with ErrCorrupt. What the
// peer can still do is what it could do with a socket: stop reading or writing, or wake
// the other side for nothing.
//
//	a, f, _ := shmring.New(256 << 10) // the creator: side A; pass f to the child
//	b, _ := shmring.Open(f)           // the child: side B
//	a.Write([]byte("hi"))             // b.Read returns it
package shmring

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ErrCorrupt is returned when the peer left a position no ring can hold: the stream ends.
var ErrCorrupt = errors.New("shmring: the peer corrupted the ring")

// Layout of one ring: its control words on cache lines of their own, then the data.
const (
	offTail     = 0   // u64: bytes written so far (the producer's)
	offHead     = 64  // u64: bytes read so far (the consumer's)
	offDataWait = 128 // u32: 1 while the consumer sleeps (or is about to) on it
	offRoomWait = 192 // u32: 1 while the producer sleeps (or is about to) on it
	ringHeader  = 256
)

// maxBells is how many bell bytes may wait at once: more is a peer flooding the bell.
const maxBells = 16

// Values of a wait word.
const (
	awake    = 0
	sleeping = 1
	closing  = 2 // written by Close on its own side's words: a waiter does not sleep again
)

// backstop bounds one futex sleep: a wake-up lost to a peer that rewrote a wait word, or to
// Close racing a waiter, costs at most this.
const backstop = 50 * time.Millisecond

// DefaultSpin is how long a side that finds nothing to read (or no room to write) checks
// again before it sleeps: longer than a short call's round trip (a hello ~30 µs, the
// workerd anchor's dyn call ~150 µs on the machines measured), so a caller that waits for
// such an answer never sleeps. Zero on one CPU, where the peer cannot run while this side
// spins.
func DefaultSpin() time.Duration {
	if runtime.NumCPU() < 2 {
		return 0
	}
	return 200 * time.Microsecond
}

// Conn is one side of the stream: it reads one ring and writes the other. Read is for one
// goroutine at a time, Write for one at a time (each may run beside the other); Close may
// be called from any goroutine, any number of times.
type Conn struct {
	mem  []byte // the whole mapping: the two rings
	in   ring   // what this side reads
	out  ring   // what this side writes
	spin time.Duration
	file *os.File // the memfd, kept open for the creator to pass on (nil after Open)

	head uint64 // of in: this side's own count of bytes read (the reader's)
	tail uint64 // of out: this side's own count of bytes written (the writer's)

	mu         sync.RWMutex // held shared by each Read and Write, exclusively by the unmap
	closed     atomic.Bool
	readClosed atomic.Bool
	once       sync.Once
	readSpin   func() time.Duration // SetReadSpin; nil: spin
	readBell   io.Reader            // SetReadBell; nil: the futex
	wakeBell   io.Writer            // SetWakeBell; nil: the futex
}

// ring is one direction's view of the mapping.
type ring struct {
	tail     *uint64
	head     *uint64
	dataWait *uint32
	roomWait *uint32
	data     []byte
}

func newRing(b []byte) ring {
	return ring{
		tail:     (*uint64)(unsafe.Pointer(&b[offTail])),
		head:     (*uint64)(unsafe.Pointer(&b[offHead])),
		dataWait: (*uint32)(unsafe.Pointer(&b[offDataWait])),
		roomWait: (*uint32)(unsafe.Pointer(&b[offRoomWait])),
		data:     b[ringHeader:],
	}
}

// New makes a pair of rings of size bytes each (a power of two, at least 4 KiB) in a new
// memfd and returns side A of it, and the file for side B's process (Open with its copy).
//
// # Errors
//
// When size is not a power of two of at least 4 KiB, or the memfd cannot be made or mapped.
func New(size int) (*Conn, *os.File, error) {
	if size < 4<<10 || size&(size-1) != 0 || size > 1<<30 {
		return nil, nil, fmt.Errorf("shmring: ring size %d is not a power of two between 4 KiB and 1 GiB", size)
	}
	f, err := memfd(2 * (ringHeader + size))
	if err != nil {
		return nil, nil, err
	}
	c, err := open(f, true)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	c.file = f
	return c, f, nil
}

// Open maps the rings in f (a file New made, inherited by this process) and returns side B.
// f may be closed afterwards.
//
// # Errors
//
// When f is not a pair of rings: its size is not two rings of a power-of-two size.
func Open(f *os.File) (*Conn, error) {
	return open(f, false)
}

func open(f *os.File, sideA bool) (*Conn, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("shmring: %w", err)
	}
	total := st.Size()
	size := total/2 - ringHeader
	if total%2 != 0 || size < 4<<10 || size&(size-1) != 0 || size > 1<<30 {
		return nil, fmt.Errorf("shmring: a file of %d bytes is not a pair of rings", total)
	}
	mem, err := mapShared(f, int(total))
	if err != nil {
		return nil, err
	}
	half := int(total / 2)
	a2b, b2a := newRing(mem[:half]), newRing(mem[half:])
	c := &Conn{mem: mem, spin: DefaultSpin()}
	if sideA {
		c.in, c.out = b2a, a2b
	} else {
		c.in, c.out = a2b, b2a
	}
	// Side B starts where the rings are (a new memfd is zero; Open is called before any
	// byte is written, but a stream may have been started on: take the peer's word for
	// the starting point only here, checked like every other position).
	c.head = atomic.LoadUint64(c.in.head)
	c.tail = atomic.LoadUint64(c.out.tail)
	if atomic.LoadUint64(c.in.tail)-c.head > uint64(len(c.in.data)) || c.tail-atomic.LoadUint64(c.out.head) > uint64(len(c.out.data)) {
		unmap(mem)
		return nil, ErrCorrupt
	}
	return c, nil
}

// SetSpin sets how long this side checks again before it sleeps (DefaultSpin; 0: never
// spins). Call it before the first Read or Write.
func (c *Conn) SetSpin(d time.Duration) { c.spin = max(d, 0) }

// SetReadBell makes Read sleep by reading a byte from r (a socket the peer holds the other
// end of) instead of on a futex: a process that waits in the Go runtime's network poller
// wakes cheaply when its cores are busy, where a thread woken from a futex must wait for a
// processor (RATIONALE, "The boundary through shared memory"). r's end (EOF: the peer died
// or closed its writing) ends the reading once the ring is empty. The peer must call
// SetWakeBell with its end. Call it before the first Read.
func (c *Conn) SetReadBell(r io.Reader) { c.readBell = r }

// SetWakeBell makes Write wake the peer's sleeping reader by writing a byte to w, its
// read bell (SetReadBell), instead of through the futex. Call it before the first Write.
func (c *Conn) SetWakeBell(w io.Writer) { c.wakeBell = w }

// Spin is how long this side spins (SetSpin).
func (c *Conn) Spin() time.Duration { return c.spin }

// SetReadSpin makes f decide how long Read spins on an empty ring, asked when the wait
// starts and again as it spins (0: sleep now). A side knows when an answer is near: a
// worker process does not spin while it runs a call (its reader would take a core from
// the call, and nothing is due but a cancellation); the supervisor spins long while calls
// are in flight and briefly otherwise. Call it before the first Read; f must be cheap.
func (c *Conn) SetReadSpin(f func() time.Duration) { c.readSpin = f }

// File is the memfd the rings live in, for the creator to pass to the peer's process
// (nil on side B). It stays open until Close.
func (c *Conn) File() *os.File { return c.file }

// Read reads what is in the ring, at least one byte, waiting for some when it is empty.
//
// # Errors
//
// io.EOF after Close; ErrCorrupt when the peer left a position out of bounds.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	r := &c.in
	size := uint64(len(r.data))
	var avail uint64
	err := c.wait(r.dataWait, func() (bool, error) {
		avail = atomic.LoadUint64(r.tail) - c.head
		if avail > size {
			return false, ErrCorrupt
		}
		if avail == 0 && c.readClosed.Load() {
			return false, io.EOF
		}
		return avail > 0, nil
	})
	if err != nil {
		return 0, err
	}
	n := copyOut(p[:min(uint64(len(p)), avail)], r.data, c.head)
	c.head += uint64(n)
	atomic.StoreUint64(r.head, c.head)
	c.wake(r.roomWait)
	return n, nil
}

// Write writes all of p, waiting for room in the ring as the peer reads.
//
// # Errors
//
// io.ErrClosedPipe after Close; ErrCorrupt when the peer left a position out of bounds.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r := &c.out
	size := uint64(len(r.data))
	done := 0
	for done < len(p) {
		var room uint64
		err := c.wait(r.roomWait, func() (bool, error) {
			used := c.tail - atomic.LoadUint64(r.head)
			if used > size {
				return false, ErrCorrupt
			}
			room = size - used
			return room > 0, nil
		})
		if errors.Is(err, io.EOF) {
			err = io.ErrClosedPipe
		}
		if err != nil {
			return done, err
		}
		n := copyIn(r.data, c.tail, p[done:done+int(min(room, uint64(len(p)-done)))])
		c.tail += uint64(n)
		atomic.StoreUint64(r.tail, c.tail)
		if err := c.wakeReader(); err != nil {
			return done + n, err
		}
		done += n
	}
	return done, nil
}

// wait returns when ready reports true: at once, after spinning, or after sleeping on word
// (the futex the peer wakes when it changes what ready reads).
func (c *Conn) wait(word *uint32, ready func() (bool, error)) error {
	spin := func() time.Duration { return c.spin }
	if word == c.in.dataWait && c.readSpin != nil && c.spin > 0 {
		spin = c.readSpin
	}
	var start time.Time
	for i := 0; ; i++ {
		if c.closed.Load() {
			return io.EOF
		}
		ok, err := ready()
		if err != nil || ok {
			return err
		}
		if c.spin > 0 {
			if i == 0 {
				start = time.Now()
			}
			if i&63 != 0 || time.Since(start) < spin() {
				// Gosched, not a busy loop or the processor's PAUSE: on the PVM guests
				// measured, both slowed the call on the other core 2.5-5x (RATIONALE).
				runtime.Gosched()
				continue
			}
		}
		// Say it sleeps, then look again: the peer stores its position before it reads
		// the word, this side the word before the position, so one of them sees the other.
		if !atomic.CompareAndSwapUint32(word, awake, sleeping) && atomic.LoadUint32(word) != sleeping {
			return io.EOF // closing
		}
		ok, err = ready()
		if err != nil || ok {
			atomic.CompareAndSwapUint32(word, sleeping, awake)
			return err
		}
		if word == c.in.dataWait && c.readBell != nil {
			// The peer writes a byte to the bell when it sees this side asleep; its end
			// (the peer gone, or done writing) ends the reading once the ring is empty.
			// A sleep takes one ring, and a ring that raced a wake-up at most one more:
			// a peer that sends more is flooding this side with wake-ups (a system call
			// each, with a one-byte read), and the stream ends.
			var b [64]byte
			if n, err := c.readBell.Read(b[:]); errors.Is(err, os.ErrDeadlineExceeded) {
				// Nudged (a deadline in the past): clear it and ask the policy again.
				if d, ok := c.readBell.(deadliner); ok {
					_ = d.SetReadDeadline(time.Time{})
				}
			} else if err != nil {
				c.readClosed.Store(true)
			} else if n > maxBells {
				return ErrCorrupt
			}
		} else {
			futexWait(word, sleeping, backstop)
		}
		atomic.CompareAndSwapUint32(word, sleeping, awake)
		i = -1 // spin again: the wake-up usually means more is on its way
	}
}

// Nudge wakes this side's reader if it sleeps, so that it asks its spin policy again
// (SetReadSpin): a worker process whose call ends, after which the next request is near,
// or a supervisor that just sent the only call in flight, whose answer is near. A reader
// that sleeps on a read bell is woken by a read deadline in the past, which needs the
// bell to have SetReadDeadline (a net.Conn or an *os.File of a socket); without it Nudge
// does nothing to that reader.
func (c *Conn) Nudge() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return
	}
	if c.readBell == nil {
		c.wake(c.in.dataWait)
		return
	}
	w := c.in.dataWait
	if d, ok := c.readBell.(deadliner); ok && atomic.LoadUint32(w) == sleeping && atomic.CompareAndSwapUint32(w, sleeping, awake) {
		// The peer, seeing the word awake, rings no bell: this deadline is the wake-up.
		_ = d.SetReadDeadline(time.Unix(1, 0))
	}
}

// deadliner is a read bell that a Nudge can interrupt.
type deadliner interface{ SetReadDeadline(time.Time) error }

// wakeReader wakes the peer's reader if it sleeps (or is about to): through the bell
// (SetWakeBell) or the futex.
func (c *Conn) wakeReader() error {
	w := c.out.dataWait
	if c.wakeBell == nil {
		c.wake(w)
		return nil
	}
	if atomic.LoadUint32(w) == sleeping && atomic.CompareAndSwapUint32(w, sleeping, awake) {
		if _, err := c.wakeBell.Write([]byte{1}); err != nil {
			return fmt.Errorf("shmring: ring the bell: %w", err)
		}
	}
	return nil
}

// wake wakes the peer if it sleeps (or is about to) on word.
func (c *Conn) wake(word *uint32) {
	if atomic.LoadUint32(word) == sleeping && atomic.CompareAndSwapUint32(word, sleeping, awake) {
		futexWake(word)
	}
}

// CloseRead ends this side's reading: Read returns io.EOF (at once, or when it wakes),
// while Write goes on. A process whose peer said it sends no more (by closing the write
// half of their other connection) calls it, and can still answer what it has read.
func (c *Conn) CloseRead() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() || c.readClosed.Swap(true) {
		return nil
	}
	atomic.StoreUint32(c.in.dataWait, closing)
	futexWake(c.in.dataWait)
	return nil
}

// Close ends this side: its Read returns io.EOF and its Write io.ErrClosedPipe, waiters
// wake, and the mapping is released once no Read or Write is in progress. The peer sees
// nothing of it; a process that dies closes its other connection to say so.
func (c *Conn) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		for _, w := range []*uint32{c.in.dataWait, c.out.roomWait} {
			atomic.StoreUint32(w, closing)
			futexWake(w)
		}
		go func() {
			c.mu.Lock() // the last Read or Write returns within the backstop
			unmap(c.mem)
			c.mem = nil
			c.mu.Unlock()
			if c.file != nil {
				c.file.Close()
			}
		}()
	})
	return nil
}

// copyOut copies from the ring data at position pos into p, across the end.
func copyOut(p, data []byte, pos uint64) int {
	i := int(pos & uint64(len(data)-1))
	n := copy(p, data[i:])
	if n < len(p) {
		n += copy(p[n:], data)
	}
	return n
}

// copyIn copies p into the ring data at position pos, across the end.
func copyIn(data []byte, pos uint64, p []byte) int {
	i := int(pos & uint64(len(data)-1))
	n := copy(data[i:], p)
	if n < len(p) {
		n += copy(data, p[n:])
	}
	return n
}
