package api

import (
	"time"

	"github.com/isobox/isobox/isoerr"
)

// EgressEntry is one outbound decision of the egress gateway, as GET
// /v1/workers/{id}/egress lists them (newest first). egress.Entry is this type.
type EgressEntry struct {
	Time   time.Time `json:"time"`
	Worker string    `json:"worker,omitempty"`
	Method string    `json:"method"`
	// URL is the destination without user info, and with query values replaced by
	// "[redacted]".
	URL string `json:"url"`
	// Hop is 0 for the request itself, n for the n-th redirect the gateway followed.
	Hop int `json:"hop,omitempty"`
	// Allowed is false when nothing was sent: the policy denied the request
	// (egress_denied) or the SSRF guard refused the address its host resolved to
	// (egress_private_address).
	Allowed bool `json:"allowed"`
	// Rule is the index of the policy rule that decided, or -1 when none matched.
	Rule int `json:"rule"`
	// Hint, for a denial, says which rule would allow the request, or how to write one.
	Hint   string `json:"hint,omitempty"`
	Status int    `json:"status,omitempty"`
	// BytesOut counts the request body sent; BytesIn the response body delivered (after
	// decompression).
	BytesOut int64 `json:"bytesOut"`
	BytesIn  int64 `json:"bytesIn"`
	// Duration is in nanoseconds on the wire, as its name there says.
	Duration time.Duration `json:"durationNs"`
	// Error is the code of the error the request ended with, if any.
	Error isoerr.Code `json:"error,omitempty"`
}

// EgressAudit is the answer of GET /v1/workers/{id}/egress.
type EgressAudit struct {
	Entries []EgressEntry `json:"entries"`
}

// SecretValue is the body of PUT /v1/secrets/{name}. Secrets are write-only: the API
// never sends a value back; the egress gateway injects it where a policy says
// {{secret:NAME}}.
type SecretValue struct {
	Value string `json:"value"`
}

// Secret describes a stored secret, without its value.
type Secret struct {
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// SecretList is the answer of GET /v1/secrets.
type SecretList struct {
	Secrets []Secret `json:"secrets"`
}
