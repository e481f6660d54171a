package sandboxproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Outbound request bodies.
//
// A body of known length up to one chunk travels inside the fetchMsg (the supervisor can
// send it again on a redirect). A longer body, or one of unknown length (a ReadableStream
// the guest writes), is streamed: the fetchMsg says Streamed, and the supervisor's request
// body asks the process for each next chunk (msgReqBodyRead) when the transport reads it;
// the process answers with one msgReqBodyChunk. So at most one chunk of an upload is in
// flight, and neither process holds more than one chunk of it. There is no total cap, as
// in-process (the engine streams a ReadableStream body through a pipe without one): the
// call's wall-time limit and the upstream bound an upload.
const (
	msgReqBodyRead  byte = 9  // supervisor -> worker, id request: send the next chunk
	msgReqBodyChunk byte = 29 // worker -> supervisor, id request: kind byte, then data
)

// The first byte of a msgReqBodyChunk payload.
const (
	chunkData byte = 0 // the rest is data (1 to chunkSize bytes)
	chunkEnd  byte = 1 // the body ended
	chunkErr  byte = 2 // the body failed; the rest is the message
)

// requestBody prepares req's body for the supervisor: inline in m when its length is known
// and at most one chunk, otherwise an upload served chunk by chunk (the returned
// workerUpload, nil for none or inline).
func requestBody(req *http.Request, m *fetchMsg) (*workerUpload, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if n := req.ContentLength; n > 0 && n <= chunkSize {
		b, err := io.ReadAll(io.LimitReader(req.Body, chunkSize+1))
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
		m.Body, m.HasBody = b, true
		return nil, nil
	}
	m.HasBody, m.Streamed, m.Length = true, true, req.ContentLength
	if m.Length <= 0 {
		m.Length = -1
	}
	return &workerUpload{body: req.Body}, nil
}

// workerUpload is a request body in the worker process, read one chunk at a time as the
// supervisor asks.
type workerUpload struct {
	body      io.ReadCloser
	mu        sync.Mutex // one read at a time
	buf       []byte
	done      bool
	closeOnce sync.Once
}

// close closes the body (the request ended); a read in progress ends with an error.
func (u *workerUpload) close() {
	u.closeOnce.Do(func() { u.body.Close() })
}

// uploadRead answers msgReqBodyRead: the next chunk of request id's body, read in a
// goroutine (the sandbox may be slow to write it). A request without a streamed body, or
// one that ended, is ignored.
func (w *workerSide) uploadRead(id uint64) {
	w.mu.Lock()
	pf := w.fetches[id]
	w.mu.Unlock()
	if pf == nil || pf.up == nil {
		return
	}
	go pf.up.next(w.c, id)
}

func (u *workerUpload) next(c *conn, id uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		_ = c.send(msgReqBodyChunk, id, []byte{chunkErr})
		return
	}
	if u.buf == nil {
		u.buf = make([]byte, 1+chunkSize)
	}
	var n int
	var err error
	for n == 0 && err == nil {
		n, err = u.body.Read(u.buf[1:])
	}
	if n > 0 {
		u.buf[0] = chunkData
		_ = c.send(msgReqBodyChunk, id, u.buf[:1+n])
		return
	}
	u.done = true
	u.close()
	if errors.Is(err, io.EOF) {
		_ = c.send(msgReqBodyChunk, id, []byte{chunkEnd})
	} else {
		_ = c.send(msgReqBodyChunk, id, append([]byte{chunkErr}, err.Error()...))
	}
}

// upload is the supervisor's side of a streamed request body: the http.Request's Body,
// which asks the process for each chunk as the transport reads it.
type upload struct {
	pr     *proc
	id     uint64
	ctx    context.Context // the request's: ends when it is dropped or its process dies
	got    chan []byte     // the answer to the one outstanding msgReqBodyRead
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	asked bool // a msgReqBodyRead is outstanding

	buf []byte // read side only
	err error
}

func newUpload(pr *proc, id uint64, ctx context.Context) *upload {
	return &upload{pr: pr, id: id, ctx: ctx, got: make(chan []byte, 1), closed: make(chan struct{})}
}

// Read returns the next bytes of the body, asking the process for a chunk when it has
// none.
func (u *upload) Read(p []byte) (int, error) {
	for len(u.buf) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		u.mu.Lock()
		u.asked = true
		u.mu.Unlock()
		if err := u.pr.c.send(msgReqBodyRead, u.id, nil); err != nil {
			u.err = fmt.Errorf("the request body: %w", err)
			continue
		}
		select {
		case c := <-u.got:
			switch c[0] {
			case chunkData:
				u.buf = c[1:]
			case chunkEnd:
				u.err = io.EOF
			default:
				u.err = fmt.Errorf("the request body failed in the sandbox: %s", c[1:])
			}
		case <-u.ctx.Done():
			u.err = fmt.Errorf("the request ended before its body was sent: %w", context.Cause(u.ctx))
		case <-u.closed:
			u.err = errors.New("the request body is closed")
		}
	}
	n := copy(p, u.buf)
	u.buf = u.buf[n:]
	return n, nil
}

// Close ends the body (the transport is done with it); a Read waiting for a chunk returns.
func (u *upload) Close() error {
	u.once.Do(func() { close(u.closed) })
	return nil
}

// deliver hands a chunk from the process to the Read waiting for it. A chunk nobody asked
// for is ignored; one that is malformed or larger than a chunk fails the body.
func (u *upload) deliver(payload []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.asked {
		return
	}
	u.asked = false
	if len(payload) == 0 || payload[0] > chunkErr || payload[0] == chunkData && (len(payload) == 1 || len(payload) > 1+chunkSize) {
		payload = append([]byte{chunkErr}, "a malformed chunk from the sandbox process"...)
	}
	select {
	case u.got <- payload:
	default:
	}
}

// reqBodyChunk handles msgReqBodyChunk (on the reader goroutine: it never blocks); a chunk
// for a request that is not streaming its body is ignored.
func (pr *proc) reqBodyChunk(id uint64, payload []byte) {
	pr.mu.Lock()
	f := pr.fetches[id]
	pr.mu.Unlock()
	if f != nil && f.up != nil {
		f.up.deliver(payload)
	}
}
