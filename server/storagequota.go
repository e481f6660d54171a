package server

import (
	"context"
	"strings"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/tenant/quota"
	"github.com/isobox/isobox/workspace"
)

// growChecker is a workspace store that asks a GrowCheck before every write that grows a
// workspace (workspace.SQLite).
type growChecker interface {
	SetGrowCheck(workspace.GrowCheck)
}

// initStorageQuota hands the workspace store the tenants' storage quota: every write that
// grows a workspace — through the API, a sandbox's env.FS binding (streamed uploads
// included), Code Mode's state namespace, an archive's extraction or exec — is checked
// inside its own transaction against the bytes the tenant stores, so a refused write
// leaves nothing behind. A store that takes no GrowCheck (a Config.Workspaces of another
// kind) is held to the quota on the API's file writes only.
func (s *Server) initStorageQuota() {
	if g, ok := s.ws.(growChecker); ok {
		g.SetGrowCheck(s.workspaceGrow)
	}
}

// workspaceGrow is the GrowCheck of the tenants' storage quota. A tenant with no storage
// quota costs a map lookup per write; one with a quota adds a sum over its workspaces (in
// the write's transaction) and over its workers' code.
func (s *Server) workspaceGrow(ctx context.Context, ws string, dBytes int64, tenantBytes func() (int64, error)) error {
	if s.quotas == nil {
		return nil
	}
	t, _ := api.SplitScoped(ws)
	if s.quotas.Limits(t).StorageBytes <= 0 {
		return nil
	}
	used, err := tenantBytes()
	if err != nil {
		return err
	}
	used += s.workerBytes(ctx, t)
	if err := s.quotas.CheckStorage(t, used, dBytes); err != nil {
		s.metrics.quotaRefusals.WithLabelValues(t, quota.StorageBytes).Inc()
		return err
	}
	return nil
}

// workerBytes is the bytes of tenant t's stored workers' code: a range of the ids for a
// named tenant, a scan of the unscoped ones for the default tenant.
func (s *Server) workerBytes(ctx context.Context, t string) int64 {
	prefix, after := "", ""
	if t != defaultTenant {
		prefix = t + string(rune(api.TenantSep))
		after = prefix
	}
	var n int64
	for {
		ws, err := s.st.ListWorkers(ctx, after, 1000)
		if err != nil || len(ws) == 0 {
			return n
		}
		for _, w := range ws {
			switch {
			case prefix != "" && !strings.HasPrefix(w.ID, prefix):
				return n
			case prefix == "" && strings.ContainsRune(w.ID, api.TenantSep):
				continue
			}
			n += int64(w.Size)
		}
		after = ws[len(ws)-1].ID
	}
}
