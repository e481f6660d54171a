package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// 200 concurrent invocations across 50 workers all succeed; a runaway worker that spins in
// the middle of such a load does not hold the others back: they all finish while it is
// still spinning, and no slower than twice an undisturbed run plus half its CPU limit.
func TestConcurrentInvocationsAndRunaway(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	const workers, calls = 50, 200
	for i := range workers {
		code := js(`let n = 0; export default { fetch(req, env) { n++; return Response.json({ id: env.ID, n }) } }`)
		code.Env = map[string]any{"ID": i}
		if _, err := ts.c.PutWorker(ctx, fmt.Sprintf("w%02d", i), code); err != nil {
			t.Fatal(err)
		}
	}
	// load runs the 200 invocations at once and returns each one's latency.
	load := func() []time.Duration {
		var wg sync.WaitGroup
		lat := make([]time.Duration, calls)
		errs := make(chan error, calls)
		for i := range calls {
			wg.Go(func() {
				id := fmt.Sprintf("w%02d", i%workers)
				t0 := time.Now()
				out, err := ts.c.Fetch(ctx, id, client.FetchRequest{})
				lat[i] = time.Since(t0)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", id, err)
				} else if want := fmt.Sprintf(`{"id":%d,`, i%workers); out.Status != 200 || len(*out.Body) < len(want) || (*out.Body)[:len(want)] != want {
					errs <- fmt.Errorf("%s answered %d %s", id, out.Status, *out.Body)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		return lat
	}
	load() // cold starts
	base := slices.Max(load())

	// The runaway's CPU limit: long beside an undisturbed load, so that a stall would show.
	limit := min(max(10*base, time.Second), 20*time.Second)
	spin := js(`export default { fetch() { while (true) {} } }`)
	// Its wall-time limit leaves 20x: a thread waiting for a busy core reaches its CPU limit
	// late, and the limit that trips must be the CPU one.
	spin.Limits = &loader.Limits{CPUMs: int(limit.Milliseconds()), WallMs: int(min(20*limit, 10*time.Minute).Milliseconds())}
	if _, err := ts.c.PutWorker(ctx, "runaway", spin); err != nil {
		t.Fatal(err)
	}
	type spun struct {
		out  *loader.Outcome
		err  error
		done time.Time
	}
	spinning := make(chan spun, 1)
	go func() {
		out, err := ts.c.Fetch(ctx, "runaway", client.FetchRequest{})
		spinning <- spun{out, err, time.Now()}
	}()
	waitFor(t, "the runaway to spin", func() bool { return ts.sb.Stats().BusySandboxes >= 1 })
	lat := load()
	loadDone := time.Now()
	r := <-spinning

	wantCode(t, r.err, isoerr.CPULimitExceeded)
	if r.out.CPUMs < 0.9*float64(limit.Milliseconds()) {
		t.Fatalf("the runaway stopped after %v ms of CPU; its limit is %v", r.out.CPUMs, limit)
	}
	worst := slices.Max(lat)
	t.Logf("undisturbed: slowest of %d %v; beside a runaway with cpuMs %v: slowest %v", calls, base, limit, worst)
	if !loadDone.Before(r.done) {
		t.Errorf("the load finished %v after the runaway was stopped: it waited for it", loadDone.Sub(r.done))
	}
	if worst > 2*base+limit/2 {
		t.Errorf("beside the runaway the slowest call took %v; undisturbed %v, runaway limit %v", worst, base, limit)
	}
}
