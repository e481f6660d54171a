package codemode_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/isoerr"
)

// A tool call still running when the run ends (here the code throws without awaiting it,
// or the caller cancels) is canceled, and Execute returns only after the tool function
// has returned: no tool runs on behalf of a run that is over.
func TestExecuteWaitsForCanceledToolCalls(t *testing.T) {
	for _, tt := range []struct {
		name, code string
		cancel     bool
		want       isoerr.Code
	}{
		{"code throws", `codemode.linger(); await codemode.started(); throw new Error("done")`, false, isoerr.WorkerException},
		{"caller cancels", `await codemode.linger()`, true, isoerr.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var returned atomic.Bool
			started := make(chan struct{})
			lingering := codemode.Provider{Tools: []codemode.Tool{
				codemode.NewTool("linger", "Wait for the run to end, then clean up for a moment.", func(ctx context.Context, in struct{}) (any, error) {
					close(started)
					<-ctx.Done()
					time.Sleep(50 * time.Millisecond) // cleaning up after the cancel
					returned.Store(true)
					return nil, ctx.Err()
				}),
				codemode.NewTool("started", "Return once linger runs.", func(ctx context.Context, in struct{}) (any, error) {
					<-started
					return nil, nil
				}),
			}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() {
					<-started
					cancel()
				}()
			}
			res := codemode.NewExecutor(testLoader).Execute(ctx, tt.code, []codemode.Provider{lingering}, codemode.Options{})
			if !returned.Load() {
				t.Fatalf("the tool function was still running when Execute returned (result %+v)", res)
			}
			wantError(t, res, tt.want)
		})
	}
}
