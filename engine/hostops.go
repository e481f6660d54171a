package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/isobox/isobox/fetchctx"
	"github.com/isobox/isobox/isoerr"
)

// invocation is the state of one call into a sandbox.
type invocation struct {
	ctx      context.Context
	limits   Limits
	start    time.Time
	deadline time.Time
	cpu      time.Duration // guest CPU time used so far
	running  time.Time     // start of the current guest slice (zero between slices)
	runCPU   time.Duration // the thread's CPU clock at that start (threadCPU)
	threadOK bool          // runCPU is valid: the slice is measured in thread CPU time
	sig      signals       // what can make it fail (see verdict)

	logs      []Log
	logBytes  int
	logsFull  bool
	timers    map[int]time.Time
	ops       map[int]context.CancelFunc
	toolOps   map[int]bool // the ops in ops that are tool calls
	awaited   bool         // tool calls outlived the guest's answer (awaitTools)
	opDone    chan opResult
	complete  []byte          // the completion header (JSON)
	body      []byte          // the response body
	stream    *responseStream // the response going to Request.Sink (nil: no sink)
	settled   bool
	subreqs   int
	bodies    map[int]*openBody      // fetch response bodies being streamed, by handle
	uploads   map[int]*io.PipeWriter // fetch request bodies being streamed, by the fetch's op id
	codecs    *codecs                // CompressionStream/DecompressionStream codecs (engine/compress.go)
	cancelOps context.CancelFunc
	opsCtx    context.Context
	// hostOps counts the goroutines of host operations this invocation started (fetches,
	// body reads and writes, tool calls): end waits for them, so that none outlives the
	// call that started it.
	hostOps sync.WaitGroup
}

// opsReady makes what host operations need (their cancel functions, the channel of their
// results, their context) on the invocation's first operation: most invocations start
// none (a cold load's Load, a hello fetch), and making them for every call cost ~10
// allocations and ~300 bytes a call. Until then inv.opDone is nil, which a select never
// receives from (no operation can have sent a result).
func (inv *invocation) opsReady() {
	if inv.opDone == nil {
		inv.ops = map[int]context.CancelFunc{}
		inv.opDone = make(chan opResult, 16)
		inv.opsCtx, inv.cancelOps = context.WithCancel(inv.ctx)
	}
}

// spawn runs fn on a goroutine of the invocation's host operations (see hostOps).
func (inv *invocation) spawn(fn func()) {
	inv.hostOps.Add(1)
	go func() {
		defer inv.hostOps.Done()
		fn()
	}()
}

type opResult struct {
	id    int
	value any
	err   *opError
	body  io.ReadCloser // a fetch response's body, read by the guest through body_read
	read  *bodyRead     // the outcome of a body_read
}

// bodyRead is what one body_read delivered.
type bodyRead struct {
	handle, n int
	done      bool
}

// openBody is a fetch response body the guest is reading as a stream.
type openBody struct {
	rc   io.ReadCloser
	read int  // bytes delivered so far
	busy bool // a body_read is in flight
}

type opError struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (sb *Sandbox) begin(ctx context.Context, lim Limits) *invocation {
	now := time.Now()
	inv := &invocation{ctx: ctx, limits: lim, start: now, deadline: now.Add(lim.Wall)}
	if sb.sink != nil {
		inv.stream = &responseStream{sink: sb.sink}
		sb.sink = nil
	}
	sb.inv = inv
	return inv
}

// end finishes an invocation: it cancels the host operations still running, closes the
// bodies still open, and waits until every operation's goroutine has returned, so that
// nothing the call started (a tool function, a fetch) still runs once the call returns.
// A ToolFunc or transport that ignores its context's end holds the call up until it
// returns.
func (sb *Sandbox) end() {
	inv := sb.inv
	if inv.cancelOps != nil {
		inv.cancelOps()
	}
	inv.stream.close()
	inv.codecs.closeAll()
	for _, b := range inv.bodies {
		b.rc.Close() // unread bodies end with the invocation
	}
	for _, w := range inv.uploads {
		w.CloseWithError(errors.New("the invocation ended before the request body did"))
	}
	inv.hostOps.Wait()
	for { // results nobody will read: a fetch that answered as the invocation ended
		select {
		case r := <-inv.opDone:
			if r.body != nil {
				r.body.Close()
			}
		default:
			sb.inv = nil
			return
		}
	}
}

// dropDeadStack releases the pages calls' stacks touched: between calls they hold only
// garbage, and an idle sandbox should not keep them resident (Trim calls it). With no call
// running the page of margin the span keeps under the stack's top is dead too (the top was
// taken inside a call, below where the stack starts): it goes as well.
func (sb *Sandbox) dropDeadStack() {
	_, d := sb.baseImage()
	end := uint64(d.off+d.n) + osPage
	if d.n == 0 || sb.mem.release == nil || end > uint64(len(sb.mem.buf)) {
		return
	}
	discard(sb.mem.buf[d.off:end])
}

func (inv *invocation) nextTimer() (id int, at time.Time, ok bool) {
	for tid, t := range inv.timers {
		if !ok || t.Before(at) || (t.Equal(at) && tid < id) {
			id, at, ok = tid, t, true
		}
	}
	return
}

// log captures one console line, within the invocation's log budget.
func (sb *Sandbox) log(level, msg string) {
	inv := sb.inv
	if inv.logsFull {
		return
	}
	switch level {
	case "log", "info", "warn", "error", "debug":
	default:
		level = "log"
	}
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	if inv.logBytes+len(msg) > inv.limits.Logs {
		inv.logsFull = true
		msg = fmt.Sprintf("[isobox: console output truncated: more than %d bytes in this invocation]", inv.limits.Logs)
		level = "warn"
	}
	inv.logBytes += len(msg)
	inv.logs = append(inv.logs, Log{Level: level, Message: msg, Time: time.Now()})
}

// noNetworkMessage is what fetch() says in a sandbox without outbound access.
const noNetworkMessage = "fetch() is not permitted: this sandbox has no network access. " +
	"Grant it by giving the worker an outbound (globalOutbound) egress policy that allows the host."

// settleBody does the bookkeeping of streamed bodies when an operation's result arrives: a
// fetch registers its response body under the op's id as handle; a body_read counts what it
// delivered and closes the body at its end or after an error.
func (inv *invocation) settleBody(r *opResult) {
	if r.body != nil {
		if inv.bodies == nil {
			inv.bodies = map[int]*openBody{}
		}
		inv.bodies[r.id] = &openBody{rc: r.body}
		r.value.(map[string]any)["bodyHandle"] = r.id
		return
	}
	rd := r.read
	if rd == nil {
		return
	}
	b := inv.bodies[rd.handle]
	if b == nil {
		return
	}
	b.busy = false
	b.read += rd.n
	if rd.done || r.err != nil {
		b.rc.Close()
		delete(inv.bodies, rd.handle)
	}
}

// startFetch begins a fetch (asyncOps "fetch"); its response head arrives on inv.opDone.
func (sb *Sandbox) startFetch(id int, payload json.RawMessage) error {
	inv := sb.inv
	if sb.cfg.Outbound == nil {
		return typeError(noNetworkMessage)
	}
	inv.subreqs++
	if inv.subreqs > inv.limits.SubRequests {
		return &hostError{name: "Error", msg: fmt.Sprintf("%s: too many subrequests: the limit is %d per invocation", isoerr.SubrequestLimitExceeded, inv.limits.SubRequests)}
	}
	var req fetchRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return typeError("fetch: %v", err)
	}
	mode := req.Redirect
	switch mode {
	case "":
		mode = fetchctx.Follow
	case fetchctx.Follow, fetchctx.Manual, fetchctx.Error:
	default:
		return typeError("fetch: redirect must be follow, manual or error, not %q", mode)
	}
	inv.opsReady()
	base := fetchctx.WithRedirect(fetchctx.WithWorker(inv.opsCtx, sb.cfg.Worker), mode)
	hreq, reqBody, err := req.toHTTP(base)
	if err != nil {
		return err
	}
	if req.BodyStream {
		pr, pw := io.Pipe()
		hreq.Body, hreq.ContentLength = pr, -1
		if inv.uploads == nil {
			inv.uploads = map[int]*io.PipeWriter{}
		}
		inv.uploads[id] = pw
		reqBody = nil
	}
	streamed := req.BodyStream
	ctx, cancel := context.WithCancel(base)
	inv.ops[id] = cancel
	rt, done := sb.cfg.Outbound, inv.opDone
	// No cancel when the round trip returns: the response body, still being streamed, lives
	// on the request's context until the guest closes it or the invocation ends.
	inv.spawn(func() {
		v, body, err := roundTrip(rt, hreq.WithContext(ctx), mode, reqBody, streamed)
		r := opResult{id: id, value: v, body: body}
		if err != nil {
			r.err = &opError{Name: "TypeError", Message: "fetch failed: " + err.Error()}
		}
		select {
		case done <- r:
		case <-ctx.Done():
			if body != nil {
				body.Close()
			}
		}
	})
	return nil
}

// startTool runs a host tool call (SandboxConfig.Tools) for the guest, concurrently with
// any others; its JSON result or error settles the guest's promise.
func (sb *Sandbox) startTool(id int, payload json.RawMessage) error {
	inv := sb.inv
	if sb.cfg.Tools == nil {
		return typeError("no tools are available in this sandbox")
	}
	var a struct {
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	}
	if err := json.Unmarshal(payload, &a); err != nil {
		return typeError("tool call: %v", err)
	}
	if inv.toolOps == nil {
		inv.toolOps = map[int]bool{}
	}
	inv.toolOps[id] = true
	tools := sb.cfg.Tools
	inv.runOp(id, func(ctx context.Context) (any, error) { return tools(ctx, a.Name, a.Args) })
	return nil
}

// runOp runs host operation id in its own goroutine (inv.spawn), with a context that
// ends when the guest cancels it or the invocation ends: fn's value settles the guest's
// promise, its error rejects it as an Error (a hostError keeps its name).
func (inv *invocation) runOp(id int, fn func(ctx context.Context) (any, error)) {
	inv.opsReady()
	ctx, cancel := context.WithCancel(inv.opsCtx)
	inv.ops[id] = cancel
	done := inv.opDone
	inv.spawn(func() {
		defer cancel()
		v, err := fn(ctx)
		r := opResult{id: id, value: v}
		if err != nil {
			r.value = nil
			r.err = &opError{Name: "Error", Message: err.Error()}
			var he *hostError
			if errors.As(err, &he) {
				r.err.Name = he.name
			}
		}
		select {
		case done <- r:
		case <-ctx.Done():
		}
	})
}

// awaitTools is called when the guest has settled with tool calls still running (code
// that did not await them): rather than cancel them when the invocation ends, the event
// loop waits for them, within the wall-time limit, so that they finish and their host
// side records them; the first time, a warning tells the code's author.
func (sb *Sandbox) awaitTools() {
	inv := sb.inv
	if inv.awaited {
		return
	}
	inv.awaited = true
	n := len(inv.toolOps)
	what := "1 tool call was"
	if n != 1 {
		what = fmt.Sprintf("%d tool calls were", n)
	}
	sb.log("warn", "isobox: "+what+" still running when the code returned; isobox waited for them (await every tool call to use its result)")
}

// answeredOK reports whether the guest's completion is a success: tool calls are awaited
// after a result, not after an error (the error is the answer, and it must not wait).
func (inv *invocation) answeredOK() bool {
	var c struct {
		OK bool `json:"ok"`
	}
	return json.Unmarshal(inv.complete, &c) == nil && c.OK
}

type fetchRequest struct {
	Method     string      `json:"method"`
	URL        string      `json:"url"`
	Headers    [][2]string `json:"headers"`
	Body       *string     `json:"body"`
	BodyStream bool        `json:"bodyStream"` // the body follows through body_write
	Redirect   string      `json:"redirect"`
}

// toHTTP builds the outbound request; it also returns the body, kept for redirects.
func (r *fetchRequest) toHTTP(ctx context.Context) (*http.Request, []byte, error) {
	var body io.Reader
	var b []byte
	if r.Body != nil {
		var err error
		if b, err = base64.StdEncoding.DecodeString(*r.Body); err != nil {
			return nil, nil, typeError("fetch: body: %v", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, nil, typeError("fetch: %v", err)
	}
	for _, h := range r.Headers {
		req.Header.Add(h[0], h[1])
	}
	return req, b, nil
}

// roundTrip sends req and returns the response's head for the guest and its body, which
// the guest then reads as a stream (body_read). In redirect mode follow it follows
// redirects the transport hands back (the egress gateway follows them itself, checking its
// policy at every hop; a plain transport does not), each hop going through the transport.
func roundTrip(rt http.RoundTripper, req *http.Request, mode string, body []byte, streamed bool) (map[string]any, io.ReadCloser, error) {
	first := req.URL.String()
	var resp *http.Response
	for hops := 0; ; hops++ {
		var err error
		resp, err = rt.RoundTrip(req)
		if err != nil {
			return nil, nil, err
		}
		loc := resp.Header.Get("Location")
		if mode == fetchctx.Manual || loc == "" || !isRedirect(resp.StatusCode) {
			break
		}
		resp.Body.Close()
		if mode == fetchctx.Error {
			return nil, nil, fmt.Errorf("the response was redirected and the request's redirect mode is \"error\"")
		}
		if hops == 20 {
			return nil, nil, fmt.Errorf("too many redirects")
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			return nil, nil, fmt.Errorf("bad redirect location %q: %v", loc, err)
		}
		method, b := req.Method, body
		if resp.StatusCode == http.StatusSeeOther || (resp.StatusCode <= 302 && method == http.MethodPost) {
			if method != http.MethodHead {
				method = http.MethodGet
			}
			b = nil
		} else if streamed {
			return nil, nil, fmt.Errorf("cannot follow a %d redirect: the request body was a stream and is gone", resp.StatusCode)
		}
		nreq, err := http.NewRequestWithContext(req.Context(), method, next.String(), bytes.NewReader(b))
		if err != nil {
			return nil, nil, err
		}
		nreq.Header = req.Header.Clone()
		if b == nil {
			nreq.Body, nreq.ContentLength = http.NoBody, 0
			nreq.Header.Del("Content-Type")
		}
		if next.Host != req.URL.Host {
			nreq.Header.Del("Authorization")
			nreq.Header.Del("Cookie")
		}
		req, body = nreq, b
	}
	// A transport that follows redirects itself reports the final request.
	final := req.URL.String()
	if resp.Request != nil && resp.Request.URL != nil {
		final = resp.Request.URL.String()
	}
	redirected := final != first
	if redirected && mode == fetchctx.Error {
		resp.Body.Close()
		return nil, nil, fmt.Errorf("the response was redirected and the request's redirect mode is \"error\"")
	}
	headers := [][2]string{}
	for k, vs := range resp.Header {
		for _, v := range vs {
			headers = append(headers, [2]string{strings.ToLower(k), v})
		}
	}
	return map[string]any{
		"status": resp.StatusCode, "statusText": strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode))),
		"headers": headers, "url": final, "redirected": redirected,
	}, resp.Body, nil
}

func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// startBodyWrite hands one chunk of a streamed request body to the transport; the guest's
// promise settles once the transport has taken it (backpressure).
func (sb *Sandbox) startBodyWrite(id int, payload json.RawMessage) error {
	inv := sb.inv
	var a struct {
		Handle int    `json:"handle"`
		Chunk  string `json:"chunk"`
	}
	if err := json.Unmarshal(payload, &a); err != nil {
		return typeError("body_write: %v", err)
	}
	w, ok := inv.uploads[a.Handle]
	if !ok {
		return typeError("body_write: the request is no longer sending its body")
	}
	chunk, err := base64.StdEncoding.DecodeString(a.Chunk)
	if err != nil {
		return typeError("body_write: %v", err)
	}
	inv.opsReady()
	ctx, cancel := context.WithCancel(inv.opsCtx)
	inv.ops[id] = cancel
	done := inv.opDone
	inv.spawn(func() {
		defer cancel()
		r := opResult{id: id, value: true}
		if _, err := w.Write(chunk); err != nil {
			r.value, r.err = nil, &opError{Name: "TypeError", Message: "sending the request body failed: " + err.Error()}
		}
		select {
		case done <- r:
		case <-ctx.Done():
		}
	})
	return nil
}

// bodyChunk is the most a body_read hands the guest at once.
const bodyChunk = 64 << 10

// startBodyRead reads the next chunk of a streamed fetch response body for the guest.
func (sb *Sandbox) startBodyRead(id int, payload json.RawMessage) error {
	inv := sb.inv
	var a struct{ Handle int }
	if err := json.Unmarshal(payload, &a); err != nil {
		return typeError("body_read: %v", err)
	}
	b, ok := inv.bodies[a.Handle]
	if !ok {
		return typeError("body_read: the response body is closed")
	}
	if b.busy {
		return typeError("body_read: a read is already in progress")
	}
	b.busy = true
	inv.opsReady()
	ctx, cancel := context.WithCancel(inv.opsCtx)
	inv.ops[id] = cancel
	done, limit := inv.opDone, inv.limits.Output
	inv.spawn(func() {
		defer cancel()
		buf := make([]byte, bodyChunk)
		n, err := io.ReadFull(b.rc, buf)
		r := opResult{id: id, read: &bodyRead{handle: a.Handle, n: n, done: true}}
		switch {
		case b.read+n > limit:
			r.err = &opError{Name: "TypeError", Message: fmt.Sprintf("the response body is larger than the output limit of %d bytes", limit)}
		case err == nil || err == io.ErrUnexpectedEOF || err == io.EOF:
			r.read.done = err != nil
			r.value = map[string]any{"chunk": base64.StdEncoding.EncodeToString(buf[:n]), "done": r.read.done}
		default:
			r.err = &opError{Name: "TypeError", Message: "reading the response body failed: " + err.Error()}
		}
		select {
		case done <- r:
		case <-ctx.Done():
		}
	})
	return nil
}
