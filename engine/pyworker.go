package engine

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/isobox/isobox/isoerr"
)

// Python's side of the host operations and of workers.
//
// A Python sandbox reaches the host through the same tables as JavaScript (hostOps,
// asyncOps): driver.c's _isobox.call runs any synchronous op by name, and the prelude
// starts asynchronous ones with op_start. What differs is who drives the event loop. In
// JavaScript the host does (Sandbox.loop: dispatch, run jobs, wait, dispatch the outcome);
// in Python asyncio does, inside one guest call, and when it has nothing to run it asks
// the host to wait for it: op_wait blocks until an operation of the invocation completes
// and answers its outcome, the message JavaScript gets dispatched. So one invocation of a
// Python worker is one guest call (opPyEntry) that reports its outcome through the same
// body and complete ops as the JavaScript runtime, and Sandbox.run judges it the same way.

// opPyEntry runs one invocation of a Python worker: the prelude's _entry(kind, payload).
const opPyEntry op = 18

// maxOpWait bounds one op_wait (the guest asks again).
const maxOpWait = 24 * time.Hour

// opWait is hostOps "op_wait": see its entry.
func (sb *Sandbox) opWait(in []byte) ([]byte, error) {
	var a struct {
		TimeoutMs *float64 `json:"timeoutMs"`
	}
	if err := decode("op_wait", in, &a); err != nil {
		return nil, err
	}
	inv := sb.inv
	timeout := time.Duration(-1)
	if a.TimeoutMs != nil && *a.TimeoutMs >= 0 {
		timeout = time.Duration(min(*a.TimeoutMs, float64(maxOpWait/time.Millisecond)) * float64(time.Millisecond))
	}
	if timeout < 0 && len(inv.ops) == 0 {
		inv.sig.noResponse = isoerr.New(isoerr.NoResponse, "the code waits for something that can never happen (no pending fetch or tool call, no timer): the invocation can never finish")
		return nil, &hostError{name: "Error", msg: "no_response: " + inv.sig.noResponse.Message}
	}
	if inv.ctx.Err() != nil {
		inv.stop(canceledError(inv))
		return nil, nil
	}
	// Fast path: an outcome already there, or a poll that does not wait.
	select {
	case r := <-inv.opDone:
		if out, ok := sb.deliver(r); ok {
			return out, nil
		}
	default:
		if timeout == 0 {
			return nil, nil
		}
	}
	start := time.Now()
	defer func() {
		// Blocked time is not CPU time: with a thread clock it never counted; without one
		// the slice is measured in wall time, so take it out.
		if !inv.threadOK {
			inv.cpu -= time.Since(start)
		}
	}()
	var timerC <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timerC = t.C
	}
	wall := time.NewTimer(time.Until(inv.deadline))
	defer wall.Stop()
	for {
		select {
		case r := <-inv.opDone:
			if out, ok := sb.deliver(r); ok {
				return out, nil
			}
		case <-timerC:
			return nil, nil
		case <-inv.ctx.Done():
			inv.stop(canceledError(inv))
			return nil, nil
		case <-wall.C:
			inv.stop(wallError(inv))
			return nil, nil
		}
	}
}

// deliver does the bookkeeping of an operation's outcome and returns it as the "op"
// message's JSON; ok is false for an operation the guest canceled meanwhile.
func (sb *Sandbox) deliver(r opResult) ([]byte, bool) {
	inv := sb.inv
	if _, ok := inv.ops[r.id]; !ok {
		if r.body != nil {
			r.body.Close()
		}
		return nil, false
	}
	delete(inv.ops, r.id)
	delete(inv.toolOps, r.id)
	inv.settleBody(&r)
	out, err := json.Marshal(map[string]any{"id": r.id, "ok": r.err == nil, "value": r.value, "error": r.err})
	if err != nil {
		out, _ = json.Marshal(map[string]any{"id": r.id, "ok": false, "error": &opError{Name: "TypeError", Message: "the operation's result cannot be encoded: " + err.Error()}})
	}
	return out, true
}

// pythonEntry runs one invocation message (load, fetch, call) in a Python sandbox: the
// prelude's _entry, which reports the outcome through body and complete_settled. An
// exception of the prelude's own (or a limit's stop) is the glue's exception, as a
// JavaScript one escaping the dispatcher is.
func (sb *Sandbox) pythonEntry(msg any) error {
	m, _ := msg.(map[string]any)
	kind, _ := m["type"].(string)
	if kind == "eval" {
		return isoerr.New(isoerr.Internal, "engine: a Python eval runs through pythonRun")
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return isoerr.New(isoerr.InvalidRequest, "cannot encode message: %v", err)
	}
	b = append([]byte(kind+"\n"), b...)
	ptr, err := sb.write(b)
	if err != nil {
		return err
	}
	defer sb.freeGuest(ptr)
	r, err := sb.guest(opPyEntry, ptr, uint32(len(b)), 0)
	if err != nil {
		return err
	}
	if r != 0 {
		return sb.pythonException()
	}
	return nil
}

// pythonException records the exception the driver just recorded, unless it is the one
// op_wait raised because nothing was left to wait for: then the invocation's outcome is
// no_response, as in JavaScript, whatever the guest made of it.
func (sb *Sandbox) pythonException() error {
	if sb.inv.sig.noResponse != nil {
		return sb.fail()
	}
	return sb.guestException()
}

// pythonSources returns the worker's Python modules (name -> source) for the prelude's
// importer.
func (m ModuleMap) pythonSources() map[string]string {
	out := map[string]string{}
	for name, mod := range m {
		if mod.Type == ModulePy {
			out[name] = string(mod.Content)
		}
	}
	return out
}

// validatePython checks a Python worker's module map: main is a .py module, every Python
// module is UTF-8 with a usable name. Modules of other types are allowed and ignored.
func (m ModuleMap) validatePython(main string) error {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		mod := m[name]
		if name == "" || name[0] == '/' || strings.ContainsRune(name, 0) {
			return isoerr.New(isoerr.InvalidWorkerCode, "invalid module name %q", name)
		}
		if mod.Type == ModulePy && !utf8.Valid(mod.Content) {
			return isoerr.New(isoerr.InvalidWorkerCode, "module %q is not valid UTF-8", name)
		}
	}
	return nil
}

// compilePython is Engine.Compile for a Python worker: the prelude compiles every .py
// module without running any.
func (e *Engine) compilePython(ctx context.Context, lim Limits, mods ModuleMap) error {
	sb, err := e.NewSandbox(ctx, SandboxConfig{Memory: lim.Memory, Modules: mods, Python: true})
	if err != nil {
		return err
	}
	defer sb.Close(ctx)
	_, err = sb.run(ctx, lim, map[string]any{"type": "check", "modules": mods.pythonSources()})
	return err
}
