package sandboxproc

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// countingEOF is a connection that has ended: each read is counted and returns io.EOF.
type countingEOF struct{ reads atomic.Int32 }

func (c *countingEOF) Read([]byte) (int, error) {
	c.reads.Add(1)
	return 0, io.EOF
}

// waitParked waits until n goroutines are parked (generous guard: CI is one slow core).
func waitParked(t *testing.T, w *workerSide, n int32) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); w.parked.Load() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines parked, want %d", w.parked.Load(), n)
		}
	}
}

// After a call, the goroutine that ran it becomes the next reader (it keeps the stack the
// call grew) instead of a new goroutine; no more than maxParked wait, and all of them go
// when the connection ends.
func TestWorkerReaderHandOff(t *testing.T) {
	ctx := context.Background()
	w := &workerSide{end: make(chan error, 1), done: make(chan struct{}), reader: make(chan struct{})}
	conn := &countingEOF{}
	hdr := make([]byte, headerSize)

	// A parked goroutine takes the reading: no new reader starts.
	got := make(chan bool, 1)
	go func() { got <- w.park(ctx) }()
	waitParked(t, w, 1)
	w.handOff(ctx, conn, hdr)
	if !<-got {
		t.Fatal("the parked goroutine was not made the reader")
	}
	if n := conn.reads.Load(); n != 0 {
		t.Fatalf("a new reader started beside the parked goroutine (%d reads)", n)
	}

	// Beyond maxParked, a goroutine does not wait.
	results := make(chan bool, maxParked)
	for range maxParked {
		go func() { results <- w.park(ctx) }()
	}
	waitParked(t, w, maxParked)
	if w.park(ctx) {
		t.Fatal("park beyond maxParked returned true")
	}

	// The connection ends (the reader finds io.EOF): the parked goroutines leave.
	w.readLoop(ctx, conn, hdr)
	if err := <-w.end; err != io.EOF {
		t.Fatalf("end = %v, want io.EOF", err)
	}
	for range maxParked {
		if <-results {
			t.Fatal("a parked goroutine became a reader after the connection ended")
		}
	}
	waitParked(t, w, 0)

	// With nobody parked, handOff starts a reader of its own.
	w2 := &workerSide{end: make(chan error, 1), done: make(chan struct{}), reader: make(chan struct{})}
	conn2 := &countingEOF{}
	w2.handOff(ctx, conn2, hdr)
	if err := <-w2.end; err != io.EOF || conn2.reads.Load() != 1 {
		t.Fatalf("handOff with nobody parked: end %v, %d reads", err, conn2.reads.Load())
	}
}
