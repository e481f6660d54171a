// Package loader is the Worker Loader: it turns WorkerCode into sandboxes, keeps warm ones
// per worker id for reuse, and hands out stubs to call them, mirroring the Worker Loader of
// Cloudflare's Dynamic Workers (get / load / getEntrypoint). Unlike workerd it bounds its
// cache: LRU, an idle TTL and a total memory budget.
//
//	l, _ := loader.New(loader.Config{Engine: e})
//	stub := l.Get("counter:v1", func() (loader.WorkerCode, error) { return code, nil })
//	res, err := stub.Call(ctx, "increment", nil)
package loader

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// Config configures a Loader. Zero fields take the defaults named.
type Config struct {
	Engine *engine.Engine
	// MaxInstancesPerWorker bounds the sandboxes of one worker id running at once (4).
	MaxInstancesPerWorker int
	// MaxQueuePerWorker bounds the calls waiting for a sandbox of one id (64); beyond it
	// calls fail with overloaded.
	MaxQueuePerWorker int
	// IdleTTL drops warm sandboxes unused for this long (5 minutes).
	IdleTTL time.Duration
	// MemoryBudget bounds the linear memory of all warm, idle sandboxes together (1 GiB);
	// the least recently used are dropped first.
	MemoryBudget uint64
	// MaxWorkers bounds the number of worker ids kept warm (10,000).
	MaxWorkers int
	// StartupCPU bounds the CPU time of evaluating a worker's modules (1 s).
	StartupCPU time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxInstancesPerWorker <= 0 {
		c.MaxInstancesPerWorker = 4
	}
	if c.MaxQueuePerWorker <= 0 {
		c.MaxQueuePerWorker = 64
	}
	if c.IdleTTL <= 0 {
		c.IdleTTL = 5 * time.Minute
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = 1 << 30
	}
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = 10000
	}
	if c.StartupCPU <= 0 {
		c.StartupCPU = time.Second
	}
	return c
}

// Loader keeps warm sandboxes per worker id. It is safe for concurrent use.
type Loader struct {
	cfg     Config
	mu      sync.Mutex
	workers map[string]*worker
	lru     *list.List // of *worker with idle sandboxes, most recent at front
	idleMem uint64     // linear memory of all idle sandboxes
	stop    chan struct{}
	done    chan struct{}
}

// worker is one worker id: its code (once fetched) and its sandboxes.
type worker struct {
	id      string
	slots   chan struct{} // one token per running sandbox
	waiting int           // calls queued for a slot (guarded by Loader.mu)
	idle    []*instance   // warm sandboxes, most recently used last
	elem    *list.Element // in Loader.lru while idle is non-empty

	codeMu sync.Mutex // serialises fetching the code
	code   *prepared

	forgotten bool // Forget was called: sandboxes are closed on release (guarded by Loader.mu)
}

type instance struct {
	sb       *engine.Sandbox
	lastUsed time.Time
	mem      uint64
}

// prepared is WorkerCode validated and converted for the engine.
type prepared struct {
	code   WorkerCode
	mods   engine.ModuleMap
	env    json.RawMessage
	limits engine.Limits
}

// New makes a Loader and starts its idle-TTL sweeper; Close stops it.
func New(cfg Config) (*Loader, error) {
	if cfg.Engine == nil {
		return nil, errors.New("loader: Config.Engine is required")
	}
	l := &Loader{cfg: cfg.withDefaults(), workers: map[string]*worker{}, lru: list.New(),
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.sweep()
	return l, nil
}

// Close stops the sweeper and closes every idle sandbox. Calls in flight finish; their
// sandboxes are closed on release.
func (l *Loader) Close(ctx context.Context) {
	select {
	case <-l.stop:
		return
	default:
	}
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.workers {
		l.dropIdle(ctx, w, len(w.idle))
	}
}

// Get returns a stub for worker id. code runs only when no warm sandbox exists for id (and
// at most once while one is kept); it must return the same code every time for one id.
// Get itself does no work: loading happens on the first call through the stub, and a
// loading error is returned by every call.
func (l *Loader) Get(id string, code func() (WorkerCode, error)) *Stub {
	return &Stub{l: l, id: id, codeFn: code}
}

// Load returns a stub for a fresh, uncached worker (Get with no id): each Load makes its
// own sandbox, which Stub.Close frees.
func (l *Loader) Load(code WorkerCode) *Stub {
	return &Stub{l: l, oneShot: &oneShot{code: code}}
}

// Stats describes the loader's warm cache.
type Stats struct {
	Workers       int    `json:"workers"`
	BusySandboxes int    `json:"busySandboxes"`
	IdleSandboxes int    `json:"idleSandboxes"`
	IdleMemory    uint64 `json:"idleMemoryBytes"`
}

// Stats returns a snapshot of the cache.
func (l *Loader) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{Workers: len(l.workers), IdleMemory: l.idleMem}
	for _, w := range l.workers {
		s.IdleSandboxes += len(w.idle)
		s.BusySandboxes += len(w.slots)
	}
	return s
}

// Forget closes the idle sandboxes of worker id and drops its code, so that the next call
// fetches the code again (use it when the code behind an id changes or is deleted).
// Calls in flight finish; their sandboxes are closed when they return.
func (l *Loader) Forget(ctx context.Context, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.workers[id]
	if w == nil {
		return
	}
	w.forgotten = true
	l.dropIdle(ctx, w, len(w.idle))
	delete(l.workers, id)
}

func validID(id string) error {
	if id == "" || len(id) > 256 {
		return isoerr.New(isoerr.InvalidRequest, "worker id must be 1 to 256 bytes, got %d", len(id))
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return isoerr.New(isoerr.InvalidRequest, "worker id %q contains a control character", id)
		}
	}
	return nil
}

// acquire returns a sandbox of worker id with its code loaded, waiting for a free slot.
func (l *Loader) acquire(ctx context.Context, id string, codeFn func() (WorkerCode, error)) (*worker, *instance, bool, error) {
	if err := validID(id); err != nil {
		return nil, nil, false, err
	}
	l.mu.Lock()
	w := l.workers[id]
	if w == nil {
		w = &worker{id: id, slots: make(chan struct{}, l.cfg.MaxInstancesPerWorker)}
		l.workers[id] = w
	}
	if w.waiting >= l.cfg.MaxQueuePerWorker+l.cfg.MaxInstancesPerWorker {
		l.mu.Unlock()
		return nil, nil, false, isoerr.New(isoerr.Overloaded, "worker %q has %d calls waiting; try again later", id, w.waiting)
	}
	w.waiting++
	l.mu.Unlock()

	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		l.mu.Lock()
		w.waiting--
		l.mu.Unlock()
		return nil, nil, false, isoerr.New(isoerr.Canceled, "canceled while waiting for worker %q: %v", id, context.Cause(ctx))
	}
	l.mu.Lock()
	w.waiting--
	if n := len(w.idle); n > 0 {
		inst := w.idle[n-1]
		w.idle = w.idle[:n-1]
		l.idleMem -= inst.mem
		if len(w.idle) == 0 && w.elem != nil {
			l.lru.Remove(w.elem)
			w.elem = nil
		}
		l.mu.Unlock()
		return w, inst, false, nil
	}
	l.mu.Unlock()

	p, err := w.prepared(codeFn)
	if err == nil {
		var inst *instance
		inst, err = l.start(ctx, p)
		if err == nil {
			return w, inst, true, nil
		}
	}
	<-w.slots
	l.forgetIfUnused(w)
	return nil, nil, false, err
}

// prepared returns the worker's code, calling codeFn only if it has none yet.
func (w *worker) prepared(codeFn func() (WorkerCode, error)) (*prepared, error) {
	w.codeMu.Lock()
	defer w.codeMu.Unlock()
	if w.code != nil {
		return w.code, nil
	}
	if codeFn == nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "worker %q has no code", w.id)
	}
	code, err := codeFn()
	if err != nil {
		return nil, err
	}
	p, err := prepare(code)
	if err != nil {
		return nil, err
	}
	w.code = p
	return p, nil
}

func prepare(code WorkerCode) (*prepared, error) {
	mods, env, err := code.prepare()
	if err != nil {
		return nil, err
	}
	return &prepared{code: code, mods: mods, env: env, limits: code.Limits.Engine()}, nil
}

// start makes a sandbox and evaluates the worker's modules in it.
func (l *Loader) start(ctx context.Context, p *prepared) (*instance, error) {
	sb, err := l.cfg.Engine.NewSandbox(ctx, engine.SandboxConfig{
		Memory: p.limits.Memory, Modules: p.mods, Outbound: p.code.Outbound,
	})
	if err != nil {
		return nil, err
	}
	lim := p.limits
	lim.CPU = l.cfg.StartupCPU
	res, err := sb.Load(ctx, lim, p.code.MainModule, p.env)
	if err != nil {
		sb.Close(ctx)
		return nil, withLogs(err, res)
	}
	return &instance{sb: sb}, nil
}

// release returns a sandbox after a call: broken ones are closed, others kept warm.
func (l *Loader) release(ctx context.Context, w *worker, inst *instance, keep bool) {
	l.mu.Lock()
	forgotten := w.forgotten
	l.mu.Unlock()
	if !keep || forgotten || inst.sb.Broken() != nil {
		inst.sb.Close(ctx)
		<-w.slots
		l.forgetIfUnused(w)
		return
	}
	inst.lastUsed = time.Now()
	inst.mem = uint64(inst.sb.MemoryBytes())
	l.mu.Lock()
	w.idle = append(w.idle, inst)
	l.idleMem += inst.mem
	if w.elem == nil {
		w.elem = l.lru.PushFront(w)
	} else {
		l.lru.MoveToFront(w.elem)
	}
	<-w.slots
	l.evictOverBudget(ctx)
	l.mu.Unlock()
}

// evictOverBudget drops least-recently-used idle sandboxes while the cache is over its
// memory budget or its worker count. Called with l.mu held.
func (l *Loader) evictOverBudget(ctx context.Context) {
	for l.lru.Len() > 0 && (l.idleMem > l.cfg.MemoryBudget || l.lru.Len() > l.cfg.MaxWorkers) {
		w := l.lru.Back().Value.(*worker)
		l.dropIdle(ctx, w, 1)
	}
}

// dropIdle closes the n least recently used idle sandboxes of w. Called with l.mu held.
func (l *Loader) dropIdle(ctx context.Context, w *worker, n int) {
	for ; n > 0 && len(w.idle) > 0; n-- {
		inst := w.idle[0]
		w.idle = w.idle[1:]
		l.idleMem -= inst.mem
		inst.sb.Close(ctx)
	}
	if len(w.idle) == 0 {
		if w.elem != nil {
			l.lru.Remove(w.elem)
			w.elem = nil
		}
		if len(w.slots) == 0 && w.waiting == 0 && l.workers[w.id] == w {
			delete(l.workers, w.id)
		}
	}
}

func (l *Loader) forgetIfUnused(w *worker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !w.forgotten && len(w.idle) == 0 && len(w.slots) == 0 && w.waiting == 0 && l.workers[w.id] == w {
		delete(l.workers, w.id)
	}
}

// sweep drops sandboxes idle for longer than IdleTTL.
func (l *Loader) sweep() {
	defer close(l.done)
	period := min(l.cfg.IdleTTL/2, 30*time.Second)
	t := time.NewTicker(max(period, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			l.mu.Lock()
			for e := l.lru.Back(); e != nil; {
				prev := e.Prev()
				w := e.Value.(*worker)
				n := 0
				for _, inst := range w.idle {
					if now.Sub(inst.lastUsed) > l.cfg.IdleTTL {
						n++
					}
				}
				l.dropIdle(context.Background(), w, n)
				e = prev
			}
			l.mu.Unlock()
		}
	}
}

// withLogs attaches the logs of a failed load to the error's result.
func withLogs(err error, res *engine.Result) error {
	if res == nil || len(res.Logs) == 0 {
		return err
	}
	return &LoadError{Err: isoerr.As(err), Logs: res.Logs}
}

// LoadError is a failed load with the console output the worker produced before failing.
type LoadError struct {
	Err  *isoerr.Error
	Logs []engine.Log
}

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// Outbound is the transport a worker's fetch() goes through (see WorkerCode.Outbound).
type Outbound = http.RoundTripper
