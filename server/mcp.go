package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/mcpserver"
	"github.com/isobox/isobox/tenant"
)

// mcpHandlers are the /mcp endpoint's MCP servers, one per tenant that called it, made on
// its first call: each is bound to its tenant when it is made (its workspace names are
// scoped to the tenant, its runs admitted and metered as the tenant's), so a call cannot
// act for another tenant whatever it sends.
type mcpHandlers struct {
	mu sync.Mutex
	m  map[string]http.Handler
}

// mcpHandler is tenant t's MCP server over streamable HTTP.
func (s *Server) mcpHandler(t string) (http.Handler, error) {
	s.mcp.mu.Lock()
	defer s.mcp.mu.Unlock()
	if h, ok := s.mcp.m[t]; ok {
		return h, nil
	}
	m, err := mcpserver.New(mcpserver.Config{
		Loader:        tenantEvaluator{ev: s.sb, tenant: t},
		Connectors:    s.cfg.Codemode,
		Workspaces:    s.ws,
		WorkspaceName: func(name string) string { return tenant.Scoped(t, name) },
		Admit: func(_ context.Context, lim *codemode.Limits) (func(codemode.Result), error) {
			return s.admitMCP(t, lim)
		},
	})
	if err != nil {
		return nil, err
	}
	if s.mcp.m == nil {
		s.mcp.m = map[string]http.Handler{}
	}
	h := m.HTTPHandler()
	s.mcp.m[t] = h
	return h, nil
}

// admitMCP admits one run of an MCP tool (run_code, execute) for tenant t as POST
// /v1/codemode/execute admits its run: an invocation slot (concurrency, rate, daily CPU),
// the memory ceiling (lim's memory lowered to it when none is set and the default is
// over it) and a unique worker of the day. done meters the run and gives the slot back.
func (s *Server) admitMCP(t string, lim *codemode.Limits) (done func(codemode.Result), err error) {
	inv := invocation{id: newID("inv_"), route: "mcp", tenant: t}
	release, err := s.quotas.Acquire(t)
	if err != nil {
		if e := isoerr.As(err); e.Quota != "" {
			s.metrics.quotaRefusals.WithLabelValues(t, e.Quota).Inc()
		}
		return nil, err
	}
	var memLim *api.Limits
	if lim.MemoryMB != 0 {
		memLim = &api.Limits{MemoryMB: lim.MemoryMB}
	}
	if err := s.admitRun(&inv, &memLim); err != nil {
		release()
		return nil, err
	}
	if memLim != nil {
		lim.MemoryMB = memLim.MemoryMB
	}
	return func(res codemode.Result) {
		defer release()
		var err error
		if res.Error != nil {
			err = res.Error
		}
		lr := &loader.Result{Cold: true}
		lr.CPU = time.Duration(res.CPUMs * float64(time.Millisecond))
		lr.Wall = time.Duration(res.WallMs * float64(time.Millisecond))
		s.metrics.observe(inv.route, lr, err)
		s.meterInvocation(inv, lr)
	}, nil
}

// handleMCP is isobox as an MCP server over streamable HTTP (stateless: one POST, one
// answer), authenticated like /v1 with a bearer API key that has the invoke scope. It acts
// for the key's tenant (or the one the operator's key names): its runs are the tenant's,
// admitted under its quotas and metered as its usage, and its workspaces are the
// tenant's. A quota's refusal is the tool call's error (quota_exceeded naming the quota),
// as MCP reports a tool's failure. Its requests count as invocations for a graceful
// shutdown.
func (s *Server) handleMCP(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err == nil {
		err = p.Need(tenant.Invoke)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	r = withPrincipal(r, p)
	h, err := s.mcpHandler(s.requestTenant(r))
	if err != nil {
		writeError(w, isoerr.New(isoerr.Internal, "the MCP server: %v", err))
		return
	}
	if err := s.begin(); err != nil {
		writeError(w, err)
		return
	}
	defer s.end()
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	h.ServeHTTP(w, r)
}

// tenantEvaluator runs every evaluation for one tenant: with sandbox processes, in that
// tenant's worker processes only (loader.EvalOptions.Tenant).
type tenantEvaluator struct {
	ev     codemode.Evaluator
	tenant string
}

func (e tenantEvaluator) Eval(ctx context.Context, code string, opts loader.EvalOptions) (*loader.Result, error) {
	opts.Tenant = e.tenant
	return e.ev.Eval(ctx, code, opts)
}
