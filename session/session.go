// Package session keeps sandboxes across calls: a session is a named sandbox whose globals
// survive from one eval to the next (a REPL an agent keeps), that can be forked into an
// independent copy, and that hibernates to an image store when idle.
//
// With an image store a session keeps what it promises: its state after every eval that
// returned is on disk (written and flushed) before Eval returns, so it survives a crash of
// the process; a call that a limit stopped leaves no trace (the session goes back to its
// state before the call, and the error says so).
//
//	m, _ := session.New(session.Config{Engine: e, Images: dir})
//	m.Create(ctx, "s1", session.Options{Limits: api.Limits{CPUMs: 100}})
//	m.Eval(ctx, "s1", "let x = 41", engine.Limits{})
//	res, _ := m.Eval(ctx, "s1", "x + 1", engine.Limits{}) // 42
package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/isoerr"
)

// Config configures a Manager.
type Config struct {
	// Engine runs the sessions' sandboxes in this process (InProcess(Engine)) when Host is
	// nil. One of the two is required.
	Engine *engine.Engine
	// Host is where the sessions' sandboxes live (see Host). nil: InProcess(Engine).
	Host Host
	// Images keeps sessions: every session's state is written to it after each call (see
	// the package documentation). nil keeps sessions in memory only.
	Images images.Store
	// IdleTTL drops the sandbox of a session unused this long from memory (10 min); with
	// Images the session stays in the store, without it the session is gone.
	IdleTTL time.Duration
	// MaxSessions bounds the sessions in memory (1,000); creating more fails with overloaded.
	MaxSessions int
	// Memory is the memory limit of sessions whose Options set none (0: the engine default).
	Memory uint64
	// Outbound makes the transport of a session's fetch() from its Options.GlobalOutbound
	// (nil when it has none). It is called when the session is created, so that a bad
	// policy fails the creation, and whenever its sandbox is made or resumed; an
	// *isoerr.Error it returns is passed on as it is. nil: sessions have no network access
	// and cannot be created with a GlobalOutbound.
	Outbound func(name string, globalOutbound json.RawMessage) (http.RoundTripper, error)
}

// Options are what a session is created with. They are kept with the session (in the image
// store too, so they hold after a restart) and apply to each of its evals.
type Options struct {
	// Limits bound every eval of the session; zero fields take the defaults. An eval may
	// pass limits of its own: for each limit the tighter one applies, so an eval can lower
	// the session's limits but never raise them. MemoryMB sizes the session's sandbox
	// (Config.Memory when 0) and cannot be changed per eval.
	Limits api.Limits `json:"limits,omitzero"`
	// GlobalOutbound is the session's egress policy (JSON, as a worker's globalOutbound),
	// handed to Config.Outbound. nil: the policy Config.Outbound gives when there is none.
	GlobalOutbound json.RawMessage `json:"globalOutbound,omitempty"`
	// Language is the session's language: "" or "javascript" (JavaScript and TypeScript),
	// or "python" (a Python REPL: what an eval defines, the next one sees; the value of its
	// last expression is its result). Create keeps "python" or "".
	Language string `json:"language,omitempty"`
}

// python reports whether the session is a Python one.
func (o Options) python() bool { return o.Language == api.LanguagePython }

// Manager keeps named sessions. It is safe for concurrent use; calls to one session are
// serialised.
type Manager struct {
	cfg      Config
	mu       sync.Mutex
	sessions map[string]*entry
	stop     chan struct{}
	done     chan struct{}
}

// entry is a session in memory. Between calls its state is in saved and, when it is live,
// also in sb: every call that changes sb saves it, or puts it back as saved holds it.
type entry struct {
	mu       sync.Mutex // one call at a time
	name     string
	opts     Options
	sb       Sandbox // nil when not live
	saved    State   // the state as of the last call that returned; empty: read the store
	lastUsed time.Time
	dropped  bool
}

// A session's saved State: without an image store, what its Host's Snapshot gave (in this
// process the image itself); with one, the image as the store holds it, marshalled (~7x
// smaller in memory; unmarshalled only to resume or roll back).

// Info describes a session (the wire type: name, live, hibernated, memory, last use).
type Info = api.SessionInfo

// CheckName reports whether name can name a session: the one id rule of the API
// (api.CheckSessionName), scoped to a tenant or not (api.CheckScoped: "acme~notes").
func CheckName(name string) error { return api.CheckScoped(name, api.CheckSessionName) }

func key(name string) string { return "session:" + name }

// rolledBack is the error of a call after which the session went back to its state before
// the call. It wraps the cause, whose message says so.
type rolledBack struct{ err *isoerr.Error }

func (r *rolledBack) Error() string { return r.err.Error() }
func (r *rolledBack) Unwrap() error { return r.err }

// RolledBack reports whether err (from Eval) says that the session went back to its state
// before the call: a limit stopped the call, or its new state could not be saved.
func RolledBack(err error) bool {
	var r *rolledBack
	return errors.As(err, &r)
}

// New makes a Manager and starts its idle sweeper; Close stops it.
func New(cfg Config) (*Manager, error) {
	if cfg.Host == nil {
		if cfg.Engine == nil {
			return nil, errors.New("session: Config.Engine or Config.Host is required")
		}
		cfg.Host = InProcess(cfg.Engine)
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = 10 * time.Minute
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 1000
	}
	m := &Manager{cfg: cfg, sessions: map[string]*entry{}, stop: make(chan struct{}), done: make(chan struct{})}
	go m.sweep()
	return m, nil
}

// Create makes an empty session with opts. With an image store it is saved before Create
// returns.
//
// # Errors
//
// invalid_request for a bad name, bad limits or a GlobalOutbound the manager cannot use,
// and when the name is taken; overloaded when MaxSessions are in memory; the engine's
// error when the sandbox cannot be made or saved (nothing is kept then).
func (m *Manager) Create(ctx context.Context, name string, opts Options) (Info, error) {
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	if string(opts.GlobalOutbound) == "null" {
		opts.GlobalOutbound = nil
	}
	lang, err := api.CheckLanguage(opts.Language)
	if err != nil {
		return Info{}, err
	}
	opts.Language = ""
	if lang == api.LanguagePython {
		opts.Language = lang
	}
	if err := m.checkOptions(name, opts); err != nil {
		return Info{}, err
	}
	if m.exists(ctx, name) {
		return Info{}, isoerr.New(isoerr.InvalidRequest, "session %q already exists", name)
	}
	e, err := m.claim(name)
	if err != nil {
		return Info{}, err
	}
	defer e.mu.Unlock()
	e.opts = opts
	cfg, err := m.sandboxConfig(e)
	var sb Sandbox
	if err == nil {
		sb, err = m.cfg.Host.New(ctx, name, cfg)
	}
	if err == nil {
		e.sb = sb
		err = m.save(ctx, e)
	}
	if err != nil {
		m.discard(ctx, e)
		return Info{}, err
	}
	e.lastUsed = time.Now()
	return m.info(e), nil
}

// checkOptions reports what is wrong with opts, as invalid_request.
func (m *Manager) checkOptions(name string, opts Options) error {
	if err := engine.WireLimits(&opts.Limits).Validate(); err != nil {
		return err
	}
	if m.cfg.Outbound == nil {
		if opts.GlobalOutbound != nil {
			return isoerr.New(isoerr.InvalidRequest, "globalOutbound: sessions of this manager have no network access")
		}
		return nil
	}
	if _, err := m.cfg.Outbound(name, opts.GlobalOutbound); err != nil {
		if isoerr.CodeOf(err) != "" {
			return err
		}
		return isoerr.New(isoerr.InvalidRequest, "globalOutbound: %v", err)
	}
	return nil
}

// sandboxConfig is the host side of e's sandbox: its memory and its outbound transport.
func (m *Manager) sandboxConfig(e *entry) (SandboxConfig, error) {
	cfg := SandboxConfig{Memory: m.cfg.Memory, Python: e.opts.python()}
	if mb := e.opts.Limits.MemoryMB; mb > 0 {
		cfg.Memory = uint64(mb) << 20
	}
	if m.cfg.Outbound != nil {
		rt, err := m.cfg.Outbound(e.name, e.opts.GlobalOutbound)
		if err != nil {
			return cfg, fmt.Errorf("session %q: %w", e.name, err)
		}
		cfg.Outbound = rt
	}
	return cfg, nil
}

// Eval runs code in session name (see loader.Eval for what code may be) and keeps the
// session's state for the next call: with an image store, that state is on disk when Eval
// returns, whether the code returned a value or threw. lim may lower the session's limits
// (see Options.Limits).
//
// # Errors
//
// not_found when the session does not exist; invalid_request for bad limits (lim.Memory
// must be 0); the code's own errors. When a limit stops the call (CPU, wall time, memory,
// output, subrequests), the caller cancels it, or its new state cannot be saved, the
// session goes back to its state before the call: RolledBack(err) is true and the error's
// message says so.
func (m *Manager) Eval(ctx context.Context, name, code string, lim engine.Limits) (*engine.Result, error) {
	if err := CheckName(name); err != nil {
		return &engine.Result{}, err
	}
	if lim.Memory != 0 {
		return &engine.Result{}, isoerr.New(isoerr.InvalidRequest, "an eval cannot change a session's memory: set limits.memoryMb when the session is created")
	}
	if err := lim.Validate(); err != nil {
		return &engine.Result{}, err
	}
	if !m.exists(ctx, name) {
		return &engine.Result{}, notFound(name)
	}
	e, err := m.lock(name)
	if err != nil {
		return &engine.Result{}, err
	}
	defer e.mu.Unlock()
	if e.dropped {
		return &engine.Result{}, notFound(name)
	}
	if err := m.wake(ctx, e); err != nil {
		if e.saved.empty() {
			m.forget(e) // dropped meanwhile, or unreadable: keep no empty entry
		}
		return &engine.Result{}, err
	}
	lim = engine.WireLimits(&e.opts.Limits).Min(lim)
	lim.Memory = 0 // the sandbox's, fixed when it was made
	res, err := e.sb.Eval(ctx, lim, code)
	if res == nil {
		res = &engine.Result{}
	}
	e.lastUsed = time.Now()
	if stopped(e.sb, err) {
		if err == nil { // the sandbox broke after the code returned (its host refused its state)
			err = e.sb.Broken()
		}
		return res, m.rollback(ctx, e, err)
	}
	if serr := m.save(ctx, e); serr != nil {
		return res, m.rollback(ctx, e, isoerr.New(isoerr.Internal, "session %q: saving its state: %v", name, serr))
	}
	return res, err
}

func notFound(name string) error {
	return isoerr.New(isoerr.NotFound, "session %q does not exist", name)
}

// stopped reports whether isobox stopped the call (a limit, a cancel, a trap) rather than
// the code running to its end (a value or an exception): such a call is rolled back.
// A sandbox whose process died (sandbox_restarted) is stopped too.
func stopped(sb Sandbox, err error) bool {
	if sb.Broken() != nil {
		return true
	}
	switch isoerr.CodeOf(err) {
	case isoerr.CPULimitExceeded, isoerr.WallTimeExceeded, isoerr.MemoryLimitExceeded,
		isoerr.OutputLimitExceeded, isoerr.SubrequestLimitExceeded, isoerr.Canceled,
		isoerr.SandboxRestarted:
		return true
	}
	return false
}

// rollback puts e back in its saved state (its sandbox is made again from it at the next
// call) and returns cause marked as rolled back.
func (m *Manager) rollback(ctx context.Context, e *entry, cause error) error {
	e.sb.Close(ctx)
	e.sb = nil
	c := *isoerr.As(cause) // a copy: the sandbox's own error value is not ours to change
	c.Message += "; the session was restored to its state before this call"
	return &rolledBack{err: &c}
}

// save takes e's state from its sandbox and, with an image store, writes it there (flushed
// to disk) before returning. A state equal to the saved one is not written again.
func (m *Manager) save(ctx context.Context, e *entry) error {
	st, err := e.sb.Snapshot(ctx)
	if err != nil {
		return err
	}
	if st.empty() {
		return isoerr.New(isoerr.Internal, "session %q: the sandbox gave an empty state", e.name)
	}
	if m.cfg.Images == nil {
		e.saved = st
		return nil
	}
	b, err := st.marshal()
	if err != nil {
		return isoerr.New(isoerr.Internal, "session %q: %v", e.name, err)
	}
	if e.saved.Raw != nil && bytes.Equal(b, e.saved.Raw) {
		return nil
	}
	if err := m.put(ctx, e.name, e.opts, b); err != nil {
		return err
	}
	e.saved = State{Raw: b}
	return nil
}

// put writes a session's record to the image store.
func (m *Manager) put(ctx context.Context, name string, opts Options, image []byte) error {
	rec, err := encodeRecord(opts, image)
	if err == nil {
		err = m.cfg.Images.Put(context.WithoutCancel(ctx), key(name), rec)
	}
	if err != nil {
		return isoerr.New(isoerr.Internal, "session %q: %v", name, err)
	}
	return nil
}

// load makes sure e's saved state and options are in memory, reading them from the store.
func (m *Manager) load(ctx context.Context, e *entry) error {
	if !e.saved.empty() {
		return nil
	}
	if m.cfg.Images == nil {
		return notFound(e.name)
	}
	b, err := m.cfg.Images.Get(ctx, key(e.name))
	if errors.Is(err, images.ErrNotFound) {
		return notFound(e.name)
	}
	if err != nil {
		return isoerr.New(isoerr.Internal, "session %q: %v", e.name, err)
	}
	opts, img, err := decodeRecord(b)
	if err != nil {
		return isoerr.New(isoerr.Internal, "session %q: %v", e.name, err)
	}
	e.opts, e.saved = opts, State{Raw: img}
	return nil
}

// wake makes sure e has a sandbox that works, made from its saved state. A sandbox that
// broke between calls (its process died) is made again from that state too.
func (m *Manager) wake(ctx context.Context, e *entry) error {
	if e.sb != nil {
		if e.sb.Broken() == nil {
			return nil
		}
		e.sb.Close(ctx)
		e.sb = nil
	}
	if err := m.load(ctx, e); err != nil {
		return err
	}
	cfg, err := m.sandboxConfig(e)
	if err != nil {
		return err
	}
	sb, err := m.cfg.Host.Restore(ctx, e.name, e.saved, cfg)
	if err != nil {
		return hostError(e.name, err)
	}
	e.sb = sb
	return nil
}

// Fork makes session to a copy of session from as it is now; from then on the two are
// independent. The copy has from's options. With an image store it is saved before Fork
// returns.
//
// # Errors
//
// not_found when from does not exist; invalid_request for a bad name or one that is taken.
func (m *Manager) Fork(ctx context.Context, from, to string) (Info, error) {
	if err := CheckName(to); err != nil {
		return Info{}, err
	}
	if !m.exists(ctx, from) {
		return Info{}, notFound(from)
	}
	if m.exists(ctx, to) {
		return Info{}, isoerr.New(isoerr.InvalidRequest, "session %q already exists", to)
	}
	src, err := m.lock(from)
	if err != nil {
		return Info{}, err
	}
	if src.dropped {
		src.mu.Unlock()
		return Info{}, notFound(from)
	}
	// Between calls a session's saved state is its state: the copy is made from it, and
	// gets a sandbox at its first call.
	err = m.load(ctx, src)
	opts, saved := src.opts, src.saved
	src.lastUsed = time.Now()
	src.mu.Unlock()
	if err != nil {
		return Info{}, err
	}
	dst, err := m.claim(to)
	if err != nil {
		return Info{}, err
	}
	defer dst.mu.Unlock()
	dst.opts = opts
	if m.cfg.Images != nil {
		if err := m.put(ctx, to, opts, saved.Raw); err != nil {
			m.discard(ctx, dst)
			return Info{}, err
		}
	}
	dst.saved, dst.lastUsed = saved, time.Now() // images are never changed: sharing is safe
	return m.info(dst), nil
}

// Drop deletes session name, live and hibernated.
func (m *Manager) Drop(ctx context.Context, name string) error {
	if !m.exists(ctx, name) {
		return notFound(name)
	}
	m.mu.Lock()
	e := m.sessions[name]
	delete(m.sessions, name)
	m.mu.Unlock()
	if e != nil {
		e.mu.Lock()
		e.dropped = true
		if e.sb != nil {
			e.sb.Close(ctx)
			e.sb = nil
		}
		e.saved = State{}
		e.mu.Unlock()
	}
	if m.cfg.Images != nil {
		return m.cfg.Images.Delete(ctx, key(name))
	}
	return nil
}

// Hibernate drops session name's sandbox from memory; the session stays in the image store
// (its state is there after every call).
func (m *Manager) Hibernate(ctx context.Context, name string) error {
	if m.cfg.Images == nil {
		return isoerr.New(isoerr.InvalidRequest, "sessions have no image store to hibernate to")
	}
	m.mu.Lock()
	e := m.sessions[name]
	m.mu.Unlock()
	if e == nil {
		return nil // not in memory
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m.unload(ctx, e)
	return nil
}

// unload takes e out of memory: with an image store it is kept there, without one it is
// gone. Called with e.mu held.
func (m *Manager) unload(ctx context.Context, e *entry) {
	if e.sb != nil {
		e.sb.Close(ctx)
		e.sb = nil
	}
	if m.cfg.Images == nil {
		e.dropped = true
	}
	m.forget(e)
}

// info describes e, locked.
func (m *Manager) info(e *entry) Info {
	i := Info{Name: e.name, LastUsed: e.lastUsed, Language: api.LanguageJavaScript}
	if e.opts.python() {
		i.Language = api.LanguagePython
	}
	if e.sb != nil {
		i.Live, i.MemoryBytes = true, e.sb.MemoryBytes()
	} else {
		i.Hibernated = m.cfg.Images != nil
	}
	return i
}

// Get describes session name (its language included), reading it from the image store
// when it is not in memory.
//
// # Errors
//
// not_found when it does not exist; invalid_request for a bad name.
func (m *Manager) Get(ctx context.Context, name string) (Info, error) {
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	if !m.exists(ctx, name) {
		return Info{}, notFound(name)
	}
	e, err := m.lock(name)
	if err != nil {
		return Info{}, err
	}
	defer e.mu.Unlock()
	if e.dropped {
		return Info{}, notFound(name)
	}
	if err := m.load(ctx, e); err != nil {
		if e.saved.empty() {
			m.forget(e)
		}
		return Info{}, err
	}
	return m.info(e), nil
}

// List describes every session, live and hibernated, sorted by name.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	byName := map[string]*Info{}
	if m.cfg.Images != nil {
		keys, err := m.cfg.Images.List(ctx, "session:")
		if err != nil {
			return nil, isoerr.New(isoerr.Internal, "listing sessions: %v", err)
		}
		for _, k := range keys {
			n := strings.TrimPrefix(k, "session:")
			byName[n] = &Info{Name: n, Hibernated: true}
		}
	}
	m.mu.Lock()
	for n, e := range m.sessions {
		if e.mu.TryLock() {
			if e.sb != nil || !e.saved.empty() { // not one being created or woken
				i := m.info(e)
				byName[n] = &i
			}
			e.mu.Unlock()
		} else {
			byName[n] = &Info{Name: n, Live: true} // running a call right now
		}
	}
	m.mu.Unlock()
	out := make([]Info, 0, len(byName))
	for _, i := range byName {
		out = append(out, *i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Close stops the sweeper and closes every sandbox. With an image store the sessions stay
// there; without one they are gone.
func (m *Manager) Close(ctx context.Context) error {
	select {
	case <-m.stop:
		return nil
	default:
	}
	close(m.stop)
	<-m.done
	m.mu.Lock()
	all := make([]*entry, 0, len(m.sessions))
	for _, e := range m.sessions {
		all = append(all, e)
	}
	m.mu.Unlock()
	for _, e := range all {
		e.mu.Lock()
		m.unload(ctx, e)
		e.mu.Unlock()
	}
	return nil
}

// Exists reports whether session name exists, in memory or hibernated, without loading it
// (a map lookup for a live session, an image read for a hibernated one).
func (m *Manager) Exists(ctx context.Context, name string) bool {
	return CheckName(name) == nil && m.exists(ctx, name)
}

// exists reports whether a session is in memory or in the store.
func (m *Manager) exists(ctx context.Context, name string) bool {
	m.mu.Lock()
	_, ok := m.sessions[name]
	m.mu.Unlock()
	if ok || m.cfg.Images == nil {
		return ok
	}
	_, err := m.cfg.Images.Get(ctx, key(name))
	return err == nil
}

// claim makes a new entry for name, locked, for a session being created.
func (m *Manager) claim(name string) (*entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[name]; ok {
		return nil, isoerr.New(isoerr.InvalidRequest, "session %q already exists", name)
	}
	if len(m.sessions) >= m.cfg.MaxSessions {
		return nil, isoerr.New(isoerr.Overloaded, "%d sessions are in memory; drop some or wait for idle ones to hibernate", len(m.sessions))
	}
	e := &entry{name: name}
	e.mu.Lock()
	m.sessions[name] = e
	return e, nil
}

// discard forgets an entry whose creation failed. Called with e.mu held.
func (m *Manager) discard(ctx context.Context, e *entry) {
	if e.sb != nil {
		e.sb.Close(ctx)
		e.sb = nil
	}
	e.saved, e.dropped = State{}, true
	m.forget(e)
}

// entry returns the in-memory entry of name, making it if needed.
func (m *Manager) entry(name string) (*entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.sessions[name]; ok {
		return e, nil
	}
	if len(m.sessions) >= m.cfg.MaxSessions {
		return nil, isoerr.New(isoerr.Overloaded, "%d sessions are in memory; drop some or wait for idle ones to hibernate", len(m.sessions))
	}
	e := &entry{name: name}
	m.sessions[name] = e
	return e, nil
}

// lock returns name's entry locked, making it if needed. An entry that was hibernated
// (and so left the map) while this call waited for it is not used: the call takes the
// current one, which resumes from the store.
func (m *Manager) lock(name string) (*entry, error) {
	for {
		e, err := m.entry(name)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		m.mu.Lock()
		current := m.sessions[name] == e
		m.mu.Unlock()
		if current || e.dropped {
			return e, nil
		}
		e.mu.Unlock()
	}
}

// forget removes e from memory (it stays in the store if there is one). Called with e.mu
// held.
func (m *Manager) forget(e *entry) {
	m.mu.Lock()
	if m.sessions[e.name] == e {
		delete(m.sessions, e.name)
	}
	m.mu.Unlock()
}

func (m *Manager) sweep() {
	defer close(m.done)
	t := time.NewTicker(max(min(m.cfg.IdleTTL/2, 30*time.Second), 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			m.mu.Lock()
			var idle []*entry
			for _, e := range m.sessions {
				if e.mu.TryLock() {
					if (e.sb != nil || !e.saved.empty()) && now.Sub(e.lastUsed) > m.cfg.IdleTTL {
						idle = append(idle, e)
					}
					e.mu.Unlock()
				}
			}
			m.mu.Unlock()
			for _, e := range idle {
				e.mu.Lock()
				if !e.dropped && time.Since(e.lastUsed) > m.cfg.IdleTTL {
					m.unload(context.Background(), e)
				}
				e.mu.Unlock()
			}
		}
	}
}
