package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
)

// /metrics needs no key, so it must not name tenants nor show their usage to whoever can
// reach it: without a key no tenant-labelled series, with a tenant's key its own only,
// with the operator's key (acting for no tenant) every tenant's.
func TestMetricsShowTenantsOnlyToWhomMay(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	hello := js(`export default { fetch() { return new Response("hi"); } };`)
	keys := map[string]string{}
	for _, name := range []string{"metrics-acme", "metrics-rival"} {
		c := newTenant(t, ts, name, api.TenantSettings{}, allScopes...)
		if _, err := c.PutWorker(ctx, "w", hello); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Fetch(ctx, "w", api.FetchRequest{}); err != nil {
			t.Fatal(err)
		}
		k, err := ts.c.WithTenant(name).CreateKey(ctx, client.KeyOptions{Name: "metrics", Scopes: []string{"read"}})
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k.Secret
	}
	get := func(key string) string {
		t.Helper()
		r := ts.raw(t, "GET", "/metrics", nil, http.Header{"Authorization": {"Bearer " + key}})
		if r.status != 200 || !strings.Contains(string(r.body), "isobox_http_requests_total") {
			t.Fatalf("/metrics with key %.8q: %d %.200s", key, r.status, r.body)
		}
		return string(r.body)
	}
	for _, tt := range []struct {
		who       string
		key       string
		see, miss []string
	}{
		{"no key", "", nil, []string{"metrics-acme", "metrics-rival", "isobox_tenant_invocations_total"}},
		{"an unknown key", "isobox_not-a-key", nil, []string{"metrics-acme", "metrics-rival"}},
		{"acme's key", keys["metrics-acme"], []string{`isobox_tenant_invocations_total{tenant="metrics-acme"} 1`}, []string{"metrics-rival"}},
		{"rival's key", keys["metrics-rival"], []string{`isobox_tenant_invocations_total{tenant="metrics-rival"} 1`}, []string{"metrics-acme"}},
		{"the operator's key", testKey, []string{`isobox_tenant_invocations_total{tenant="metrics-acme"} 1`, `isobox_tenant_invocations_total{tenant="metrics-rival"} 1`}, nil},
	} {
		body := get(tt.key)
		for _, s := range tt.see {
			if !strings.Contains(body, s) {
				t.Errorf("%s: /metrics lacks %s", tt.who, s)
			}
		}
		for _, s := range tt.miss {
			if strings.Contains(body, s) {
				t.Errorf("%s: /metrics shows %s", tt.who, s)
			}
		}
	}
}
