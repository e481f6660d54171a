package mcpserver_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/mcpserver"
)

// countingEvaluator is a codemode.Evaluator other than *loader.Loader (isobox serve passes
// the supervisor of its sandbox processes): it counts the runs it is given.
type countingEvaluator struct {
	l     *loader.Loader
	evals atomic.Int64
}

func (c *countingEvaluator) Eval(ctx context.Context, code string, opts loader.EvalOptions) (*loader.Result, error) {
	c.evals.Add(1)
	return c.l.Eval(ctx, code, opts)
}

// The server runs its code through the Evaluator it is given, run_code and execute alike. Without one (a nil interface or a nil
// *loader.Loader) New refuses to start.
func TestServerUsesItsEvaluator(t *testing.T) {
	ev := &countingEvaluator{l: testLoader}
	s, err := mcpserver.New(mcpserver.Config{Loader: ev, Connectors: connectors(t), Limits: codemode.Limits{CPUMs: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	cs := overPipes(t, s)
	if _, out := call(t, cs, mcpserver.ToolRunCode, "6 * 7"); out.Error != nil || out.Result != float64(42) {
		t.Fatalf("run_code: %+v", out)
	}
	if _, out := call(t, cs, mcpserver.ToolExecute, "(await stocks.quote({ symbol: 'ZED' })).price"); out.Error != nil || out.Result != float64(100) {
		t.Fatalf("execute: %+v", out)
	}
	if n := ev.evals.Load(); n != 2 {
		t.Fatalf("the evaluator ran %d times, want 2", n)
	}
	var none *loader.Loader
	for _, l := range []codemode.Evaluator{nil, none} {
		if _, err := mcpserver.New(mcpserver.Config{Loader: l}); err == nil || !strings.Contains(err.Error(), "Config.Loader is required") {
			t.Errorf("New with loader %#v: %v", l, err)
		}
	}
}
