package api

import (
	"encoding/json"
	"time"
)

// Tenant is a tenant as GET /v1/tenants/{name} shows it: its name, when it was made and
// changed, and its settings (TenantSettings).
type Tenant struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	TenantSettings
}

// TenantSettings are the body of PUT /v1/tenants/{name} (operator only): what only the
// operator decides for a tenant.
type TenantSettings struct {
	// Ceiling bounds the limits the tenant's own keys may set (on a worker, a run, a
	// session); zero fields set none beyond the server's own.
	Ceiling *Limits `json:"ceiling,omitempty"`
	// Egress is the egress policy of the tenant's workers, runs and sessions that set none
	// of their own (a globalOutbound); absent: the server's default policy.
	Egress json.RawMessage `json:"egress,omitempty"`
	// AllowPrivate lets the tenant's own keys set allowPrivate in an egress rule.
	AllowPrivate bool `json:"allowPrivate,omitempty"`
	// Quotas are the tenant's own quotas (over one: 429 quota_exceeded); absent: the
	// server's quotas for every tenant (isobox serve --quotas).
	Quotas *Quotas `json:"quotas,omitempty"`
}

// Quotas are a tenant's quotas on the wire (package tenant/quota's Limits, field for
// field); a zero field is no limit.
type Quotas struct {
	Concurrent           int64 `json:"concurrentInvocations,omitempty"`
	InvocationsPerMinute int64 `json:"invocationsPerMinute,omitempty"`
	CPUMsPerDay          int64 `json:"cpuMsPerDay,omitempty"`
	MemoryMBPerSandbox   int64 `json:"memoryMBPerSandbox,omitempty"`
	StorageBytes         int64 `json:"storageBytes,omitempty"`
	EgressBytesPerDay    int64 `json:"egressBytesPerDay,omitempty"`
	UniqueWorkersPerDay  int64 `json:"uniqueWorkersPerDay,omitempty"`
}

// TenantList is the answer of GET /v1/tenants.
type TenantList struct {
	Tenants []Tenant `json:"tenants"`
}

// Key is an API key as GET /v1/keys shows it: never the key itself.
type Key struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name,omitempty"`
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt is when the key stops working; absent: never.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// LastUsedAt is the key's last request (to the second) since the server started.
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	// RevokedAt is when the key was revoked; a revoked key is refused at once.
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// KeyRequest is the body of POST /v1/keys: a label, the scopes ("admin", "deploy",
// "invoke", "read") and an optional expiry.
type KeyRequest struct {
	Name      string     `json:"name,omitempty"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// NewKey is the answer of POST /v1/keys and of POST /v1/keys/{id}/rotate: the key's
// description and the key itself, shown this once (only its hash is stored).
type NewKey struct {
	Key
	Secret string `json:"key"`
}

// KeyList is the answer of GET /v1/keys.
type KeyList struct {
	Keys []Key `json:"keys"`
}
