// Package session keeps sandboxes across calls: a session is a named sandbox whose globals
// survive from one eval to the next (a REPL an agent keeps), that can be forked into an
// independent copy, and that hibernates to an image store when idle — or, for the CLI,
// after every call, so that `isobox eval --session NAME` works across processes.
//
//	m, _ := session.New(session.Config{Engine: e, Images: dir})
//	m.Eval(ctx, "s1", "let x = 41", engine.Limits{}, true)
//	res, _ := m.Eval(ctx, "s1", "x + 1", engine.Limits{}, false) // 42
package session

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/isoerr"
)

// Config configures a Manager.
type Config struct {
	Engine *engine.Engine
	// Images keeps hibernated sessions; nil keeps sessions in memory only.
	Images images.Store
	// IdleTTL hibernates (or, without Images, drops) sessions unused this long (10 min).
	IdleTTL time.Duration
	// MaxSessions bounds the live sessions (1,000); creating more fails with overloaded.
	MaxSessions int
	// Memory is each session's memory limit (0: the engine default).
	Memory uint64
}

// Manager keeps named sessions. It is safe for concurrent use; calls to one session are
// serialised.
type Manager struct {
	cfg      Config
	mu       sync.Mutex
	sessions map[string]*entry
	stop     chan struct{}
	done     chan struct{}
}

type entry struct {
	mu       sync.Mutex // one call at a time
	name     string
	sb       *engine.Sandbox // nil when hibernated or not yet made
	lastUsed time.Time
	dropped  bool
}

// Info describes a session.
type Info struct {
	Name        string    `json:"name"`
	Live        bool      `json:"live"`        // a sandbox is in memory
	Hibernated  bool      `json:"hibernated"`  // an image is in the store
	MemoryBytes int       `json:"memoryBytes"` // live sandbox's linear memory
	LastUsed    time.Time `json:"lastUsed,omitzero"`
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// CheckName reports whether name can name a session.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return isoerr.New(isoerr.InvalidRequest, "session name %q must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

func key(name string) string { return "session:" + name }

// New makes a Manager and starts its idle sweeper; Close stops it.
func New(cfg Config) (*Manager, error) {
	if cfg.Engine == nil {
		return nil, errors.New("session: Config.Engine is required")
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

// Create makes an empty session. It fails with invalid_request if the name is taken.
func (m *Manager) Create(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if m.exists(ctx, name) {
		return isoerr.New(isoerr.InvalidRequest, "session %q already exists", name)
	}
	e, err := m.entry(name, true)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sb == nil {
		sb, err := m.cfg.Engine.NewSandbox(ctx, engine.SandboxConfig{Memory: m.cfg.Memory})
		if err != nil {
			m.forget(e)
			return err
		}
		e.sb = sb
	}
	e.lastUsed = time.Now()
	return nil
}

// Eval runs code in session name (see loader.Eval for what code may be) and keeps the
// session's state for the next call. With create, a missing session is made; otherwise it
// is not_found.
//
// # Errors
//
// The code's own errors. After a limit trips the session's sandbox is discarded: the
// session goes back to its last hibernated image, or starts empty if it has none.
func (m *Manager) Eval(ctx context.Context, name, code string, lim engine.Limits, create bool) (*engine.Result, error) {
	if err := CheckName(name); err != nil {
		return &engine.Result{}, err
	}
	if !create && !m.exists(ctx, name) {
		return &engine.Result{}, isoerr.New(isoerr.NotFound, "session %q does not exist", name)
	}
	e, err := m.lock(name)
	if err != nil {
		return &engine.Result{}, err
	}
	defer e.mu.Unlock()
	if e.dropped {
		return &engine.Result{}, isoerr.New(isoerr.NotFound, "session %q was dropped", name)
	}
	if err := m.wake(ctx, e); err != nil {
		return &engine.Result{}, err
	}
	res, err := evalSnippet(ctx, e.sb, lim, code)
	e.lastUsed = time.Now()
	if e.sb.Broken() != nil {
		e.sb.Close(ctx)
		e.sb = nil
	}
	return res, err
}

// wake makes sure e has a sandbox: its own, resumed from the store, or a new one.
func (m *Manager) wake(ctx context.Context, e *entry) error {
	if e.sb != nil {
		return nil
	}
	cfg := engine.SandboxConfig{Memory: m.cfg.Memory}
	if m.cfg.Images != nil {
		b, err := m.cfg.Images.Get(ctx, key(e.name))
		switch {
		case err == nil:
			img, err := m.cfg.Engine.UnmarshalImage(b)
			if err != nil {
				return fmt.Errorf("session %q: %w", e.name, err)
			}
			sb, err := m.cfg.Engine.Restore(ctx, img, cfg)
			if err != nil {
				return err
			}
			e.sb = sb
			return nil
		case !errors.Is(err, images.ErrNotFound):
			return isoerr.New(isoerr.Internal, "session %q: %v", e.name, err)
		}
	}
	sb, err := m.cfg.Engine.NewSandbox(ctx, cfg)
	if err != nil {
		return err
	}
	e.sb = sb
	return nil
}

// Fork makes session to a copy of session from as it is now.
func (m *Manager) Fork(ctx context.Context, from, to string) error {
	if err := CheckName(to); err != nil {
		return err
	}
	if !m.exists(ctx, from) {
		return isoerr.New(isoerr.NotFound, "session %q does not exist", from)
	}
	if m.exists(ctx, to) {
		return isoerr.New(isoerr.InvalidRequest, "session %q already exists", to)
	}
	src, err := m.lock(from)
	if err != nil {
		return err
	}
	err = m.wake(ctx, src)
	var child *engine.Sandbox
	if err == nil {
		child, err = src.sb.Fork(ctx)
	}
	src.lastUsed = time.Now()
	src.mu.Unlock()
	if err != nil {
		return err
	}
	dst, err := m.entry(to, true)
	if err != nil {
		child.Close(ctx)
		return err
	}
	dst.mu.Lock()
	defer dst.mu.Unlock()
	if dst.sb != nil {
		child.Close(ctx)
		return isoerr.New(isoerr.InvalidRequest, "session %q already exists", to)
	}
	dst.sb, dst.lastUsed = child, time.Now()
	return nil
}

// Drop deletes session name, live and hibernated.
func (m *Manager) Drop(ctx context.Context, name string) error {
	if !m.exists(ctx, name) {
		return isoerr.New(isoerr.NotFound, "session %q does not exist", name)
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
		e.mu.Unlock()
	}
	if m.cfg.Images != nil {
		return m.cfg.Images.Delete(ctx, key(name))
	}
	return nil
}

// Hibernate writes session name to the image store and drops its sandbox from memory.
func (m *Manager) Hibernate(ctx context.Context, name string) error {
	if m.cfg.Images == nil {
		return isoerr.New(isoerr.InvalidRequest, "sessions have no image store to hibernate to")
	}
	m.mu.Lock()
	e := m.sessions[name]
	m.mu.Unlock()
	if e == nil {
		return nil // not live: nothing to write
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return m.hibernate(ctx, e)
}

func (m *Manager) hibernate(ctx context.Context, e *entry) error {
	if e.sb == nil || e.dropped {
		return nil
	}
	img, err := e.sb.Snapshot()
	if err != nil {
		return err
	}
	b, err := img.Marshal()
	if err != nil {
		return isoerr.New(isoerr.Internal, "session %q: %v", e.name, err)
	}
	if err := m.cfg.Images.Put(context.WithoutCancel(ctx), key(e.name), b); err != nil {
		return isoerr.New(isoerr.Internal, "session %q: %v", e.name, err)
	}
	e.sb.Close(ctx)
	e.sb = nil
	m.forget(e)
	return nil
}

// List describes every session, live or hibernated, sorted by name.
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
		info := byName[n]
		if info == nil {
			info = &Info{Name: n}
			byName[n] = info
		}
		if e.mu.TryLock() {
			if e.sb != nil {
				info.Live, info.MemoryBytes = true, e.sb.MemoryBytes()
			}
			info.LastUsed = e.lastUsed
			e.mu.Unlock()
		} else {
			info.Live = true // running a call right now
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

// Close stops the sweeper and hibernates every live session (or drops it, without Images).
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
	var errs []error
	for _, e := range all {
		e.mu.Lock()
		if m.cfg.Images != nil {
			errs = append(errs, m.hibernate(ctx, e))
		}
		if e.sb != nil {
			e.sb.Close(ctx)
			e.sb = nil
		}
		e.mu.Unlock()
	}
	return errors.Join(errs...)
}

// exists reports whether a session is live or hibernated.
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

// entry returns the in-memory entry of name, making it if needed.
func (m *Manager) entry(name string, create bool) (*entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.sessions[name]; ok {
		return e, nil
	}
	if !create {
		return nil, isoerr.New(isoerr.NotFound, "session %q does not exist", name)
	}
	if len(m.sessions) >= m.cfg.MaxSessions {
		return nil, isoerr.New(isoerr.Overloaded, "%d sessions are live; drop some or wait for idle ones to hibernate", len(m.sessions))
	}
	e := &entry{name: name}
	m.sessions[name] = e
	return e, nil
}

// lock returns name's entry locked, making it if needed. An entry that was hibernated
// (and so left the map) while this call waited for it is not used: the call takes the
// current one, which resumes from the image.
func (m *Manager) lock(name string) (*entry, error) {
	for {
		e, err := m.entry(name, true)
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

// forget removes e from memory (it stays in the store if it was hibernated). Called with
// e.mu held.
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
					if e.sb != nil && now.Sub(e.lastUsed) > m.cfg.IdleTTL {
						idle = append(idle, e)
					}
					e.mu.Unlock()
				}
			}
			m.mu.Unlock()
			for _, e := range idle {
				e.mu.Lock()
				if m.cfg.Images != nil {
					_ = m.hibernate(context.Background(), e)
				} else if e.sb != nil {
					e.sb.Close(context.Background())
					e.sb = nil
					e.dropped = true
					m.forget(e)
				}
				e.mu.Unlock()
			}
		}
	}
}
