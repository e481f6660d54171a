package meter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// PriceSheet turns usage into money. Allowances are per calendar month (UTC) and per
// tenant, taken in day order from the first of the month.
type PriceSheet struct {
	// Source says where the prices come from (shown in every cost report).
	Source   string `json:"source"`
	Currency string `json:"currency"`
	// UniqueWorkerDay is the price of one unique worker (id + code) loaded in one day;
	// IncludedUniqueWorkersPerMonth of them are free each month.
	UniqueWorkerDay               float64 `json:"uniqueWorkerDay"`
	IncludedUniqueWorkersPerMonth int64   `json:"includedUniqueWorkersPerMonth"`
	// RequestsPerMillion prices invocations (every fetch and RPC call).
	RequestsPerMillion       float64 `json:"requestsPerMillion"`
	IncludedRequestsPerMonth int64   `json:"includedRequestsPerMonth"`
	// CPUMsPerMillion prices guest CPU milliseconds (start-up and parsing included).
	CPUMsPerMillion       float64 `json:"cpuMsPerMillion"`
	IncludedCPUMsPerMonth int64   `json:"includedCpuMsPerMonth"`
	// EgressPerGB prices outbound bytes (10^9 bytes); StoragePerGBMonth stored bytes (10^9
	// bytes held for 30 days).
	EgressPerGB       float64 `json:"egressPerGB"`
	StoragePerGBMonth float64 `json:"storagePerGBMonth"`
}

// CloudflarePrices is Cloudflare's published price of Dynamic Workers on the Workers Paid
// plan, read 2026-12-02 from developers.cloudflare.com/dynamic-workers/pricing/ (source
// cloudflare/cloudflare-docs:src/content/docs/dynamic-workers/pricing/; summarised in
// isobox's research notes, shared/reference/dynamic-workers.md §6): $0.002 per Dynamic
// Worker per day with 1,000 unique per month included (not billed yet by Cloudflare);
// requests 10 million a month included then $0.30 per million; CPU 30 million ms a month
// included then $0.02 per million ms. Workers do not charge for egress, and the plan's $5
// monthly base is not a usage price, so neither is here.
var CloudflarePrices = PriceSheet{
	Source:                        "Cloudflare Dynamic Workers pricing, Workers Paid plan (developers.cloudflare.com/dynamic-workers/pricing/, read 2026-12-02)",
	Currency:                      "USD",
	UniqueWorkerDay:               0.002,
	IncludedUniqueWorkersPerMonth: 1000,
	RequestsPerMillion:            0.30,
	IncludedRequestsPerMonth:      10_000_000,
	CPUMsPerMillion:               0.02,
	IncludedCPUMsPerMonth:         30_000_000,
}

// LoadPriceSheet reads a PriceSheet from a JSON file. Fields it leaves out are 0 (free, no
// allowance); unknown fields are an error.
func LoadPriceSheet(path string) (PriceSheet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PriceSheet{}, fmt.Errorf("price sheet: %w", err)
	}
	var p PriceSheet
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return PriceSheet{}, isoerr.New(isoerr.InvalidRequest, "price sheet %s: %v", path, err)
	}
	for _, v := range []float64{p.UniqueWorkerDay, p.RequestsPerMillion, p.CPUMsPerMillion, p.EgressPerGB, p.StoragePerGBMonth,
		float64(p.IncludedUniqueWorkersPerMonth), float64(p.IncludedRequestsPerMonth), float64(p.IncludedCPUMsPerMonth)} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return PriceSheet{}, isoerr.New(isoerr.InvalidRequest, "price sheet %s: prices and allowances must be finite and not negative", path)
		}
	}
	if p.Currency == "" {
		p.Currency = "USD"
	}
	if p.Source == "" {
		p.Source = path
	}
	return p, nil
}

// Cost returns the cost of each tenant's days From to To (Query.GroupBy is ignored) under
// the sheet: the days from the first of From's month are read so that the monthly
// allowances are used up in order.
func (m *Meter) Cost(ctx context.Context, q Query, p PriceSheet) (api.CostReport, error) {
	from := q.From.UTC()
	monthStart := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	rows, err := m.Query(ctx, Query{From: monthStart, To: q.To, Tenant: q.Tenant, GroupBy: ByDay})
	if err != nil {
		return api.CostReport{}, err
	}
	rep := api.CostReport{From: day(q.From), To: day(q.To), Currency: p.Currency, Source: p.Source, Rows: []api.CostRow{}}
	type month struct {
		tenant, month     string
		workers, requests int64
		cpuMs             float64
	}
	var cur month
	for _, r := range rows { // ordered by tenant, then day
		if r.Tenant != cur.tenant || r.Day[:7] != cur.month {
			cur = month{tenant: r.Tenant, month: r.Day[:7]}
		}
		c := api.CostRow{Tenant: r.Tenant, Day: r.Day, UniqueWorkers: r.UniqueWorkers, Invocations: r.Invocations,
			CPUMs: r.CPUMs, EgressBytes: r.EgressBytes, StorageByteDays: r.StorageByteDays}
		c.UniqueWorkersCost = p.UniqueWorkerDay * billable(float64(cur.workers), float64(r.UniqueWorkers), float64(p.IncludedUniqueWorkersPerMonth))
		c.InvocationsCost = p.RequestsPerMillion / 1e6 * billable(float64(cur.requests), float64(r.Invocations), float64(p.IncludedRequestsPerMonth))
		c.CPUCost = p.CPUMsPerMillion / 1e6 * billable(cur.cpuMs, r.CPUMs, float64(p.IncludedCPUMsPerMonth))
		c.EgressCost = p.EgressPerGB * float64(r.EgressBytes) / 1e9
		c.StorageCost = p.StoragePerGBMonth * r.StorageByteDays / 1e9 / 30
		c.Total = c.UniqueWorkersCost + c.InvocationsCost + c.CPUCost + c.EgressCost + c.StorageCost
		cur.workers += r.UniqueWorkers
		cur.requests += r.Invocations
		cur.cpuMs += r.CPUMs
		if r.Day >= rep.From {
			rep.Rows = append(rep.Rows, c)
			rep.Total += c.Total
		}
	}
	return rep, nil
}

// billable is the part of add, on top of before already used this month, past included.
func billable(before, add, included float64) float64 {
	return max(0, before+add-included) - max(0, before-included)
}
