package sandboxproc

import (
	"github.com/isobox/isobox/internal/confine"
	"github.com/isobox/isobox/internal/shmring"

	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/fetchctx"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/workspace"
)

// Config configures a Pool. Zero fields take the defaults named.
type Config struct {
	// Processes is the number of worker processes (required, at least 1).
	Processes int
	// Command returns the command of one worker process: a program that calls
	// ServeWorkerFD (`isobox sandbox-worker`). The pool adds the socket as fd 3.
	Command func() *exec.Cmd
	// ImagesDir, when set, is where worker processes hibernate evicted sandboxes: process
	// i uses ImagesDir/p<i>, and its replacement after a crash uses the same directory, so
	// the workers it had hibernated come back from their images.
	ImagesDir string
	// CacheDir is the engine's compilation cache in every process (see engine.Config).
	CacheDir string
	// Defaults are the limits of an invocation that sets none (engine.Config.Defaults).
	Defaults engine.Limits
	// MemoryBudget is the warm-sandbox memory budget of all processes together (1 GiB),
	// split evenly between them.
	MemoryBudget uint64
	// Margin is how far past its deadline a call may run before the watchdog kills its
	// process (100 ms).
	Margin time.Duration
	// Logger receives process starts, exits and watchdog kills. nil: slog.Default().
	Logger *slog.Logger
	// Threads, when set, is each worker process's GOMAXPROCS (0: Go's default, one per
	// core). 1 makes a warm call through a process cheaper (no idle processor for the Go
	// scheduler to wake and spin on every hand-off) but lets a call that runs long delay
	// the others of its process by the scheduler's 10 ms slices (RATIONALE §18).
	Threads int
	// Workspaces, when set, answers the filesystem bindings (WorkerCode.Bindings, env.FS)
	// of the sandboxes in the processes (fs.go): the store stays in this process. nil:
	// every filesystem operation of a sandbox is refused.
	Workspaces workspace.Store
	// PlaceWait bounds how long a call waits for a process when every one is busy with
	// other tenants' calls (place.go) before it fails with overloaded (10 s).
	PlaceWait time.Duration
	// Ring decides how frames cross to and from each process once it is ready: RingOn
	// (the default), through shared-memory rings that both sides check for a while before
	// they sleep (DefaultSpin; no spinning on one CPU), or RingOff, through the socket.
	Ring RingMode
}

// RingMode is how a pool's frames cross the process boundary (Config.Ring).
type RingMode int

const (
	// RingOn carries frames through shared-memory rings (package shmring).
	RingOn RingMode = iota
	// RingOff carries frames through the socket: a system call each way, and a wake-up.
	RingOff
)

// ringSize is each direction's ring: four body chunks.
const ringSize = 256 << 10

// Pool is the supervisor of the worker processes. It implements the loader's calling
// surface (Get, Load, Eval, Forget, Stats) with every sandbox in a worker process. It is
// safe for concurrent use.
type Pool struct {
	inflight atomic.Int32 // calls in flight on all processes (proc.track)
	cfg      Config
	defaults engine.Limits
	mu       sync.Mutex
	procs    []*proc
	spare    *proc            // started, not placed yet: the next replacement (nil while none)
	routes   map[string]route // outbound transport and wall limit per loader id or call route
	closed   bool
	nextCall atomic.Uint64
	spares   atomic.Uint64 // names the spares' images folders
	rr       atomic.Uint64
	restarts atomic.Int64
	kills    atomic.Int64

	// Placement by tenant (place.go): slots are guarded by mu but for their active counts.
	slots    []*slot
	waiters  []*waiter // calls waiting for a place, first come first
	waiting  atomic.Int32
	tick     uint64
	recycles atomic.Int64
	observe  atomic.Pointer[func(pid int, tenant string)]
}

// route is what the supervisor keeps of a worker's code: the transport of its fetch()
// (the egress gateway, which never leaves this process) and its wall-time limit.
type route struct {
	rt   http.RoundTripper
	wall time.Duration
	cpu  time.Duration
	fs   engine.FSFunc // the code's filesystem bindings (fs.go); nil: none
}

// startupCPU is the CPU bound of loading a worker's modules (loader.Config.StartupCPU's
// default), added to a cold call's CPU bound.
const startupCPU = time.Second

// New starts cfg.Processes worker processes (in the background: a call waits for its
// process to be up).
//
// # Errors
//
// When Processes is below 1 or Command is nil.
func New(cfg Config) (*Pool, error) {
	if cfg.Processes < 1 {
		return nil, errors.New("sandboxproc: Config.Processes must be at least 1")
	}
	if cfg.Command == nil {
		return nil, errors.New("sandboxproc: Config.Command is required")
	}
	if cfg.Margin <= 0 {
		cfg.Margin = 100 * time.Millisecond
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = 1 << 30
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PlaceWait <= 0 {
		cfg.PlaceWait = defaultPlaceWait
	}
	p := &Pool{cfg: cfg, defaults: cfg.Defaults.WithDefaults(), procs: make([]*proc, cfg.Processes), routes: map[string]route{},
		slots: make([]*slot, cfg.Processes)}
	for i := range p.slots {
		p.slots[i] = &slot{}
	}
	p.loadMarks()
	for i := range p.procs {
		p.procs[i] = p.spawn(i, nil, "")
	}
	first := append([]*proc(nil), p.procs...)
	go func() { // the spare starts once the others are up: they come first
		for _, pr := range first {
			<-pr.ready
		}
		p.newSpare()
	}()
	return p, nil
}

// Spare returns the pid of the spare process once its engine is up (0 while there is
// none): the process that takes the place of the next one to die.
func (p *Pool) Spare() int {
	p.mu.Lock()
	sp := p.spare
	p.mu.Unlock()
	if sp == nil {
		return 0
	}
	select {
	case <-sp.up:
	default:
		return 0
	}
	select {
	case <-sp.exited:
		return 0
	default:
		return sp.cmd.Process.Pid
	}
}

// newSpare starts a spare process unless there is one (or the pool is closed).
func (p *Pool) newSpare() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.spare != nil {
		return
	}
	p.spare = p.spawn(-1, nil, "")
}

// replaceLocked returns the process that takes index idx (p.mu held): the spare when
// there is one, which is then assigned idx and replaced by a new spare in the background;
// else a new process. The spare has its engine up already (or is about to), so the calls
// of idx wait for no engine start. With retired set (a recycling for another tenant,
// place.go), the new process waits for retired to exit, empties the place's images folder
// instead of taking its images, and records tenant as the folder's.
func (p *Pool) replaceLocked(idx int, retired *proc, tenant string) *proc {
	sp := p.spare
	p.spare = nil
	if sp != nil {
		select {
		case <-sp.exited: // died unplaced
			sp = nil
		default:
		}
	}
	if sp == nil {
		return p.spawn(idx, retired, tenant)
	}
	sp.idx, sp.retired, sp.tenant = idx, retired, tenant
	close(sp.assigned)
	go p.newSpare()
	return sp
}

// Processes returns the pids of the worker processes that are up (0 for one starting or
// restarting), by index.
func (p *Pool) Processes() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int, len(p.procs))
	for i, pr := range p.procs {
		select {
		case <-pr.ready:
			if pr.startErr == nil && pr.cmd.Process != nil {
				out[i] = pr.cmd.Process.Pid
			}
		default:
		}
	}
	return out
}

// InFlight returns the number of calls sent to the processes and not answered yet.
func (p *Pool) InFlight() int {
	p.mu.Lock()
	procs := append([]*proc(nil), p.procs...)
	p.mu.Unlock()
	n := 0
	for _, pr := range procs {
		pr.mu.Lock()
		n += len(pr.calls)
		pr.mu.Unlock()
	}
	return n
}

// Restarts counts worker processes replaced after they died; Kills counts those the
// watchdog killed.
func (p *Pool) Restarts() int64 { return p.restarts.Load() }

// Kills counts the worker processes the watchdog killed.
func (p *Pool) Kills() int64 { return p.kills.Load() }

// Close stops every worker process: each closes its sandboxes (hibernating idle ones)
// and exits; one still running when ctx ends (or after closeTimeout, when ctx has no
// deadline) is killed.
func (p *Pool) Close(ctx context.Context) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, closeTimeout)
		defer cancel()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.wakeWaitersLocked()
	procs := append([]*proc(nil), p.procs...)
	spare := p.spare
	p.spare = nil
	p.mu.Unlock()
	if spare != nil { // not placed: it holds nothing
		spare.cancel()
		<-spare.exited
	}
	for _, pr := range procs {
		<-pr.ready
		if pr.startErr == nil {
			pr.c.rw.(interface{ CloseWrite() error }).CloseWrite()
		}
	}
	for _, pr := range procs {
		if pr.startErr != nil {
			continue
		}
		select {
		case <-pr.exited:
		case <-ctx.Done():
			_ = pr.cmd.Process.Kill()
			<-pr.exited
		}
	}
}

// closeTimeout bounds Close when its context has no deadline.
const closeTimeout = 30 * time.Second

// placeOf is a stored worker's preferred place: the hash of its tenant and base id
// (without the @version), so a crash touches the workers of that process only and every
// version of a worker shares its warm cache; one-shot calls prefer round-robin. The call
// goes there when that place serves the worker's tenant or none (place.go).
func (p *Pool) placeOf(tenant, id string) int {
	base, _, _ := strings.Cut(id, "@")
	h := fnv.New64a()
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write([]byte(base))
	return int(h.Sum64() % uint64(len(p.procs)))
}

// Place returns the index of the process preferred for stored worker id (a loader id):
// where it runs unless that process serves another tenant (place.go).
func (p *Pool) Place(id string) int { return p.placeOf("", id) }

// proc is one worker process as the supervisor sees it.
type proc struct {
	p   *Pool
	idx int // its index; -1 for a spare until assigned is closed
	// spare is set for a process started as the spare (fixed: idx is not read before
	// assigned is closed).
	spare bool
	// assigned is closed once idx is set: at once, or when a spare takes a place. The
	// process makes its loader (with the index's images folder) and confines itself then.
	assigned chan struct{}
	cmd      *exec.Cmd
	c        *conn
	board    *supBoard     // nil: the process sends msgStarted frames
	up       chan struct{} // closed once its engine is up
	ready    chan struct{} // closed once started and assigned (or failed: startErr)
	startErr error
	replaced chan struct{} // closed once dead and its replacement in place (process() finds it)
	exited   chan struct{} // closed when the process has exited and its calls failed
	// retired, when set, is the process of another tenant whose place this one takes
	// (place.go): this one starts serving once that one has exited and the place's images
	// folder is emptied, then records tenant as the folder's. Set before assigned closes.
	retired *proc
	tenant  string
	ctx     context.Context
	cancel  context.CancelFunc

	mu        sync.Mutex
	calls     map[uint64]*call
	fetches   map[uint64]*supFetch
	fs        supFS               // its filesystem operations running here (fs.go)
	held      map[string]struct{} // loader ids of the stored workers it was sent calls of (routes.go)
	dead      bool
	retiring  bool          // its place went to another tenant: it is being killed (place.go)
	killedFor uint64        // the call the watchdog killed the process for
	killErr   *isoerr.Error // that call's error
	inflight  int           // len(calls) as the pool's count last had it (track)
}

// track brings the pool's count of calls in flight up to date with pr.calls (pr.mu held).
func (pr *proc) track() {
	pr.p.inflight.Add(int32(len(pr.calls) - pr.inflight))
	pr.inflight = len(pr.calls)
}

// readSpin is the spin policy of the processes' rings on the supervisor's side: spin while
// one call is in flight in the whole pool (its answer is near, and the cores have nothing
// else to do), and briefly when none is (the caller who just got an answer may send the
// next call at once); sleep when more are: the cores have work, which a spinning thread
// would take, and the answers come often enough to wake the reader for (RATIONALE, "The
// boundary through shared memory").
func (p *Pool) readSpin(spin time.Duration) func() time.Duration {
	return func() time.Duration {
		switch p.inflight.Load() {
		case 0:
			return spin / 8
		case 1:
			return loneSpin
		}
		return 0
	}
}

// loneSpin is how long the supervisor spins for the answer of the pool's only call in
// flight. The other cores are idle then, and a call that ends within it answers without a
// wake-up: at 200 µs the workerd anchor's dyn call (~130 µs of guest code) missed the window
// often enough to take 180–400 µs p50 through a process; at 1 ms, 134–157 µs against ~130
// µs in process (RATIONALE §74). A longer lone call costs this much of a core once.
const loneSpin = time.Millisecond

// call is one call in flight on a process.
type call struct {
	id      uint64
	tenant  string // the tenant whose sandbox runs the call (place.go)
	res     chan resultMsg
	codeFn  func() (loader.WorkerCode, error)
	loader  string // loader id of a stored worker
	entry   engine.Limits
	codeErr error // the code function's own error, returned as it is
	// raw carries the frames of a session or compile call (sessions.go: deliver); evaled
	// is set when the process said a session eval ended (guarded by proc.mu).
	raw    chan frame
	evaled bool

	// tools runs an Eval's tool calls (tools.go); nil for other calls.
	tools *callTools

	// sink takes a streamed response (FetchTo); resp carries its frames from the reader
	// to the calling goroutine, and headSent says the head went (respond.go).
	sink     engine.ResponseSink
	resp     chan frame
	headSent bool

	// The watchdog (guarded by proc.mu; see watch): one timer per call, for both bounds.
	// wall is the wall time the call may take from start, and wallLimit the limit its error
	// names; cpu is the CPU the call may use (its limit; plus startupCPU on a cold start);
	// both before the margin. tid and cpu0 are the thread running the call in the process
	// and its CPU time when the call started, when the process sent them in a msgStarted
	// frame (else they are on the process's call board).
	timer     *time.Timer
	start     time.Time
	wall      time.Duration
	wallLimit time.Duration
	cpu       time.Duration
	tid       int
	cpu0      time.Duration
	finished  bool
}

// spawn makes process idx and starts it in the background (retired and tenant: see
// proc.retired).
func (p *Pool) spawn(idx int, retired *proc, tenant string) *proc {
	pr := &proc{p: p, idx: idx, assigned: make(chan struct{}), up: make(chan struct{}), ready: make(chan struct{}),
		replaced: make(chan struct{}), exited: make(chan struct{}), calls: map[uint64]*call{}, fetches: map[uint64]*supFetch{},
		held: map[string]struct{}{}, retired: retired, tenant: tenant, spare: idx < 0}
	if idx >= 0 {
		close(pr.assigned)
	}
	pr.ctx, pr.cancel = context.WithCancel(context.Background())
	go func() {
		pr.startErr = pr.start()
		close(pr.ready)
		if pr.startErr == nil {
			return
		}
		pr.mu.Lock()
		pr.dead = true
		pr.mu.Unlock()
		close(pr.replaced)
		close(pr.exited)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return
		}
		if p.spare == pr { // a spare that died unplaced: another, after a pause
			p.spare = nil
			time.AfterFunc(spareRetry, p.newSpare)
		}
		p.cfg.Logger.Error("isobox: sandbox process did not start", "index", pr.idx, "err", pr.startErr)
	}()
	return pr
}

// takeFolder makes folder from (a spare's, which it confined itself to) the images folder
// dst of the place it takes: dst's images (hibernated by the process that died) move into
// from unless keep is false (they are deleted: another tenant's), and from is renamed dst.
// Landlock's rule follows the folder, not its name, so the confined spare can use dst. An
// image the dead process was still writing may be lost (it starts fresh).
func takeFolder(from, dst string, keep bool) error {
	old := fmt.Sprintf("%s.old-%d", dst, time.Now().UnixNano())
	if err := os.Rename(dst, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(from, dst); err != nil {
		_ = os.Rename(old, dst)
		return err
	}
	ents, _ := os.ReadDir(old)
	for _, e := range ents {
		if !keep {
			break
		}
		_ = os.Rename(filepath.Join(old, e.Name()), filepath.Join(dst, e.Name()))
	}
	return os.RemoveAll(old)
}

// takeRetired waits for the retired process whose place pr takes (another tenant's) to
// exit, empties the place's images folder and records pr's tenant as the folder's. A spare
// (own: its own folder) then takes the emptied folder; a process made for the place
// creates it.
func (pr *proc) takeRetired(own string) {
	<-pr.retired.exited
	cfg := pr.p.cfg
	if cfg.ImagesDir == "" {
		return
	}
	dst := filepath.Join(cfg.ImagesDir, fmt.Sprintf("p%d", pr.idx))
	if dst == own {
		return
	}
	if err := os.RemoveAll(dst); err != nil {
		cfg.Logger.Error("isobox: emptying the images folder of a recycled sandbox process", "index", pr.idx, "err", err)
		return // no record: the next start empties it
	}
	pr.p.markTenant(pr.idx, pr.tenant)
}

// spareRetry is the pause before a new spare when one died before taking a place (a
// binary that cannot start does not spin).
const spareRetry = time.Second

func (pr *proc) start() error {
	cfg := pr.p.cfg
	fds, err := socketpair()
	if err != nil {
		return fmt.Errorf("sandboxproc: socketpair: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "sandbox-process"), os.NewFile(uintptr(fds[1]), "supervisor")
	nc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		theirs.Close()
		return fmt.Errorf("sandboxproc: %w", err)
	}
	// The call board (fd 4 in the process): where the process posts the thread of each
	// call for the CPU watchdog. Without one the process sends a frame per call.
	board, err := newBoard()
	if err != nil {
		cfg.Logger.Warn("isobox: sandbox process without a call board: a frame per call tells the CPU watchdog", "err", err)
	}
	// The rings that carry the frames once the process is ready (RATIONALE, "The boundary
	// through shared memory"); without them the frames stay on the socket.
	var ring *shmring.Conn
	if cfg.Ring == RingOn {
		if ring, _, err = shmring.New(ringSize); err != nil {
			cfg.Logger.Warn("isobox: sandbox process without shared-memory rings: frames go through its socket", "err", err)
			ring = nil
		}
	}
	newCmd := func() *exec.Cmd {
		cmd := cfg.Command()
		cmd.ExtraFiles = []*os.File{theirs}
		if board != nil {
			cmd.ExtraFiles = append(cmd.ExtraFiles, board.f)
		}
		if ring != nil {
			cmd.ExtraFiles = append(cmd.ExtraFiles, ring.File())
		}
		if cmd.Stderr == nil {
			cmd.Stderr = os.Stderr
		}
		return cmd
	}
	cacheDir := cfg.CacheDir
	if cacheDir == "" { // resolved here: a worker process may have an empty environment
		cacheDir = engine.DefaultCacheDir()
	}
	wc := workerConfig{CacheDir: cacheDir, Defaults: toWireLimits(cfg.Defaults), MemoryBudget: cfg.MemoryBudget / uint64(len(pr.p.procs)), Board: board != nil,
		Threads: max(cfg.Threads, 0)}
	if ring != nil {
		wc.Ring = WorkerFD + 1 // after the socket, and the board when there is one
		if board != nil {
			wc.Ring++
		}
	}
	closeConn := func() { // the socket, and the rings when there are any
		nc.Close()
		if ring != nil {
			ring.Close()
		}
	}
	// The process's images folder, where it confines itself once its engine is up: p<i>, or
	// for a spare a folder of its own that becomes p<i> when it takes that place (folder).
	// A spare's idx is written when it takes a place (under p.mu): not read before.
	if !pr.spare && pr.retired != nil { // a recycling: the place's last tenant goes first
		pr.takeRetired("")
	}
	if cfg.ImagesDir != "" {
		var name string
		if !pr.spare {
			name = fmt.Sprintf("p%d", pr.idx)
		} else {
			name = fmt.Sprintf("spare-%d", pr.p.spares.Add(1))
			_ = os.RemoveAll(filepath.Join(cfg.ImagesDir, name)) // a previous run's, never placed
		}
		wc.ImagesDir = filepath.Join(cfg.ImagesDir, name)
		if err := os.MkdirAll(wc.ImagesDir, 0o700); err != nil {
			closeConn()
			board.close()
			return fmt.Errorf("sandboxproc: images folder: %w", err)
		}
	}
	// New namespaces where the kernel allows (user, mount, net, IPC, UTS; the ladder falls
	// back, and the report says what was applied); the worker confines itself further
	// (ConfineHook) once its engine is up.
	cmd, nsReport, err := confine.Start(newCmd)
	theirs.Close() // the process has its copy: its death is then the end of the stream
	if err != nil {
		closeConn()
		board.close()
		return fmt.Errorf("sandboxproc: start worker process: %w", err)
	}
	if missing := nsReport.Missing(); len(missing) > 0 {
		cfg.Logger.Warn("isobox: sandbox process started without new namespaces", "spare", pr.spare, "report", nsReport.String())
	}
	pr.cmd, pr.c, pr.board = cmd, &conn{rw: nc}, board
	if err := pr.c.sendJSON(msgConfig, 0, wc); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		closeConn()
		board.close()
		return fmt.Errorf("sandboxproc: configure worker process: %w", err)
	}
	fail := func(err error) error {
		_ = cmd.Process.Kill()
		werr := cmd.Wait()
		closeConn()
		board.close()
		return fmt.Errorf("sandboxproc: worker process failed to start (%v): %w", werr, err)
	}
	// The process's engine comes up first (compiling QuickJS can take a second without a
	// cache): until the process is ready calls wait in process(), not on their deadline.
	r := bufio.NewReaderSize(nc, 64<<10)
	hdr := make([]byte, headerSize)
	if typ, _, _, err := readFrame(r, hdr); err != nil || typ != msgEngineUp {
		return fail(fmt.Errorf("no engine: frame %d, %v", typ, err))
	}
	close(pr.up)
	// Then it waits for its index (a spare, until it takes a place): the index decides its
	// images folder, which its loader hibernates to and its confinement leaves writable.
	next := make(chan error, 1)
	go func() {
		typ, _, _, err := readFrame(r, hdr)
		if err == nil && typ != msgReady {
			err = fmt.Errorf("frame %d instead of ready", typ)
		}
		next <- err
	}()
	select {
	case <-pr.assigned:
	case err := <-next: // a spare that died (or spoke) before taking a place
		if err == nil {
			err = errors.New("ready before it was assigned")
		}
		return fail(err)
	case <-pr.ctx.Done(): // the pool closed with this spare unplaced
		_ = cmd.Process.Kill()
		<-next
		return fail(errors.New("closed"))
	}
	am := assignMsg{ImagesDir: wc.ImagesDir}
	if pr.retired != nil {
		pr.takeRetired(wc.ImagesDir)
	}
	if cfg.ImagesDir != "" {
		if dst := filepath.Join(cfg.ImagesDir, fmt.Sprintf("p%d", pr.idx)); dst != wc.ImagesDir {
			if err := takeFolder(wc.ImagesDir, dst, pr.retired == nil); err != nil {
				// It hibernates to its own folder: index idx's images wait for the next one.
				cfg.Logger.Warn("isobox: the spare process could not take its place's images folder", "index", pr.idx, "err", err)
			} else {
				am.ImagesDir = dst
			}
		}
	}
	if err := pr.c.sendJSON(msgAssign, 0, am); err != nil {
		_ = cmd.Process.Kill()
		<-next
		return fail(err)
	}
	if err := <-next; err != nil {
		return fail(err)
	}
	var wire io.Closer = nc
	if ring != nil {
		// From here every frame goes through the rings; the socket only says when the
		// process is gone (its end closes with it) or, closed for writing, that the pool
		// closes.
		rw := &ringWire{Conn: ring, sock: nc}
		ring.SetReadSpin(pr.p.readSpin(ring.Spin()))
		pr.c.wmu.Lock()
		pr.c.rw = rw
		pr.c.wmu.Unlock()
		ring.SetReadBell(nc) // the process's death ends the reading (read)
		r, wire = bufio.NewReaderSize(ring, 64<<10), rw
	}
	go pr.read(wire, r)
	return nil
}

// read dispatches the process's frames until its connection ends, then fails the calls
// still in flight, reaps the process and starts a replacement.
func (pr *proc) read(nc io.Closer, r *bufio.Reader) {
	hdr := make([]byte, headerSize)
	for {
		typ, id, payload, err := readFrame(r, hdr)
		if err != nil {
			break
		}
		pr.dispatch(typ, id, payload)
	}
	pr.mu.Lock()
	pr.dead = true
	calls := pr.calls
	pr.calls = map[uint64]*call{}
	pr.track()
	fetches := pr.fetches
	pr.fetches = map[uint64]*supFetch{}
	killedFor, killErr := pr.killedFor, pr.killErr
	pr.mu.Unlock()
	_ = pr.cmd.Process.Kill() // a process that closed its end is of no further use
	// The replacement takes the place before this process is reaped (its exit can take
	// milliseconds more): new calls for the index go there at once.
	p := pr.p
	p.mu.Lock()
	replaced := !p.closed && p.procs[pr.idx] == pr
	if replaced {
		p.slots[pr.idx].sessions = 0 // they died with it
		p.restarts.Add(1)
		p.procs[pr.idx] = p.replaceLocked(pr.idx, nil, "")
	}
	p.mu.Unlock()
	close(pr.replaced)
	err := pr.cmd.Wait()
	nc.Close()
	pr.mu.Lock() // no watchdog reads the board once pr.dead is set
	pr.board.close()
	pr.mu.Unlock()
	pr.cancel()
	for _, f := range fetches {
		f.close()
	}
	for id, c := range calls {
		pr.stopWatch(c)
		e := isoerr.New(isoerr.SandboxRestarted, "the sandbox process running this call stopped (%v) and was replaced; the call did not finish: retry it", err)
		if id == killedFor && killErr != nil {
			e = killErr
		}
		c.res <- resultMsg{None: true, Err: e}
	}
	if replaced {
		p.cfg.Logger.Warn("isobox: sandbox process exited; the spare took its place", "index", pr.idx, "pid", pr.cmd.Process.Pid, "err", err, "calls_failed", len(calls))
	}
	close(pr.exited)
}

// kill is the watchdog: call id overran its deadline by the margin, so its process is
// killed; that call gets e, the others on the process sandbox_restarted.
func (pr *proc) kill(id uint64, e *isoerr.Error) {
	pr.mu.Lock()
	if pr.dead || pr.calls[id] == nil || pr.killErr != nil {
		pr.mu.Unlock()
		return
	}
	pr.killedFor, pr.killErr = id, e
	pr.mu.Unlock()
	pr.p.kills.Add(1)
	pr.p.cfg.Logger.Warn("isobox: watchdog: a call overran its deadline; killing its sandbox process", "index", pr.idx, "pid", pr.cmd.Process.Pid, "code", e.Code)
	_ = pr.cmd.Process.Kill()
}

func (pr *proc) dispatch(typ byte, id uint64, payload []byte) {
	switch typ {
	case msgResult:
		pr.mu.Lock()
		c := pr.calls[id]
		delete(pr.calls, id)
		pr.track()
		pr.mu.Unlock()
		if c == nil {
			return
		}
		pr.stopWatch(c)
		var m resultMsg
		if err := decodeResult(payload, &m); err != nil {
			m = resultMsg{None: true, Err: isoerr.New(isoerr.Internal, "sandbox process: bad result: %v", err)}
		}
		c.res <- m
	case msgStarted:
		if len(payload) != 12 {
			return
		}
		// The call board was full (or there is none): the thread comes in a frame.
		pr.mu.Lock()
		if c := pr.calls[id]; c != nil && !c.finished {
			c.tid = int(binary.BigEndian.Uint32(payload))
			c.cpu0 = time.Duration(binary.BigEndian.Uint64(payload[4:]))
		}
		pr.mu.Unlock()
	case msgCodeReq:
		pr.mu.Lock()
		c := pr.calls[id]
		pr.mu.Unlock()
		if c != nil && c.codeFn != nil {
			go pr.sendCode(c)
		}
	case msgToolCall, msgToolCancel:
		pr.toolMsg(typ, id, payload)
	case msgFSCall, msgFSCancel:
		pr.fsMsg(typ, id, payload)
	case msgRespHead, msgRespChunk:
		pr.respFrame(typ, id, payload)
	case msgReqBodyChunk:
		pr.reqBodyChunk(id, payload)
	case msgFetch:
		var m fetchMsg
		if err := json.Unmarshal(payload, &m); err != nil {
			_ = pr.c.sendJSON(msgFetchHead, id, fetchHead{Err: "bad fetch message"})
			return
		}
		f := &supFetch{}
		f.ctx, f.cancel = context.WithCancel(pr.ctx)
		if m.Streamed {
			f.up = newUpload(pr, id, f.ctx)
		}
		pr.mu.Lock()
		if old := pr.fetches[id]; old != nil {
			old.close()
		}
		pr.fetches[id] = f
		pr.mu.Unlock()
		go pr.fetch(id, f, &m)
	case msgBodyRead:
		pr.mu.Lock()
		f := pr.fetches[id]
		pr.mu.Unlock()
		if f != nil {
			go pr.readBody(id, f)
		}
	case msgSessionReply, msgSessionEvaled, msgCompileReply:
		pr.deliver(typ, id, payload)
	case msgBodyClose:
		pr.mu.Lock()
		f := pr.fetches[id]
		delete(pr.fetches, id)
		pr.mu.Unlock()
		if f != nil {
			f.close()
		}
	}
}

// sendCode answers a process's request for the code of call c's worker (a cold start).
func (pr *proc) sendCode(c *call) {
	code, err := c.codeFn()
	var m codeMsg
	if err != nil {
		pr.mu.Lock() // read by invoke after the result, which the reader delivers under pr.mu
		c.codeErr = err
		pr.mu.Unlock()
		m.Err = isoerr.As(err)
	} else {
		b, merr := json.Marshal(code)
		if merr != nil {
			m.Err = isoerr.New(isoerr.InvalidWorkerCode, "the code does not encode: %v", merr)
		} else {
			m.Code, m.Tenant, m.HasOutbound = b, code.Tenant, code.Outbound != nil
			lim := pr.p.limitsOf(code.Limits, c.entry)
			wall := lim.Wall
			pr.p.setRoute(c.loader, route{rt: code.Outbound, wall: wall, cpu: lim.CPU, fs: pr.p.fsOf(code)})
			// A cold start loads the modules (bounded by the code's wall limit) and then
			// runs the call: the deadline covers both, from now.
			pr.mu.Lock()
			c.cpu = startupCPU + lim.CPU
			c.start, c.wall, c.wallLimit = time.Now(), 2*wall, wall
			pr.armLocked(c)
			pr.mu.Unlock()
		}
	}
	_ = pr.c.sendJSON(msgCode, c.id, m)
}

// supFetch is an outbound request the supervisor runs for a process.
type supFetch struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // one body read at a time
	body   io.ReadCloser
	closed bool
	buf    []byte
	up     *upload // the request body, streamed from the process (reqbody.go); nil: inline
}

func (f *supFetch) close() {
	f.cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.body != nil {
		f.body.Close()
		f.body = nil
	}
}

// fetch runs an outbound request through the transport of its route and sends the head.
func (pr *proc) fetch(id uint64, f *supFetch, m *fetchMsg) {
	var rt http.RoundTripper
	if pr.mayUse(m.Route) {
		rt = pr.p.route(m.Route).rt
	}
	if rt == nil {
		pr.dropFetch(id)
		_ = pr.c.sendJSON(msgFetchHead, id, fetchHead{Err: "this sandbox has no network access"})
		return
	}
	ctx := fetchctx.WithRedirect(fetchctx.WithWorker(f.ctx, m.Worker), m.Redirect)
	var body io.Reader
	if f.up != nil {
		body = f.up
	} else if m.HasBody {
		body = bytes.NewReader(m.Body)
	}
	req, err := http.NewRequestWithContext(ctx, m.Method, m.URL, body)
	if err != nil {
		pr.dropFetch(id)
		_ = pr.c.sendJSON(msgFetchHead, id, fetchHead{Err: err.Error()})
		return
	}
	if f.up != nil {
		req.ContentLength = max(m.Length, -1)
	}
	for _, kv := range m.Headers {
		req.Header.Add(kv[0], kv[1])
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		pr.dropFetch(id)
		_ = pr.c.sendJSON(msgFetchHead, id, fetchHead{Err: err.Error()})
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		resp.Body.Close()
		return
	}
	f.body = resp.Body
	f.mu.Unlock()
	h := fetchHead{Status: resp.StatusCode, StatusText: strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode)))}
	for k, vs := range resp.Header {
		for _, v := range vs {
			h.Headers = append(h.Headers, [2]string{k, v})
		}
	}
	if resp.Request != nil && resp.Request.URL != nil {
		h.FinalURL = resp.Request.URL.String()
	}
	_ = pr.c.sendJSON(msgFetchHead, id, h)
}

func (pr *proc) dropFetch(id uint64) {
	pr.mu.Lock()
	f := pr.fetches[id]
	delete(pr.fetches, id)
	pr.mu.Unlock()
	if f != nil {
		f.close()
	}
}

// readBody sends the next chunk of an outbound response body (an empty one at its end).
func (pr *proc) readBody(id uint64, f *supFetch) {
	f.mu.Lock()
	if f.body == nil {
		f.mu.Unlock()
		_ = pr.c.send(msgBodyError, id, []byte("the response body is closed"))
		return
	}
	if f.buf == nil {
		f.buf = make([]byte, chunkSize)
	}
	var n int
	var err error
	for n == 0 && err == nil {
		n, err = f.body.Read(f.buf)
	}
	chunk := f.buf[:n]
	if n > 0 {
		err = pr.c.send(msgBodyChunk, id, chunk)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	if errors.Is(err, io.EOF) {
		_ = pr.c.send(msgBodyChunk, id, nil)
	} else {
		_ = pr.c.send(msgBodyError, id, []byte(err.Error()))
	}
	pr.dropFetch(id)
}

func (p *Pool) route(name string) route {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.routes[name]
}

func (p *Pool) setRoute(name string, r route) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.routes[name] = r
}

func (p *Pool) dropRoute(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.routes, name)
}

// limitsOf are the limits of a call: the code's limits, then the entrypoint's (the lower
// wins), then the defaults.
func (p *Pool) limitsOf(code *loader.Limits, entry engine.Limits) engine.Limits {
	return loader.EngineLimits(code).Min(entry).Or(p.defaults)
}

// watch is the watchdog of call c, run by its timer: it kills the process when the call
// has run past its wall bound plus the margin, or when the thread running it has used
// more CPU than its bound plus the margin (a built-in that never polls the interrupt: the
// engine cannot stop it, and the Go garbage collector of that process waits for it).
// Otherwise it sets the timer to when a bound could next be crossed. The thread's CPU
// time is read only here, from /proc, so an ordinary call costs nothing but its timer.
func (pr *proc) watch(c *call) {
	margin := pr.p.cfg.Margin
	pr.mu.Lock()
	if pr.dead || c.finished {
		pr.mu.Unlock()
		return
	}
	tid, cpu0, slotAt, started := pr.threadOf(c)
	// The wall time the call has run: from when it was sent, or (from the call board)
	// from when it took its worker's slot in the process, if later; a call still waiting
	// behind its worker's other calls has not started, as the engine counts it.
	ran, waiting := time.Since(c.start), false
	if slotAt == 0 {
		ran, waiting = 0, true
	} else if now := monoNow(); slotAt > 0 && now > slotAt {
		ran = min(ran, time.Duration(now-slotAt))
	}
	if !waiting && ran >= c.wall+margin {
		limit := c.wallLimit
		pr.mu.Unlock()
		pr.kill(c.id, isoerr.New(isoerr.WallTimeExceeded, "the call ran past its wall-time limit (%v) by more than %v without yielding; its sandbox process was killed", limit, margin))
		return
	}
	bound := c.cpu + margin
	pr.mu.Unlock()
	var used time.Duration
	if started && bound > margin {
		now, err := threadCPU(pr.cmd.Process.Pid, tid)
		if err != nil {
			return // the process is gone; its reader fails the call
		}
		if used = now - cpu0; used >= bound {
			pr.blame(c, used)
			return
		}
	}
	pr.mu.Lock()
	if !c.finished {
		if waiting { // look again soon: the wall time starts when the slot is taken
			ran = max(c.wall+margin-time.Second, 0)
		}
		pr.armAtLocked(c, used, ran)
	}
	pr.mu.Unlock()
}

// armLocked sets call c's watchdog timer (pr.mu held) for a call that has used no CPU yet.
func (pr *proc) armLocked(c *call) { pr.armAtLocked(c, 0, time.Since(c.start)) }

// armAtLocked sets call c's timer to when it could next cross a bound, given the CPU it
// has used and the wall time it has run (pr.mu held). A call not started yet cannot cross
// its CPU bound sooner than that bound from now.
func (pr *proc) armAtLocked(c *call, used, ran time.Duration) {
	margin := pr.p.cfg.Margin
	next := c.wall + margin - ran
	if c.cpu > 0 {
		next = min(next, max(c.cpu+margin-used, 5*time.Millisecond))
	}
	next = max(next, 0)
	if c.timer == nil {
		c.timer = time.AfterFunc(next, func() { pr.watch(c) })
	} else {
		c.timer.Reset(next)
	}
}

// threadOf returns the thread running call c, its CPU time when the call started and when
// it took its worker's slot (monotonic ns; 0: it waits for it; -1: not known), from the
// call's msgStarted frame or the process's call board (pr.mu held: the board is unmapped
// once the process is dead).
func (pr *proc) threadOf(c *call) (tid int, cpu0 time.Duration, slotAt int64, ok bool) {
	if c.tid != 0 {
		return c.tid, c.cpu0, -1, true
	}
	if pr.dead {
		return 0, 0, -1, false
	}
	tid, cpu0, slotAt, ok = pr.board.find(c.id)
	if !ok {
		slotAt = -1
	}
	return tid, cpu0, slotAt, ok
}

// blame kills the process of call c, which has used used of CPU, past its bound. The call
// that crossed its bound may be an innocent one: while a built-in that never polls holds
// a thread, the goroutine asking the Go runtime to stop the world for a garbage collection
// waits in a loop that wakes every 100 µs, and that burns CPU on its own thread. The
// process is stuck either way; the limit error goes to the call that used the most CPU,
// the others get sandbox_restarted.
func (pr *proc) blame(c *call, used time.Duration) {
	type running struct {
		c         *call
		tid       int
		cpu0, lim time.Duration
	}
	blame, most := c, used
	pr.mu.Lock()
	limit := c.cpu
	var others []running
	for _, o := range pr.calls {
		if o == c || o.finished {
			continue
		}
		if tid, cpu0, _, ok := pr.threadOf(o); ok {
			others = append(others, running{o, tid, cpu0, o.cpu})
		}
	}
	pr.mu.Unlock()
	for _, o := range others {
		if n, err := threadCPU(pr.cmd.Process.Pid, o.tid); err == nil && n-o.cpu0 > most {
			blame, most, limit = o.c, n-o.cpu0, o.lim
		}
	}
	pr.kill(blame.id, isoerr.New(isoerr.CPULimitExceeded, "the call used %v of CPU without yielding (its limit is %v); its sandbox process was killed", most.Round(time.Millisecond), limit))
}

// stopWatch ends call c's watchdog.
func (pr *proc) stopWatch(c *call) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	c.finished = true
	if c.timer != nil {
		c.timer.Stop()
	}
}

// process returns the live process idx, waiting for it to start.
func (p *Pool) process(ctx context.Context, idx int) (*proc, error) {
	for attempt := 0; ; attempt++ {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, isoerr.New(isoerr.ShuttingDown, "the sandbox processes are shutting down")
		}
		pr := p.procs[idx]
		p.mu.Unlock()
		select {
		case <-pr.ready:
		case <-ctx.Done():
			return nil, isoerr.New(isoerr.Canceled, "canceled while waiting for a sandbox process: %v", context.Cause(ctx))
		}
		if pr.startErr == nil {
			return pr, nil
		}
		if attempt >= 1 {
			return nil, isoerr.New(isoerr.Internal, "the sandbox process does not start: %v", pr.startErr)
		}
		p.mu.Lock()
		if p.procs[idx] == pr && !p.closed {
			p.procs[idx] = p.replaceLocked(idx, nil, "")
		}
		p.mu.Unlock()
	}
}

// invoke sends m to process idx and waits for its result. wall is the call's wall-time
// limit as far as the supervisor knows it: the watchdog kills the process at wall+margin.
func (p *Pool) invoke(ctx context.Context, idx int, m *invokeMsg, c *call, wall time.Duration) (*loader.Result, error) {
	start := time.Now()
	c.res = make(chan resultMsg, 1)
	var pr *proc
	for attempt := 0; ; attempt++ {
		var err error
		if pr, err = p.process(ctx, idx); err != nil {
			return nil, err
		}
		pr.mu.Lock()
		if !pr.dead {
			c.start, c.wall, c.wallLimit = time.Now(), wall, wall
			pr.armLocked(c)
			pr.calls[c.id] = c
			pr.track()
			if c.loader != "" { // a stored worker's call (from c, not m: m stays on the stack)
				if _, ok := pr.held[c.loader]; !ok {
					pr.held[c.loader] = struct{}{}
				}
			}
			pr.mu.Unlock()
			break
		}
		pr.mu.Unlock()
		// The process died and its replacement is being put in place: nothing was sent,
		// so the call waits for the replacement instead of failing.
		if attempt == 3 {
			return nil, isoerr.New(isoerr.SandboxRestarted, "the sandbox process keeps stopping before the call can be sent; retry it")
		}
		select {
		case <-pr.replaced:
		case <-ctx.Done():
			return nil, isoerr.New(isoerr.Canceled, "canceled while waiting for a sandbox process: %v", context.Cause(ctx))
		}
	}
	if c.tenant != "" {
		p.observed(pr, c.tenant)
	}
	m.Lone = p.inflight.Load() == 1 // this call alone
	if err := pr.c.sendInvoke(c.id, m); err != nil {
		// The connection is broken: the reader fails the call.
		_ = pr.cmd.Process.Kill()
	} else if m.Lone {
		pr.c.nudge() // the reader, asleep since the last answer, spins for this one
	}
	var r resultMsg
wait:
	for {
		select {
		case r = <-c.res:
			break wait
		case f := <-c.resp: // nil unless the call streams its response (respond.go)
			pr.streamTo(ctx, c, f)
		case <-ctx.Done():
			_ = pr.c.send(msgCancel, c.id, nil)
			r = <-c.res // the guest stops at its next poll, or the watchdog ends it
			break wait
		}
	}
	var res *loader.Result
	if !r.None {
		res = &loader.Result{Cold: r.Cold, Restored: r.Restored, Resumed: r.Resumed}
		res.Status, res.StatusText, res.Headers, res.Body = r.Status, r.StatusText, r.Headers, r.Body
		res.Value, res.Logs, res.CPU, res.Streamed = r.Value, r.Logs, time.Duration(r.CPU), r.Streamed
		res.Wall = time.Since(start)
	}
	if r.Err != nil {
		pr.mu.Lock()
		codeErr := c.codeErr
		pr.mu.Unlock()
		if codeErr != nil {
			return res, codeErr
		}
		if r.Err.Code == isoerr.WorkerException && ctx.Err() != nil {
			// The call was canceled, and what the guest threw came of it (an outbound
			// fetch the cancellation cut, say) before the cancel reached the process:
			// the caller canceled, so that is the outcome.
			r.Err = isoerr.New(isoerr.Canceled, "canceled: %v (the guest then threw: %s)", context.Cause(ctx), r.Err.Message)
		}
		if res == nil && r.Err.Code != isoerr.SandboxRestarted {
			// Something ran (or was killed running): the caller reports an Outcome.
			res = &loader.Result{}
			res.Wall = time.Since(start)
		}
		return res, r.Err
	}
	if res == nil {
		res = &loader.Result{}
		res.Wall = time.Since(start)
	}
	return res, nil
}

func (p *Pool) newCall() *call { return &call{id: p.nextCall.Add(1)} }

// Stub calls a worker in its process: the pool's loader.Stub.
type Stub struct {
	p       *Pool
	id      string
	codeFn  func() (loader.WorkerCode, error)
	oneShot *loader.WorkerCode
}

// Get returns a stub of stored worker id (a loader id); code runs in the supervisor when
// the worker's process needs the code (a cold start), as with loader.Loader.Get.
func (p *Pool) Get(id string, code func() (loader.WorkerCode, error)) *Stub {
	return &Stub{p: p, id: id, codeFn: code}
}

// Load returns a stub of a one-shot worker: every call runs in a fresh sandbox of some
// process (loader.Loader.Load in that process).
func (p *Pool) Load(code loader.WorkerCode) *Stub {
	return &Stub{p: p, oneShot: &code}
}

// Close does nothing: a one-shot's sandbox lives only for its call.
func (s *Stub) Close(context.Context) {}

// Fetch calls the worker's fetch handler with req (its body is read whole).
func (s *Stub) Fetch(ctx context.Context, req *http.Request) (*loader.Result, error) {
	er, err := toWireRequest(req)
	if err != nil {
		return &loader.Result{}, err
	}
	return s.invoke(ctx, &invokeMsg{Op: "fetch", Request: er}, nil)
}

// toWireRequest is req as a worker process gets it (its body read whole).
func toWireRequest(req *http.Request) (*engineRequest, error) {
	er := &engineRequest{Method: req.Method, URL: req.URL.String()}
	if er.Method == "" {
		er.Method = http.MethodGet
	}
	if req.URL.Host == "" {
		u := *req.URL
		u.Host = req.Host
		if u.Host == "" {
			u.Host = "localhost"
		}
		if u.Scheme == "" {
			u.Scheme = "http"
		}
		er.URL = u.String()
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			er.Headers = append(er.Headers, [2]string{k, v})
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxInvokeBody+1))
		if err != nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "reading request body: %v", err)
		}
		if len(b) > maxInvokeBody {
			return nil, isoerr.New(isoerr.InvalidRequest, "request body larger than %d bytes", maxInvokeBody)
		}
		er.Body = b
	}
	return er, nil
}

// maxInvokeBody bounds a request body handed to a worker (as the loader does).
const maxInvokeBody = 100 << 20

// Call invokes RPC method with args, a JSON array (nil for none).
func (s *Stub) Call(ctx context.Context, method string, args json.RawMessage) (*loader.Result, error) {
	if method == "" {
		return &loader.Result{}, isoerr.New(isoerr.InvalidRequest, "method name is empty")
	}
	return s.invoke(ctx, &invokeMsg{Op: "call", Method: method, Args: args}, nil)
}

func (s *Stub) invoke(ctx context.Context, m *invokeMsg, sink engine.ResponseSink) (*loader.Result, error) {
	p := s.p
	c := p.newCall()
	if sink != nil {
		c.sink, c.resp = sink, make(chan frame, 1)
	}
	if s.oneShot != nil {
		code := *s.oneShot
		b, err := json.Marshal(code)
		if err != nil {
			return &loader.Result{}, isoerr.New(isoerr.InvalidWorkerCode, "the code does not encode: %v", err)
		}
		m.Code, m.Tenant, m.HasOutbound = b, code.Tenant, code.Outbound != nil
		lim := p.limitsOf(code.Limits, engine.Limits{})
		wall := lim.Wall
		c.cpu = startupCPU + lim.CPU
		name := callRoute(c.id)
		p.setRoute(name, route{rt: code.Outbound, wall: wall, fs: p.fsOf(code)})
		defer p.dropRoute(name)
		c.tenant = orDefault(code.Tenant)
		idx, err := p.acquire(ctx, c.tenant, int(p.rr.Add(1)%uint64(len(p.procs))))
		if err != nil {
			return nil, err
		}
		defer p.release(idx)
		// A one-shot loads its modules, then runs the call.
		return p.invoke(ctx, idx, m, c, 2*wall)
	}
	m.ID = s.id
	c.codeFn, c.loader = s.codeFn, s.id
	r := p.route(s.id)
	wall := r.wall
	c.cpu = r.cpu
	if wall == 0 { // not loaded through this supervisor yet: the code request resets it
		wall, c.cpu = p.defaults.Wall, startupCPU+p.defaults.CPU
	}
	c.tenant = tenantOf(s.id)
	idx, err := p.acquire(ctx, c.tenant, p.placeOf("", s.id))
	if err != nil {
		return nil, err
	}
	defer p.release(idx)
	return p.invoke(ctx, idx, m, c, wall)
}

// Eval runs a snippet in a fresh sandbox of some process (loader.Loader.Eval there).
// opts.Tools runs here, in the supervisor: the sandbox's tool calls cross the process
// boundary (tools.go), and Eval returns only after every one it started has returned,
// also when the process dies or is killed under the call.
//
// # Errors
//
// Those of loader.Loader.Eval; sandbox_restarted when the process stopped under the call.
func (p *Pool) Eval(ctx context.Context, code string, opts loader.EvalOptions) (*loader.Result, error) {
	c := p.newCall()
	m := &invokeMsg{Op: "eval", Snippet: code, Limits: toWireLimits(opts.Limits), HasOutbound: opts.Outbound != nil, Python: opts.Python}
	if opts.Tools != nil {
		m.Op, c.tools = opEvalTools, newCallTools(ctx, opts.Tools)
		defer c.tools.close()
	}
	lim := opts.Limits.Or(p.defaults)
	wall := lim.Wall
	c.cpu = lim.CPU
	name := callRoute(c.id)
	p.setRoute(name, route{rt: opts.Outbound, wall: wall})
	defer p.dropRoute(name)
	c.tenant = orDefault(opts.Tenant)
	idx, err := p.acquire(ctx, c.tenant, int(p.rr.Add(1)%uint64(len(p.procs))))
	if err != nil {
		return nil, err
	}
	defer p.release(idx)
	return p.invoke(ctx, idx, m, c, wall)
}

// Forget forgets worker id in the processes of its tenant (loader.Loader.Forget there),
// any of which may hold it, and its route.
func (p *Pool) Forget(ctx context.Context, id string) {
	p.dropRoute(id)
	t := tenantOf(id)
	p.mu.Lock()
	var places []int
	for i, s := range p.slots {
		if s.tenant == t {
			places = append(places, i)
		}
	}
	p.mu.Unlock()
	for _, i := range places {
		_, _ = p.invoke(context.WithoutCancel(ctx), i, &invokeMsg{Op: "forget", ID: id}, p.newCall(), p.defaults.Wall)
	}
	p.mu.Lock()
	procs := append([]*proc(nil), p.procs...)
	p.mu.Unlock()
	for _, pr := range procs {
		pr.mu.Lock()
		delete(pr.held, id)
		pr.mu.Unlock()
	}
}

// Stats sums the loader statistics of the processes that are up.
func (p *Pool) Stats() loader.Stats {
	var total loader.Stats
	for i := range p.procs {
		p.mu.Lock()
		pr := p.procs[i]
		closed := p.closed
		p.mu.Unlock()
		select {
		case <-pr.ready:
		default:
			continue
		}
		if closed || pr.startErr != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var st loader.Stats
		res, err := p.invokeStats(ctx, i, p.newCall())
		cancel()
		if err != nil || json.Unmarshal(res, &st) != nil {
			continue
		}
		total.Workers += st.Workers
		total.BusySandboxes += st.BusySandboxes
		total.IdleSandboxes += st.IdleSandboxes
		total.IdleMemory += st.IdleMemory
		total.CodeImages += st.CodeImages
		total.CodeImageMemory += st.CodeImageMemory
		total.Hibernated += st.Hibernated
		total.Hibernations += st.Hibernations
		total.Resumes += st.Resumes
		total.HibernateErrors += st.HibernateErrors
	}
	return total
}

// invokeStats asks process idx for its loader's statistics.
func (p *Pool) invokeStats(ctx context.Context, idx int, c *call) (json.RawMessage, error) {
	pr, err := p.process(ctx, idx)
	if err != nil {
		return nil, err
	}
	c.res = make(chan resultMsg, 1)
	pr.mu.Lock()
	if pr.dead {
		pr.mu.Unlock()
		return nil, isoerr.New(isoerr.SandboxRestarted, "the sandbox process stopped")
	}
	pr.calls[c.id] = c
	pr.track()
	pr.mu.Unlock()
	if err := pr.c.sendInvoke(c.id, &invokeMsg{Op: "stats"}); err != nil {
		return nil, err
	}
	select {
	case r := <-c.res:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Extra, nil
	case <-ctx.Done():
		pr.mu.Lock()
		delete(pr.calls, c.id)
		pr.track()
		pr.mu.Unlock()
		return nil, ctx.Err()
	}
}
