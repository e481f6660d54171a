package server

import (
	"container/list"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// logHub keeps the recent console lines of each stored worker in a bounded ring and
// hands new lines to followers (GET .../logs?follow=1). Lines arrive when an invocation
// ends: the engine returns an invocation's console output with its result.
type logHub struct {
	mu       sync.Mutex
	rings    map[string]*logRing
	lru      *list.List // of *logRing, most recently written at front
	maxLines int
	maxRings int
	closed   chan struct{}
	once     sync.Once
}

type logRing struct {
	id    string
	elem  *list.Element
	lines []api.LogEntry // circular, len <= maxLines
	head  int            // index of the oldest line when full
	seq   uint64         // last sequence number given
	subs  map[*logSub]struct{}
}

// logSub is one follower. Its channel is closed when it falls too far behind (it then
// reconnects with Last-Event-ID and reads what it missed from the ring).
type logSub struct {
	ch chan api.LogEntry
}

// subBuffer is how many lines a follower may be behind before it is cut off.
const subBuffer = 1024

func newLogHub(maxLines, maxRings int) *logHub {
	return &logHub{rings: map[string]*logRing{}, lru: list.New(), maxLines: maxLines,
		maxRings: maxRings, closed: make(chan struct{})}
}

func (h *logHub) ring(id string) *logRing {
	r := h.rings[id]
	if r == nil {
		r = &logRing{id: id, subs: map[*logSub]struct{}{}}
		r.elem = h.lru.PushFront(r)
		h.rings[id] = r
		// Drop the least recently written rings nobody follows.
		for e := h.lru.Back(); e != nil && h.lru.Len() > h.maxRings; {
			prev := e.Prev()
			if old := e.Value.(*logRing); old != r && len(old.subs) == 0 {
				h.lru.Remove(e)
				delete(h.rings, old.id)
			}
			e = prev
		}
	} else {
		h.lru.MoveToFront(r.elem)
	}
	return r
}

// publish adds an invocation's console lines to worker id's ring and its followers.
func (h *logHub) publish(id, invocation string, logs []engine.Log) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.ring(id)
	for _, l := range logs {
		r.seq++
		e := api.LogEntry{Seq: r.seq, Invocation: invocation, LogLine: l}
		if len(r.lines) < h.maxLines {
			r.lines = append(r.lines, e)
		} else {
			r.lines[r.head] = e
			r.head = (r.head + 1) % len(r.lines)
		}
		for sub := range r.subs {
			select {
			case sub.ch <- e:
			default:
				close(sub.ch)
				delete(r.subs, sub)
			}
		}
	}
}

// recent returns the kept lines of worker id with a sequence number above since.
func (h *logHub) recent(id string, since uint64) []api.LogEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.recentLocked(id, since)
}

func (h *logHub) recentLocked(id string, since uint64) []api.LogEntry {
	out := []api.LogEntry{}
	r := h.rings[id]
	if r == nil {
		return out
	}
	n := len(r.lines)
	for i := range n {
		e := r.lines[(r.head+i)%n]
		if e.Seq > since {
			out = append(out, e)
		}
	}
	return out
}

// subscribe returns the kept lines after since and a follower for the lines to come,
// with no gap between them.
func (h *logHub) subscribe(id string, since uint64) ([]api.LogEntry, *logSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var backlog []api.LogEntry
	if since > 0 {
		backlog = h.recentLocked(id, since)
	}
	sub := &logSub{ch: make(chan api.LogEntry, subBuffer)}
	h.ring(id).subs[sub] = struct{}{}
	return backlog, sub
}

func (h *logHub) unsubscribe(id string, sub *logSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rings[id]; r != nil {
		delete(r.subs, sub)
	}
}

// forget drops a deleted worker's ring unless someone follows it.
func (h *logHub) forget(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rings[id]; r != nil && len(r.subs) == 0 {
		h.lru.Remove(r.elem)
		delete(h.rings, id)
	}
}

// close ends every follower's stream (the server is shutting down).
func (h *logHub) close() { h.once.Do(func() { close(h.closed) }) }

// keepAlive is how often an idle event stream gets a comment, so that proxies keep it.
var keepAlive = 15 * time.Second

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	id, err := workerID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.st.StatWorker(r.Context(), id); err != nil {
		writeError(w, storeError(err))
		return
	}
	q := r.URL.Query()
	var since uint64
	sinceStr := q.Get("since")
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		sinceStr = v
	}
	if sinceStr != "" {
		if since, err = strconv.ParseUint(sinceStr, 10, 64); err != nil {
			writeError(w, isoerr.New(isoerr.InvalidRequest, "since (or Last-Event-ID) must be a log sequence number, got %q", sinceStr))
			return
		}
	}
	switch f := q.Get("follow"); f {
	case "", "0", "false":
		writeJSON(w, http.StatusOK, api.LogList{Logs: s.logs.recent(id, since)})
		return
	case "1", "true":
	default:
		writeError(w, isoerr.New(isoerr.InvalidRequest, "follow must be 1 or 0, got %q", f))
		return
	}
	if s.Draining() {
		writeError(w, isoerr.New(isoerr.ShuttingDown, "the server is shutting down"))
		return
	}
	backlog, sub := s.logs.subscribe(id, since)
	defer s.logs.unsubscribe(id, sub)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": following the console output of worker "+id+"\n\n"); err != nil {
		return
	}
	send := func(e api.LogEntry) error {
		b, _ := json.Marshal(e)
		_, err := fmt.Fprintf(w, "id: %d\nevent: log\ndata: %s\n\n", e.Seq, b)
		return err
	}
	for _, e := range backlog {
		if send(e) != nil {
			return
		}
	}
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-sub.ch:
			if !ok {
				fmt.Fprint(w, "event: lagged\ndata: {\"message\":\"this follower fell too far behind; reconnect with Last-Event-ID to read what it missed\"}\n\n")
				rc.Flush()
				return
			}
			if send(e) != nil {
				return
			}
			// Send whatever else is already waiting before flushing.
			for more := true; more; {
				select {
				case e, ok := <-sub.ch:
					if !ok {
						more = false
						break
					}
					if send(e) != nil {
						return
					}
				default:
					more = false
				}
			}
			if rc.Flush() != nil {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.logs.closed:
			return
		}
	}
}
