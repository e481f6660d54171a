package server

import (
	"net/http"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/tenant"
	"github.com/isobox/isobox/workspace/statetools"
)

// initCodemode makes the Code Mode executor and the /mcp endpoint's MCP server. Their
// sandboxes are s.sb's: with sandbox processes on, the code runs in a worker process and
// its tool calls come back here, where the connectors run.
func (s *Server) initCodemode() error {
	s.codemode = codemode.NewExecutor(s.sb)
	// The default tenant's MCP server now: a bad connector's schema fails New, not a call.
	_, err := s.mcpHandler(tenant.Default)
	return err
}

// handleCodemodeExecute runs model-written code against the named connectors' tools and
// answers with the run: 200 when the code succeeded, else the status of its error's code
// with the same body (400 for a syntax error, 422 when the code failed or hit a limit).
func (s *Server) handleCodemodeExecute(w http.ResponseWriter, r *http.Request) {
	inv, ok := s.startInvocation(w, r, "codemode", "")
	if !ok {
		return
	}
	defer s.endInvocation(inv)
	var body api.ExecuteRequest // Providers: names of Config.Codemode's connectors
	if err := s.decodeJSON(w, r, &body, false, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	providers, err := s.cfg.Codemode.Select(body.Providers)
	if err != nil {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "providers: %v", err))
		return
	}
	if body.Workspace != nil {
		p, err := s.stateProvider(principalOf(r), *body.Workspace)
		if err != nil {
			writeError(w, err)
			return
		}
		providers = append(providers, p)
	}
	var lim codemode.Limits
	if l := body.Limits; l != nil {
		lim = codemode.Limits(*l) // the same fields: a compile-time check
		if err := s.checkOperatorOnly(principalOf(r), &api.Limits{CPUMs: l.CPUMs, WallMs: l.WallMs, MemoryMB: l.MemoryMB}, nil); err != nil {
			writeError(w, err)
			return
		}
	}
	var memLim *api.Limits // Code Mode's default memory is 128 MiB, as the engine's
	if body.Limits != nil {
		memLim = &api.Limits{MemoryMB: body.Limits.MemoryMB}
	}
	if err := s.admitRun(&inv, &memLim); err != nil {
		writeError(w, err)
		return
	}
	if memLim != nil {
		lim.MemoryMB = memLim.MemoryMB // the tenant's ceiling when none was asked for
	}
	res := s.codemode.Execute(r.Context(), body.Code, providers, codemode.Options{Limits: lim, Modules: s.cfg.Codemode.Modules(), Language: body.Language, Tenant: inv.tenant})
	var err2 error
	if res.Error != nil {
		err2 = res.Error
	}
	lr := &loader.Result{Cold: true}
	lr.CPU = time.Duration(res.CPUMs * float64(time.Millisecond))
	lr.Wall = time.Duration(res.WallMs * float64(time.Millisecond))
	s.metrics.observe(inv.route, lr, err2)
	s.meterInvocation(inv, lr)
	w.Header().Set("X-Isobox-Invocation", inv.id)
	status := http.StatusOK
	if res.Error != nil {
		status = StatusOf(res.Error.Code)
		noteError(w, res.Error.Code)
	}
	writeJSON(w, status, res)
}

// stateProvider is the state namespace over the workspace b names (api.ExecuteRequest's
// Workspace).
func (s *Server) stateProvider(p tenant.Principal, b api.Binding) (codemode.Provider, error) {
	if s.ws == nil {
		return codemode.Provider{}, isoerr.New(isoerr.NotImplemented, "this server keeps no workspaces (it has no data directory)")
	}
	if err := api.CheckWorkspaceName(b.Workspace); err != nil {
		return codemode.Provider{}, err
	}
	return statetools.Provider(s.ws, p.Scoped(b.Workspace), statetools.Options{ReadOnly: b.ReadOnly}), nil
}
