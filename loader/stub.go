package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// Stub calls a worker: its default entrypoint directly, or a named one via Entrypoint.
type Stub struct {
	l       *Loader
	id      string
	codeFn  func() (WorkerCode, error)
	oneShot *oneShot
}

// oneShot is the private sandbox of a Load stub.
type oneShot struct {
	mu     sync.Mutex // one call at a time, like any sandbox
	code   WorkerCode
	p      *prepared
	inst   *instance
	closed bool
}

// EntrypointOptions are the options of getEntrypoint: props become ctx.props, and limits
// combine with the worker's own (the lower value wins).
type EntrypointOptions struct {
	Props  json.RawMessage
	Limits engine.Limits
	// OnSlot, if set, is called once the call holds one of its worker's sandbox slots
	// (after any wait behind the worker's other calls) and before its sandbox is taken or
	// made: a supervisor that bounds a call's wall time from outside starts its clock there,
	// as the engine's own limit does.
	OnSlot func()
}

// Entrypoint is a named (or the default, "") entrypoint of a worker.
type Entrypoint struct {
	s    *Stub
	name string
	opts EntrypointOptions
}

// Entrypoint returns the entrypoint name ("" for the default export) with opts.
func (s *Stub) Entrypoint(name string, opts EntrypointOptions) *Entrypoint {
	return &Entrypoint{s: s, name: name, opts: opts}
}

// Result is the outcome of a call: the engine's result plus whether a new sandbox was made.
type Result struct {
	engine.Result
	// Cold is true when the call needed a new sandbox.
	Cold bool `json:"cold"`
	// Restored: the new sandbox started from the image of its code taken right after the
	// modules were evaluated (the code was seen before), so they were not evaluated again.
	Restored bool `json:"restored,omitempty"`
	// Resumed: the new sandbox is a hibernated one brought back, module state intact.
	Resumed bool `json:"resumed,omitempty"`
	// DepImage: the new sandbox started from the dependency image of its npm package
	// modules and evaluated only the code's own modules (loader/depimage.go).
	DepImage bool `json:"depImage,omitempty"`
}

// Header returns the response headers as an http.Header.
func (r *Result) Header() http.Header {
	h := http.Header{}
	for _, kv := range r.Headers {
		h.Add(kv[0], kv[1])
	}
	return h
}

// Fetch calls the default entrypoint's fetch handler with req.
func (s *Stub) Fetch(ctx context.Context, req *http.Request) (*Result, error) {
	return s.Entrypoint("", EntrypointOptions{}).Fetch(ctx, req)
}

// FetchTo is Fetch with a response whose body is a ReadableStream sent to sink as the
// handler produces it (see engine.Request.Sink); Result.Streamed says it was.
func (s *Stub) FetchTo(ctx context.Context, req *http.Request, sink engine.ResponseSink) (*Result, error) {
	return s.Entrypoint("", EntrypointOptions{}).FetchTo(ctx, req, sink)
}

// Call invokes RPC method of the default entrypoint with args, a JSON array (nil for none).
func (s *Stub) Call(ctx context.Context, method string, args json.RawMessage) (*Result, error) {
	return s.Entrypoint("", EntrypointOptions{}).Call(ctx, method, args)
}

// Close frees the sandbox of a Load stub; for Get stubs it does nothing (the loader owns
// their sandboxes).
func (s *Stub) Close(ctx context.Context) {
	if s.oneShot == nil {
		return
	}
	o := s.oneShot
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	if o.inst != nil {
		o.inst.sb.Close(ctx)
		o.inst = nil
	}
}

// Fetch calls the entrypoint's fetch handler. The request body is read whole.
func (ep *Entrypoint) Fetch(ctx context.Context, req *http.Request) (*Result, error) {
	return ep.FetchTo(ctx, req, nil)
}

// FetchTo calls the entrypoint's fetch handler; a response whose body is a ReadableStream
// goes to sink as it is produced (nil: collected whole into Result.Body).
func (ep *Entrypoint) FetchTo(ctx context.Context, req *http.Request, sink engine.ResponseSink) (*Result, error) {
	ereq, err := toEngineRequest(req)
	if err != nil {
		return &Result{}, err
	}
	ereq.Sink = sink
	return ep.invoke(ctx, func(sb *engine.Sandbox, lim engine.Limits) (*engine.Result, error) {
		return sb.Fetch(ctx, lim, ep.name, ereq, ep.opts.Props)
	})
}

// Call invokes an RPC method of the entrypoint; args is a JSON array.
func (ep *Entrypoint) Call(ctx context.Context, method string, args json.RawMessage) (*Result, error) {
	if method == "" {
		return &Result{}, isoerr.New(isoerr.InvalidRequest, "method name is empty")
	}
	return ep.invoke(ctx, func(sb *engine.Sandbox, lim engine.Limits) (*engine.Result, error) {
		return sb.Call(ctx, lim, ep.name, method, args, ep.opts.Props)
	})
}

func (ep *Entrypoint) invoke(ctx context.Context, call func(*engine.Sandbox, engine.Limits) (*engine.Result, error)) (*Result, error) {
	start := time.Now()
	if err := ep.opts.Limits.Validate(); err != nil {
		return &Result{}, err
	}
	s := ep.s
	if s.oneShot != nil {
		return s.invokeOneShot(ctx, ep.opts, call, start)
	}
	w, inst, cold, err := s.l.acquire(ctx, s.id, s.codeFn, ep.opts.OnSlot)
	if err != nil {
		return failedLoad(err, start)
	}
	lim := w.code.limits.Min(ep.opts.Limits)
	res, err := call(inst.sb, lim)
	how := inst.how
	inst.how = startWarm
	s.l.release(ctx, w, inst, true)
	r, err := finish(res, err, cold, start)
	r.Restored, r.Resumed, r.DepImage = how == startRestored, how == startResumed, how == startDepImage
	return r, err
}

func (s *Stub) invokeOneShot(ctx context.Context, opts EntrypointOptions, call func(*engine.Sandbox, engine.Limits) (*engine.Result, error), start time.Time) (*Result, error) {
	o := s.oneShot
	o.mu.Lock()
	defer o.mu.Unlock()
	if opts.OnSlot != nil { // the one-shot's one sandbox is its slot
		opts.OnSlot()
	}
	limits := opts.Limits
	if o.closed {
		return &Result{}, isoerr.New(isoerr.InvalidRequest, "the stub was closed")
	}
	cold := false
	if o.inst == nil || o.inst.sb.Broken() != nil {
		if o.p == nil {
			p, err := prepare(o.code)
			if err != nil {
				return failedLoad(err, start)
			}
			o.p = p
		}
		inst, err := s.l.start(ctx, "", o.p)
		if err != nil {
			return failedLoad(err, start)
		}
		o.inst, cold = inst, true
	}
	res, err := call(o.inst.sb, o.p.limits.Min(limits))
	how := o.inst.how
	o.inst.how = startWarm
	r, err := finish(res, err, cold, start)
	r.Restored, r.DepImage = how == startRestored, how == startDepImage
	return r, err
}

func failedLoad(err error, start time.Time) (*Result, error) {
	r := &Result{Cold: true}
	if le, ok := err.(*LoadError); ok {
		r.Logs = le.Logs
		err = le.Err
	}
	r.Wall = time.Since(start)
	return r, err
}

func finish(res *engine.Result, err error, cold bool, start time.Time) (*Result, error) {
	r := &Result{Cold: cold}
	if res != nil {
		r.Result = *res
	}
	r.Wall = time.Since(start)
	return r, err
}

// maxRequestBody bounds a request body handed to a worker.
const maxRequestBody = 100 << 20

func toEngineRequest(req *http.Request) (*engine.Request, error) {
	if req == nil || req.URL == nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "request is nil")
	}
	u := *req.URL
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	if u.Host == "" {
		u.Host = req.Host
	}
	if u.Host == "" {
		u.Host = "localhost"
	}
	er := &engine.Request{Method: req.Method, URL: u.String()}
	if er.Method == "" {
		er.Method = http.MethodGet
	}
	names := make([]string, 0, len(req.Header))
	for k := range req.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range req.Header[k] {
			er.Headers = append(er.Headers, [2]string{strings.ToLower(k), v})
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBody+1))
		if err != nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "reading request body: %v", err)
		}
		if len(b) > maxRequestBody {
			return nil, isoerr.New(isoerr.InvalidRequest, "request body larger than %d bytes", maxRequestBody)
		}
		er.Body = b
	}
	return er, nil
}

// String describes the stub for logs.
func (s *Stub) String() string {
	if s.oneShot != nil {
		return "worker(load)"
	}
	return fmt.Sprintf("worker(%q)", s.id)
}
