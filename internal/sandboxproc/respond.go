package sandboxproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

// Streamed responses.
//
// A call made with FetchTo (invokeMsg.Stream) gives the process's loader a sink (procSink)
// that sends the response's head (msgRespHead, a respHead) and each piece of its body
// (msgRespChunk, at most chunkSize bytes) to the supervisor under the call's id, and waits
// for the supervisor's msgRespAck (empty: taken; else why not) before the guest goes on.
// So one frame of a response is in flight at a time and the supervisor holds at most one
// chunk: the client's pace is the guest's (backpressure). The supervisor's call takes these
// frames beside its result (Pool.invoke) and runs the caller's sink; the result then says
// Streamed and carries no body.
const (
	msgRespAck   byte = 12 // supervisor -> worker, id call: empty, or why the sink refused
	msgRespHead  byte = 35 // worker -> supervisor, id call: respHead
	msgRespChunk byte = 36 // worker -> supervisor, id call: the next bytes of the body
)

// respHead is the head of a streamed response.
type respHead struct {
	Status     int         `json:"status"`
	StatusText string      `json:"statusText,omitempty"`
	Headers    [][2]string `json:"headers,omitempty"`
}

// procSink is the engine.ResponseSink of a streamed call, in the worker process.
type procSink struct {
	c    *conn
	id   uint64
	ctx  context.Context // the call's: ends when the supervisor cancels it
	acks chan string     // msgRespAck payloads (workerCall.acks)
}

func (s *procSink) Head(status int, statusText string, headers [][2]string) error {
	b, err := json.Marshal(respHead{Status: status, StatusText: statusText, Headers: headers})
	if err != nil {
		return err
	}
	return s.roundTrip(s.ctx, msgRespHead, b)
}

func (s *procSink) Write(ctx context.Context, chunk []byte) error {
	for len(chunk) > 0 {
		n := min(len(chunk), chunkSize)
		if err := s.roundTrip(ctx, msgRespChunk, chunk[:n]); err != nil {
			return err
		}
		chunk = chunk[n:]
	}
	return nil
}

func (s *procSink) roundTrip(ctx context.Context, typ byte, payload []byte) error {
	if err := s.c.send(typ, s.id, payload); err != nil {
		return fmt.Errorf("sending the response: %w", err)
	}
	select {
	case a := <-s.acks:
		if a != "" {
			return errors.New(a)
		}
		return nil
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// respAck hands a msgRespAck to the call's sink (one nobody waits for is dropped).
func (w *workerSide) respAck(id uint64, payload []byte) {
	w.mu.Lock()
	wc := w.calls[id]
	w.mu.Unlock()
	if wc == nil {
		return
	}
	select {
	case wc.acks <- string(payload):
	default:
	}
}

// respFrame hands a msgRespHead or msgRespChunk to the waiting call (on the reader
// goroutine: it never blocks). A frame for a call that streams nothing, or one sent
// before the last was acknowledged, is refused: the process broke the protocol.
func (pr *proc) respFrame(typ byte, id uint64, payload []byte) {
	pr.mu.Lock()
	c := pr.calls[id]
	pr.mu.Unlock()
	if c == nil || c.resp == nil {
		_ = pr.c.send(msgRespAck, id, []byte("this call streams no response"))
		return
	}
	select {
	case c.resp <- frame{typ: typ, payload: payload}:
	default:
		_ = pr.c.send(msgRespAck, id, []byte("one response frame at a time"))
	}
}

// streamTo runs the caller's sink for one frame of call c's response and acknowledges it.
func (pr *proc) streamTo(ctx context.Context, c *call, f frame) {
	err := c.streamFrame(ctx, f)
	ack := []byte(nil)
	if err != nil {
		ack = []byte(err.Error())
	}
	_ = pr.c.send(msgRespAck, c.id, ack)
}

func (c *call) streamFrame(ctx context.Context, f frame) error {
	switch {
	case f.typ == msgRespHead && !c.headSent:
		var h respHead
		if err := json.Unmarshal(f.payload, &h); err != nil {
			return fmt.Errorf("bad response head: %v", err)
		}
		if h.Status < 200 || h.Status > 599 {
			return fmt.Errorf("bad response status %d", h.Status)
		}
		c.headSent = true
		return c.sink.Head(h.Status, h.StatusText, h.Headers)
	case f.typ == msgRespChunk && c.headSent:
		wctx, cancel := context.WithDeadline(ctx, c.start.Add(c.wallLimit))
		defer cancel()
		return c.sink.Write(wctx, f.payload)
	}
	return errors.New("response frames out of order")
}

// FetchTo is Fetch with a response whose body is a ReadableStream sent to sink as the
// worker produces it, across the process boundary (loader.Stub.FetchTo).
func (s *Stub) FetchTo(ctx context.Context, req *http.Request, sink engine.ResponseSink) (*loader.Result, error) {
	er, err := toWireRequest(req)
	if err != nil {
		return &loader.Result{}, err
	}
	return s.invoke(ctx, &invokeMsg{Op: "fetch", Request: er, Stream: sink != nil}, sink)
}
