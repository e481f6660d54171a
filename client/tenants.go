package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/isobox/isobox/api"
)

// Tenants and API keys. /v1/tenants is the operator's (the key of ISOBOX_API_KEY);
// /v1/keys manages the keys of the tenant the client acts for (scope admin; the operator
// names a tenant with WithTenant).

// ListTenants returns every tenant (the operator's key only).
func (c *Client) ListTenants(ctx context.Context) ([]api.Tenant, error) {
	var l api.TenantList
	if err := c.Do(ctx, http.MethodGet, "/v1/tenants", nil, &l); err != nil {
		return nil, err
	}
	return l.Tenants, nil
}

// GetTenant returns tenant name and its settings, or a not_found error.
func (c *Client) GetTenant(ctx context.Context, name string) (*api.Tenant, error) {
	if err := api.CheckTenantName(name); err != nil {
		return nil, err
	}
	var t api.Tenant
	if err := c.Do(ctx, http.MethodGet, "/v1/tenants/"+name, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// PutTenant creates tenant name or replaces its settings (the operator's key only).
func (c *Client) PutTenant(ctx context.Context, name string, settings api.TenantSettings) (*api.Tenant, error) {
	if err := api.CheckTenantName(name); err != nil {
		return nil, err
	}
	var t api.Tenant
	if err := c.Do(ctx, http.MethodPut, "/v1/tenants/"+name, settings, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// DeleteTenant deletes tenant name and its keys; it fails with conflict while the tenant
// owns workers, secrets, sessions or workspaces.
func (c *Client) DeleteTenant(ctx context.Context, name string) error {
	if err := api.CheckTenantName(name); err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, "/v1/tenants/"+name, nil, nil)
}

// KeyOptions describe a new API key: a label, its scopes ("admin", "deploy", "invoke",
// "read") and when it expires (zero: never).
type KeyOptions struct {
	Name      string
	Scopes    []string
	ExpiresAt time.Time
}

// CreateKey makes an API key of the tenant; the answer's Secret is the key, shown this
// once.
func (c *Client) CreateKey(ctx context.Context, opts KeyOptions) (*api.NewKey, error) {
	req := api.KeyRequest{Name: opts.Name, Scopes: opts.Scopes}
	if !opts.ExpiresAt.IsZero() {
		t := opts.ExpiresAt
		req.ExpiresAt = &t
	}
	var k api.NewKey
	if err := c.Do(ctx, http.MethodPost, "/v1/keys", req, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// ListKeys returns the tenant's keys, revoked ones included, never the keys themselves.
func (c *Client) ListKeys(ctx context.Context) ([]api.Key, error) {
	var l api.KeyList
	if err := c.Do(ctx, http.MethodGet, "/v1/keys", nil, &l); err != nil {
		return nil, err
	}
	return l.Keys, nil
}

// RevokeKey revokes key id: the server refuses it from the next request on.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(id), nil, nil)
}

// RotateKey gives key id a new secret (the answer's Secret, shown once); the old one is
// refused from the next request on.
func (c *Client) RotateKey(ctx context.Context, id string) (*api.NewKey, error) {
	var k api.NewKey
	if err := c.Do(ctx, http.MethodPost, "/v1/keys/"+url.PathEscape(id)+"/rotate", nil, &k); err != nil {
		return nil, err
	}
	return &k, nil
}
