package sandboxproc

import "sync"

// waiters are the requests of a worker process (tool calls, filesystem operations) waiting
// for the supervisor's answer, by request id: each gets one buffered channel, so an answer
// never blocks the reader of the supervisor's messages, and an answer nobody waits for (the
// request was dropped) is ignored.
type waiters[T any] struct {
	mu      sync.Mutex
	waiting map[uint64]chan T
}

// add registers request id and returns the channel its answer arrives on.
func (w *waiters[T]) add(id uint64) chan T {
	ch := make(chan T, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == nil {
		w.waiting = map[uint64]chan T{}
	}
	w.waiting[id] = ch
	return ch
}

// drop forgets request id (answered or abandoned).
func (w *waiters[T]) drop(id uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiting, id)
}

// answer hands r to request id if it still waits.
func (w *waiters[T]) answer(id uint64, r T) {
	w.mu.Lock()
	ch := w.waiting[id]
	delete(w.waiting, id)
	w.mu.Unlock()
	if ch != nil {
		ch <- r // buffered: one answer per request
	}
}
