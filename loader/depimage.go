package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// Dependency images: the state of a sandbox that has evaluated a code's npm package
// modules (the modules the bundler names npm/<name>@<version>/<file>) and nothing else,
// kept in the code cache under a key of those modules' bytes, the memory limit and the
// tenant. A new worker whose code has byte-identical package modules starts from that
// state and evaluates only its own modules: a Hono app that differs from every other one
// still skips parsing and running Hono.
//
// What a worker sees is what a fresh sandbox that imported its package modules first
// would see: each sandbox gets its own copy of the image's memory, so nothing one worker
// does reaches another, and the app's own modules never run in the image. Two differences
// from a plain load, both documented in the README: the package modules are evaluated
// before any of the app's own modules (in name order, as `import "npm/..."` statements
// at the top of a first module would), so an app module that sets a global for a package
// to read at import time runs too late; and a value a package computes at import (a
// random id, the time) is the same in every worker started from one image, as it is for
// restarts of one code from its per-code image. Math.random is reseeded on every restore.

// depEntry is the module of a dependency image's sandbox that imports the package modules.
// A code with a module of this name gets no dependency image.
const depEntry = "__isobox_deps__.js"

// depPrefix starts the names of the package modules the bundler emits.
const depPrefix = "npm/"

// depSet is a code's package modules as a dependency image sees them.
type depSet struct {
	key  string           // the code cache key: "dep:" and a hash of what the image depends on
	mods engine.ModuleMap // the package modules and depEntry
}

// depsOf returns the package modules of a prepared JavaScript code, or nil when it has
// none or cannot use a dependency image: Python and WebAssembly workers, nodejs_compat
// (its globals are installed by the load itself), a main module that is itself a package
// module, and package modules that import cloudflare:workers (its env export is read
// once, at import, and would be the image's empty env).
// sums are the modules' SHA-256 (moduleSums).
func depsOf(p *prepared, sums map[string][32]byte) *depSet {
	if p.python() || p.wasm() || p.nodeCompat() || strings.HasPrefix(p.code.MainModule, depPrefix) {
		return nil
	}
	if _, ok := p.mods[depEntry]; ok {
		return nil
	}
	mods := engine.ModuleMap{}
	var entry strings.Builder
	for _, name := range slices.Sorted(maps.Keys(p.mods)) {
		m := p.mods[name]
		if !strings.HasPrefix(name, depPrefix) {
			continue
		}
		if bytes.Contains(m.Content, []byte("cloudflare:workers")) {
			return nil
		}
		mods[name] = m
		if m.Type == engine.ModuleJS {
			q, _ := json.Marshal("/" + name)
			fmt.Fprintf(&entry, "import %s;\n", q)
		}
	}
	if entry.Len() == 0 {
		return nil
	}
	mods[depEntry] = engine.Module{Type: engine.ModuleJS, Content: []byte(entry.String())}
	// The hash covers every package module (name, type, bytes), the tenant and the memory
	// limit: an image serves only byte-identical packages of the same tenant.
	h := codeHash(p.code.Tenant, depEntry, mods, sums, nil, p.limits.Memory)
	return &depSet{key: "dep:" + h, mods: mods}
}

// depSandbox starts a sandbox for p with its package modules evaluated: restored from
// their dependency image when there is one; else, the second time this set of packages is
// seen, from an image made now (makeDepImage); else, the first time, new, evaluating them
// in the worker's own sandbox, which then goes on to load the rest of the code (no extra
// cost: nothing is shared). used is the CPU time this load spent evaluating packages (for
// its start-up budget). It returns nil when p has no usable package modules or they fail
// to evaluate on their own (the caller then loads the code the ordinary way and reports
// its errors); err is set only when the packages' evaluation ran out of a limit, which the
// ordinary load would hit too.
func (l *Loader) depSandbox(ctx context.Context, p *prepared, cfg engine.SandboxConfig) (sb *engine.Sandbox, how startKind, used time.Duration, err error) {
	if l.cfg.NoDepImages || p.deps == nil {
		return nil, 0, 0, nil
	}
	d := p.deps
	img := l.code.image(d.key)
	if img == nil && !l.code.failedDeps(d.key) && l.code.seenBefore(d.key) {
		if img, used, err = l.makeDepImage(ctx, p); err != nil {
			return nil, 0, 0, err
		}
	}
	if img != nil {
		if l.cfg.BlankSandboxes > 0 {
			// New apps on these packages keep coming: the next ones take a sandbox
			// restored, and its usual pages copied, while nothing else ran.
			l.cfg.Engine.KeepRestored(img, l.cfg.BlankSandboxes)
		}
		if sb, err := l.cfg.Engine.Restore(ctx, img, cfg); err == nil {
			return sb, startDepImage, used, nil
		}
	}
	if l.code.failedDeps(d.key) {
		return nil, 0, 0, nil
	}
	dcfg := cfg
	dcfg.Modules = d.mods
	sb, used, err = l.evalDeps(ctx, p, dcfg, l.cfg.StartupCPU)
	if sb == nil {
		return nil, 0, 0, err
	}
	sb.SetModules(p.mods)
	return sb, startCold, used, nil
}

// keepImage keeps img as the image of key in the code cache, and drops the pools of
// restored sandboxes of the images that leaves out.
func (l *Loader) keepImage(key string, img *engine.Image) {
	for _, old := range l.code.keep(key, img) {
		l.cfg.Engine.DropRestored(old)
	}
}

// makeDepImage evaluates p's package modules in a sandbox with no capabilities — no
// network, no filesystem bindings, no worker id, an empty env — so that nothing of the
// worker that happens to make it (a response its egress let through, a secret) is in the
// state other workers start from, and keeps its snapshot. It returns nil without an
// error when the packages do not evaluate there (a package that fetches at import): that
// set of packages then gets no image.
func (l *Loader) makeDepImage(ctx context.Context, p *prepared) (*engine.Image, time.Duration, error) {
	sb, used, err := l.evalDeps(ctx, p, engine.SandboxConfig{Memory: p.limits.Memory, Modules: p.deps.mods}, l.cfg.StartupCPU)
	if sb == nil {
		return nil, 0, err
	}
	defer sb.Close(ctx)
	if err := sb.Settle(); err != nil { // apps restored from it keep its pages shared
		return nil, used, nil
	}
	img, err := sb.Snapshot()
	if err != nil {
		return nil, used, nil
	}
	l.keepImage(p.deps.key, img)
	return img, used, nil
}

// evalDeps makes a sandbox of cfg (whose modules are p's package modules) and evaluates
// them within cpu. On failure it returns a nil sandbox, and an error only for a limit (see
// depSandbox); other failures are recorded so that the set is not tried again.
func (l *Loader) evalDeps(ctx context.Context, p *prepared, cfg engine.SandboxConfig, cpu time.Duration) (*engine.Sandbox, time.Duration, error) {
	sb, err := l.cfg.Engine.NewSandbox(ctx, cfg)
	if err != nil {
		return nil, 0, err
	}
	lim := p.limits
	lim.CPU = cpu
	res, err := sb.Load(ctx, lim, depEntry, nil)
	if err == nil {
		return sb, res.CPU, nil
	}
	sb.Close(ctx)
	switch isoerr.CodeOf(err) {
	case isoerr.CPULimitExceeded, isoerr.WallTimeExceeded, isoerr.MemoryLimitExceeded, isoerr.Canceled:
		return nil, 0, withLogs(err, res)
	}
	l.code.markFailedDeps(p.deps.key)
	return nil, 0, nil
}

// failedDeps reports whether the package modules of key failed to evaluate on their own
// before; markFailedDeps records it (in the seen set, under a key of its own).
func (c *codeCache) failedDeps(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen["failed:"+key]
}

func (c *codeCache) markFailedDeps(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) >= maxSeen {
		clear(c.seen)
	}
	c.seen["failed:"+key] = true
}
