package sandboxproc

import (
	"context"
	"encoding/json"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// compileReply answers msgCompile: the check's error, nil when the code compiles.
type compileReply struct {
	Err *isoerr.Error `json:"err,omitempty"`
}

// Compile checks that code would load, in a worker process of code.Tenant's (loader.Loader.Compile there):
// parsing a stranger's modules is guest work, kept out of the supervisor like running
// them. The same checks run and give the same errors as in process.
//
//	err := pool.Compile(ctx, code) // invalid_worker_code: main.js:3:9: SyntaxError: ...
//
// # Errors
//
// Those of loader.Loader.Compile; sandbox_restarted when the process stopped under the
// check, a limit code when the watchdog stopped it.
func (p *Pool) Compile(ctx context.Context, code loader.WorkerCode) error {
	b, err := json.Marshal(code)
	if err != nil {
		return isoerr.New(isoerr.InvalidWorkerCode, "the code does not encode: %v", err)
	}
	// The check is bounded by the loader's startup CPU and the code's wall-time limit.
	c := p.newCall()
	c.cpu = startupCPU
	wall := p.limitsOf(code.Limits, engine.Limits{}).Wall
	c.tenant = orDefault(code.Tenant)
	idx, err := p.acquire(ctx, c.tenant, int(p.rr.Add(1)%uint64(len(p.procs))))
	if err != nil {
		return err
	}
	defer p.release(idx)
	_, f, err := p.roundTrip(ctx, nil, idx, msgCompile, b, c, wall)
	if err != nil {
		return err
	}
	var r compileReply
	if f.typ != msgCompileReply || json.Unmarshal(f.payload, &r) != nil {
		return isoerr.New(isoerr.Internal, "the sandbox process's answer to a compile check does not decode (message type %d)", f.typ)
	}
	if r.Err != nil {
		return r.Err
	}
	return nil
}

// compile runs one msgCompile in the worker process.
func (w *workerSide) compile(ctx context.Context, id uint64, payload []byte) {
	w.goCall(ctx, id, func(cctx context.Context) {
		var r compileReply
		var code loader.WorkerCode
		if err := decodeCode(payload, &code); err != nil {
			r.Err = isoerr.As(err)
		} else {
			// Python's start in this process is not the check's (see preparePython).
			w.preparePython(cctx, &code)
			unpin := w.pinCall(id)
			if err := w.l.Compile(cctx, code); err != nil {
				r.Err = isoerr.As(err)
			}
			unpin()
		}
		_ = w.c.sendJSON(msgCompileReply, id, r)
	})
}
