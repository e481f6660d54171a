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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
	"github.com/isobox/isobox/workspace/shell"
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
	// MemoryBudget bounds the memory that all warm, idle sandboxes hold together (1 GiB):
	// each counts its private pages (engine.Sandbox.ResidentBytes), not the size of its
	// linear memory, so a worker that keeps ~200 KiB of its 2 MiB costs ~200 KiB. The least
	// recently used are dropped (hibernated, with Images) first.
	MemoryBudget uint64
	// MaxWorkers bounds the number of worker ids kept warm (10,000).
	MaxWorkers int
	// StartupCPU bounds the CPU time of evaluating a worker's modules (1 s).
	StartupCPU time.Duration
	// Images, when set, hibernates evicted idle sandboxes instead of discarding them: the
	// next call to that worker resumes it with its module state intact, even after a
	// restart. nil discards them.
	Images images.Store
	// CodeImageBudget bounds the memory of the per-code images (256 MiB): the state right
	// after a worker's modules were evaluated, taken when a code is loaded for the second
	// time, from which later sandboxes of the same code start without evaluating them again.
	// The dependency images (NoDepImages) share it. An image counts its changed pages and
	// the file its restores map them from (engine.Image.FileBytes).
	CodeImageBudget uint64
	// Workspaces, when set, is the store that workers' filesystem bindings
	// (WorkerCode.Bindings, env.FS) open. nil: a worker with bindings fails to load with
	// invalid_worker_code.
	Workspaces workspace.Store
	// NoDepImages turns dependency images off (loader/depimage.go): every new code
	// evaluates its npm package modules itself. For comparison in benchmarks.
	NoDepImages bool
	// BlankSandboxes is how many blank JavaScript sandboxes the engine keeps ready, made
	// in the background, so that a cold load takes one instead of making it
	// (engine.Engine.KeepBlank; 2), from the loader's second new sandbox on (a one-shot
	// `isobox run` makes no pool it would not use). Negative keeps none. Entries are blank
	// (the base image only) and each is handed out once, so tenants never share one. As
	// many sandboxes restored from a dependency image are kept ready, from its first
	// restore on (engine.Engine.KeepRestored; an entry is that image only).
	BlankSandboxes int
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
	if c.CodeImageBudget == 0 {
		c.CodeImageBudget = 256 << 20
	}
	if c.BlankSandboxes == 0 {
		c.BlankSandboxes = 2
	}
	return c
}

// Loader keeps warm sandboxes per worker id. It is safe for concurrent use.
//
// Lock order: Loader.mu, then worker.codeMu is never taken with it (codeMu is held while
// the code is fetched, without Loader.mu); codeCache.mu and hibernator.mu are leaves,
// taken alone or under Loader.mu, and nothing is locked while either is held. A warm call
// takes Loader.mu once to get an idle sandbox and once to give it back; starting a
// sandbox takes only the leaves.
type Loader struct {
	cfg     Config
	mu      sync.Mutex
	workers map[string]*worker
	lru     *list.List // of *worker with idle sandboxes, most recent at front
	idleMem uint64     // resident memory of all idle sandboxes (the sum of instance.mem)
	guesses []guess    // idle sandboxes counted by their bounds, to measure (see counted)
	kick    chan struct{}
	kicks   atomic.Int64 // wake-ups release sent the sweeper (read by tests)
	stop    chan struct{}
	done    chan struct{}

	code       *codeCache     // per-code images and the seen set (own lock)
	hib        *hibernator    // hibernated workers and their counters (own lock)
	retirers   chan struct{}  // a token per background retirement running (see release)
	news       atomic.Int64   // new sandboxes made (start); the second starts the blank pool
	background sync.WaitGroup // background retirements, awaited by Close
	closed     bool
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
	trimming  int  // idle sandboxes taken out for a moment by trimIdle (guarded by Loader.mu)
}

type instance struct {
	sb       *engine.Sandbox
	lastUsed time.Time
	mem      uint64 // resident bytes, as last measured or estimated (see counted)
	memLen   int    // the linear memory's size when mem was set; 0: never set
	guessed  bool   // mem is the linear memory's size, an upper bound, until measured
	queued   bool   // in Loader.guesses (guarded by Loader.mu)
	// missed: the sweeper, kicked to measure it, found it in use again (guarded by
	// Loader.mu). A worker called back to back would otherwise wake the sweeper on every
	// release, to find it busy each time; its later measurements wait for the sweeper's tick.
	missed  bool
	how     startKind
	trimmed bool // Trim ran since the last use
}

// counted sets inst.mem, what the memory budget counts for the sandbox, after a call.
// A sandbox whose memory is new or grew is counted at its linear memory's size, an upper
// bound of what it holds, and measured later off the request path (measureGuessed):
// reading the page table costs ~35 µs per cold load. A warm call that neither grows nor
// is the first keeps the last figure until the next trim (a second later) corrects it.
// Called without l.mu, on a sandbox no call is using; it reports whether inst needs a
// measurement.
func (inst *instance) counted() bool {
	if n := inst.sb.MemoryBytes(); n != inst.memLen || inst.guessed {
		inst.memLen = n
		inst.mem = uint64(n)
		inst.guessed = true
	}
	return inst.guessed
}

// measure updates inst's figure with the sandbox's resident memory, read from the page
// table. Called on a sandbox no call is using, with or without l.mu.
func (inst *instance) measure() uint64 {
	inst.memLen = inst.sb.MemoryBytes()
	inst.guessed = false
	return uint64(inst.sb.ResidentBytes())
}

// trimAfter is how long a sandbox stays idle before its unchanged pages are given back to
// the shared image (engine.Sandbox.Trim).
const trimAfter = time.Second

// startKind says how a sandbox came to be.
type startKind int

const (
	startWarm     startKind = iota // reused
	startCold                      // modules evaluated
	startRestored                  // from the per-code image
	startResumed                   // from a hibernated image
	startDepImage                  // from the dependency image of its package modules
)

// prepared is WorkerCode validated and converted for the engine.
type prepared struct {
	code   WorkerCode
	mods   engine.ModuleMap
	env    json.RawMessage
	limits engine.Limits
	hash   string  // identifies code, env, memory limit and tenant
	deps   *depSet // its npm package modules, for a dependency image; nil: none
}

// python reports a Python worker: its main module is .py.
func (p *prepared) python() bool { return p.mods[p.code.MainModule].Type == engine.ModulePy }

// nodeCompat reports the nodejs_compat compatibility flag: the worker may import the
// runtime's Node.js built-in modules (engine.SandboxConfig.NodeCompat).
func (p *prepared) nodeCompat() bool {
	return slices.Contains(p.code.CompatibilityFlags, engine.NodeCompatFlag)
}

// wasm reports a WebAssembly worker: its main module is wasm. Its images carry a reactor's
// memory and globals (engine/wasmworker_image.go).
func (p *prepared) wasm() bool { return p.mods[p.code.MainModule].Type == engine.ModuleWasm }

// New makes a Loader and starts its idle-TTL sweeper; Close stops it.
func New(cfg Config) (*Loader, error) {
	if cfg.Engine == nil {
		return nil, errors.New("loader: Config.Engine is required")
	}
	cfg = cfg.withDefaults()
	l := &Loader{cfg: cfg, workers: map[string]*worker{}, lru: list.New(),
		stop: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1),
		code: newCodeCache(cfg.CodeImageBudget), hib: newHibernator(), retirers: make(chan struct{}, maxRetirers)}
	go l.sweep()
	return l, nil
}

// Close stops the sweeper and closes every idle sandbox (hibernating it, with Images).
// Calls in flight finish; their sandboxes are closed on release.
func (l *Loader) Close(ctx context.Context) {
	select {
	case <-l.stop:
		return
	default:
	}
	close(l.stop)
	<-l.done
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.background.Wait()
	l.mu.Lock()
	var out []retired
	for _, w := range l.workers {
		out = append(out, l.dropIdle(w, len(w.idle))...)
	}
	l.mu.Unlock()
	l.retire(ctx, out)
}

// Engine returns the engine the loader runs sandboxes on.
func (l *Loader) Engine() *engine.Engine { return l.cfg.Engine }

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
	Workers       int `json:"workers"`
	BusySandboxes int `json:"busySandboxes"`
	// Waiting is the number of calls waiting for a slot of their worker (queued behind its
	// MaxInstancesPerWorker calls).
	Waiting       int `json:"waiting"`
	IdleSandboxes int `json:"idleSandboxes"`
	// IdleMemory is what the memory budget counts: the idle sandboxes' private pages.
	IdleMemory uint64 `json:"idleMemoryBytes"`
	// CodeImages and CodeImageMemory describe the per-code image cache (dependency
	// images, loader/depimage.go, included).
	CodeImages      int    `json:"codeImages"`
	CodeImageMemory uint64 `json:"codeImageMemoryBytes"`
	// Hibernated is the number of workers hibernated in Config.Images by this loader and
	// not yet resumed; Hibernations and Resumes count since New.
	Hibernated   int   `json:"hibernated"`
	Hibernations int64 `json:"hibernations"`
	Resumes      int64 `json:"resumes"`
	// HibernateErrors counts evicted workers that could not be written to Config.Images
	// (their state was lost).
	HibernateErrors int64 `json:"hibernateErrors"`
}

// Stats returns a snapshot of the cache.
func (l *Loader) Stats() Stats {
	var s Stats
	s.CodeImages, s.CodeImageMemory = l.code.stats()
	s.Hibernated, s.Hibernations, s.Resumes, s.HibernateErrors = l.hib.stats()
	l.mu.Lock()
	defer l.mu.Unlock()
	s.Workers, s.IdleMemory = len(l.workers), l.idleMem
	for _, w := range l.workers {
		s.IdleSandboxes += len(w.idle)
		s.BusySandboxes += len(w.slots)
		s.Waiting += w.waiting
	}
	return s
}

// Forget closes the idle sandboxes of worker id, deletes its hibernated state from
// Config.Images and drops its code, so that the next call fetches the code again and
// starts fresh (use it when the code behind an id changes or is deleted). Calls in flight
// finish; their sandboxes are closed when they return.
func (l *Loader) Forget(ctx context.Context, id string) {
	l.mu.Lock()
	var out []retired
	if w := l.workers[id]; w != nil {
		w.forgotten = true
		out = l.dropIdle(w, len(w.idle))
		delete(l.workers, id)
	}
	l.mu.Unlock()
	l.retire(ctx, out)
	if l.cfg.Images == nil {
		return
	}
	l.hib.load(ctx, l.cfg.Images)
	prefix := hibPrefix(id)
	for _, ch := range l.hib.pending(prefix) {
		<-ch
	}
	for _, k := range l.hib.drop(prefix) {
		_ = l.cfg.Images.Delete(context.WithoutCancel(ctx), k)
	}
}

// validID checks a loader id: a worker id (api.CheckWorkerID), scoped to a tenant or not
// (api.CheckScoped: "acme~hello"), optionally followed by "@" and a version of 1 to 128
// letters, digits, '.', '_' or '-' (the server's id@codehash).
func validID(id string) error {
	base, version, versioned := strings.Cut(id, "@")
	if err := api.CheckScoped(base, api.CheckWorkerID); err != nil {
		return err
	}
	if !versioned {
		return nil
	}
	ok := len(version) >= 1 && len(version) <= api.MaxIDLength
	for i := 0; ok && i < len(version); i++ {
		c := version[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return isoerr.New(isoerr.InvalidRequest, "invalid version %q of worker id %q: use 1 to %d letters, digits, '.', '_' or '-'", version, base, api.MaxIDLength)
	}
	return nil
}

// acquire returns a sandbox of worker id with its code loaded, waiting for a free slot;
// onSlot (if not nil) is called once the slot is taken.
func (l *Loader) acquire(ctx context.Context, id string, codeFn func() (WorkerCode, error), onSlot func()) (*worker, *instance, bool, error) {
	// The bool is true when the call got a new sandbox (instance.how says which kind).
	if err := validID(id); err != nil {
		return nil, nil, false, err
	}
	l.mu.Lock()
	w := l.workers[id]
	if w == nil {
		w = &worker{id: id, slots: make(chan struct{}, l.cfg.MaxInstancesPerWorker)}
		l.workers[id] = w
	}
	if n := w.waiting; n >= l.cfg.MaxQueuePerWorker+l.cfg.MaxInstancesPerWorker {
		l.mu.Unlock()
		return nil, nil, false, isoerr.New(isoerr.Overloaded, "worker %q has %d calls waiting; try again later", id, n)
	}
	// The warm path: a free slot and an idle sandbox, both taken under this one lock.
	if len(w.idle) > 0 && ctx.Err() == nil {
		select {
		case w.slots <- struct{}{}:
			inst := l.takeIdle(w)
			l.mu.Unlock()
			if onSlot != nil {
				onSlot()
			}
			return w, inst, false, nil
		default:
		}
	}
	w.waiting++
	l.mu.Unlock()

	acquired := false
	if ctx.Err() == nil { // a canceled caller never takes a slot (select picks at random when both are ready)
		select {
		case w.slots <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
	}
	if !acquired {
		l.mu.Lock()
		w.waiting--
		l.mu.Unlock()
		return nil, nil, false, isoerr.New(isoerr.Canceled, "canceled while waiting for worker %q: %v", id, context.Cause(ctx))
	}
	if onSlot != nil {
		onSlot()
	}
	l.mu.Lock()
	w.waiting--
	if len(w.idle) > 0 {
		inst := l.takeIdle(w)
		l.mu.Unlock()
		return w, inst, false, nil
	}
	l.mu.Unlock()

	p, err := w.prepared(codeFn)
	if err == nil {
		var inst *instance
		inst, err = l.start(ctx, w.id, p)
		if err == nil {
			return w, inst, true, nil
		}
	}
	<-w.slots
	l.forgetIfUnused(w)
	return nil, nil, false, err
}

// takeIdle takes w's most recently used idle sandbox. Called with l.mu held, w.idle
// non-empty.
func (l *Loader) takeIdle(w *worker) *instance {
	n := len(w.idle)
	inst := w.idle[n-1]
	w.idle = w.idle[:n-1]
	l.idleMem -= inst.mem
	if len(w.idle) == 0 && w.elem != nil {
		l.lru.Remove(w.elem)
		w.elem = nil
	}
	return inst
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
	p := &prepared{code: code, mods: mods, env: env, limits: EngineLimits(code.Limits)}
	hashed := env
	if len(code.Bindings) > 0 {
		// The binding names are part of the image (env.FS is made at load): code with
		// other bindings must not start from it. json.Marshal sorts the map's keys.
		b, _ := json.Marshal(code.Bindings)
		hashed = append(append(append(json.RawMessage(nil), env...), 0), b...)
	}
	if p.nodeCompat() {
		// The flag decides how imports resolve: an image of the code without it is not one
		// of the code with it.
		hashed = append(append(append(json.RawMessage(nil), hashed...), 0), engine.NodeCompatFlag...)
	}
	sums := moduleSums(mods)
	p.hash = codeHash(code.Tenant, code.MainModule, mods, sums, hashed, p.limits.Memory)
	p.deps = depsOf(p, sums)
	return p, nil
}

// start makes a sandbox for worker id with its code loaded: resumed from its hibernated
// image if it has one, restored from the per-code image if the code was seen, else new with
// its modules evaluated (and then kept as the per-code image).
func (l *Loader) start(ctx context.Context, id string, p *prepared) (*instance, error) {
	cfg := engine.SandboxConfig{Memory: p.limits.Memory, Modules: p.mods, Outbound: p.code.Outbound, Worker: id, Python: p.python(),
		NodeCompat: p.nodeCompat(), Wasm: p.wasm()}
	if len(p.code.Bindings) > 0 && p.code.FS != nil {
		cfg.FS = p.code.FS
		cfg.FSBindings = slices.Sorted(maps.Keys(p.code.Bindings))
	} else if len(p.code.Bindings) > 0 {
		if l.cfg.Workspaces == nil {
			return nil, isoerr.New(isoerr.InvalidWorkerCode, "the worker has bindings, but this loader has no workspace store (loader.Config.Workspaces)")
		}
		cfg.FS = FSOf(l.cfg.Workspaces, p.code.Bindings)
		cfg.FSBindings = slices.Sorted(maps.Keys(p.code.Bindings))
	}
	if id != "" && l.cfg.Images != nil {
		if sb := l.resume(ctx, hibKey(id, p.hash), cfg); sb != nil {
			return &instance{sb: sb, how: startResumed}, nil
		}
		if ctx.Err() != nil { // gave up waiting for its hibernation: never start it fresh
			return nil, isoerr.New(isoerr.Canceled, "canceled while resuming worker %q: %v", id, context.Cause(ctx))
		}
	}
	if img := l.code.image(p.hash); img != nil {
		sb, err := l.cfg.Engine.Restore(ctx, img, cfg)
		if err == nil {
			return &instance{sb: sb, how: startRestored}, nil
		}
	}
	sb, how, used, err := l.depSandbox(ctx, p, cfg)
	if err != nil {
		return nil, err
	}
	if sb == nil {
		if !cfg.Python && !cfg.Wasm && l.news.Add(1) == 2 && l.cfg.BlankSandboxes > 0 {
			l.cfg.Engine.KeepBlank(l.cfg.BlankSandboxes)
		}
		if sb, err = l.cfg.Engine.NewSandbox(ctx, cfg); err != nil {
			return nil, err
		}
		how = startCold
	}
	lim := p.limits
	// The packages' evaluation for this load, if it ran (depSandbox), counts against the
	// start-up budget too: a code gets StartupCPU in all, as without dependency images.
	lim.CPU = max(l.cfg.StartupCPU-used, time.Millisecond)
	res, err := sb.Load(ctx, lim, p.code.MainModule, p.env)
	if err != nil {
		sb.Close(ctx)
		return nil, withLogs(err, res)
	}
	// Taking an image costs a pass over the whole memory, so only a code that is loaded a
	// second time gets one: the first load of a unique worker (the common case) stays fast.
	if l.code.seenBefore(p.hash) {
		if img, err := sb.Snapshot(); err == nil {
			l.keepImage(p.hash, img)
		}
	}
	return &instance{sb: sb, how: how}, nil
}

// hibKey names a hibernated worker in the image store: a hash of its id, then of its
// code, so a changed code never resumes an old state. Hashed, the key has a fixed length
// (72 bytes) whatever the id's: a store may limit its keys (images.Dir makes each a file
// name), and `isobox serve` ids carry the code's hash already.
func hibKey(id, hash string) string {
	h := sha256.Sum256([]byte(hash))
	return hibPrefix(id) + hex.EncodeToString(h[:16])
}

// hibPrefix is the start of the keys of worker id's hibernated images.
func hibPrefix(id string) string {
	h := sha256.Sum256([]byte(id))
	return "worker:" + hex.EncodeToString(h[:16]) + "@"
}

// resume restores the hibernated image under key, if there is one, and removes it from the
// store (the state now lives on in the sandbox). A damaged or mismatched image is deleted
// and the worker starts as if it had none.
func (l *Loader) resume(ctx context.Context, key string, cfg engine.SandboxConfig) *engine.Sandbox {
	l.hib.load(ctx, l.cfg.Images)
	if !l.hib.take(ctx, key) {
		return nil
	}
	defer l.cfg.Images.Delete(context.WithoutCancel(ctx), key)
	b, err := l.cfg.Images.Get(ctx, key)
	if err != nil {
		return nil
	}
	img, err := l.cfg.Engine.UnmarshalImage(b)
	if err != nil {
		return nil
	}
	sb, err := l.cfg.Engine.Restore(ctx, img, cfg)
	if err != nil {
		return nil
	}
	l.hib.resumed()
	return sb
}

// retired is an idle sandbox taken out of the cache, to hibernate (key set) or close.
type retired struct {
	inst *instance
	key  string
	done chan struct{} // in l.hib's record of writes under way until it is written
}

// retire hibernates or closes sandboxes taken out of the cache. Called without l.mu.
func (l *Loader) retire(ctx context.Context, out []retired) {
	for _, r := range out {
		if r.key != "" {
			l.hib.end(r.key, r.done, l.hibernate(ctx, r))
		}
		r.inst.sb.Close(ctx)
	}
}

// maxRetirers bounds the evictions that hibernate in the background at once. Past it, the
// call whose release evicted waits for its evictions: memory taken out of the budget
// cannot pile up faster than it is written out.
const maxRetirers = 4

// retireLater retires out in the background when a slot is free (so the call that
// evicted does not wait for the image store), else now. Called without l.mu.
func (l *Loader) retireLater(ctx context.Context, out []retired) {
	if len(out) == 0 {
		return
	}
	l.mu.Lock()
	async := !l.closed
	if async {
		select {
		case l.retirers <- struct{}{}:
			l.background.Add(1)
		default:
			async = false
		}
	}
	l.mu.Unlock()
	if !async {
		l.retire(ctx, out)
		return
	}
	go func() {
		defer func() { <-l.retirers; l.background.Done() }()
		l.retire(context.WithoutCancel(ctx), out)
	}()
}

// hibernate writes the state of an evicted sandbox to the image store.
func (l *Loader) hibernate(ctx context.Context, r retired) error {
	img, err := r.inst.sb.Snapshot()
	if err != nil {
		return err
	}
	b, err := img.Marshal()
	if err != nil {
		return err
	}
	return l.cfg.Images.Put(context.WithoutCancel(ctx), r.key, b)
}

// release returns a sandbox after a call: broken ones are closed, others kept warm.
func (l *Loader) release(ctx context.Context, w *worker, inst *instance, keep bool) {
	if !keep || inst.sb.Broken() != nil {
		l.discard(ctx, w, inst)
		return
	}
	inst.lastUsed = time.Now()
	inst.trimmed = false
	guessed := inst.counted()
	l.mu.Lock()
	if w.forgotten {
		l.mu.Unlock()
		l.discard(ctx, w, inst)
		return
	}
	w.idle = append(w.idle, inst)
	l.idleMem += inst.mem
	kick := false
	if guessed && !inst.queued {
		inst.queued = true
		l.guesses = append(l.guesses, guess{w, inst})
		kick = !inst.missed
	}
	if w.elem == nil {
		w.elem = l.lru.PushFront(w)
	} else {
		l.lru.MoveToFront(w.elem)
	}
	<-w.slots
	var out []retired
	if l.closed { // a call that outlived Close: hibernate or close its sandbox now
		out = l.dropIdle(w, len(w.idle))
	} else {
		if l.idleMem > l.cfg.MemoryBudget {
			l.measureGuessesLocked() // evict by what sandboxes hold, not by their bounds
		}
		out = l.evictOverBudget()
	}
	l.mu.Unlock()
	if kick {
		select {
		case l.kick <- struct{}{}:
			l.kicks.Add(1)
		default:
		}
	}
	l.retireLater(ctx, out)
}

// guess is an idle sandbox counted by its bound until measured (instance.counted).
type guess struct {
	w    *worker
	inst *instance
}

// measureGuessesLocked measures every idle sandbox counted by its bound, in place. Called
// with l.mu held, when the budget is full: a bound must not evict a sandbox that fits.
func (l *Loader) measureGuessesLocked() {
	for _, g := range l.guesses {
		g.inst.queued = false
		l.measureIfIdle(g)
	}
	l.guesses = l.guesses[:0]
}

// measureIfIdle measures g's sandbox if it is still counted by its bound and idle; one a
// call is using again is marked missed. Called with l.mu held.
func (l *Loader) measureIfIdle(g guess) {
	if !slices.Contains(g.w.idle, g.inst) {
		g.inst.missed = true // guessed is the caller's to read until the sandbox is idle
		return
	}
	if !g.inst.guessed {
		return
	}
	mem := g.inst.measure()
	l.idleMem = l.idleMem - g.inst.mem + mem
	g.inst.mem, g.inst.missed = mem, false
}

// measureGuessed measures the idle sandboxes counted by their bounds, off the request
// path (the sweeper, kicked by release), one per hold of l.mu: a sandbox stays in its
// idle list while its page table is read (~35 µs), so a call for it waits that long
// rather than finding none and starting another.
func (l *Loader) measureGuessed() {
	for {
		l.mu.Lock()
		if len(l.guesses) == 0 {
			l.guesses = nil // let the backing array go
			l.mu.Unlock()
			return
		}
		g := l.guesses[0]
		l.guesses = l.guesses[1:]
		g.inst.queued = false
		l.measureIfIdle(g)
		l.mu.Unlock()
	}
}

// discard closes a sandbox that is not kept and frees its slot.
func (l *Loader) discard(ctx context.Context, w *worker, inst *instance) {
	inst.sb.Close(ctx)
	<-w.slots
	l.forgetIfUnused(w)
}

// evictOverBudget takes least-recently-used idle sandboxes out while the cache is over its
// memory budget or its worker count. Called with l.mu held.
func (l *Loader) evictOverBudget() []retired {
	var out []retired
	for l.lru.Len() > 0 && (l.idleMem > l.cfg.MemoryBudget || l.lru.Len() > l.cfg.MaxWorkers) {
		w := l.lru.Back().Value.(*worker)
		out = append(out, l.dropIdle(w, 1)...)
	}
	return out
}

// dropIdle takes the n least recently used idle sandboxes of w out of the cache. The
// worker's last one is marked for hibernation when an image store is configured. Called
// with l.mu held; the caller retires them after unlocking.
func (l *Loader) dropIdle(w *worker, n int) []retired {
	var out []retired
	for ; n > 0 && len(w.idle) > 0; n-- {
		inst := w.idle[0]
		w.idle = w.idle[1:]
		l.idleMem -= inst.mem
		r := retired{inst: inst}
		if len(w.idle) == 0 && l.cfg.Images != nil && !w.forgotten && w.code != nil {
			r.key = hibKey(w.id, w.code.hash)
			r.done = l.hib.begin(r.key)
		}
		out = append(out, r)
	}
	if len(w.idle) == 0 {
		if w.elem != nil {
			l.lru.Remove(w.elem)
			w.elem = nil
		}
		if len(w.slots) == 0 && w.waiting == 0 && w.trimming == 0 && l.workers[w.id] == w {
			delete(l.workers, w.id)
		}
	}
	return out
}

func (l *Loader) forgetIfUnused(w *worker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !w.forgotten && len(w.idle) == 0 && len(w.slots) == 0 && w.waiting == 0 && w.trimming == 0 && l.workers[w.id] == w {
		delete(l.workers, w.id)
	}
}

// sweep drops sandboxes idle for longer than IdleTTL.
func (l *Loader) sweep() {
	defer close(l.done)
	period := min(l.cfg.IdleTTL/2, trimAfter)
	t := time.NewTicker(max(period, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
			l.measureGuessed()
		case now := <-t.C:
			l.measureGuessed()
			l.mu.Lock()
			var out []retired
			for e := l.lru.Back(); e != nil; {
				prev := e.Prev()
				w := e.Value.(*worker)
				n := 0
				for _, inst := range w.idle {
					if now.Sub(inst.lastUsed) > l.cfg.IdleTTL {
						n++
					}
				}
				out = append(out, l.dropIdle(w, n)...)
				e = prev
			}
			l.mu.Unlock()
			l.retire(context.Background(), out)
			l.trimIdle(now)
		}
	}
}

// trimIdle trims sandboxes idle for trimAfter that were not trimmed since their last use.
// Each is taken out of the idle list while it is trimmed, so no call can use it meanwhile.
func (l *Loader) trimIdle(now time.Time) {
	for {
		l.mu.Lock()
		var w *worker
		var inst *instance
		for e := l.lru.Back(); e != nil && inst == nil; e = e.Prev() {
			for i, cand := range e.Value.(*worker).idle {
				if !cand.trimmed && now.Sub(cand.lastUsed) >= trimAfter {
					w, inst = e.Value.(*worker), cand
					w.idle = append(w.idle[:i:i], w.idle[i+1:]...)
					break
				}
			}
		}
		if inst == nil {
			l.mu.Unlock()
			return
		}
		w.trimming++
		l.mu.Unlock()
		inst.sb.Trim()
		inst.trimmed = true
		mem := inst.measure()
		l.mu.Lock()
		l.idleMem = l.idleMem - inst.mem + mem
		inst.mem, inst.missed = mem, false
		w.trimming--
		if w.forgotten || l.workers[w.id] != w {
			l.idleMem -= inst.mem
			l.mu.Unlock()
			inst.sb.Close(context.Background())
			continue
		}
		w.idle = append([]*instance{inst}, w.idle...) // still the least recently used
		if w.elem == nil {
			w.elem = l.lru.PushBack(w)
		}
		l.mu.Unlock()
	}
}

// TrimIdle trims every idle sandbox now (see engine.Sandbox.Trim); the sweeper does it on
// its own a second after a sandbox goes idle.
func (l *Loader) TrimIdle() { l.trimIdle(time.Now().Add(trimAfter)) }

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

// FSOf returns the host side of a sandbox's filesystem bindings over store (env.FS, an
// engine.FSFunc): what the loader gives the sandboxes of code with bindings, and what a
// sandbox process's supervisor answers their operations with, so both modes offer the same
// operations.
func FSOf(store workspace.Store, bindings map[string]api.Binding) engine.FSFunc {
	return shell.Bindings(store, bindings) // the store's operations, and exec
}
