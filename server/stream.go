package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

// forwardSink writes a worker's streamed response (a Response whose body is a
// ReadableStream) to the client of the /http route as the worker produces it: the head,
// then each chunk, flushed. X-Isobox-Cpu-Ms and X-Isobox-Cold, known only at the end,
// follow as trailers. The engine keeps the body within the output limit; each write has
// the invocation's wall-time deadline, so a client that stops reading cannot hold the
// sandbox past its limit.
type forwardSink struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	inv   invocation
	head  bool // the head went out: the status can no longer change
	write bool // a write deadline was set (cleared at the end)
}

var _ engine.ResponseSink = (*forwardSink)(nil)

func newForwardSink(w http.ResponseWriter, inv invocation) *forwardSink {
	return &forwardSink{w: w, rc: http.NewResponseController(w), inv: inv}
}

func (f *forwardSink) Head(status int, _ string, headers [][2]string) error {
	h := f.w.Header()
	for _, kv := range headers {
		if skipResponseHeader(kv[0]) {
			continue
		}
		h.Add(kv[0], kv[1])
	}
	h.Set("X-Isobox-Invocation", f.inv.id)
	h.Set("Trailer", "X-Isobox-Cpu-Ms, X-Isobox-Cold")
	f.w.WriteHeader(status)
	f.head = true
	return f.rc.Flush()
}

func (f *forwardSink) Write(ctx context.Context, chunk []byte) error {
	if d, ok := ctx.Deadline(); ok && f.rc.SetWriteDeadline(d) == nil {
		f.write = true
	}
	if _, err := f.w.Write(chunk); err != nil {
		return err
	}
	return f.rc.Flush()
}

// finish ends a streamed response: the trailers when the invocation succeeded; when it
// failed after the head went out, the connection is cut (the client sees a body that
// ends early, not a complete one), since the status was already sent.
func (f *forwardSink) finish(res *loader.Result, err error) {
	if f.write {
		_ = f.rc.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	h := f.w.Header()
	h.Set("X-Isobox-Cpu-Ms", strconv.FormatFloat(float64(res.CPU.Microseconds())/1000, 'f', 3, 64))
	h.Set("X-Isobox-Cold", strconv.FormatBool(res.Cold))
}
