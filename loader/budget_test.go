package loader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/loader"
)

// stateful is a unique stateful worker: each i is its own code, as in a fleet of
// AI-written workers.
func stateful(i int) loader.WorkerCode {
	return code(fmt.Sprintf(`let n = 0; // worker %d
export default { increment() { return ++n; } };`, i))
}

// probeResident loads the code of stateful(-1) in a sandbox of its own, calls it once as
// the loader would, and returns what the engine measures it holds, resident and in linear
// memory.
func probeResident(t *testing.T) (resident, linear uint64) {
	t.Helper()
	ctx := context.Background()
	l := newLoader(t, loader.Config{})
	call(t, l.Get("probe", func() (loader.WorkerCode, error) { return stateful(-1), nil }), "increment", "[]")
	s := l.Stats()
	if s.IdleSandboxes != 1 {
		t.Fatalf("probe: %+v", s)
	}
	sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{"main.js": {Type: engine.ModuleJS, Content: stateful(-1).Modules["main.js"].Content}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Call(ctx, engine.Limits{}, "", "increment", nil, nil); err != nil {
		t.Fatal(err)
	}
	return uint64(sb.ResidentBytes()), uint64(sb.MemoryBytes())
}

// The memory budget counts what an idle sandbox holds on its own (its private pages), not
// the size of its linear memory: a budget for 20 sandboxes' resident memory keeps about
// 20 warm, although it holds only a few of their linear memories.
func TestMemoryBudgetCountsResidentPages(t *testing.T) {
	resident, linear := probeResident(t)
	budget := 20*resident + resident/2
	if runtime.GOOS == "linux" && budget > 5*linear {
		t.Fatalf("the premise does not hold: a sandbox keeps %d KiB of its %d KiB resident", resident>>10, linear>>10)
	}
	l := newLoader(t, loader.Config{MemoryBudget: budget})
	for i := range 40 {
		if _, got := call(t, l.Get(fmt.Sprint("w", i), func() (loader.WorkerCode, error) { return stateful(i), nil }), "increment", "[]"); got != "1" {
			t.Fatalf("worker %d: %s", i, got)
		}
	}
	// Before, the budget counted the linear memory and kept 1. (The sweeper may trim some
	// meanwhile on a slow machine, which lets more fit: only the floor is exact.)
	s := l.Stats()
	if s.IdleSandboxes < 16 || s.IdleSandboxes >= 40 || s.IdleMemory > budget {
		t.Fatalf("a budget of %d KiB (20 x %d KiB resident, %d KiB linear each) keeps %d idle sandboxes holding %d KiB",
			budget>>10, resident>>10, linear>>10, s.IdleSandboxes, s.IdleMemory>>10)
	}
	// The most recently used stayed warm.
	if res, got := call(t, l.Get("w39", func() (loader.WorkerCode, error) { return stateful(39), nil }), "increment", "[]"); got != "2" || res.Cold {
		t.Fatalf("w39: %s cold %v", got, res.Cold)
	}

	// Trimming gives pages back, and the budget sees it: the same sandboxes count for less
	// (w40 was not trimmed yet), and more fit.
	call(t, l.Get("w40", func() (loader.WorkerCode, error) { return stateful(40), nil }), "increment", "[]")
	before := l.Stats()
	l.TrimIdle()
	after := l.Stats()
	if after.IdleSandboxes != before.IdleSandboxes || after.IdleMemory >= before.IdleMemory {
		t.Fatalf("trim: %d sandboxes hold %d KiB, before %d holding %d KiB", after.IdleSandboxes, after.IdleMemory>>10, before.IdleSandboxes, before.IdleMemory>>10)
	}
	for i := 41; i < 46; i++ {
		call(t, l.Get(fmt.Sprint("w", i), func() (loader.WorkerCode, error) { return stateful(i), nil }), "increment", "[]")
	}
	if s := l.Stats(); s.IdleSandboxes <= before.IdleSandboxes || s.IdleMemory > budget {
		t.Fatalf("after trim: %d idle sandboxes holding %d KiB (budget %d KiB), before %d", s.IdleSandboxes, s.IdleMemory>>10, budget>>10, before.IdleSandboxes)
	}
}

// Workers evicted over the memory budget hibernate to a directory store and come back with
// their state, whatever the length of their id (`isobox serve` uses ids of ~140 bytes: the
// worker id and its code's hash).
func TestEvictedWorkersHibernate(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	dir, err := images.NewDir(path)
	if err != nil {
		t.Fatal(err)
	}
	resident, _ := probeResident(t)
	l := newLoader(t, loader.Config{Images: dir, MemoryBudget: 3 * resident})
	const n = 12
	id := func(i int) string {
		return fmt.Sprintf("%s-%03d@%s", strings.Repeat("w", 124), i, strings.Repeat("0", 128)) // the longest ids the loader takes
	}
	for i := range n {
		call(t, l.Get(id(i), func() (loader.WorkerCode, error) { return stateful(i), nil }), "increment", "[]")
	}
	// Evicted workers are written out in the background.
	waitFor(t, func() bool { s := l.Stats(); return s.IdleSandboxes+int(s.Hibernations+s.HibernateErrors) == n })
	s := l.Stats()
	files, _ := filepath.Glob(filepath.Join(path, "*.img"))
	if s.IdleSandboxes+len(files) != n || s.Hibernations != int64(len(files)) || len(files) < n-4 {
		t.Fatalf("%d warm, %d image files, stats %+v", s.IdleSandboxes, len(files), s)
	}
	for i := range n {
		if _, got := call(t, l.Get(id(i), func() (loader.WorkerCode, error) { return stateful(i), nil }), "increment", "[]"); got != "2" {
			t.Errorf("worker %d lost its state: counter %s", i, got)
		}
	}
	// Forget drops the hibernated state too: new code under an id never sees it, and the
	// store does not fill up with images nothing will resume.
	l.Close(ctx)
	l2 := newLoader(t, loader.Config{Images: dir})
	for i := range n {
		l2.Forget(ctx, id(i))
	}
	if files, _ := os.ReadDir(path); len(files) != 0 {
		t.Fatalf("after Forget, the store holds %d files", len(files))
	}
}

// slowStore is a directory store whose Put waits until the test lets it go on.
type slowStore struct {
	*images.Dir
	putting chan string   // receives the key of each Put as it starts
	proceed chan struct{} // a Put finishes when it receives from here
	open    chan struct{} // closed: every Put goes through
}

func (s *slowStore) Put(ctx context.Context, key string, b []byte) error {
	select {
	case s.putting <- key:
	default: // nobody is watching
	}
	select {
	case <-s.proceed:
	case <-s.open:
	}
	return s.Dir.Put(ctx, key, b)
}

// The call whose release evicts another worker does not wait for that worker to be
// written out; a call to the evicted worker meanwhile waits for it, and resumes its state.
func TestEvictionHibernatesInTheBackground(t *testing.T) {
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &slowStore{Dir: dir, putting: make(chan string, 1), proceed: make(chan struct{}), open: make(chan struct{})}
	l := newLoader(t, loader.Config{Images: store, MaxWorkers: 1})
	var once sync.Once
	openStore := func() { once.Do(func() { close(store.open) }) }
	t.Cleanup(openStore) // before the loader's Close, which hibernates
	get := func(id string, i int) *loader.Stub {
		return l.Get(id, func() (loader.WorkerCode, error) { return stateful(i), nil })
	}
	call(t, get("a", 1), "increment", "[]")
	answered := make(chan string, 1)
	go func() { // evicts a
		res, err := get("b", 2).Call(context.Background(), "increment", nil)
		if err != nil {
			t.Error(err)
		}
		answered <- string(res.Value)
	}()
	if key := <-store.putting; !strings.HasPrefix(key, "worker:") {
		t.Fatalf("hibernating %q", key)
	}
	select { // a is being written out
	case got := <-answered:
		if got != "1" {
			t.Fatalf("b: %s", got)
		}
	case <-time.After(time.Minute): // b does not wait for a at all: a minute is a hang
		openStore()
		t.Fatal("the call to b waited for a's hibernation")
	}
	resumed := make(chan *loader.Result, 1)
	go func() {
		res, err := get("a", 1).Call(context.Background(), "increment", nil)
		if err != nil {
			t.Error(err)
		}
		resumed <- res
	}()
	select {
	case res := <-resumed:
		openStore()
		t.Fatalf("a answered %s before its state was written out", res.Value)
	case <-time.After(50 * time.Millisecond):
	}
	store.proceed <- struct{}{} // a's Put finishes; a resumes (and evicts b)
	openStore()
	res := <-resumed
	if string(res.Value) != "2" || !res.Resumed {
		t.Fatalf("a after its hibernation: %s resumed %v", res.Value, res.Resumed)
	}
}

// A call still running when the loader closes keeps its state: its sandbox hibernates when
// the call returns, and a new loader resumes it.
func TestCallOutlivingCloseHibernates(t *testing.T) {
	dir, err := images.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := `let n = 0;
export default { async later(ms) { await new Promise(r => setTimeout(r, ms)); return ++n; } };`
	codeFn := func() (loader.WorkerCode, error) { return code(src), nil }
	l := newLoader(t, loader.Config{Images: dir})
	call(t, l.Get("slow", codeFn), "later", "[0]")
	done := make(chan string, 1)
	go func() {
		res, err := l.Get("slow", codeFn).Call(context.Background(), "later", json.RawMessage("[200]"))
		if err != nil {
			t.Error(err)
		}
		done <- string(res.Value)
	}()
	waitFor(t, func() bool { return l.Stats().BusySandboxes == 1 })
	l.Close(context.Background())
	if got := <-done; got != "2" {
		t.Fatalf("the call in flight answered %s", got)
	}
	l2 := newLoader(t, loader.Config{Images: dir})
	if res, got := call(t, l2.Get("slow", codeFn), "later", "[0]"); got != "3" || !res.Resumed {
		t.Fatalf("after Close: %s resumed %v", got, res.Resumed)
	}
}

// A new sandbox is counted by its linear memory's size until its page table is read off
// the request path, and a full budget reads it before evicting: new workers that fit by
// what they hold all stay warm, keep their state, and the budget holds throughout.
func TestBudgetMeasuresNewSandboxesBeforeEvicting(t *testing.T) {
	resident, linear := probeResident(t)
	if runtime.GOOS == "linux" && 12*resident > 3*linear {
		t.Fatalf("the premise does not hold: a sandbox keeps %d KiB of its %d KiB resident", resident>>10, linear>>10)
	}
	budget := 3 * linear // three bounds, twelve of what they hold
	l := newLoader(t, loader.Config{MemoryBudget: budget})
	get := func(i int) *loader.Stub {
		return l.Get(fmt.Sprint("b", i), func() (loader.WorkerCode, error) { return stateful(i), nil })
	}
	for i := range 12 {
		if _, got := call(t, get(i), "increment", "[]"); got != "1" {
			t.Fatalf("worker %d: %s", i, got)
		}
		if s := l.Stats(); s.IdleMemory > budget {
			t.Fatalf("after worker %d: %d idle sandboxes hold %d KiB, over the budget of %d KiB", i, s.IdleSandboxes, s.IdleMemory>>10, budget>>10)
		}
	}
	if runtime.GOOS == "linux" {
		if s := l.Stats(); s.IdleSandboxes != 12 {
			t.Fatalf("a budget of %d KiB (%d KiB resident, %d KiB linear each) keeps %d of 12", budget>>10, resident>>10, linear>>10, s.IdleSandboxes)
		}
	}
	// A lone new worker, far from the budget, is measured too: by the sweeper, off the
	// request path (or by a trim, a second later on a slow machine).
	lone := newLoader(t, loader.Config{})
	call(t, lone.Get("lone", func() (loader.WorkerCode, error) { return stateful(-2), nil }), "increment", "[]")
	if runtime.GOOS == "linux" {
		deadline := time.Now().Add(2 * time.Minute)
		for lone.Stats().IdleMemory >= linear && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if s := lone.Stats(); s.IdleMemory >= linear {
			t.Fatalf("never measured: counted at %d KiB, %d KiB linear", s.IdleMemory>>10, linear>>10)
		}
	}
	for i := range 12 { // nothing lost or mixed up while being counted
		res, got := call(t, get(i), "increment", "[]")
		if runtime.GOOS == "linux" && (got != "2" || res.Cold) {
			t.Fatalf("worker %d: %s cold %v", i, got, res.Cold)
		}
	}
}

// A worker called back to back wakes the sweeper once, not on every call: a sweeper that
// finds its sandbox in use again leaves it to its next tick (each wake-up is a futex on
// both sides, ~8% of a warm call). It is still measured once it is idle.
func TestBackToBackCallsWakeTheSweeperOnce(t *testing.T) {
	resident, linear := probeResident(t)
	if runtime.GOOS == "linux" && 2*resident > linear {
		t.Fatalf("the premise does not hold: a sandbox keeps %d KiB of its %d KiB resident", resident>>10, linear>>10)
	}
	l := newLoader(t, loader.Config{})
	// The sweeper's pass runs while each call holds the sandbox, as it does when the next
	// call takes the sandbox before the kicked sweeper gets to it.
	ep := l.Get("busy", func() (loader.WorkerCode, error) { return stateful(-3), nil }).
		Entrypoint("", loader.EntrypointOptions{OnSlot: l.MeasureGuessed})
	const calls = 200
	for i := range calls {
		res, err := ep.Call(context.Background(), "increment", json.RawMessage("[]"))
		if err != nil || string(res.Value) != fmt.Sprint(i+1) {
			t.Fatalf("call %d: %v %s", i+1, err, res.Value)
		}
	}
	// The first call's sandbox is new; a kick may also be left from a later growth of its
	// memory. Before, every call that found it still unmeasured kicked again.
	if k := l.Kicks(); k > 5 {
		t.Fatalf("%d back-to-back calls woke the sweeper %d times", calls, k)
	}
	if runtime.GOOS == "linux" {
		l.MeasureGuessed() // the sweeper's tick, now that the sandbox is idle
		if s := l.Stats(); s.IdleSandboxes != 1 || s.IdleMemory >= linear {
			t.Fatalf("never measured: %d idle sandboxes counted at %d KiB, %d KiB linear", s.IdleSandboxes, s.IdleMemory>>10, linear>>10)
		}
	}
}
