package sandboxproc

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// Placement by tenant (RATIONALE, "A worker process serves one tenant"). Every place of the pool (index i: procs[i] and
// its images folder p<i>) serves one tenant at a time: it is bound to the first tenant
// whose work it gets, and stays bound while it holds anything of that tenant (warm
// sandboxes, sessions' sandboxes, hibernated images). A place goes to another tenant only
// when no call runs on it, and then its process is recycled: killed (its warm sandboxes
// are dropped with it, never hibernated; its sessions' sandboxes too: a session's state is
// saved after every eval, and its next eval wakes it from there on a place of its tenant)
// and replaced by the spare, its images folder emptied before the spare takes it. So a
// worker process serves one tenant in its whole life, and no byte of a tenant's sandboxes
// (memory, images) is ever in a process that runs another tenant's code.
//
// A call of tenant t goes to, in order:
//  1. its preferred place (the hash of its worker, as before tenants; round-robin for
//     one-shots) when that place is t's or free: with one tenant, placement is what it was;
//  2. one of t's places, chosen by the same hash among them (warm caches stay warm);
//  3. a free place (one that has served no tenant yet);
//  4. the idle place of another tenant (no call running; without sessions first) bound
//     longest ago, recycled for t;
//  5. else it waits (Config.PlaceWait at most) and asks for a place to drain: the place of
//     the tenant with the most places (without sessions first) takes no new work of its
//     tenant, whose calls go to its other places or wait in turn, and goes to the first
//     waiting tenant once its calls are done. Nobody holds every process forever; a call
//     that waits longer than PlaceWait gets overloaded with Retry-After.
//
// Lock order: Pool.mu, then proc.mu (recycleLocked marks the old process retiring).

// slot is one place of the pool as placement sees it. All fields but active are guarded
// by Pool.mu.
type slot struct {
	tenant   string       // the tenant it serves; "" while it has served none
	active   atomic.Int64 // calls placed on it and not finished, sessions' evals included (increased under Pool.mu)
	sessions int          // sessions' sandboxes open in its current process
	drainFor string       // set while it takes no new work of its tenant: it goes to this waiting tenant once idle
	bound    uint64       // Pool.tick when it was last bound: the oldest idle one is recycled first
}

// idle reports whether no call runs on the slot (Pool.mu held).
func (s *slot) idle() bool { return s.active.Load() == 0 }

// waiter is a call waiting for a place for its tenant.
type waiter struct {
	tenant string
	got    chan int // the index handed over, the call already counted in its active
}

// defaultPlaceWait is Config.PlaceWait's default: how long a call waits for a place when
// every process is busy with other tenants.
const defaultPlaceWait = 10 * time.Second

// tenantOf is the tenant that owns a loader id or a session name (api.SplitScoped).
func tenantOf(scoped string) string {
	t, _ := api.SplitScoped(scoped)
	return t
}

// orDefault names tenant default for "" (WorkerCode.Tenant and EvalOptions.Tenant leave
// it empty for tenant default's code).
func orDefault(t string) string {
	if t == "" {
		return api.DefaultTenant
	}
	return t
}

// acquire places a call of tenant on a process, preferring index pref, and counts it on
// that place until release. It waits while every process is busy with other tenants.
//
// # Errors
//
// overloaded (Retry-After 1 s) after Config.PlaceWait without a place; canceled when ctx
// ends first; shutting_down once the pool is closed.
func (p *Pool) acquire(ctx context.Context, tenant string, pref int) (int, error) {
	tenant = orDefault(tenant)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return -1, isoerr.New(isoerr.ShuttingDown, "the sandbox processes are shutting down")
	}
	if i := p.placeLocked(tenant, pref); i >= 0 {
		p.slots[i].active.Add(1)
		p.mu.Unlock()
		return i, nil
	}
	w := &waiter{tenant: tenant, got: make(chan int, 1)}
	p.waiters = append(p.waiters, w)
	p.waiting.Store(int32(len(p.waiters)))
	p.drainLocked()
	p.mu.Unlock()
	t := time.NewTimer(p.cfg.PlaceWait)
	defer t.Stop()
	var why error
	select {
	case i := <-w.got:
		if i < 0 {
			return -1, isoerr.New(isoerr.ShuttingDown, "the sandbox processes are shutting down")
		}
		return i, nil
	case <-t.C:
		e := isoerr.New(isoerr.Overloaded, "every sandbox process is busy with other tenants' calls (waited %v); retry later", p.cfg.PlaceWait)
		e.RetryAfterSeconds = 1
		why = e
	case <-ctx.Done():
		why = isoerr.New(isoerr.Canceled, "canceled while waiting for a sandbox process: %v", context.Cause(ctx))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case i := <-w.got: // handed over meanwhile: given back
		if i >= 0 {
			p.releaseLocked(i)
		}
	default:
	}
	for k, o := range p.waiters {
		if o == w {
			p.waiters = append(p.waiters[:k], p.waiters[k+1:]...)
			break
		}
	}
	p.waiting.Store(int32(len(p.waiters)))
	p.undrainLocked()
	return -1, why
}

// release ends a call placed by acquire on index i. The last call of a place that a
// waiting tenant needs hands it over.
func (p *Pool) release(i int) {
	if p.slots[i].active.Add(-1) == 0 && p.waiting.Load() > 0 {
		p.mu.Lock()
		p.handoffLocked(i)
		p.mu.Unlock()
	}
}

// releaseLocked is release with Pool.mu held.
func (p *Pool) releaseLocked(i int) {
	if p.slots[i].active.Add(-1) == 0 {
		p.handoffLocked(i)
	}
}

// placeLocked returns the place of a call of tenant t (Pool.mu held), binding or recycling
// one when needed; -1 when the call must wait.
func (p *Pool) placeLocked(t string, pref int) int {
	if s := p.slots[pref]; s.tenant == t && s.drainFor == "" {
		return pref
	} else if s.tenant == "" {
		p.bindLocked(pref, t)
		return pref
	}
	n := 0
	for _, s := range p.slots {
		if s.tenant == t && s.drainFor == "" {
			n++
		}
	}
	if n > 0 {
		k := pref % n
		for i, s := range p.slots {
			if s.tenant == t && s.drainFor == "" {
				if k == 0 {
					return i
				}
				k--
			}
		}
	}
	for i, s := range p.slots {
		if s.tenant == "" {
			p.bindLocked(i, t)
			return i
		}
	}
	first := func(a, b *slot) bool { // a is recycled before b
		if (a.sessions == 0) != (b.sessions == 0) {
			return a.sessions == 0
		}
		return a.bound < b.bound
	}
	best := -1
	for i, s := range p.slots {
		if s.idle() && (best < 0 || first(s, p.slots[best])) {
			best = i
		}
	}
	if best >= 0 {
		p.recycleLocked(best, t)
		return best
	}
	return -1
}

// bindLocked makes place i tenant t's (Pool.mu held).
func (p *Pool) bindLocked(i int, t string) {
	s := p.slots[i]
	p.tick++
	s.tenant, s.bound, s.drainFor = t, p.tick, ""
	p.markTenant(i, t)
}

// recycleLocked gives idle place i to tenant t (Pool.mu held): its process is killed and
// replaced (the spare, when there is one), and its images folder emptied before the new
// process takes it. Nothing of the place's previous tenant stays: not its warm sandboxes
// (they die with the process, unhibernated), not its images.
func (p *Pool) recycleLocked(i int, t string) {
	old := p.procs[i]
	p.markTenant(i, "") // until the folder is empty: a restart meanwhile empties it
	p.procs[i] = p.replaceLocked(i, old, t)
	p.recycles.Add(1)
	p.cfg.Logger.Debug("isobox: sandbox process recycled for another tenant", "index", i, "from", p.slots[i].tenant, "to", t)
	p.tick++
	s := p.slots[i]
	s.tenant, s.bound, s.drainFor, s.sessions = t, p.tick, "", 0
	old.mu.Lock()
	old.retiring = true // its sessions are broken from now on (remoteSession.Broken)
	old.mu.Unlock()
	go old.retire()
}

// retire kills a process whose place went to another tenant (its place has a new process
// already, so its death is no restart).
func (pr *proc) retire() {
	<-pr.ready
	if pr.startErr == nil {
		_ = pr.cmd.Process.Kill()
	}
}

// handoffLocked gives idle place i to the waiting tenant it drains for, else to the first
// waiting tenant (Pool.mu held): every waiting call of that tenant gets it.
func (p *Pool) handoffLocked(i int) {
	s := p.slots[i]
	if len(p.waiters) == 0 || !s.idle() || p.closed {
		return
	}
	w := p.waiters[0]
	for _, o := range p.waiters {
		if o.tenant == s.drainFor {
			w = o
			break
		}
	}
	t := w.tenant
	if s.tenant == t {
		s.drainFor = ""
	} else {
		p.recycleLocked(i, t)
	}
	kept := p.waiters[:0]
	for _, o := range p.waiters {
		if o.tenant == t {
			s.active.Add(1)
			o.got <- i
		} else {
			kept = append(kept, o)
		}
	}
	clear(p.waiters[len(kept):])
	p.waiters = kept
	p.waiting.Store(int32(len(p.waiters)))
	p.drainLocked()
}

// drainLocked makes sure every waiting tenant has a place draining for it (Pool.mu held):
// the place of the tenant with the most places, without sessions first, then with the
// fewest calls in flight.
func (p *Pool) drainLocked() {
	for _, w := range p.waiters {
		draining := false
		for _, s := range p.slots {
			draining = draining || s.drainFor == w.tenant
		}
		if draining {
			continue
		}
		owned := map[string]int{}
		for _, s := range p.slots {
			if s.drainFor == "" {
				owned[s.tenant]++
			}
		}
		better := func(a, b *slot) bool {
			if (a.sessions == 0) != (b.sessions == 0) {
				return a.sessions == 0
			}
			if owned[a.tenant] != owned[b.tenant] {
				return owned[a.tenant] > owned[b.tenant]
			}
			return a.active.Load() < b.active.Load()
		}
		victim := -1
		for i, s := range p.slots {
			if s.tenant == "" || s.tenant == w.tenant || s.drainFor != "" {
				continue
			}
			if victim < 0 || better(s, p.slots[victim]) {
				victim = i
			}
		}
		if victim < 0 {
			continue
		}
		p.slots[victim].drainFor = w.tenant
		if p.slots[victim].idle() { // at once (handing over drains again for the others)
			p.handoffLocked(victim)
			return
		}
	}
}

// undrainLocked gives the places draining for a tenant that no longer waits back to their
// tenants (Pool.mu held).
func (p *Pool) undrainLocked() {
	for _, s := range p.slots {
		if s.drainFor == "" {
			continue
		}
		waits := false
		for _, w := range p.waiters {
			waits = waits || w.tenant == s.drainFor
		}
		if !waits {
			s.drainFor = ""
		}
	}
}

// wakeWaitersLocked ends every wait for a place (Pool.mu held; the pool is closing).
func (p *Pool) wakeWaitersLocked() {
	for _, w := range p.waiters {
		w.got <- -1
	}
	clear(p.waiters)
	p.waiters = p.waiters[:0]
	p.waiting.Store(0)
}

// holdSession counts a session's sandbox opened in process pr (n = 1) or closed (n = -1),
// while pr is its place's process: a place with sessions is recycled last.
func (p *Pool) holdSession(pr *proc, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.procs[pr.idx] == pr {
		p.slots[pr.idx].sessions += n
	}
}

// pinSession counts an operation on a session's sandbox in process pr as a call of its
// place, so that the place is not recycled under it; ok is false when pr no longer has
// its place (the sandbox is gone with it).
func (p *Pool) pinSession(pr *proc) (release func(), ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.procs[pr.idx] != pr {
		return nil, false
	}
	i := pr.idx
	p.slots[i].active.Add(1)
	return func() { p.release(i) }, true
}

// Tenants returns the tenant each place serves ("" for none yet), by index.
func (p *Pool) Tenants() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.slots))
	for i, s := range p.slots {
		out[i] = s.tenant
	}
	return out
}

// Recycles counts the worker processes killed and replaced to give their place to another
// tenant.
func (p *Pool) Recycles() int64 { return p.recycles.Load() }

// Observe sets fn to be told the pid of the process each call is sent to and the call's
// tenant (nil: none): a hook for tests and debugging, never shown to tenants.
func (p *Pool) Observe(fn func(pid int, tenant string)) {
	if fn == nil {
		p.observe.Store(nil)
		return
	}
	p.observe.Store(&fn)
}

// observed tells the Observe hook that a call of tenant was sent to pr.
func (p *Pool) observed(pr *proc, tenant string) {
	if f := p.observe.Load(); f != nil {
		(*f)(pr.cmd.Process.Pid, orDefault(tenant))
	}
}

// The tenant of each images folder is kept beside it, in p<i>.tenant (out of the reach of
// the confined processes, which may write their own folder only), so that a restart of the
// server binds place i to the tenant whose images p<i> holds.

func (p *Pool) markPath(i int) string {
	return filepath.Join(p.cfg.ImagesDir, "p"+strconv.Itoa(i)+".tenant")
}

// markTenant records that place i's images folder is tenant t's ("" : nobody's).
func (p *Pool) markTenant(i int, t string) {
	if p.cfg.ImagesDir == "" {
		return
	}
	var err error
	if t == "" {
		if err = os.Remove(p.markPath(i)); errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	} else {
		var f *os.File
		if f, err = os.CreateTemp(p.cfg.ImagesDir, ".tenant-*"); err == nil {
			_, err = f.WriteString(t)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(f.Name(), p.markPath(i))
			}
			if err != nil {
				_ = os.Remove(f.Name())
			}
		}
	}
	if err != nil {
		p.cfg.Logger.Warn("isobox: recording the tenant of a sandbox process's images", "index", i, "err", err)
	}
}

// loadMarks binds each place to the tenant whose images its folder holds (New, before the
// processes start). A folder without a record (written before tenants had places, or
// while being emptied) may hold anyone's images: it is emptied.
func (p *Pool) loadMarks() {
	if p.cfg.ImagesDir == "" {
		return
	}
	for i, s := range p.slots {
		b, err := os.ReadFile(p.markPath(i))
		if t := strings.TrimSpace(string(b)); err == nil && api.CheckTenantName(t) == nil {
			p.tick++
			s.tenant, s.bound = t, p.tick
			continue
		}
		dir := filepath.Join(p.cfg.ImagesDir, "p"+strconv.Itoa(i))
		if err := os.RemoveAll(dir); err != nil {
			p.cfg.Logger.Warn("isobox: emptying an images folder of unknown tenant", "dir", dir, "err", err)
		}
	}
}
