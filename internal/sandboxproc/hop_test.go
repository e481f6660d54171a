package sandboxproc

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

const echoWorker = `export default {
  async fetch(req) { return new Response(await req.arrayBuffer(), {headers: {"x-len": req.headers.get("x-len")}}); },
  async wait(ms) { await new Promise(r => setTimeout(r, ms)); return ms; },
  inc() { return 1; },
};`

// Frames larger than the socket's buffer go both ways at once on one connection (several
// calls whose request and response bodies are megabytes, beside small calls): every body
// comes back whole and in order, and no frame of one call mixes into another's.
func TestPoolLargeFramesBothWays(t *testing.T) {
	p := newPool(t, 1)
	stub := p.Get("echo@v1", func() (loader.WorkerCode, error) { return jsCode(echoWorker), nil })
	ctx := context.Background()
	if _, err := stub.Call(ctx, "inc", nil); err != nil { // the cold start, alone
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			body := bytes.Repeat([]byte{byte('a' + i), 0, 0xff}, (3<<20)/3+i) // ~3 MiB, each its own
			req, _ := http.NewRequest("POST", "http://echo/", bytes.NewReader(body))
			req.Header.Set("x-len", fmt.Sprint(len(body)))
			res, err := stub.Fetch(ctx, req)
			switch {
			case err != nil:
				errs <- err
			case res.Status != 200 || !bytes.Equal(res.Body, body):
				errs <- fmt.Errorf("call %d: status %d, %d bytes back of %d", i, res.Status, len(res.Body), len(body))
			}
		}()
		go func() {
			defer wg.Done()
			if res, err := stub.Call(ctx, "inc", nil); err != nil || string(res.Value) != "1" {
				errs <- fmt.Errorf("small call beside the large ones: %v", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A call canceled while it runs ends with a typed error, and its process goes on serving
// (the cancel is a frame read while the call runs, not the end of the connection).
func TestPoolCancelMidCall(t *testing.T) {
	p := newPool(t, 1)
	stub := p.Get("echo@v1", func() (loader.WorkerCode, error) { return jsCode(echoWorker), nil })
	ctx := context.Background()
	if _, err := stub.Call(ctx, "inc", nil); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := stub.Call(cctx, "wait", []byte(`[600000]`)) // ten minutes: only the cancel ends it
		done <- err
	}()
	waitInFlight(t, p, 1)
	cancel()
	select {
	case err := <-done:
		if isoerr.CodeOf(err) != isoerr.Canceled {
			t.Fatalf("canceled call: %v, want %s", err, isoerr.Canceled)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the canceled call did not end")
	}
	res, err := stub.Call(ctx, "inc", nil)
	if err != nil || string(res.Value) != "1" { // cold or not: the loader may drop a canceled sandbox
		t.Fatalf("after the cancel: %v %s", err, res.Value)
	}
	if p.Restarts() != 0 || p.Kills() != 0 {
		t.Fatalf("restarts %d kills %d, want 0 and 0", p.Restarts(), p.Kills())
	}
}

// waitInFlight waits until n calls are in flight in p's processes (generous guard).
func waitInFlight(t *testing.T, p *Pool, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); p.InFlight() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls in flight, want %d", p.InFlight(), n)
		}
	}
}
