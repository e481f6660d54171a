package server

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/sandboxproc"
	"github.com/isobox/isobox/loader"
)

// sandboxes runs the code of the invocation routes (stored workers, /v1/run), of Code
// Mode (/v1/codemode/execute, /mcp execute and run_code: Eval with tools, whose tool calls
// run in this process) and PUT's compile check: the in-process loader, or the supervised
// sandbox processes (Config.SandboxProcesses). Sessions' sandboxes follow the same choice
// through session.Config.Host.
//
// Every call names its tenant, so that a worker process only ever holds one tenant's
// sandboxes (internal/sandboxproc, place.go): Get by the scoped loader id, Load and
// Compile by WorkerCode.Tenant (ownCode), Eval by EvalOptions.Tenant, a session's sandbox
// by its scoped name. The in-process loader has no processes and ignores it.
type sandboxes interface {
	Get(id string, code func() (loader.WorkerCode, error)) workerStub
	Load(code loader.WorkerCode) workerStub
	Eval(ctx context.Context, code string, opts loader.EvalOptions) (*loader.Result, error)
	Compile(ctx context.Context, code loader.WorkerCode) error
	Forget(ctx context.Context, id string)
	Stats() loader.Stats
}

// workerStub calls one worker (loader.Stub or sandboxproc.Stub).
type workerStub interface {
	Fetch(ctx context.Context, req *http.Request) (*loader.Result, error)
	// FetchTo streams a Response whose body is a ReadableStream to sink (the /http route).
	FetchTo(ctx context.Context, req *http.Request, sink engine.ResponseSink) (*loader.Result, error)
	Call(ctx context.Context, method string, args json.RawMessage) (*loader.Result, error)
	Close(ctx context.Context)
}

// inProcess runs sandboxes in this process (--sandbox-processes 0).
type inProcess struct{ *loader.Loader }

func (l inProcess) Get(id string, code func() (loader.WorkerCode, error)) workerStub {
	return l.Loader.Get(id, code)
}
func (l inProcess) Load(code loader.WorkerCode) workerStub { return l.Loader.Load(code) }

// inProcesses runs sandboxes in supervised worker processes.
type inProcesses struct{ *sandboxproc.Pool }

func (p inProcesses) Get(id string, code func() (loader.WorkerCode, error)) workerStub {
	return p.Pool.Get(id, code)
}
func (p inProcesses) Load(code loader.WorkerCode) workerStub { return p.Pool.Load(code) }

// processCollector exports the sandbox processes' counters to Prometheus.
type processCollector struct{ p *sandboxproc.Pool }

var (
	processesDesc = prometheus.NewDesc("isobox_sandbox_processes", "Sandbox worker processes that are up.", nil, nil)
	restartsDesc  = prometheus.NewDesc("isobox_sandbox_process_restarts_total", "Sandbox worker processes replaced after they died (watchdog kills included).", nil, nil)
	killsDesc     = prometheus.NewDesc("isobox_sandbox_process_kills_total", "Sandbox worker processes the watchdog killed because a call overran its CPU or wall limit by the margin.", nil, nil)
	recyclesDesc  = prometheus.NewDesc("isobox_sandbox_process_recycles_total", "Sandbox worker processes replaced to give their place to another tenant (a process serves one tenant in its life).", nil, nil)
)

func (c processCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- processesDesc
	ch <- restartsDesc
	ch <- killsDesc
	ch <- recyclesDesc
}

func (c processCollector) Collect(ch chan<- prometheus.Metric) {
	up := 0
	for _, pid := range c.p.Processes() {
		if pid != 0 {
			up++
		}
	}
	ch <- prometheus.MustNewConstMetric(processesDesc, prometheus.GaugeValue, float64(up))
	ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(c.p.Restarts()))
	ch <- prometheus.MustNewConstMetric(killsDesc, prometheus.CounterValue, float64(c.p.Kills()))
	ch <- prometheus.MustNewConstMetric(recyclesDesc, prometheus.CounterValue, float64(c.p.Recycles()))
}
