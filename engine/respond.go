package engine

import (
	"context"
	"encoding/json"

	"github.com/isobox/isobox/isoerr"
)

// responseStream is an invocation's response on its way to Request.Sink: the runtime sends
// the head (response_head), then each chunk of the body (response_chunk), then a
// completion that says "streamed".
type responseStream struct {
	sink ResponseSink
	head bool       // Head was called
	sent completion // what Head got
	n    int        // body bytes written so far
	ctx  context.Context
	stop context.CancelFunc
}

// close releases the stream's deadline context (end of the invocation).
func (r *responseStream) close() {
	if r != nil && r.stop != nil {
		r.stop()
	}
}

func (sb *Sandbox) opResponseHead(in []byte) ([]byte, error) {
	inv := sb.inv
	r := inv.stream
	if r == nil {
		return nil, typeError("response_head: this invocation streams no response")
	}
	if r.head {
		return nil, typeError("response_head: the head was already sent")
	}
	var h completion
	if err := json.Unmarshal(in, &h); err != nil {
		return nil, typeError("response_head: %v", err)
	}
	if h.Status < 200 || h.Status > 599 {
		return nil, typeError("response_head: status %d is not from 200 to 599", h.Status)
	}
	r.head, r.sent = true, h
	r.ctx, r.stop = context.WithDeadline(inv.ctx, inv.deadline)
	if err := r.sink.Head(h.Status, h.StatusText, h.Headers); err != nil {
		return nil, typeError("the response could not be sent: %v", err)
	}
	return nil, nil
}

func (sb *Sandbox) opResponseChunk(in []byte) ([]byte, error) {
	inv := sb.inv
	r := inv.stream
	if r == nil || !r.head {
		return nil, typeError("response_chunk: no response head was sent")
	}
	if len(in) > inv.limits.Output-r.n {
		inv.sig.overflow = isoerr.New(isoerr.OutputLimitExceeded, "the streamed response body passed the output limit of %d bytes", inv.limits.Output)
		return nil, &hostError{name: "RangeError", msg: inv.sig.overflow.Error()}
	}
	r.n += len(in)
	if len(in) == 0 {
		return nil, nil
	}
	if err := r.sink.Write(r.ctx, in); err != nil {
		return nil, typeError("the response could not be sent: %v", err)
	}
	return nil, nil
}
