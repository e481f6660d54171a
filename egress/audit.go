package egress

import (
	"github.com/isobox/isobox/api"

	"context"
	"github.com/isobox/isobox/fetchctx"
	"maps"
	"sync"

	"github.com/isobox/isobox/isoerr"
)

// Entry is one decision of the gateway: one request, or one hop of a redirected request.
// It never holds a secret value, request or response headers, or URL query values. It is
// the wire's type (api.EgressEntry): the audit route hands it out as it is.
type Entry = api.EgressEntry

// Counters are totals since an Audit was made, for metrics (a Prometheus collector reads
// them with Audit.Counters).
type Counters struct {
	Allowed  int64 // decisions that let a request (or hop) out
	Denied   int64 // decisions that refused one
	Failed   int64 // allowed requests that ended in an error
	BytesIn  int64
	BytesOut int64
	// Errors counts entries by error code, denials included.
	Errors map[isoerr.Code]int64
}

// Audit keeps the most recent entries in a ring of fixed size, and running counters. It is
// safe for concurrent use; one Audit can serve many gateways.
type Audit struct {
	mu    sync.Mutex
	ring  []Entry
	next  int
	full  bool
	count Counters
}

// DefaultAuditSize is the ring size of an Audit made with size 0.
const DefaultAuditSize = 10_000

// NewAudit returns an Audit that keeps the last size entries (DefaultAuditSize when size
// is 0 or less).
func NewAudit(size int) *Audit {
	if size <= 0 {
		size = DefaultAuditSize
	}
	return &Audit{ring: make([]Entry, size), count: Counters{Errors: map[isoerr.Code]int64{}}}
}

// Record adds an entry, dropping the oldest when the ring is full.
func (a *Audit) Record(e Entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ring[a.next] = e
	a.next++
	if a.next == len(a.ring) {
		a.next, a.full = 0, true
	}
	if e.Allowed {
		a.count.Allowed++
		if e.Error != "" {
			a.count.Failed++
		}
	} else {
		a.count.Denied++
	}
	if e.Error != "" {
		a.count.Errors[e.Error]++
	}
	a.count.BytesIn += e.BytesIn
	a.count.BytesOut += e.BytesOut
}

// Entries returns up to limit of the most recent entries, newest first; only worker's when
// worker is not "", and all that are kept when limit is 0 or less.
//
//	for _, e := range audit.Entries("w1", 50) { fmt.Println(e.Method, e.URL, e.Allowed, e.Hint) }
func (a *Audit) Entries(worker string, limit int) []Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.next
	if a.full {
		n = len(a.ring)
	}
	var out []Entry
	for i := 1; i <= n && (limit <= 0 || len(out) < limit); i++ {
		e := a.ring[(a.next-i+len(a.ring))%len(a.ring)]
		if worker == "" || e.Worker == worker {
			out = append(out, e)
		}
	}
	return out
}

// Counters returns a snapshot of the totals.
func (a *Audit) Counters() Counters {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.count
	c.Errors = maps.Clone(a.count.Errors)
	return c
}

// WithWorker returns a context whose requests are audited under the worker id (the engine
// sets it for every fetch of a sandbox; see package fetchctx).
//
//	req = req.WithContext(egress.WithWorker(ctx, "counter:v1"))
func WithWorker(ctx context.Context, id string) context.Context {
	return fetchctx.WithWorker(ctx, id)
}

func workerOf(ctx context.Context) string { return fetchctx.Worker(ctx) }
