package sandboxproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/fetchctx"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/internal/shmring"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// WorkerFD is the file descriptor on which a worker process finds its end of the socket
// pair (the supervisor passes it as the first of exec.Cmd.ExtraFiles).
const WorkerFD = 3

// boardFD is the call board's file descriptor in a worker process (the second of
// exec.Cmd.ExtraFiles), when its configuration says it has one.
const boardFD = 4

// ConfineHook, when set, runs in the worker process once its engine is made, before it
// learns its place and serves any call: the place where the process confines itself
// (Landlock, seccomp, rlimits; package internal/confine). cacheDirs are the directories
// it must keep (the compilation cache and its images directory). A spare process runs it
// before it waits, so no process of the pool is ever unconfined once its engine is up.
// `isobox sandbox-worker` passes one that calls confine.Apply.
type ConfineHook func(cacheDirs []string) error

// ServeWorkerFD is the body of the hidden `isobox sandbox-worker` subcommand: it serves
// the supervisor on fd WorkerFD until the connection closes.
//
// # Errors
//
// When fd WorkerFD is not a socket, or the engine cannot start.
func ServeWorkerFD(ctx context.Context, confine ConfineHook) error {
	f := os.NewFile(WorkerFD, "supervisor")
	if f == nil {
		return errors.New("sandboxproc: fd 3 is not open: this command is started by isobox serve")
	}
	if blockingSocket(WorkerFD) {
		// The socket is read and written with plain blocking system calls, not through
		// Go's network poller: the reader waits in read(2) on its own thread, so the
		// process is never "all idle" between calls and the Go runtime's monitor thread
		// does not fall asleep and get woken (and then poll every 20 µs) on every call,
		// and a frame's arrival wakes the reader directly instead of an epoll_wait and
		// then a read (RATIONALE §63).
		return serveWorker(ctx, f, confine, boardFD)
	}
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("sandboxproc: fd 3: %w", err)
	}
	return serveWorker(ctx, c, confine, boardFD)
}

// ServeWorker serves the supervisor on c until it closes: the worker process's main loop.
//
// # Errors
//
// When the first frame is not a configuration or the engine cannot start.
func ServeWorker(ctx context.Context, c io.ReadWriteCloser, confine ConfineHook) error {
	return serveWorker(ctx, c, confine, -1)
}

// serveWorker is ServeWorker with the call board's file descriptor (-1: none).
func serveWorker(ctx context.Context, c io.ReadWriteCloser, confine ConfineHook, bfd int) error {
	defer func() { c.Close() }() // c may become a poller connection below
	r := bufio.NewReaderSize(c, 64<<10)
	hdr := make([]byte, headerSize)
	typ, _, payload, err := readFrame(r, hdr)
	if err != nil {
		return fmt.Errorf("sandboxproc: read configuration: %w", err)
	}
	var cfg workerConfig
	if typ != msgConfig || json.Unmarshal(payload, &cfg) != nil {
		return errors.New("sandboxproc: the first frame is not a configuration")
	}
	if cfg.Threads > 0 {
		runtime.GOMAXPROCS(cfg.Threads)
	}
	if f, ok := c.(*os.File); ok && runtime.GOMAXPROCS(0) < 2 && r.Buffered() == 0 {
		// With one P, a reader blocked in read(2) holds the process's only P: the monitor
		// thread takes it back on every call, which costs more than the poller's wake-ups
		// (RATIONALE §63). The supervisor sends nothing more until the engine is up, so
		// nothing is buffered yet.
		if nc, err := net.FileConn(f); err == nil {
			f.Close()
			c = nc
			r.Reset(c)
		}
	}
	var board *workerBoard
	if cfg.Board && bfd >= 0 {
		if board, err = openBoard(bfd); err != nil {
			return err
		}
	}
	e, err := engine.New(ctx, engine.Config{CacheDir: cfg.CacheDir, Defaults: cfg.Defaults.engine()})
	if err != nil {
		return fmt.Errorf("sandboxproc: %w", err)
	}
	defer e.Close(context.Background())
	// The process confines itself now, before its place is known: a spare is confined
	// while it waits. Its read-write folders: the cache and its own images folder, which
	// the supervisor renames to the place's (Landlock follows the folder, not its name).
	if confine != nil {
		var dirs []string
		switch cfg.CacheDir {
		case "off":
		case "":
			dirs = append(dirs, engine.DefaultCacheDir())
		default:
			dirs = append(dirs, cfg.CacheDir)
		}
		if cfg.ImagesDir != "" {
			dirs = append(dirs, cfg.ImagesDir)
		}
		if err := confine(dirs); err != nil {
			return fmt.Errorf("sandboxproc: confine: %w", err)
		}
	}
	wc := &conn{rw: c}
	// The engine is up; the process waits for its place (a spare waits until one dies).
	if err := wc.send(msgEngineUp, 0, nil); err != nil {
		return fmt.Errorf("sandboxproc: %w", err)
	}
	typ, _, payload, err = readFrame(r, hdr)
	if errors.Is(err, io.EOF) {
		return nil // a spare that was never placed
	}
	if err != nil {
		return fmt.Errorf("sandboxproc: wait for a place: %w", err)
	}
	var place assignMsg
	if typ != msgAssign || json.Unmarshal(payload, &place) != nil {
		return errors.New("sandboxproc: the frame after the engine start is not an assignment")
	}
	lc := loader.Config{Engine: e, MemoryBudget: cfg.MemoryBudget}
	if place.ImagesDir != "" {
		dir, err := images.NewDir(place.ImagesDir)
		if err != nil {
			return fmt.Errorf("sandboxproc: %w", err)
		}
		lc.Images = dir
	}
	l, err := loader.New(lc)
	if err != nil {
		return fmt.Errorf("sandboxproc: %w", err)
	}
	defer l.Close(context.Background())
	w := &workerSide{c: wc, l: l, board: board, calls: map[uint64]*workerCall{}, fetches: map[uint64]*pendingFetch{},
		end: make(chan error, 1), done: make(chan struct{}), reader: make(chan struct{})}
	defer w.abortAll()
	if err := w.c.send(msgReady, 0, nil); err != nil {
		return fmt.Errorf("sandboxproc: %w", err)
	}
	if cfg.Ring > 0 {
		// Every later frame goes through the rings (ring.go); the supervisor sends nothing
		// more on the socket, whose end (or half-close) ends the reading.
		ring, err := openRing(cfg.Ring)
		if err != nil {
			return err
		}
		defer ring.Close()
		rw := &ringWire{Conn: ring, sock: c}
		w.ring = ring
		// After a lone call the reader waits for that caller's next call: a program's turn
		// around is tens of microseconds, so a quarter of the supervisor's spin, which waits
		// out the call itself.
		spin := ring.Spin() / 4
		ring.SetReadSpin(func() time.Duration {
			if w.running.Load() > 0 || !w.lone.Load() {
				return 0
			}
			return spin
		})
		w.c.wmu.Lock()
		w.c.rw = rw
		w.c.wmu.Unlock()
		ring.SetWakeBell(c) // the supervisor's reader sleeps on the socket (SetReadBell)
		go rw.watch(ring.CloseRead)
		r = bufio.NewReaderSize(ring, 64<<10)
	}
	w.readLoop(ctx, r, hdr)
	if err := <-w.end; !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// readLoop reads and dispatches frames until the connection ends (its error goes to
// w.end) or a frame starts a call. Then a new goroutine takes over the reading and this
// one runs the call: the call starts at once, on the thread that read its frame, instead
// of waiting for the reader to park and the scheduler to run a new goroutine (RATIONALE
// §18). The goroutine that ran a call then waits to be the reader again (park): a new
// goroutine per call would grow its stack from the smallest size to the engine's depth on
// every call, ~5% of a sandbox process's CPU under a hello load (RATIONALE §58).
func (w *workerSide) readLoop(ctx context.Context, r io.Reader, hdr []byte) {
	for {
		typ, id, payload, err := readFrame(r, hdr)
		if err != nil {
			w.end <- err
			close(w.done)
			return
		}
		if run := w.dispatch(ctx, typ, id, payload); run != nil {
			w.running.Add(1)
			w.handOff(ctx, r, hdr)
			run()
			if w.running.Add(-1) == 0 && w.ring != nil && w.lone.Load() {
				w.ring.Nudge() // a lone caller's next call is near: the reader spins for it
			}
			if !w.park(ctx) {
				return
			}
		}
	}
}

// maxParked bounds the goroutines that wait to read after their call (each keeps the
// stack its call grew, some tens of KiB): a burst of calls leaves no more than these.
const maxParked = 32

// handOff makes another goroutine the reader: a parked one if any waits, else a new one.
func (w *workerSide) handOff(ctx context.Context, r io.Reader, hdr []byte) {
	select {
	case w.reader <- struct{}{}:
	default:
		go w.readLoop(ctx, r, hdr)
	}
}

// park waits until the caller is made the reader (true), or the connection or the
// process ends (false). Beyond maxParked waiting goroutines it returns false at once.
func (w *workerSide) park(ctx context.Context) bool {
	if w.parked.Add(1) > maxParked {
		w.parked.Add(-1)
		return false
	}
	defer w.parked.Add(-1)
	select {
	case <-w.reader:
		return true
	case <-w.done:
	case <-ctx.Done():
	}
	return false
}

// workerSide is the worker process's state: its calls and outbound requests in flight.
type workerSide struct {
	c       *conn
	l       *loader.Loader
	board   *workerBoard // nil: a msgStarted frame per call
	mu      sync.Mutex
	calls   map[uint64]*workerCall
	fetches map[uint64]*pendingFetch
	nextReq atomic.Uint64
	end     chan error    // the reading's end: the connection's error
	done    chan struct{} // closed after end is sent: parked goroutines exit
	reader  chan struct{} // a parked goroutine that receives from it becomes the reader
	parked  atomic.Int32  // goroutines in park
	ring    *shmring.Conn // the rings the frames come through; nil: the socket
	running atomic.Int32  // calls running (their goroutines are in run)
	lone    atomic.Bool   // the last call sent was the pool's only one in flight (invokeMsg.Lone)
	tools   workerTools
	fs      workerFS
	// sessions are the sandboxes of sessions (sessions.go), by handle.
	sessions map[uint64]*sessionSlot
}

type workerCall struct {
	cancel context.CancelFunc
	code   chan codeMsg
	acks   chan string // msgRespAck of a streamed response (respond.go)
}

// pendingFetch is an outbound request waiting for its head, then for body chunks.
type pendingFetch struct {
	head   chan fetchHead
	chunks chan []byte // nil slice: end of body
	errs   chan string
	up     *workerUpload // the request body, sent as the supervisor asks (reqbody.go)
}

// dispatch handles one frame. A frame that starts work that runs long (a call) returns it
// as run: the reader runs it itself once another goroutine reads on (readLoop).
func (w *workerSide) dispatch(ctx context.Context, typ byte, id uint64, payload []byte) (run func()) {
	switch typ {
	case msgInvoke:
		var m invokeMsg
		if err := decodeInvoke(payload, &m); err != nil {
			_ = w.c.sendResult(id, &resultMsg{None: true, Err: isoerr.New(isoerr.Internal, "sandbox process: bad invoke message: %v", err)})
			return
		}
		w.lone.Store(m.Lone)
		cctx, cancel := context.WithCancel(ctx)
		wc := &workerCall{cancel: cancel, code: make(chan codeMsg, 1), acks: make(chan string, 1)}
		w.mu.Lock()
		w.calls[id] = wc
		w.mu.Unlock()
		return func() { w.invoke(cctx, id, wc, &m) }
	case msgSession:
		w.session(ctx, id, payload)
	case msgCompile:
		w.compile(ctx, id, payload)
	case msgCancel:
		w.mu.Lock()
		wc := w.calls[id]
		w.mu.Unlock()
		if wc != nil {
			wc.cancel()
		}
	case msgCode:
		var m codeMsg
		if err := json.Unmarshal(payload, &m); err != nil {
			m = codeMsg{Err: isoerr.New(isoerr.Internal, "sandbox process: bad code message: %v", err)}
		}
		w.mu.Lock()
		wc := w.calls[id]
		w.mu.Unlock()
		if wc != nil {
			select {
			case wc.code <- m:
			default:
			}
		}
	case msgToolResult:
		w.tools.deliver(id, payload)
	case msgRespAck:
		w.respAck(id, payload)
	case msgFSResult:
		w.fs.deliver(id, payload)
	case msgReqBodyRead:
		w.uploadRead(id)
	case msgFetchHead, msgBodyChunk, msgBodyError:
		w.mu.Lock()
		pf := w.fetches[id]
		w.mu.Unlock()
		if pf == nil {
			return
		}
		switch typ {
		case msgFetchHead:
			var h fetchHead
			if err := json.Unmarshal(payload, &h); err != nil {
				h = fetchHead{Err: "bad response head from the supervisor"}
			}
			pf.head <- h
		case msgBodyChunk:
			pf.chunks <- payload
		case msgBodyError:
			pf.errs <- string(payload)
		}
	}
	return nil
}

// abortAll cancels every call when the connection is gone.
func (w *workerSide) abortAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wc := range w.calls {
		wc.cancel()
	}
}

// invoke runs one call and sends its result.
func (w *workerSide) invoke(ctx context.Context, id uint64, wc *workerCall, m *invokeMsg) {
	defer func() {
		w.mu.Lock()
		delete(w.calls, id)
		w.mu.Unlock()
		wc.cancel()
	}()
	slot := -1
	if m.Python && (m.Op == "eval" || m.Op == opEvalTools) {
		// Python's start in this process (its compiled module and base image, ~0.3 s of
		// CPU once) is not the snippet's: done before the CPU watchdog starts counting,
		// else the first Python snippet of every new process overran a 50 ms limit's
		// bound and was killed (and so was the first of its replacement). An error is
		// the snippet's own, from the same call inside Eval.
		_ = w.l.Engine().PreparePython(ctx)
	}
	if m.Op != "stats" && m.Op != "forget" {
		// The CPU watchdog learns the thread running the call from the call board, or
		// from a frame when the board is full or missing. A fetch or call may wait for
		// its worker's slot first: the board says when it took it, and the watchdog's
		// wall time starts there, as the engine's does.
		tid, cpu, unpin := pinThread()
		defer unpin()
		if tid != 0 {
			waits := m.Op == "fetch" || m.Op == "call"
			if s, ok := w.board.post(id, tid, cpu, waits); ok {
				slot = s
				if waits {
					m.onSlot = func() { w.board.slotTaken(s) }
				}
			} else {
				var b [12]byte
				binary.BigEndian.PutUint32(b[:], uint32(tid))
				binary.BigEndian.PutUint64(b[4:], uint64(cpu))
				_ = w.c.send(msgStarted, id, b[:])
			}
		}
	}
	res, err := w.run(ctx, id, wc, m)
	if slot >= 0 {
		w.board.clear(slot)
	}
	out := resultMsg{}
	if res == nil {
		out.None = true
	} else {
		out.Status, out.StatusText, out.Headers, out.Body = res.Status, res.StatusText, res.Headers, res.Body
		out.Value, out.Logs, out.CPU, out.Wall = res.Value, res.Logs, int64(res.CPU), int64(res.Wall)
		out.Cold, out.Restored, out.Resumed, out.Streamed = res.Cold, res.Restored, res.Resumed, res.Streamed
	}
	if err != nil {
		if errors.Is(err, errChanged) {
			out.Changed = true
		}
		out.Err = isoerr.As(err)
	}
	if m.Op == "stats" {
		out.Extra, _ = json.Marshal(w.l.Stats())
	}
	if err := w.c.sendResult(id, &out); err != nil && !errors.Is(err, net.ErrClosed) {
		// The frame is too large or the supervisor is gone; tell it what it can read.
		_ = w.c.sendResult(id, &resultMsg{None: true, Err: isoerr.New(isoerr.OutputLimitExceeded, "the result does not fit a frame: %v", err)})
	}
}

// errChanged is the supervisor's "the code changed while loading": the call is routed again.
var errChanged = errors.New("the worker's code changed while it was being loaded")

func (w *workerSide) run(ctx context.Context, id uint64, wc *workerCall, m *invokeMsg) (*loader.Result, error) {
	switch m.Op {
	case "stats":
		return nil, nil
	case "forget":
		w.l.Forget(ctx, m.ID)
		return nil, nil
	case "eval":
		var out http.RoundTripper
		if m.HasOutbound {
			out = &outbound{w: w, route: callRoute(id)}
		}
		return w.l.Eval(ctx, m.Snippet, loader.EvalOptions{Limits: m.Limits.engine(), Outbound: out, Python: m.Python})
	case opEvalTools:
		return w.evalTools(ctx, id, m)
	}
	var stub *loader.Stub
	if m.ID == "" {
		var code loader.WorkerCode
		if err := decodeCode(m.Code, &code); err != nil {
			return &loader.Result{}, err
		}
		code.Tenant = m.Tenant
		w.preparePython(ctx, &code)
		if m.HasOutbound {
			code.Outbound = &outbound{w: w, route: callRoute(id)}
		}
		if len(code.Bindings) > 0 {
			code.FS = w.fsFunc(callRoute(id))
		}
		stub = w.l.Load(code)
		defer stub.Close(context.WithoutCancel(ctx))
	} else {
		stub = w.l.Get(m.ID, func() (loader.WorkerCode, error) { return w.fetchCode(ctx, id, wc, m.ID) })
	}
	ep := stub.Entrypoint("", loader.EntrypointOptions{Limits: m.Limits.engine(), OnSlot: m.onSlot})
	switch m.Op {
	case "fetch":
		if m.Request == nil {
			return &loader.Result{}, isoerr.New(isoerr.InvalidRequest, "fetch without a request")
		}
		req, err := http.NewRequestWithContext(ctx, m.Request.Method, m.Request.URL, nil)
		if err != nil {
			return &loader.Result{}, isoerr.New(isoerr.InvalidRequest, "bad request: %v", err)
		}
		for _, kv := range m.Request.Headers {
			req.Header.Add(kv[0], kv[1])
		}
		if len(m.Request.Body) > 0 {
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(m.Request.Body)), int64(len(m.Request.Body))
		}
		if m.Stream {
			return ep.FetchTo(ctx, req, &procSink{c: w.c, id: id, ctx: ctx, acks: wc.acks})
		}
		return ep.Fetch(ctx, req)
	case "call":
		return ep.Call(ctx, m.Method, m.Args)
	}
	return &loader.Result{}, isoerr.New(isoerr.Internal, "sandbox process: unknown operation %q", m.Op)
}

// preparePython starts Python in this process (PreparePython) before a Python worker's
// first load, on another thread: the call's own thread, whose CPU time the watchdog
// counts, waits without running, so the one-time start (~0.3 s of CPU) is not charged to
// the call. An error is the load's own, from the same start inside it.
func (w *workerSide) preparePython(ctx context.Context, code *loader.WorkerCode) {
	if !strings.HasSuffix(code.MainModule, ".py") {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.l.Engine().PreparePython(ctx)
	}()
	<-done
}

// decodeCode reads api.WorkerCode JSON into a loader.WorkerCode.
func decodeCode(b []byte, code *loader.WorkerCode) error {
	var a api.WorkerCode
	if err := json.Unmarshal(b, &a); err != nil {
		return isoerr.New(isoerr.Internal, "sandbox process: code does not decode: %v", err)
	}
	*code = loader.FromAPI(a)
	return nil
}

// callRoute names the outbound transport of a one-shot call (Load, Eval).
func callRoute(id uint64) string { return fmt.Sprintf("call:%d", id) }

// fetchCode asks the supervisor for stored worker loaderID's code (a cold start).
func (w *workerSide) fetchCode(ctx context.Context, id uint64, wc *workerCall, loaderID string) (loader.WorkerCode, error) {
	if err := w.c.send(msgCodeReq, id, nil); err != nil {
		return loader.WorkerCode{}, isoerr.New(isoerr.Internal, "sandbox process: ask for code: %v", err)
	}
	var m codeMsg
	select {
	case m = <-wc.code:
	case <-ctx.Done():
		return loader.WorkerCode{}, isoerr.New(isoerr.Canceled, "canceled while fetching the code of %q", loaderID)
	}
	if m.Err != nil {
		if m.Changed {
			return loader.WorkerCode{}, fmt.Errorf("%w", errChanged)
		}
		return loader.WorkerCode{}, m.Err
	}
	var code loader.WorkerCode
	if err := decodeCode(m.Code, &code); err != nil {
		return code, err
	}
	code.Tenant = m.Tenant
	w.preparePython(ctx, &code)
	if m.HasOutbound {
		code.Outbound = &outbound{w: w, route: loaderID}
	}
	if len(code.Bindings) > 0 {
		code.FS = w.fsFunc(loaderID)
	}
	return code, nil
}

// outbound is the fetch() transport inside a worker process: every request goes to the
// supervisor, which runs it through the transport it holds for route (the egress
// gateway), so no secret or credential enters this process.
type outbound struct {
	w     *workerSide
	route string
}

func (o *outbound) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	m := fetchMsg{Route: o.route, Worker: fetchctx.Worker(ctx), Redirect: fetchctx.Redirect(ctx), Method: req.Method, URL: req.URL.String()}
	for k, vs := range req.Header {
		for _, v := range vs {
			m.Headers = append(m.Headers, [2]string{k, v})
		}
	}
	up, err := requestBody(req, &m)
	if err != nil {
		return nil, err
	}
	id := o.w.nextReq.Add(1)
	pf := &pendingFetch{head: make(chan fetchHead, 1), chunks: make(chan []byte, 1), errs: make(chan string, 1), up: up}
	o.w.mu.Lock()
	o.w.fetches[id] = pf
	o.w.mu.Unlock()
	if err := o.w.c.sendJSON(msgFetch, id, m); err != nil {
		o.w.dropFetch(id, false)
		return nil, err
	}
	var h fetchHead
	select {
	case h = <-pf.head:
	case <-ctx.Done():
		o.w.dropFetch(id, true)
		return nil, ctx.Err()
	}
	if h.Err != "" {
		o.w.dropFetch(id, false)
		return nil, errors.New(h.Err)
	}
	resp := &http.Response{StatusCode: h.Status, Status: fmt.Sprintf("%d %s", h.Status, h.StatusText), Header: http.Header{},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req, ContentLength: -1}
	for _, kv := range h.Headers {
		resp.Header.Add(kv[0], kv[1])
	}
	if h.FinalURL != "" && h.FinalURL != req.URL.String() {
		if u, err := url.Parse(h.FinalURL); err == nil {
			r2 := req.Clone(ctx)
			r2.URL = u
			resp.Request = r2
		}
	}
	resp.Body = &remoteBody{w: o.w, id: id, pf: pf, ctx: ctx}
	return resp, nil
}

// dropFetch forgets outbound request id, telling the supervisor when it still holds it.
func (w *workerSide) dropFetch(id uint64, tell bool) {
	w.mu.Lock()
	pf := w.fetches[id]
	delete(w.fetches, id)
	w.mu.Unlock()
	if pf != nil && pf.up != nil {
		pf.up.close()
	}
	if tell {
		_ = w.c.send(msgBodyClose, id, nil)
	}
}

// remoteBody reads a response body from the supervisor, one chunk per request: the
// supervisor reads the upstream only as fast as the sandbox consumes (backpressure), and
// at most one chunk is in flight.
type remoteBody struct {
	w    *workerSide
	id   uint64
	pf   *pendingFetch
	ctx  context.Context
	buf  []byte
	done bool
	err  error
}

func (b *remoteBody) Read(p []byte) (int, error) {
	for len(b.buf) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if b.done {
			return 0, io.EOF
		}
		if err := b.w.c.send(msgBodyRead, b.id, nil); err != nil {
			b.err = err
			return 0, err
		}
		select {
		case c := <-b.pf.chunks:
			if len(c) == 0 {
				b.done = true
				b.w.dropFetch(b.id, false)
			}
			b.buf = c
		case e := <-b.pf.errs:
			b.err = errors.New(e)
			b.w.dropFetch(b.id, false)
		case <-b.ctx.Done():
			b.err = b.ctx.Err()
			b.w.dropFetch(b.id, true)
		}
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

func (b *remoteBody) Close() error {
	if !b.done && b.err == nil {
		b.err = errors.New("body closed")
		b.w.dropFetch(b.id, true)
	}
	return nil
}
