package bench

import (
	"context"
	"fmt"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/server"
	"github.com/isobox/isobox/tenant/quota"
)

// TenantHello is the hello over HTTP with tenants on: the worker is a tenant's (not the
// default tenant's), stored and called with that tenant's own scoped key, and the tenant
// has every quota set (none near), so each request pays the key's lookup, the scoping of
// the worker's id, the quota checks and the metering. Same server, worker and load
// generator as HTTPHello.
type TenantHello struct {
	RPS       float64 `json:"http_tenant_hello_rps"`
	P50       float64 `json:"http_tenant_hello_p50_ms"`
	P99       float64 `json:"http_tenant_hello_p99_ms"`
	N         int     `json:"http_tenant_hello_samples"`
	Generator string  `json:"http_tenant_load_generator"`
}

// benchQuotas are set on the bench's tenant: every quota, none near.
var benchQuotas = quota.Limits{Concurrent: 1 << 20, InvocationsPerMinute: 1 << 40, CPUMsPerDay: 1 << 40, MemoryMBPerSandbox: 1 << 20,
	StorageBytes: 1 << 50, EgressBytesPerDay: 1 << 50, UniqueWorkersPerDay: 1 << 20}

// RunTenantHello is RunHTTPHello with the hello stored and called by tenant "bench-tenant"
// with its own key.
func RunTenantHello(ctx context.Context, cacheDir string, load HTTPLoad) (*TenantHello, error) {
	h, err := runHTTPHello(ctx, server.Config{CacheDir: cacheDir}, load, "bench-tenant")
	if err != nil {
		return nil, err
	}
	return &TenantHello{RPS: h.RPS, P50: h.P50, P99: h.P99, N: h.N, Generator: h.Generator}, nil
}

// benchTenant makes tenant name with benchQuotas through the operator's client c and
// returns the secret of a new key of it that may deploy and invoke.
func benchTenant(ctx context.Context, c *client.Client, name string) (string, error) {
	q := benchQuotas
	if _, err := c.PutTenant(ctx, name, api.TenantSettings{Quotas: (*api.Quotas)(&q)}); err != nil {
		return "", fmt.Errorf("bench tenant: %w", err)
	}
	k, err := c.WithTenant(name).CreateKey(ctx, client.KeyOptions{Name: "bench", Scopes: []string{"deploy", "invoke"}})
	if err != nil {
		return "", fmt.Errorf("bench tenant key: %w", err)
	}
	return k.Secret, nil
}
