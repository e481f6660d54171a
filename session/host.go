package session

import (
	"context"
	"fmt"
	"net/http"

	"github.com/isobox/isobox/engine"
)

// Host is where the sandboxes of sessions live. The Manager keeps everything else (names,
// locks, options, the image store, rollback, fork) and asks its Host only for live
// sandboxes: InProcess keeps them in this process (the default); package
// internal/sandboxproc keeps them in supervised worker processes, each operation a
// message.
//
//	m, _ := session.New(session.Config{Host: session.InProcess(e), Images: dir})
type Host interface {
	// New makes an empty sandbox for session name.
	New(ctx context.Context, name string, cfg SandboxConfig) (Sandbox, error)
	// Restore makes a sandbox for session name in state st (taken by a Sandbox of the same
	// isobox build, or read from the image store).
	Restore(ctx context.Context, name string, st State, cfg SandboxConfig) (Sandbox, error)
}

// SandboxConfig is the host side of a session's sandbox.
type SandboxConfig struct {
	// Memory caps the sandbox's memory (0: the engine's default).
	Memory uint64
	// Outbound carries the sandbox's fetch() (nil: no network access). Python sandboxes
	// have no fetch yet and ignore it.
	Outbound http.RoundTripper
	// Python: the session is a Python one (Options.Language); its sandbox runs CPython
	// and its states are Python images.
	Python bool
}

// Sandbox is the live sandbox of one session. The Manager calls it one operation at a time.
type Sandbox interface {
	// Eval runs a snippet with the rules of a REPL (see Manager.Eval) under lim (lim.Memory
	// is 0: the sandbox's memory was fixed when it was made).
	Eval(ctx context.Context, lim engine.Limits, code string) (*engine.Result, error)
	// Snapshot returns the sandbox's state now.
	Snapshot(ctx context.Context) (State, error)
	// Broken returns why the sandbox cannot be used any more (a limit stopped a call, its
	// process died), nil while it can.
	Broken() error
	// MemoryBytes is the size of the sandbox's memory, as of its last operation.
	MemoryBytes() int
	// Close frees the sandbox.
	Close(ctx context.Context)
}

// State is a session's state between calls: an image in memory (a snapshot is cheap;
// marshalling it is what costs), or marshalled (engine.Image.Marshal: what the image store
// holds, and what crosses a process boundary). One of the two is set.
type State struct {
	Image *engine.Image
	Raw   []byte
}

func (s State) empty() bool { return s.Image == nil && s.Raw == nil }

// marshal returns the state's marshalled form.
func (s State) marshal() ([]byte, error) {
	if s.Raw != nil {
		return s.Raw, nil
	}
	return s.Image.Marshal()
}

// InProcess is the Host whose sandboxes live in this process, on engine e.
func InProcess(e *engine.Engine) Host { return inProcess{e} }

type inProcess struct{ e *engine.Engine }

func (h inProcess) New(ctx context.Context, _ string, cfg SandboxConfig) (Sandbox, error) {
	if cfg.Python {
		sb, err := h.e.NewPythonSandbox(ctx, engine.SandboxConfig{Memory: cfg.Memory})
		if err != nil {
			return nil, err
		}
		return pySandbox{sb}, nil
	}
	sb, err := h.e.NewSandbox(ctx, engine.SandboxConfig{Memory: cfg.Memory, Outbound: cfg.Outbound})
	if err != nil {
		return nil, err
	}
	return localSandbox{sb}, nil
}

func (h inProcess) Restore(ctx context.Context, _ string, st State, cfg SandboxConfig) (Sandbox, error) {
	img := st.Image
	if img == nil {
		var err error
		if cfg.Python {
			img, err = h.e.UnmarshalPythonImage(ctx, st.Raw)
		} else {
			img, err = h.e.UnmarshalImage(st.Raw)
		}
		if err != nil {
			return nil, err
		}
	}
	if cfg.Python {
		sb, err := h.e.RestorePython(ctx, img, engine.SandboxConfig{Memory: cfg.Memory})
		if err != nil {
			return nil, err
		}
		return pySandbox{sb}, nil
	}
	sb, err := h.e.Restore(ctx, img, engine.SandboxConfig{Memory: cfg.Memory, Outbound: cfg.Outbound})
	if err != nil {
		return nil, err
	}
	return localSandbox{sb}, nil
}

// pySandbox is a Python session's sandbox in this process: PythonSandbox.Eval already has
// a REPL's rules (every snippet runs in the same __main__).
type pySandbox struct{ sb *engine.PythonSandbox }

func (p pySandbox) Eval(ctx context.Context, lim engine.Limits, code string) (*engine.Result, error) {
	return p.sb.Eval(ctx, lim, code)
}

func (p pySandbox) Snapshot(context.Context) (State, error) {
	img, err := p.sb.Snapshot()
	if err != nil {
		return State{}, err
	}
	return State{Image: img}, nil
}

func (p pySandbox) Broken() error             { return p.sb.Broken() }
func (p pySandbox) MemoryBytes() int          { return p.sb.MemoryBytes() }
func (p pySandbox) Close(ctx context.Context) { p.sb.Close(ctx) }

// localSandbox is a session's sandbox in this process.
type localSandbox struct{ sb *engine.Sandbox }

func (l localSandbox) Eval(ctx context.Context, lim engine.Limits, code string) (*engine.Result, error) {
	return evalSnippet(ctx, l.sb, lim, code)
}

func (l localSandbox) Snapshot(context.Context) (State, error) {
	img, err := l.sb.Snapshot()
	if err != nil {
		return State{}, err
	}
	return State{Image: img}, nil
}

func (l localSandbox) Broken() error             { return l.sb.Broken() }
func (l localSandbox) MemoryBytes() int          { return l.sb.MemoryBytes() }
func (l localSandbox) Close(ctx context.Context) { l.sb.Close(ctx) }

// hostError names the session in a Host's error that does not say which one it is.
func hostError(name string, err error) error {
	return fmt.Errorf("session %q: %w", name, err)
}
