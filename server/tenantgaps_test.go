package server

import (
	"context"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/tenant/quota"
)

// isQuota reports whether err is quota_exceeded naming quota q.
func isQuota(err error, q string) bool {
	e := isoerr.As(err)
	return e != nil && e.Code == isoerr.QuotaExceeded && e.Quota == q
}

// TestQuotaMemoryOnPutWorker: a stored worker that asks for more memory than its tenant's
// ceiling is refused at PUT with quota_exceeded naming the quota, and nothing is stored
// (the version stored before stays); one at the ceiling is stored.
func TestQuotaMemoryOnPutWorker(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	c := newTenant(t, ts, "memt", api.TenantSettings{Quotas: &quota.Limits{MemoryMBPerSandbox: 64}}, allScopes...)
	ok := js(`export default { fetch() { return new Response("ok") } }`)
	ok.Limits = &api.Limits{MemoryMB: 64}
	w0, err := c.PutWorker(ctx, "w", ok)
	if err != nil {
		t.Fatal(err)
	}
	big := js(`export default { fetch() { return new Response("big") } }`)
	big.Limits = &api.Limits{MemoryMB: 65}
	for _, id := range []string{"w", "fresh"} {
		if _, err := c.PutWorker(ctx, id, big); !isQuota(err, quota.MemoryPerSandbox) {
			t.Fatalf("PUT %s over the ceiling: %v", id, err)
		}
	}
	if w, err := c.GetWorker(ctx, "w"); err != nil || w.Hash != w0.Hash {
		t.Fatalf("the stored version changed: %v %+v", err, w)
	}
	if _, err := c.GetWorker(ctx, "fresh"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("the refused worker was stored: %v", err)
	}
}

// TestSessionEvalUnknownTakesNoSlot: evals of session names that do not exist answer
// not_found and take none of the tenant's unique workers of the day: with a quota of one,
// a real session still runs after them.
func TestSessionEvalUnknownTakesNoSlot(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	c := newTenant(t, ts, "slot", api.TenantSettings{Quotas: &quota.Limits{UniqueWorkersPerDay: 1}}, allScopes...)
	for _, name := range []string{"nope-1", "nope-2", "nope-3"} {
		if _, err := c.SessionEval(ctx, name, "1", nil); isoerr.CodeOf(err) != isoerr.NotFound {
			t.Fatalf("eval of %s: %v", name, err)
		}
	}
	if _, err := c.CreateSession(ctx, client.SessionOptions{Name: "real"}); err != nil {
		t.Fatal(err)
	}
	out, err := c.SessionEval(ctx, "real", "40 + 2", nil)
	if err != nil || string(out.Result) != "42" {
		t.Fatalf("the real session: %v %+v", err, out)
	}
}
