package sandboxproc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/loader"
)

// Frames cross the boundary through the shared-memory rings by default, and through the
// socket with RingOff; either way calls, concurrent calls and bodies larger than a ring
// arrive whole, and the pool closes without waiting for a kill.
func TestPoolWireModes(t *testing.T) {
	const big = `export default {
  inc(n) { return n + 1; },
  fetch(req) { return new Response("x".repeat(Number(new URL(req.url).searchParams.get("n")))); },
};`
	for _, tt := range []struct {
		name  string
		mode  RingMode
		rings bool
	}{
		{"rings", RingOn, true},
		{"socket", RingOff, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startPool(t, Config{Processes: 1, Command: testCommand, CacheDir: cacheDir, ImagesDir: t.TempDir(),
				Defaults: enginetest.Defaults, Logger: slog.New(slog.DiscardHandler), Ring: tt.mode})
			stub := p.Get("big", func() (loader.WorkerCode, error) { return jsCode(big), nil })
			ctx := context.Background()
			if _, err := stub.Call(ctx, "inc", []byte("[1]")); err != nil {
				t.Fatal(err)
			}
			p.mu.Lock()
			pr := p.procs[0]
			p.mu.Unlock()
			pr.c.wmu.Lock()
			_, rings := pr.c.rw.(*ringWire)
			pr.c.wmu.Unlock()
			if rings != tt.rings {
				t.Fatalf("frames through the rings: %v, want %v", rings, tt.rings)
			}
			for _, n := range []int{0, 1, ringSize - 1, ringSize + 1, 3*ringSize + 17} {
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://big/?n=%d", n), nil)
				res, err := stub.Fetch(ctx, req)
				if err != nil {
					t.Fatalf("body of %d bytes: %v", n, err)
				}
				if len(res.Body) != n || strings.Trim(string(res.Body), "x") != "" {
					t.Fatalf("body of %d bytes: got %d bytes", n, len(res.Body))
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8*20)
			for g := range 8 {
				wg.Go(func() {
					for i := range 20 {
						res, err := stub.Call(ctx, "inc", fmt.Appendf(nil, "[%d]", g*100+i))
						if err != nil {
							errs <- err
							return
						}
						if string(res.Value) != fmt.Sprint(g*100+i+1) {
							errs <- fmt.Errorf("inc(%d) = %s", g*100+i, res.Value)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if k := p.Kills(); k != 0 {
				t.Fatalf("%d watchdog kills", k)
			}
			if n := p.inflight.Load(); n != 0 {
				t.Fatalf("%d calls counted in flight after all ended: the spin policy would read a busy pool", n)
			}
		})
	}
}

// The supervisor spins long only for the pool's only call in flight, briefly when none is,
// and not at all when several are (the cores then have work).
func TestReadSpinPolicy(t *testing.T) {
	p := &Pool{}
	spin := p.readSpin(200 * time.Microsecond)
	for _, tt := range []struct {
		inflight int32
		want     time.Duration
	}{{0, 25 * time.Microsecond}, {1, loneSpin}, {2, 0}, {8, 0}} {
		p.inflight.Store(tt.inflight)
		if got := spin(); got != tt.want {
			t.Errorf("%d calls in flight: spin %v, want %v", tt.inflight, got, tt.want)
		}
	}
}
