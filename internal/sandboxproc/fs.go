package sandboxproc

import (
	"cmp"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// Filesystem bindings across the process boundary (env.FS in a sandbox process).
//
// The workspace store lives in the supervisor (Config.Workspaces); a worker process holds
// no store and no database file. When a worker's code has bindings, the process gives
// its sandboxes an engine.FSFunc that sends every operation to the supervisor
// (msgFSCall, with an id of its own), naming the route of the code it runs (a stored
// worker's loader id, or "call:<id>" for a one-shot), and waits for the answer
// (msgFSResult). The supervisor answers with the bindings it holds for that route
// (route.fs, set from the code it handed out itself: sendCode, Stub.invoke), after
// checking that the process may use the route at all (mayUse). A process therefore
// reaches only the workspaces bound to the sandboxes it holds: it cannot name another
// worker's route, and the bindings come from the supervisor's copy of the code, not from
// the process. The operation's name and arguments pass through untouched, so a new fs_*
// host operation of the engine crosses without a change here.
//
// When the guest drops an operation (or its invocation ends), the process tells the
// supervisor (msgFSCancel) and waits for the answer, as in-process the invocation waits
// for its FSFunc: a write the call started has committed or not before the call ends.
const (
	msgFSResult byte = 16 // supervisor -> worker, id fs op: fsResult
	msgFSCall   byte = 40 // worker -> supervisor, id fs op: fsCallMsg
	msgFSCancel byte = 41 // worker -> supervisor, id fs op: the guest dropped it
)

// maxFSInFlight bounds the filesystem operations one process has running in the
// supervisor at once (each a goroutine there), and maxFSBytesInFlight the bytes of their
// messages (a write carries its content): more are refused with an error the guest sees
// (overloaded), so a hostile process cannot make the supervisor hold 1,024 frames of
// 74 MiB.
const (
	maxFSInFlight      = 1024
	maxFSBytesInFlight = 256 << 20
)

// fsCancelWait bounds how long a dropped operation waits for the supervisor's answer
// (it always sends one; this only guards against a supervisor that is gone).
const fsCancelWait = 10 * time.Second

// fsCallMsg is one filesystem operation of a sandbox, for the supervisor to answer.
type fsCallMsg struct {
	Route   string          `json:"route"`
	Binding string          `json:"binding"`
	Op      string          `json:"op"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// fsResult answers a filesystem operation: its JSON value, or its typed error.
type fsResult struct {
	Value json.RawMessage `json:"value,omitempty"`
	Err   *isoerr.Error   `json:"err,omitempty"`
}

// supFS is the supervisor side of one process's filesystem operations.
type supFS struct {
	mu       sync.Mutex
	running  map[uint64]context.CancelFunc
	bytes    int // of the running operations' messages
	maxBytes int // 0: maxFSBytesInFlight (tests lower it)
}

// fsMsg handles msgFSCall and msgFSCancel from the process (on its reader goroutine: it
// never blocks).
func (pr *proc) fsMsg(typ byte, id uint64, payload []byte) {
	if typ == msgFSCancel {
		pr.fs.mu.Lock()
		cancel := pr.fs.running[id]
		pr.fs.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		return
	}
	refuse := func(e *isoerr.Error) { _ = pr.c.sendJSON(msgFSResult, id, fsResult{Err: e}) }
	var m fsCallMsg
	if err := json.Unmarshal(payload, &m); err != nil {
		refuse(isoerr.New(isoerr.InvalidRequest, "isobox: filesystem operation refused: the message does not decode: %v", err))
		return
	}
	var fn engine.FSFunc
	if pr.mayUse(m.Route) {
		fn = pr.p.route(m.Route).fs
	}
	if fn == nil {
		refuse(isoerr.New(isoerr.InvalidRequest, "no filesystem binding %q in this sandbox", m.Binding))
		return
	}
	pr.fs.mu.Lock()
	switch {
	case pr.fs.running == nil:
		pr.fs.running = map[uint64]context.CancelFunc{}
	case pr.fs.running[id] != nil:
		pr.fs.mu.Unlock()
		refuse(isoerr.New(isoerr.InvalidRequest, "isobox: filesystem operation refused: an operation with this id is running"))
		return
	case len(pr.fs.running) >= maxFSInFlight:
		pr.fs.mu.Unlock()
		refuse(isoerr.New(isoerr.Overloaded, "too many filesystem operations in flight: a sandbox process may have %d running at once", maxFSInFlight))
		return
	case pr.fs.bytes+len(payload) > cmp.Or(pr.fs.maxBytes, maxFSBytesInFlight):
		pr.fs.mu.Unlock()
		refuse(isoerr.New(isoerr.Overloaded, "too many bytes of filesystem operations in flight: a sandbox process may have %d MiB running at once", maxFSBytesInFlight>>20))
		return
	}
	ctx, cancel := context.WithCancel(pr.ctx) // ends when the process dies, too
	pr.fs.running[id] = cancel
	pr.fs.bytes += len(payload)
	pr.fs.mu.Unlock()
	go func() {
		v, err := runFS(ctx, fn, &m)
		cancel()
		pr.fs.mu.Lock()
		delete(pr.fs.running, id)
		pr.fs.bytes -= len(payload)
		pr.fs.mu.Unlock()
		r := fsResult{Value: v}
		if err != nil {
			r = fsResult{Err: isoerr.As(err)}
		}
		if err := pr.c.sendJSON(msgFSResult, id, r); err != nil && r.Err == nil {
			// Too large for a frame: the guest gets an error rather than no answer.
			_ = pr.c.sendJSON(msgFSResult, id, fsResult{Err: isoerr.New(isoerr.OutputLimitExceeded, "fs %s: the result could not be sent to the sandbox: %v", m.Op, err)})
		}
	}()
}

// runFS calls the FSFunc; a panic becomes the operation's error (the supervisor must not
// die of a sandbox's request).
func runFS(ctx context.Context, fn engine.FSFunc, m *fsCallMsg) (v json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, isoerr.New(isoerr.Internal, "fs %s: failed (panic: %v)", m.Op, p)
		}
	}()
	return fn(ctx, m.Binding, m.Op, m.Args)
}

// workerFS is the worker process's side: the operations waiting for their answer.
type workerFS struct{ waiters[fsResult] }

// deliver hands a msgFSResult to its waiting operation (one nobody waits for is ignored).
func (wf *workerFS) deliver(id uint64, payload []byte) {
	var r fsResult
	if err := json.Unmarshal(payload, &r); err != nil {
		r = fsResult{Err: isoerr.New(isoerr.Internal, "isobox: bad filesystem result from the supervisor")}
	}
	wf.answer(id, r)
}

// fsFunc is the FSFunc of the sandboxes of the code of route in this process: each
// operation goes to the supervisor.
func (w *workerSide) fsFunc(route string) engine.FSFunc {
	return func(ctx context.Context, binding, op string, args json.RawMessage) (json.RawMessage, error) {
		id := w.nextReq.Add(1)
		ch := w.fs.add(id)
		defer w.fs.drop(id)
		if err := w.c.sendJSON(msgFSCall, id, fsCallMsg{Route: route, Binding: binding, Op: op, Args: args}); err != nil {
			return nil, isoerr.New(isoerr.Internal, "fs %s: the operation did not reach the supervisor: %v", op, err)
		}
		var r fsResult
		select {
		case r = <-ch:
		case <-ctx.Done():
			_ = w.c.send(msgFSCancel, id, nil)
			select { // it has committed or not by the time the call goes on
			case r = <-ch:
			case <-time.After(fsCancelWait):
				return nil, isoerr.New(isoerr.Canceled, "fs %s: canceled: %v", op, context.Cause(ctx))
			}
		}
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Value, nil
	}
}

// fsOf returns the supervisor's side of code's filesystem bindings (nil when it has none
// or the pool has no store: the process's loader then refuses the code).
func (p *Pool) fsOf(code loader.WorkerCode) engine.FSFunc {
	if len(code.Bindings) == 0 || p.cfg.Workspaces == nil {
		return nil
	}
	return loader.FSOf(p.cfg.Workspaces, code.Bindings) // as in process
}
