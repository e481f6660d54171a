package loader_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// spinner tells the test server it runs, then spins until it is stopped.
const spinner = `export default {
  async spin(url) { await fetch(url); while (true) {} },
  ping() { return "pong"; },
};`

// Calls whose context is canceled stop at once and free their slots: with every slot of a
// worker held by spinning calls and more calls queued behind them, canceling them all lets
// the next call run at once, long before the spinning calls' CPU limit (20 s) would have
// stopped them.
func TestCanceledCallsFreeTheirSlots(t *testing.T) {
	const slots, queued = 4, 3
	l := newLoader(t, loader.Config{MaxInstancesPerWorker: slots})
	hits := make(chan struct{}, slots+queued)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits <- struct{}{} }))
	defer srv.Close()
	codeFn := func() (loader.WorkerCode, error) {
		c := code(spinner)
		c.Limits = &loader.Limits{CPUMs: 20000}
		c.Outbound = http.DefaultTransport
		return c, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args, _ := json.Marshal([]string{srv.URL})
	var wg sync.WaitGroup
	errs := make(chan error, slots+queued)
	for range slots + queued {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Get("spin", codeFn).Call(ctx, "spin", args)
			errs <- err
		}()
	}
	for range slots { // every slot holds a call that is spinning (or about to)
		<-hits
	}
	start := time.Now()
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if isoerr.CodeOf(err) != isoerr.Canceled {
			t.Fatalf("a canceled call ended with %v, want canceled", err)
		}
	}
	next, stop := context.WithTimeout(context.Background(), 10*time.Second) // half the spinners' CPU limit
	defer stop()
	res, err := l.Get("spin", codeFn).Call(next, "ping", nil)
	if err != nil || string(res.Value) != `"pong"` {
		t.Fatalf("the next call after the canceled ones: %v, %v", res, err)
	}
	t.Logf("%d spinning and %d queued calls canceled; the next call answered %v after the cancel", slots, queued, time.Since(start))
}

// A call canceled before it runs costs no warm sandbox: the worker's state carries on.
func TestCanceledCallKeepsTheWarmSandbox(t *testing.T) {
	l := newLoader(t, loader.Config{})
	codeFn := func() (loader.WorkerCode, error) { return code(counter), nil }
	call(t, l.Get("kept", codeFn), "increment", "[1]")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		if _, err := l.Get("kept", codeFn).Call(ctx, "increment", json.RawMessage("[100]")); isoerr.CodeOf(err) != isoerr.Canceled {
			t.Fatalf("got %v, want canceled", err)
		}
	}
	res, got := call(t, l.Get("kept", codeFn), "increment", "[1]")
	if got != "2" || res.Cold {
		t.Fatalf("counter %s (cold %v), want 2 from the warm sandbox", got, res.Cold)
	}
}

// OnSlot is called when a call takes its worker's slot, not when it starts waiting for
// one: with the one slot held by a call parked on a request the test answers last, a
// second call waits without its OnSlot, which runs only once the first call has ended.
func TestOnSlotAfterTheQueue(t *testing.T) {
	l := newLoader(t, loader.Config{MaxInstancesPerWorker: 1})
	hit, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		<-release
	}))
	defer srv.Close()
	codeFn := func() (loader.WorkerCode, error) {
		c := code(`export default { async park(url) { await fetch(url); return "parked" }, ping() { return "pong" } };`)
		c.Outbound = http.DefaultTransport
		return c, nil
	}
	ctx := context.Background()
	var mu sync.Mutex
	var order []string
	note := func(s string) func() {
		return func() { mu.Lock(); order = append(order, s); mu.Unlock() }
	}
	args, _ := json.Marshal([]string{srv.URL})
	first := make(chan error, 1)
	go func() {
		_, err := l.Get("one", codeFn).Entrypoint("", loader.EntrypointOptions{OnSlot: note("first has its slot")}).Call(ctx, "park", args)
		note("first ended")()
		first <- err
	}()
	<-hit // the first call holds the only slot
	second := make(chan error, 1)
	go func() {
		_, err := l.Get("one", codeFn).Entrypoint("", loader.EntrypointOptions{OnSlot: note("second has its slot")}).Call(ctx, "ping", nil)
		second <- err
	}()
	waitFor(t, func() bool { return l.Stats().Waiting >= 1 })
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	want := []string{"first has its slot", "first ended", "second has its slot"}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 3 || order[0] != want[0] || order[2] != want[2] {
		t.Fatalf("order %q, want %q", order, want)
	}
}
