package loader

import (
	"context"
	"strings"
	"sync"

	"github.com/isobox/isobox/images"
)

// hibernator keeps the loader's record of hibernated workers: the keys in the image store,
// the writes under way, and the counters of Stats. Its lock is a leaf: nothing else is
// locked while it is held (Loader.mu may be held when it is taken, never the reverse).
type hibernator struct {
	mu         sync.Mutex
	hibernated map[string]bool // keys of hibernated workers in the store
	loaded     bool            // hibernated was filled from the store
	// hibernating holds a channel per key being written to the store, closed when done: a
	// call to that worker waits for it before resuming.
	hibernating  map[string]chan struct{}
	hibernations int64 // counters for Stats
	resumes      int64
	errors       int64
}

func newHibernator() *hibernator {
	return &hibernator{hibernated: map[string]bool{}, hibernating: map[string]chan struct{}{}}
}

// load fills the record from the store, once.
func (h *hibernator) load(ctx context.Context, store images.Store) {
	h.mu.Lock()
	if h.loaded {
		h.mu.Unlock()
		return
	}
	h.loaded = true
	h.mu.Unlock()
	keys, err := store.List(ctx, "worker:")
	if err != nil {
		return
	}
	h.mu.Lock()
	for _, k := range keys {
		h.hibernated[k] = true
	}
	h.mu.Unlock()
}

// begin records that key is being written; the channel is closed by end.
func (h *hibernator) begin(key string) chan struct{} {
	done := make(chan struct{})
	h.mu.Lock()
	h.hibernating[key] = done
	h.mu.Unlock()
	return done
}

// end records the outcome of the write begun with done.
func (h *hibernator) end(key string, done chan struct{}, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.hibernated[key] = true
		h.hibernations++
	} else {
		h.errors++
	}
	if h.hibernating[key] == done {
		delete(h.hibernating, key)
	}
	close(done)
}

// take waits for a write of key under way, then removes key from the record and reports
// whether it was there (false also when ctx ended while waiting).
func (h *hibernator) take(ctx context.Context, key string) bool {
	h.mu.Lock()
	if ch := h.hibernating[key]; ch != nil { // evicted a moment ago: its state is on its way
		h.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
		h.mu.Lock()
	}
	ok := h.hibernated[key]
	delete(h.hibernated, key)
	h.mu.Unlock()
	return ok
}

// resumed counts a hibernated worker brought back.
func (h *hibernator) resumed() {
	h.mu.Lock()
	h.resumes++
	h.mu.Unlock()
}

// pending returns the channels of the writes under way of keys with prefix.
func (h *hibernator) pending(prefix string) []chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []chan struct{}
	for k, ch := range h.hibernating {
		if strings.HasPrefix(k, prefix) {
			out = append(out, ch)
		}
	}
	return out
}

// drop removes the keys with prefix from the record and returns them.
func (h *hibernator) drop(prefix string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []string
	for k := range h.hibernated {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
			delete(h.hibernated, k)
		}
	}
	return keys
}

// stats returns the record's size and counters.
func (h *hibernator) stats() (hibernated int, hibernations, resumes, errors int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.hibernated), h.hibernations, h.resumes, h.errors
}
