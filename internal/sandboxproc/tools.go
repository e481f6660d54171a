package sandboxproc

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

// Tool calls across the process boundary (Code Mode in a sandbox process).
//
// An Eval with tools is sent as Op opEvalTools. The worker process gives its sandbox an
// engine.ToolFunc that sends every call to the supervisor (msgToolCall, with an id of its
// own and the call's id in the payload) and waits for its answer (msgToolResult) or for its
// context to end, when it tells the supervisor (msgToolCancel) and returns. The
// supervisor runs the real ToolFunc, concurrently with the call's other tool calls, with a
// context that ends when the guest drops it, when the call ends, is cancelled, or its
// process dies; Pool.Eval returns only after every ToolFunc it started has returned.
//
// A worker process is not trusted: a tool call that names a call of its process that is
// not an Eval with tools, or that has ended, or an id already running, or a message that
// does not decode, is refused (answered with an error, nothing runs); a call has at most
// maxToolsInFlight tool calls running in the supervisor.
const (
	msgToolResult byte = 8  // supervisor -> worker, id tool call: toolResult
	msgToolCall   byte = 27 // worker -> supervisor, id tool call: toolCallMsg
	msgToolCancel byte = 28 // worker -> supervisor, id tool call: payload the call's id (u64)
)

// opEvalTools is the invokeMsg.Op of an Eval whose sandbox calls tools.
const opEvalTools = "evalTools"

// maxToolsInFlight bounds the tool calls of one call running at once in the supervisor
// (each is a goroutine there); more are refused with an error the guest sees. In-process
// there is no such bound, but Code Mode runs at most 32 tool calls at once and makes the
// others wait, so 1,024 leaves room for any run it allows.
const maxToolsInFlight = 1024

// toolCallMsg is a tool call of a sandbox, for the supervisor to run.
type toolCallMsg struct {
	Call uint64          `json:"call"` // the call (Eval) it belongs to
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

// toolResult answers a tool call: its JSON value or its error's message (the message the
// guest's rejection carries, as in-process).
type toolResult struct {
	Value  json.RawMessage `json:"value,omitempty"`
	Failed bool            `json:"failed,omitempty"`
	Err    string          `json:"err,omitempty"`
}

// callTools is the supervisor side of one Eval's tool calls.
type callTools struct {
	fn      engine.ToolFunc
	ctx     context.Context // ends when the Eval's context does, or when it ends
	cancel  context.CancelFunc
	mu      sync.Mutex
	closed  bool
	running map[uint64]context.CancelFunc // by tool call id
	wg      sync.WaitGroup
}

func newCallTools(ctx context.Context, fn engine.ToolFunc) *callTools {
	t := &callTools{fn: fn, running: map[uint64]context.CancelFunc{}}
	t.ctx, t.cancel = context.WithCancel(ctx)
	return t
}

// close ends the call's tool calls: no new one starts, the running ones' contexts end, and
// close returns once every ToolFunc has returned.
func (t *callTools) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.cancel()
	t.wg.Wait()
}

// start runs tool call id of the call in a goroutine and sends its result; it refuses
// (with the reason) a call that has ended, an id already running, or one too many.
func (t *callTools) start(pr *proc, id uint64, m *toolCallMsg) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return errors.New("the call has ended")
	case t.running[id] != nil:
		return errors.New("a tool call with this id is running")
	case len(t.running) >= maxToolsInFlight:
		return fmt.Errorf("too many tool calls in flight: a call may have %d running at once", maxToolsInFlight)
	}
	ctx, cancel := context.WithCancel(t.ctx)
	t.running[id] = cancel
	t.wg.Add(1)
	go func() {
		v, err := t.run(ctx, m)
		cancel()
		t.mu.Lock()
		delete(t.running, id)
		t.mu.Unlock()
		t.wg.Done() // the ToolFunc has returned; the answer may find the call ended
		r := toolResult{Value: v}
		if err == nil && len(v) > 0 && !json.Valid(v) {
			err = fmt.Errorf("%s: the tool returned something that is not JSON", m.Name)
		}
		if err != nil {
			r = toolResult{Failed: true, Err: err.Error()}
		}
		if err := pr.c.sendJSON(msgToolResult, id, r); err != nil && !r.Failed {
			// Too large for a frame: the guest gets an error rather than no answer.
			_ = pr.c.sendJSON(msgToolResult, id, toolResult{Failed: true, Err: fmt.Sprintf("%s: the result could not be sent to the sandbox: %v", m.Name, err)})
		}
	}()
	return nil
}

// run calls the ToolFunc; a panic becomes the call's error (the supervisor must not die of
// a tool).
func (t *callTools) run(ctx context.Context, m *toolCallMsg) (v json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("%s: the tool failed (panic: %v)", m.Name, p)
		}
	}()
	return t.fn(ctx, m.Name, m.Args)
}

// stop ends tool call id's context (the guest dropped it).
func (t *callTools) stop(id uint64) {
	t.mu.Lock()
	cancel := t.running[id]
	t.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// toolMsg handles msgToolCall and msgToolCancel from the process (on its reader
// goroutine: it never blocks).
func (pr *proc) toolMsg(typ byte, id uint64, payload []byte) {
	if typ == msgToolCancel {
		if len(payload) != 8 {
			return
		}
		pr.mu.Lock()
		c := pr.calls[binary.BigEndian.Uint64(payload)]
		pr.mu.Unlock()
		if c != nil && c.tools != nil {
			c.tools.stop(id)
		}
		return
	}
	refuse := func(format string, args ...any) {
		_ = pr.c.sendJSON(msgToolResult, id, toolResult{Failed: true, Err: "isobox: tool call refused: " + fmt.Sprintf(format, args...)})
	}
	var m toolCallMsg
	if err := json.Unmarshal(payload, &m); err != nil {
		refuse("the message does not decode: %v", err)
		return
	}
	pr.mu.Lock()
	c := pr.calls[m.Call]
	pr.mu.Unlock()
	if c == nil || c.tools == nil {
		refuse("call %d of this process is not running with tools", m.Call)
		return
	}
	if err := c.tools.start(pr, id, &m); err != nil {
		refuse("%v", err)
	}
}

// workerTools is the worker process's side: the tool calls waiting for their answer.
type workerTools struct{ waiters[toolResult] }

// deliver hands a msgToolResult to its waiting call; an answer nobody waits for (the call
// was dropped) is ignored.
func (wt *workerTools) deliver(id uint64, payload []byte) {
	var r toolResult
	if err := json.Unmarshal(payload, &r); err != nil {
		r = toolResult{Failed: true, Err: "isobox: bad tool result from the supervisor"}
	}
	wt.answer(id, r)
}

// toolFunc is the ToolFunc of call callID's sandbox in the worker process: each call goes
// to the supervisor.
func (w *workerSide) toolFunc(callID uint64) engine.ToolFunc {
	return func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
		id := w.nextReq.Add(1)
		ch := w.tools.add(id)
		defer w.tools.drop(id)
		if err := w.c.sendJSON(msgToolCall, id, toolCallMsg{Call: callID, Name: name, Args: args}); err != nil {
			return nil, fmt.Errorf("%s: the tool call did not reach the supervisor: %w", name, err)
		}
		select {
		case r := <-ch:
			if r.Failed {
				return nil, errors.New(r.Err)
			}
			return r.Value, nil
		case <-ctx.Done():
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], callID)
			_ = w.c.send(msgToolCancel, id, b[:])
			return nil, fmt.Errorf("%s: canceled: %w", name, context.Cause(ctx))
		}
	}
}

// evalTools runs an Eval whose tool calls go to the supervisor.
func (w *workerSide) evalTools(ctx context.Context, id uint64, m *invokeMsg) (*loader.Result, error) {
	var out http.RoundTripper
	if m.HasOutbound {
		out = &outbound{w: w, route: callRoute(id)}
	}
	return w.l.Eval(ctx, m.Snippet, loader.EvalOptions{Limits: m.Limits.engine(), Outbound: out, Tools: w.toolFunc(id), Python: m.Python})
}
