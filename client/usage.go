package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/isobox/isobox/api"
)

// UsageOptions select usage: UTC days From to To (YYYY-MM-DD, both included; the server's
// defaults are the first of the month and today), one Tenant or all, GroupBy "day" (the
// default) or "worker".
type UsageOptions struct {
	From, To, Tenant, GroupBy string
}

func (o UsageOptions) query() string {
	v := url.Values{}
	for k, s := range map[string]string{"from": o.From, "to": o.To, "tenant": o.Tenant, "groupBy": o.GroupBy} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Usage returns the usage records the options select (GET /v1/usage): unique workers,
// invocations, CPU and wall ms, egress bytes and storage byte-days per tenant and day, or
// per worker version.
//
//	rep, err := c.Usage(ctx, client.UsageOptions{From: "2026-12-01", GroupBy: "worker"})
//
// # Errors
//
// invalid_request for a bad day or groupBy.
func (c *Client) Usage(ctx context.Context, o UsageOptions) (*api.UsageReport, error) {
	var rep api.UsageReport
	if err := c.Do(ctx, http.MethodGet, "/v1/usage"+o.query(), nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// UsageCost returns what the usage costs per tenant and day under the server's price
// sheet (GET /v1/usage/cost); GroupBy must be "" or "day".
//
// # Errors
//
// invalid_request for a bad day.
func (c *Client) UsageCost(ctx context.Context, o UsageOptions) (*api.CostReport, error) {
	var rep api.CostReport
	if err := c.Do(ctx, http.MethodGet, "/v1/usage/cost"+o.query(), nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}
