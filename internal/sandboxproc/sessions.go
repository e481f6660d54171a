package sandboxproc

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/session"
)

// Sessions in worker processes. The session.Manager stays in the supervisor and keeps
// names, locks, options, the image store, rollback and fork; only the live sandbox of a
// session is in a worker process, under a handle the supervisor chose, and every operation
// on it is a message (msgSession, answered by msgSessionReply). The state goes back to the
// supervisor with the answer of every eval (the marshalled image after the call), so the
// Manager can save it and roll back to it, and a session whose process died wakes from it
// on the replacement.
//
// The compile check (compile.go) shares the call machinery: roundTrip.
const (
	// supervisor -> worker process
	msgSession byte = 10 // id call (0 for close): sessionMsg, then an image for open from a state
	msgCompile byte = 11 // id call: api.WorkerCode JSON
	// worker process -> supervisor
	msgSessionReply  byte = 30 // id call: sessionReply, then the state's image when one was asked for
	msgSessionEvaled byte = 31 // id call: the eval ended; the state is being taken
	msgCompileReply  byte = 32 // id call: compileReply
)

// sessionMsg is an operation on a session's sandbox in a worker process.
type sessionMsg struct {
	Op     string `json:"op"` // open, eval, snapshot, close
	Handle uint64 `json:"handle"`
	// open: the sandbox's memory (resolved: never 0), the route of its fetch() ("": no
	// network access). An image after the message makes the sandbox from that state.
	Memory uint64 `json:"memory,omitempty"`
	Route  string `json:"route,omitempty"`
	// open: a Python session's sandbox (session.SandboxConfig.Python).
	Python bool `json:"python,omitempty"`
	// open (without an image) and eval: send the state back with the answer.
	Snapshot bool `json:"snapshot,omitempty"`
	// eval
	Code   string     `json:"code,omitempty"`
	Limits wireLimits `json:"limits"`
}

// sessionReply answers a sessionMsg.
type sessionReply struct {
	Err *isoerr.Error `json:"err,omitempty"` // the operation's error (an eval's: the code's or a limit's)
	// Broken says the sandbox cannot be used any more (a limit stopped the eval); the
	// process has closed it.
	Broken *isoerr.Error   `json:"broken,omitempty"`
	Value  json.RawMessage `json:"value,omitempty"`
	Logs   []engine.Log    `json:"logs,omitempty"`
	CPU    int64           `json:"cpu,omitempty"`
	Wall   int64           `json:"wall,omitempty"`
	Memory int             `json:"memory,omitempty"`
	// SnapErr says why the state asked for could not be taken.
	SnapErr *isoerr.Error `json:"snapErr,omitempty"`
}

// frame is a message of a session or compile call, as the reader hands it over.
type frame struct {
	typ     byte
	payload []byte
}

// withImage is the payload of a message with an image after it: the JSON's length (u32,
// big-endian), the JSON, the image.
func withImage(v any, img []byte) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 4, 4+len(j)+len(img))
	binary.BigEndian.PutUint32(b, uint32(len(j)))
	return append(append(b, j...), img...), nil
}

// splitImage reads a payload written by withImage into v and returns the image.
func splitImage(b []byte, v any) ([]byte, error) {
	if len(b) < 4 {
		return nil, errors.New("the message is shorter than its header")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, fmt.Errorf("the message says its JSON is %d bytes; it has %d", n, len(b)-4)
	}
	if err := json.Unmarshal(b[4:4+n], v); err != nil {
		return nil, err
	}
	return b[4+n:], nil
}

// maxSessionImage bounds the marshalled image of a session's sandbox with memory bytes of
// memory (engine.Image.Marshal): at most every page, each with its 4-byte index, deflate's
// worst case (stored blocks: 5 bytes per 64 KiB), the header and the checksum. An image a
// worker process sends back that is larger did not come from the engine: it is refused.
// It leaves room in a frame for the message before the image.
func maxSessionImage(memory uint64) int {
	n := memory + memory/1024 + memory/8192 + 4096
	return int(min(n, uint64(maxFrame-1<<20)))
}

// snapshotBudget bounds taking and marshalling a session's state after its eval (the
// watchdog's deadline once the process says the eval ended), and restoring one.
const snapshotBudget = 30 * time.Second

// deliver hands a frame of a session or compile call to its caller. Called by the reader.
// A process can send at most one progress frame that the caller has not read yet, and one
// final frame per call (the call leaves pr.calls with it): the reader never blocks on a
// caller, whatever the process sends.
func (pr *proc) deliver(typ byte, id uint64, payload []byte) {
	final := typ != msgSessionEvaled
	pr.mu.Lock()
	c := pr.calls[id]
	if c == nil || c.raw == nil || (!final && len(c.raw) > 0) {
		pr.mu.Unlock()
		return
	}
	if final {
		delete(pr.calls, id)
		pr.track()
	}
	pr.mu.Unlock()
	if final {
		pr.stopWatch(c)
	} else {
		// The eval ended; taking and marshalling the state is host work, bounded by
		// snapshotBudget from now and not by the call's CPU limit. Once: a process that
		// says it again does not get more time.
		pr.mu.Lock()
		if !c.finished && !c.evaled {
			c.evaled = true
			c.start, c.wall, c.cpu = time.Now(), snapshotBudget, 0
			pr.armLocked(c)
		}
		pr.mu.Unlock()
	}
	c.raw <- frame{typ, payload}
}

// notAWorkerCall is the code function of calls that are not a stored worker's: a process
// asking for code on one gets this error.
func notAWorkerCall() (loader.WorkerCode, error) {
	return loader.WorkerCode{}, isoerr.New(isoerr.Internal, "the sandbox process asked for code on a call that has none")
}

// roundTrip sends a session or compile message (typ, payload) as call c and waits for its
// final frame. With pin set the call goes to that process, and fails with
// sandbox_restarted when it is gone (a session's sandbox lived there); otherwise to the
// live process idx, waiting for a replacement. The watchdog kills the process when no
// answer came within budget + the margin (snapshotBudget from the moment the process says
// an eval ended). The process it went to is returned.
func (p *Pool) roundTrip(ctx context.Context, pin *proc, idx int, typ byte, payload []byte, c *call, budget time.Duration) (*proc, frame, error) {
	c.res = make(chan resultMsg, 1)
	c.raw = make(chan frame, 2)
	c.codeFn = notAWorkerCall
	var pr *proc
	for attempt := 0; ; attempt++ {
		pr = pin
		if pr == nil {
			var err error
			if pr, err = p.process(ctx, idx); err != nil {
				return pr, frame{}, err
			}
		}
		pr.mu.Lock()
		if !pr.dead {
			c.start, c.wall, c.wallLimit = time.Now(), budget, budget
			pr.armLocked(c)
			pr.calls[c.id] = c
			pr.track()
			pr.mu.Unlock()
			break
		}
		pr.mu.Unlock()
		if pin != nil {
			return pr, frame{}, restarted()
		}
		if attempt == 3 {
			return pr, frame{}, isoerr.New(isoerr.SandboxRestarted, "the sandbox process keeps stopping before the call can be sent; retry it")
		}
		select {
		case <-pr.replaced:
		case <-ctx.Done():
			return pr, frame{}, isoerr.New(isoerr.Canceled, "canceled while waiting for a sandbox process: %v", context.Cause(ctx))
		}
	}
	if c.tenant != "" {
		p.observed(pr, c.tenant)
	}
	if err := pr.c.send(typ, c.id, payload); err != nil {
		_ = pr.cmd.Process.Kill() // the connection is broken: the reader fails the call
	}
	done := ctx.Done()
	for {
		select {
		case f := <-c.raw:
			if f.typ == msgSessionEvaled {
				continue // deliver gave the call its snapshot budget
			}
			return pr, f, nil
		case r := <-c.res:
			// The process died (or the watchdog killed it), or it answered with a frame of
			// another kind of call.
			if r.Err == nil {
				return pr, frame{}, isoerr.New(isoerr.Internal, "the sandbox process answered with a message of another kind")
			}
			return pr, frame{}, r.Err
		case <-done:
			_ = pr.c.send(msgCancel, c.id, nil)
			done = nil // the guest stops at its next poll, or the watchdog ends it
		}
	}
}

func restarted() *isoerr.Error {
	return isoerr.New(isoerr.SandboxRestarted, "the sandbox process that held this session stopped and was replaced; the call did not run: retry it")
}

// PlaceSession returns the index of the process preferred for session name's sandbox:
// FNV-1a of the name (kept apart from worker ids), so a crash touches the sessions of one
// process only. The sandbox goes there when that process serves the session's tenant or
// none (place.go).
func (p *Pool) PlaceSession(name string) int {
	h := fnv.New64a()
	h.Write([]byte("session\x00"))
	h.Write([]byte(name))
	return int(h.Sum64() % uint64(len(p.procs)))
}

// SessionHost returns the session.Host whose sandboxes live in the worker processes: give
// it to session.Config.Host. A session's sandbox is placed by its name; fetch() goes back
// through the supervisor, through the transport its SandboxConfig names.
func (p *Pool) SessionHost() session.Host { return sessionHost{p} }

type sessionHost struct{ p *Pool }

func (h sessionHost) New(ctx context.Context, name string, cfg session.SandboxConfig) (session.Sandbox, error) {
	return h.p.openSession(ctx, name, nil, cfg)
}

func (h sessionHost) Restore(ctx context.Context, name string, st session.State, cfg session.SandboxConfig) (session.Sandbox, error) {
	raw := st.Raw
	if raw == nil {
		if st.Image == nil {
			return nil, isoerr.New(isoerr.Internal, "session %q: no state to restore", name)
		}
		var err error
		if raw, err = st.Image.Marshal(); err != nil {
			return nil, isoerr.New(isoerr.Internal, "session %q: %v", name, err)
		}
	}
	return h.p.openSession(ctx, name, raw, cfg)
}

// openSession makes session name's sandbox in its process: empty, or from image img.
func (p *Pool) openSession(ctx context.Context, name string, img []byte, cfg session.SandboxConfig) (session.Sandbox, error) {
	s := &remoteSession{p: p, name: name, handle: p.nextCall.Add(1), memory: cfg.Memory}
	if s.memory == 0 {
		s.memory = engine.DefaultLimits().Memory
	}
	if len(img) > maxSessionImage(s.memory) {
		return nil, isoerr.New(isoerr.MemoryLimitExceeded, "session %q: its image is %d bytes, more than a sandbox of %d MiB holds", name, len(img), s.memory>>20)
	}
	if cfg.Outbound != nil {
		// A name no other process can guess: a process only learns the routes of the
		// sessions it holds.
		var b [16]byte
		_, _ = rand.Read(b[:])
		s.route = "session:" + hex.EncodeToString(b[:])
		p.setRoute(s.route, route{rt: cfg.Outbound})
	}
	m := sessionMsg{Op: "open", Handle: s.handle, Memory: s.memory, Route: s.route, Python: cfg.Python, Snapshot: img == nil}
	payload, err := withImage(m, img)
	if err != nil {
		s.dropRoute()
		return nil, isoerr.New(isoerr.Internal, "session %q: %v", name, err)
	}
	c := p.newCall()
	c.tenant = tenantOf(name)
	idx, err := p.acquire(ctx, c.tenant, p.PlaceSession(name))
	if err != nil {
		s.dropRoute()
		return nil, err
	}
	pr, f, err := p.roundTrip(ctx, nil, idx, msgSession, payload, c, snapshotBudget)
	if err != nil {
		p.release(idx)
		s.dropRoute()
		return nil, err
	}
	s.pr, s.held, s.tenant, s.pin = pr, true, c.tenant, func() { p.release(idx) }
	p.holdSession(pr, 1)
	r, err := s.reply(f)
	if err == nil && r.Err != nil {
		err = r.Err
	}
	if err != nil {
		s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// remoteSession is a session's sandbox in a worker process: what session.Manager holds
// as its Sandbox. The Manager calls it one operation at a time.
type remoteSession struct {
	p      *Pool
	pr     *proc // the process that holds it; its sandbox dies with it
	held   bool  // counted in its place's sessions (Pool.holdSession) until Close
	tenant string
	// pin, while set, keeps the place from being recycled (Pool.pinSession): from an
	// operation until the session.Manager has taken the state it sent back (Snapshot), the
	// next operation or Close, so that the Manager never finds a sandbox it just used gone.
	pin    func()
	name   string
	handle uint64
	memory uint64
	route  string
	mem    int   // memory bytes as of the last operation
	broken error // set when the sandbox is gone
	// The state the last operation sent back (an eval's, or an empty sandbox's), for
	// Snapshot; snapErr says why it could not be.
	img     []byte
	snapErr error
}

// reply reads the final frame of an operation on s, keeping what it says of the sandbox
// and the state that came with it. A frame it cannot read breaks s (its state in the
// process is unknown).
func (s *remoteSession) reply(f frame) (*sessionReply, error) {
	s.img, s.snapErr = nil, nil
	var r sessionReply
	if f.typ != msgSessionReply {
		s.broken = isoerr.New(isoerr.Internal, "session %q: the sandbox process answered with message type %d", s.name, f.typ)
		return nil, s.broken
	}
	img, err := splitImage(f.payload, &r)
	if err != nil {
		s.broken = isoerr.New(isoerr.Internal, "session %q: the sandbox process's answer does not decode: %v", s.name, err)
		return nil, s.broken
	}
	s.mem = r.Memory
	if r.Broken != nil {
		s.broken = r.Broken
	}
	switch {
	case r.SnapErr != nil:
		s.snapErr = r.SnapErr
	case len(img) > maxSessionImage(s.memory):
		// Only a process that does not run our code sends this: its sandbox is not trusted
		// any more, and the state is refused.
		s.snapErr = isoerr.New(isoerr.Internal, "session %q: the sandbox process sent a state of %d bytes; a sandbox of %d MiB has at most %d: refused", s.name, len(img), s.memory>>20, maxSessionImage(s.memory))
		s.broken = s.snapErr
	case len(img) > 0:
		s.img = img
	}
	return &r, nil
}

func (s *remoteSession) Eval(ctx context.Context, lim engine.Limits, code string) (*engine.Result, error) {
	s.img, s.snapErr = nil, nil
	if err := s.Broken(); err != nil {
		return &engine.Result{}, err
	}
	eff := lim.Or(s.p.defaults)
	c := s.p.newCall()
	c.cpu = eff.CPU
	payload, err := withImage(sessionMsg{Op: "eval", Handle: s.handle, Code: code, Limits: toWireLimits(lim), Snapshot: true}, nil)
	if err != nil {
		return &engine.Result{}, isoerr.New(isoerr.Internal, "session %q: %v", s.name, err)
	}
	c.tenant = s.tenant
	release, ok := s.p.pinSession(s.pr)
	s.unpin()
	if !ok {
		s.broken = restarted()
		return &engine.Result{}, s.broken
	}
	s.pin = release
	_, f, err := s.p.roundTrip(ctx, s.pr, 0, msgSession, payload, c, eff.Wall)
	if err != nil {
		if s.broken == nil {
			s.broken = restarted()
		}
		return &engine.Result{}, err
	}
	r, err := s.reply(f)
	if err != nil {
		return &engine.Result{}, err
	}
	res := &engine.Result{Value: r.Value, Logs: r.Logs, CPU: time.Duration(r.CPU), Wall: time.Duration(r.Wall)}
	if r.Err != nil {
		return res, r.Err
	}
	return res, nil
}

func (s *remoteSession) Snapshot(ctx context.Context) (session.State, error) {
	defer s.unpin()
	if s.img != nil { // sent back with the last operation's answer: taken before anything broke
		st := session.State{Raw: s.img}
		s.img = nil
		return st, nil
	}
	if err := s.Broken(); err != nil {
		return session.State{}, err
	}
	if s.snapErr != nil {
		err := s.snapErr
		s.snapErr = nil
		return session.State{}, err
	}
	if s.img == nil {
		payload, err := withImage(sessionMsg{Op: "snapshot", Handle: s.handle}, nil)
		if err != nil {
			return session.State{}, isoerr.New(isoerr.Internal, "session %q: %v", s.name, err)
		}
		c := s.p.newCall()
		c.tenant = s.tenant
		release, ok := s.p.pinSession(s.pr)
		if !ok {
			s.broken = restarted()
			return session.State{}, s.broken
		}
		_, f, err := s.p.roundTrip(ctx, s.pr, 0, msgSession, payload, c, snapshotBudget)
		release()
		if err != nil {
			s.broken = err
			return session.State{}, err
		}
		r, err := s.reply(f)
		if err == nil && r.Err != nil {
			err = r.Err
		}
		if err == nil && s.snapErr != nil {
			err = s.snapErr
		}
		if err == nil && s.img == nil {
			err = isoerr.New(isoerr.Internal, "session %q: the sandbox process sent no state", s.name)
		}
		if err != nil {
			return session.State{}, err
		}
	}
	st := session.State{Raw: s.img}
	s.img = nil
	return st, nil
}

// Broken is why s cannot be used: what an operation said, or its process is gone.
func (s *remoteSession) Broken() error {
	if s.broken != nil {
		return s.broken
	}
	s.pr.mu.Lock()
	dead := s.pr.dead || s.pr.retiring
	s.pr.mu.Unlock()
	if dead {
		s.broken = restarted()
	}
	return s.broken
}

func (s *remoteSession) MemoryBytes() int { return s.mem }

// Close frees the sandbox in its process (when the process is still there; nothing
// waits for it) and the route of its fetch().
func (s *remoteSession) Close(context.Context) {
	s.unpin()
	s.dropRoute()
	if s.pr == nil {
		return
	}
	if s.held {
		s.p.holdSession(s.pr, -1)
		s.held = false
	}
	s.pr.mu.Lock()
	dead := s.pr.dead
	s.pr.mu.Unlock()
	if dead {
		return
	}
	if payload, err := withImage(sessionMsg{Op: "close", Handle: s.handle}, nil); err == nil {
		_ = s.pr.c.send(msgSession, 0, payload)
	}
	if s.broken == nil {
		s.broken = isoerr.New(isoerr.Internal, "session %q: its sandbox was closed", s.name)
	}
}

// unpin lets the place of s be recycled again.
func (s *remoteSession) unpin() {
	if s.pin != nil {
		s.pin()
		s.pin = nil
	}
}

func (s *remoteSession) dropRoute() {
	if s.route != "" {
		s.p.dropRoute(s.route)
		s.route = ""
	}
}

// The worker process's side.

// sessionSlot is a session's sandbox in a worker process. mu is held by the operation
// that uses the sandbox and by its close: a close may arrive while the operation before
// it still runs (an eval's answer goes out before its snapshot is taken), and must not
// free the memory under it.
type sessionSlot struct {
	sb     session.Sandbox
	memory uint64
	mu     sync.Mutex
	closed bool
}

// close closes the slot's sandbox once no operation uses it, at most once.
func (s *sessionSlot) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.sb.Close(context.Background())
	}
}

// session runs one msgSession. Each operation runs on its own goroutine; the supervisor
// sends one operation per session at a time.
func (w *workerSide) session(ctx context.Context, id uint64, payload []byte) {
	var m sessionMsg
	img, err := splitImage(payload, &m)
	if err != nil {
		if id != 0 {
			w.sendSessionReply(id, &sessionReply{Err: isoerr.New(isoerr.Internal, "sandbox process: bad session message: %v", err)}, nil)
		}
		return
	}
	if m.Op == "close" {
		w.mu.Lock()
		slot := w.sessions[m.Handle]
		delete(w.sessions, m.Handle)
		w.mu.Unlock()
		if slot != nil {
			// Not on the reader: an operation still running may need frames to end.
			go slot.close()
		}
		return
	}
	w.goCall(ctx, id, func(cctx context.Context) {
		r, img := w.sessionOp(cctx, id, &m, img)
		w.sendSessionReply(id, r, img)
	})
}

// goCall runs fn as call id in its own goroutine: registered (so msgCancel reaches it)
// until fn returns, with a context that a cancel ends.
func (w *workerSide) goCall(ctx context.Context, id uint64, fn func(ctx context.Context)) {
	cctx, cancel := context.WithCancel(ctx)
	wc := &workerCall{cancel: cancel, code: make(chan codeMsg, 1)}
	w.mu.Lock()
	w.calls[id] = wc
	w.mu.Unlock()
	go func() {
		defer func() {
			w.mu.Lock()
			delete(w.calls, id)
			w.mu.Unlock()
			cancel()
		}()
		fn(cctx)
	}()
}

// sessionOp runs one operation and returns its answer and, when asked for, the state.
func (w *workerSide) sessionOp(ctx context.Context, id uint64, m *sessionMsg, img []byte) (*sessionReply, []byte) {
	host := session.InProcess(w.l.Engine())
	w.mu.Lock()
	if w.sessions == nil {
		w.sessions = map[uint64]*sessionSlot{}
	}
	slot := w.sessions[m.Handle]
	w.mu.Unlock()
	if m.Op == "open" {
		if slot != nil {
			return &sessionReply{Err: isoerr.New(isoerr.Internal, "sandbox process: handle %d is taken", m.Handle)}, nil
		}
		cfg := session.SandboxConfig{Memory: m.Memory, Python: m.Python}
		if m.Route != "" {
			cfg.Outbound = &outbound{w: w, route: m.Route}
		}
		var sb session.Sandbox
		var err error
		if len(img) > 0 {
			sb, err = host.Restore(ctx, "", session.State{Raw: img}, cfg)
		} else {
			sb, err = host.New(ctx, "", cfg)
		}
		if err != nil {
			return &sessionReply{Err: isoerr.As(err)}, nil
		}
		slot = &sessionSlot{sb: sb, memory: m.Memory}
		slot.mu.Lock()
		defer slot.mu.Unlock()
		w.mu.Lock()
		w.sessions[m.Handle] = slot
		w.mu.Unlock()
		r := &sessionReply{Memory: sb.MemoryBytes()}
		if !m.Snapshot {
			return r, nil
		}
		return r, w.sessionState(ctx, slot, r)
	}
	if slot == nil {
		return &sessionReply{Err: restarted(), Broken: restarted()}, nil
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.closed {
		return &sessionReply{Err: restarted(), Broken: restarted()}, nil
	}
	switch m.Op {
	case "snapshot":
		r := &sessionReply{Memory: slot.sb.MemoryBytes()}
		return r, w.sessionState(ctx, slot, r)
	case "eval":
		unpin := w.pinCall(id)
		res, err := slot.sb.Eval(ctx, m.Limits.engine(), m.Code)
		unpin()
		_ = w.c.send(msgSessionEvaled, id, nil)
		r := &sessionReply{}
		if res != nil {
			r.Value, r.Logs, r.CPU, r.Wall = res.Value, res.Logs, int64(res.CPU), int64(res.Wall)
		}
		if err != nil {
			r.Err = isoerr.As(err)
		}
		if b := slot.sb.Broken(); b != nil {
			r.Broken = isoerr.As(b)
			w.mu.Lock()
			delete(w.sessions, m.Handle)
			w.mu.Unlock()
			slot.closed = true
			slot.sb.Close(context.Background())
			return r, nil
		}
		r.Memory = slot.sb.MemoryBytes()
		if !m.Snapshot {
			return r, nil
		}
		return r, w.sessionState(context.WithoutCancel(ctx), slot, r)
	}
	return &sessionReply{Err: isoerr.New(isoerr.Internal, "sandbox process: unknown session operation %q", m.Op)}, nil
}

// pinCall pins call id's goroutine to its thread and tells the supervisor which thread
// it is, for the CPU watchdog (as invoke does); the caller runs unpin when the guest code
// is done.
func (w *workerSide) pinCall(id uint64) (unpin func()) {
	tid, cpu, unpin := pinThread()
	if tid != 0 {
		var b [12]byte
		binary.BigEndian.PutUint32(b[:], uint32(tid))
		binary.BigEndian.PutUint64(b[4:], uint64(cpu))
		_ = w.c.send(msgStarted, id, b[:])
	}
	return unpin
}

// sessionState takes and marshals slot's state, or says in r why it could not.
func (w *workerSide) sessionState(ctx context.Context, slot *sessionSlot, r *sessionReply) []byte {
	st, err := slot.sb.Snapshot(ctx)
	raw := st.Raw
	if err == nil && raw == nil {
		raw, err = st.Image.Marshal()
	}
	if err == nil && len(raw) > maxSessionImage(slot.memory) {
		err = isoerr.New(isoerr.Internal, "the state is %d bytes, more than the %d a sandbox of %d MiB can have", len(raw), maxSessionImage(slot.memory), slot.memory>>20)
	}
	if err != nil {
		r.SnapErr = isoerr.As(err)
		return nil
	}
	return raw
}

// sendSessionReply sends r and img; when they do not fit a frame, an error instead.
func (w *workerSide) sendSessionReply(id uint64, r *sessionReply, img []byte) {
	b, err := withImage(r, img)
	if err == nil {
		err = w.c.send(msgSessionReply, id, b)
	}
	if err != nil {
		r.SnapErr = isoerr.New(isoerr.Internal, "sandbox process: the answer does not fit a frame: %v", err)
		if b, err := withImage(r, nil); err == nil {
			_ = w.c.send(msgSessionReply, id, b)
		}
	}
}
