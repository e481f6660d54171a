//go:build linux

package shmring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// pair makes both sides of a ring pair of size bytes in this process: side B maps the
// memfd a second time, as the peer's process does.
func pair(t *testing.T, size int, spin time.Duration) (a, b *Conn) {
	t.Helper()
	a, f, err := New(size)
	if err != nil {
		t.Fatal(err)
	}
	b, err = Open(f)
	if err != nil {
		t.Fatal(err)
	}
	a.SetSpin(spin)
	b.SetSpin(spin)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// The stream carries every byte in order, in writes smaller and larger than the ring,
// across its end, spinning or not.
func TestStreamCarriesEveryByte(t *testing.T) {
	for _, tt := range []struct {
		name string
		size int
		spin time.Duration
	}{
		{"4 KiB ring, sleeping", 4 << 10, 0},
		{"4 KiB ring, spinning", 4 << 10, 50 * time.Microsecond},
		{"64 KiB ring, spinning", 64 << 10, DefaultSpin()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := pair(t, tt.size, tt.spin)
			rng := rand.New(rand.NewPCG(1, 2))
			var want bytes.Buffer
			var writes [][]byte
			for range 200 {
				p := make([]byte, rng.IntN(3*tt.size))
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				writes = append(writes, p)
				want.Write(p)
			}
			errc := make(chan error, 1)
			go func() {
				for _, p := range writes {
					if n, err := a.Write(p); err != nil || n != len(p) {
						errc <- errors.Join(err, io.ErrShortWrite)
						return
					}
				}
				errc <- nil
			}()
			got := make([]byte, want.Len())
			if _, err := io.ReadFull(b, got); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatal("the bytes read differ from the bytes written")
			}
			// And back the other way.
			go func() { _, err := b.Write([]byte("answer")); errc <- err }()
			buf := make([]byte, 6)
			if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "answer" {
				t.Fatalf("the other direction: %q, %v", buf, err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Close wakes a Read waiting on an empty ring and a Write waiting on a full one.
func TestCloseWakesWaiters(t *testing.T) {
	_, b := pair(t, 4<<10, 0)
	readErr := make(chan error, 1)
	go func() { _, err := b.Read(make([]byte, 1)); readErr <- err }()
	writeErr := make(chan error, 1)
	go func() { _, err := b.Write(make([]byte, 64<<10)); writeErr <- err }() // a does not read it
	time.Sleep(20 * time.Millisecond)
	b.Close()
	for name, c := range map[string]chan error{"read": readErr, "write": writeErr} {
		if err := within(t, c, name+" after Close"); err == nil {
			t.Errorf("%s after Close: no error", name)
		}
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Write after Close: %v, want io.ErrClosedPipe", err)
	}
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("Read after Close: %v, want io.EOF", err)
	}
}

// CloseRead ends the reading once what was written is read, and the writing goes on.
func TestCloseReadDrainsFirst(t *testing.T) {
	a, b := pair(t, 4<<10, 0)
	if _, err := a.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	b.CloseRead()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "last words" {
		t.Fatalf("read after CloseRead: %q, %v", got, err)
	}
	if _, err := b.Write([]byte("still")); err != nil {
		t.Fatalf("write after CloseRead: %v", err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "still" {
		t.Fatalf("the peer reads %q, %v", buf, err)
	}
}

// A peer that writes positions no ring can hold ends the stream with ErrCorrupt: the side
// that reads neither reads outside the ring nor waits, and the side that writes does not
// write outside it.
func TestHostilePositions(t *testing.T) {
	for _, tt := range []struct {
		name   string
		poison func(b *Conn) // what the hostile side B does to the shared words
		probe  func(a *Conn) error
	}{
		{"tail far past the head", func(b *Conn) { atomic.StoreUint64(b.out.tail, 1<<40) },
			func(a *Conn) error { _, err := a.Read(make([]byte, 10)); return err }},
		{"tail behind the head", func(b *Conn) { atomic.StoreUint64(b.out.tail, ^uint64(0)) },
			func(a *Conn) error { _, err := a.Read(make([]byte, 10)); return err }},
		{"head past the tail", func(b *Conn) { atomic.StoreUint64(b.in.head, 12345) },
			func(a *Conn) error { _, err := a.Write([]byte("x")); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := pair(t, 4<<10, 0)
			tt.poison(b)
			wantCorrupt(t, func() error { return tt.probe(a) })
		})
	}
}

// wantCorrupt runs probe and checks that it ends with ErrCorrupt, and soon.
func wantCorrupt(t *testing.T, probe func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- probe() }()
	if err := within(t, done, "the peer misbehaved"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

// within returns what c gives, failing the test if it gives nothing for 10 s.
func within[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10 s", what)
	}
	panic("unreachable")
}

// bells returns the two ends of a socket pair: sa as the Go runtime's poller holds it (as
// the supervisor does), sb as a plain file (as a worker process does).
func bells(t *testing.T) (sa net.Conn, sb *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "a")
	sa, err = net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	sb = os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { sa.Close(); sb.Close() })
	return sa, sb
}

// A peer that rewrites this side's wait word cannot make it sleep forever: the data it
// later writes is read within the futex's backstop, or the stream ends.
func TestHostileWaitWord(t *testing.T) {
	a, b := pair(t, 4<<10, 0)
	got := make(chan error, 1)
	go func() { _, err := io.ReadFull(a, make([]byte, 2)); got <- err }()
	time.Sleep(10 * time.Millisecond)        // a sleeps on its word
	atomic.StoreUint32(a.in.dataWait, awake) // b "forgets" that a sleeps: its write will not wake a
	if _, err := b.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := within(t, got, "a slept through the data"); err != nil {
		t.Fatal(err)
	}
}

// With bells the reader sleeps on a socket: the peer's write rings it, and the socket's
// end (the peer's process gone) ends the reading after what was written.
func TestBells(t *testing.T) {
	sa, sb := bells(t)
	a, b := pair(t, 4<<10, 0)
	a.SetReadBell(sa)
	b.SetWakeBell(sb)
	got := make(chan []byte, 1)
	go func() { p, _ := io.ReadAll(a); got <- p }()
	time.Sleep(10 * time.Millisecond) // a sleeps on the bell
	for _, s := range []string{"ring ", "ring ", "gone"} {
		if _, err := b.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sb.Close() // the peer dies
	if p := within(t, got, "the socket's end did not end the reading"); string(p) != "ring ring gone" {
		t.Fatalf("read %q", p)
	}
}

// Nudge wakes a reader asleep on its bell to ask its spin policy again (a supervisor that
// just sent the only call in flight), and the reading goes on as before: the next bytes
// still wake it, and a nudge of a reader that is not asleep changes nothing.
func TestNudgeWakesABellSleeper(t *testing.T) {
	sa, sb := bells(t)
	a, b := pair(t, 4<<10, time.Millisecond)
	a.SetReadBell(sa)
	b.SetWakeBell(sb)
	asked := make(chan struct{}, 100)
	a.SetReadSpin(func() time.Duration { asked <- struct{}{}; return 0 }) // sleep at once
	got := make(chan string, 10)
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := a.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- string(buf[:n])
		}
	}()
	for round := range 3 {
		within(t, asked, "the reader did not ask its policy")
		time.Sleep(10 * time.Millisecond) // asleep on the bell
		for len(asked) > 0 {
			<-asked
		}
		a.Nudge()
		within(t, asked, fmt.Sprintf("round %d: the nudge did not wake the reader", round))
		time.Sleep(5 * time.Millisecond) // asleep again
		if _, err := b.Write([]byte{'a' + byte(round)}); err != nil {
			t.Fatal(err)
		}
		if s := within(t, got, "the reader did not read after a nudge"); s != string(rune('a'+round)) {
			t.Fatalf("round %d: read %q", round, s)
		}
	}
	// Nudged while it reads nothing in between: the stale deadline only wakes it once.
	a.Nudge()
	a.Nudge()
	if _, err := b.Write([]byte("z")); err != nil {
		t.Fatal(err)
	}
	if s := within(t, got, "the reader did not read after two nudges"); s != "z" {
		t.Fatalf("read %q", s)
	}
	sb.Close()
	if _, open := <-got; open {
		t.Fatal("read more than was written")
	}
}

// A peer that floods the bell (each byte a wake-up, and a system call for the sleeper)
// ends the stream.
func TestBellFloodEndsTheStream(t *testing.T) {
	sa, sb := bells(t)
	a, _ := pair(t, 4<<10, 0)
	a.SetReadBell(sa)
	if _, err := sb.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, func() error { _, err := a.Read(make([]byte, 1)); return err })
}

func TestNewAndOpenRefuseBadSizes(t *testing.T) {
	for _, size := range []int{0, 1000, 4<<10 + 1, 3 << 20} {
		if _, _, err := New(size); err == nil {
			t.Errorf("New(%d): no error", size)
		}
	}
	f, err := os.CreateTemp(t.TempDir(), "notaring")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(12345); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f); err == nil {
		t.Error("Open of a 12,345-byte file: no error")
	}
}
