package server

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/meter"
	"github.com/isobox/isobox/tenant"
	"github.com/isobox/isobox/tenant/quota"
)

// defaultTenant owns everything made before tenants existed.
const defaultTenant = tenant.Default

// requestTenant is the tenant a request acts for (its key's, or the one the operator's key
// names).
func (s *Server) requestTenant(r *http.Request) string {
	if t := principalOf(r).Tenant; t != "" {
		return t
	}
	return defaultTenant
}

// applyTenantQuotas gives every tenant its own quotas, or the server's (Config.Quotas)
// when it has none. It runs after every change of the tenants.
func (s *Server) applyTenantQuotas() {
	if s.quotas == nil {
		return // initUsage calls it again once the enforcer exists
	}
	for name, ts := range *s.tenants.Load() {
		l := s.cfg.Quotas
		if ts.settings.Quotas != nil {
			l = *ts.settings.Quotas
		}
		s.quotas.Set(name, l)
	}
}

// workerKey names a worker version for the unique-workers quota: what Cloudflare counts as
// one Dynamic Worker (id and code).
func workerKey(worker, hash string) string { return worker + "@" + hash }

// initUsage opens the meter (DataDir/usage.db, in memory without a data directory), makes
// the quota enforcer with Config.Quotas for every tenant, and seeds today's daily quotas
// with what the meter recorded before a restart.
func (s *Server) initUsage() error {
	ctx := context.Background()
	opts := meter.Options{FlushInterval: s.cfg.MeterFlushInterval, Logger: s.cfg.Logger}
	if s.cfg.DataDir != "" {
		opts.Path = filepath.Join(s.cfg.DataDir, "usage.db")
	}
	m, err := meter.Open(ctx, opts)
	if err != nil {
		return err
	}
	s.meter = m
	s.closers = append(s.closers, func(ctx context.Context) {
		if err := m.Close(ctx); err != nil {
			s.cfg.Logger.Error("isobox: usage: last batch not written", "err", err)
		}
	})
	if err := s.cfg.Quotas.Validate(); err != nil {
		return err
	}
	s.quotas = quota.New(s.cfg.Quotas)
	s.applyTenantQuotas()
	today, err := m.Day(ctx, time.Now())
	if err != nil {
		return err
	}
	for tenant, d := range today {
		qd := quota.Day{CPU: d.CPU, EgressBytes: d.EgressBytes, Loads: d.Loads}
		for _, w := range d.Workers {
			qd.Workers = append(qd.Workers, workerKey(w[0], w[1]))
		}
		s.quotas.Restore(tenant, qd)
	}
	s.initStorageQuota()
	s.prices = meter.CloudflarePrices
	if s.cfg.PriceSheet != nil {
		s.prices = *s.cfg.PriceSheet
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.sampleStorage(sctx, time.Minute) }()
	s.closers = append(s.closers, func(context.Context) { stop(); <-done }) // before the meter closes
	return nil
}

// Quotas returns the server's quota enforcer: tenants are given their own limits with
// Quotas().Set (Config.Quotas until then).
func (s *Server) Quotas() *quota.Enforcer { return s.quotas }

// admit takes an invocation slot for inv's tenant (concurrency, rate, daily CPU and
// egress quotas). On a refusal it has answered 429 with Retry-After.
func (s *Server) admit(w http.ResponseWriter, inv *invocation) bool {
	release, err := s.quotas.Acquire(inv.tenant)
	if err != nil {
		s.quotaRefused(w, inv.tenant, err)
		return false
	}
	inv.release = release
	return true
}

// admitLoad counts a worker version loaded by inv's tenant for the unique-workers quota:
// hash is the stored worker's code hash, or "" for a one-shot load (/v1/run, Code Mode,
// snippets), which is always a new worker.
func (s *Server) admitLoad(inv *invocation, hash string) error {
	key := ""
	switch {
	case inv.session != "":
		_, name := api.SplitScoped(inv.session) // as the meter records it, for Restore
		key = workerKey(sessionWorker(name), "")
	case inv.worker != "":
		_, name := api.SplitScoped(inv.worker)
		key = workerKey(name, hash)
		inv.hash = hash
	default:
		inv.oneShot = true
	}
	err := s.quotas.AdmitWorker(inv.tenant, key)
	if err != nil {
		s.metrics.quotaRefusals.WithLabelValues(inv.tenant, quota.WorkersPerDay).Inc()
	}
	return err
}

// quotaRefused writes a quota's refusal and counts it.
func (s *Server) quotaRefused(w http.ResponseWriter, tenant string, err error) {
	if e := isoerr.As(err); e.Quota != "" {
		s.metrics.quotaRefusals.WithLabelValues(tenant, e.Quota).Inc()
	}
	writeError(w, err)
}

// endInvocation gives back the invocation's quota slot and ends it.
func (s *Server) endInvocation(inv invocation) {
	if inv.release != nil {
		inv.release()
	}
	s.end()
}

// meterInvocation records a finished invocation: one call with its CPU and wall time (and
// a unique worker for a one-shot load) in the meter, the tenant's daily CPU quota and the
// per-tenant metrics. Nothing is recorded when nothing ran (res nil).
func (s *Server) meterInvocation(inv invocation, res *loader.Result) {
	if res == nil {
		return
	}
	_, worker := api.SplitScoped(inv.worker) // the id as the tenant names it
	u := meter.Usage{Tenant: inv.tenant, Worker: worker, CodeHash: inv.hash, Invocations: 1, CPU: res.CPU, Wall: res.Wall}
	if inv.session != "" {
		_, name := api.SplitScoped(inv.session)
		u.Worker = sessionWorker(name)
	}
	if inv.oneShot {
		u.Loads = 1
	}
	s.meter.Record(u)
	s.quotas.Charge(inv.tenant, res.CPU, 0)
	s.metrics.tenantUsage(inv.tenant, res.CPU, res.Wall)
}

// meteredOutbound counts the bytes of every outbound request of a worker version (request
// and response bodies) for its tenant, and refuses requests once the tenant's egress
// quota of the day is used up.
func (s *Server) meteredOutbound(rt http.RoundTripper, tenant, worker, hash string) http.RoundTripper {
	return meteredTransport{rt: rt, s: s, tenant: tenant, worker: worker, hash: hash}
}

type meteredTransport struct {
	rt                   http.RoundTripper
	s                    *Server
	tenant, worker, hash string
}

func (m meteredTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := m.s.quotas.CheckEgress(m.tenant); err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		m.s.metrics.quotaRefusals.WithLabelValues(m.tenant, quota.EgressBytesPerDay).Inc()
		return nil, err
	}
	c := &egressCount{m: m}
	if r.Body != nil && r.Body != http.NoBody {
		r2 := *r
		r2.Body = &countingBody{rc: r.Body, c: c}
		r = &r2
	}
	resp, err := m.rt.RoundTrip(r)
	if err != nil || resp == nil || resp.Body == nil {
		c.done()
		return resp, err
	}
	resp.Body = &countingBody{rc: resp.Body, c: c, last: true}
	return resp, nil
}

// egressCount adds up one outbound request's bytes and charges them once, when the
// response body ends (EOF or Close) or the request fails.
type egressCount struct {
	m    meteredTransport
	n    atomic.Int64
	once sync.Once
}

func (c *egressCount) done() {
	c.once.Do(func() {
		n := c.n.Load()
		if n == 0 {
			return
		}
		m := c.m
		m.s.meter.Record(meter.Usage{Tenant: m.tenant, Worker: m.worker, CodeHash: m.hash, EgressBytes: n})
		m.s.quotas.Charge(m.tenant, 0, n)
		m.s.metrics.tenantEgress.WithLabelValues(m.tenant).Add(float64(n))
	})
}

type countingBody struct {
	rc   io.ReadCloser
	c    *egressCount
	last bool // the response body: its end charges the request
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.c.n.Add(int64(n))
	if err == io.EOF && b.last {
		b.c.done()
	}
	return n, err
}

func (b *countingBody) Close() error {
	err := b.rc.Close()
	if b.last {
		b.c.done()
	}
	return err
}

// sampleStorage adds every tenant's stored bytes (worker code and workspaces) times the
// time since the last sample to its storage byte-days, every interval until ctx ends.
func (s *Server) sampleStorage(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.sampleStorageOnce(ctx, now, now.Sub(last))
			last = now
		}
	}
}

// sampleStorageOnce records every tenant's stored bytes as held for held, at now.
func (s *Server) sampleStorageOnce(ctx context.Context, now time.Time, held time.Duration) {
	for tenant, n := range s.storedBytes(ctx) {
		if n > 0 {
			s.meter.Record(meter.Usage{Tenant: tenant, Time: now, StorageByteSeconds: float64(n) * held.Seconds()})
		}
	}
}

// storedBytes is each tenant's stored bytes (worker code and workspaces), by the tenant
// part of each object's scoped name.
func (s *Server) storedBytes(ctx context.Context) map[string]int64 {
	n := map[string]int64{}
	for after := ""; ; {
		ws, err := s.st.ListWorkers(ctx, after, 1000)
		if err != nil || len(ws) == 0 {
			break
		}
		for _, w := range ws {
			t, _ := api.SplitScoped(w.ID)
			n[t] += int64(w.Size)
		}
		after = ws[len(ws)-1].ID
	}
	if s.ws != nil {
		for after := ""; ; {
			list, err := s.ws.List(ctx, after, 1000)
			if err != nil || len(list) == 0 {
				break
			}
			for _, u := range list {
				t, _ := api.SplitScoped(u.Name)
				n[t] += u.Bytes
			}
			after = list[len(list)-1].Name
		}
	}
	return n
}

// usageQuery reads from, to, tenant and groupBy: from defaults to the first of to's month,
// to to today (UTC).
func usageQuery(r *http.Request) (meter.Query, error) {
	v := r.URL.Query()
	q := meter.Query{To: time.Now().UTC(), Tenant: v.Get("tenant"), GroupBy: meter.GroupBy(v.Get("groupBy"))}
	if s := v.Get("to"); s != "" {
		t, err := meter.ParseDay(s)
		if err != nil {
			return q, isoerr.New(isoerr.InvalidRequest, "to: %s", isoerr.As(err).Message)
		}
		q.To = t
	}
	q.From = time.Date(q.To.Year(), q.To.Month(), 1, 0, 0, 0, 0, time.UTC)
	if s := v.Get("from"); s != "" {
		t, err := meter.ParseDay(s)
		if err != nil {
			return q, isoerr.New(isoerr.InvalidRequest, "from: %s", isoerr.As(err).Message)
		}
		q.From = t
	}
	if q.To.Sub(q.From) > 366*24*time.Hour {
		return q, isoerr.New(isoerr.InvalidRequest, "from and to are at most 366 days apart")
	}
	return q, nil
}

// handleUsage answers GET /v1/usage?from&to&tenant&groupBy=day|worker.
func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request) {
	q, err := s.scopedUsageQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	rows, err := s.meter.Query(r.Context(), q)
	if err != nil {
		writeError(w, err)
		return
	}
	if q.GroupBy == "" {
		q.GroupBy = meter.ByDay
	}
	writeJSON(w, http.StatusOK, api.UsageReport{From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly), GroupBy: string(q.GroupBy), Rows: rows})
}

// handleUsageCost answers GET /v1/usage/cost?from&to&tenant: each tenant's cost per day
// under the price sheet.
func (s *Server) handleUsageCost(w http.ResponseWriter, r *http.Request) {
	q, err := s.scopedUsageQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if g := r.URL.Query().Get("groupBy"); g != "" && g != "day" {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "the cost report is per day; groupBy must be day or absent, got %q", g))
		return
	}
	rep, err := s.meter.Cost(r.Context(), q, s.prices)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// scopedUsageQuery is usageQuery held to what the caller may see: a tenant's key sees its
// own tenant's usage only (naming another answers as an unknown tenant: nothing); the
// operator's key sees the tenant it names, or every tenant.
func (s *Server) scopedUsageQuery(r *http.Request) (meter.Query, error) {
	q, err := usageQuery(r)
	if err != nil {
		return q, err
	}
	if p := principalOf(r); !p.Operator {
		if q.Tenant != "" && q.Tenant != p.Tenant {
			return q, isoerr.New(isoerr.NotFound, "tenant %q does not exist", q.Tenant)
		}
		q.Tenant = p.Tenant
	}
	return q, nil
}

// retryAfter is the Retry-After header of an error: its RetryAfterSeconds, else 1.
func retryAfter(e *isoerr.Error) string {
	if e.RetryAfterSeconds > 0 {
		return strconv.FormatInt(e.RetryAfterSeconds, 10)
	}
	return "1"
}

// admitRun checks a one-shot load (/v1/run, Code Mode): the memory ceiling
// (memoryCeiling), then the unique-workers quota.
func (s *Server) admitRun(inv *invocation, lp **api.Limits) error {
	if err := s.memoryCeiling(inv.tenant, lp); err != nil {
		return err
	}
	return s.admitLoad(inv, "")
}

// memoryCeiling checks the memory limit a sandbox asks for against tenant's ceiling. One
// that asks for no memory limit while the default is over the ceiling gets the ceiling as
// its limit (*lp is replaced by a copy).
func (s *Server) memoryCeiling(tenant string, lp **api.Limits) error {
	ceiling := s.quotas.Limits(tenant).MemoryMBPerSandbox
	mb := int64(0)
	if *lp != nil {
		mb = int64((*lp).MemoryMB)
	}
	if mb == 0 && ceiling > 0 && int64(s.defaultMemory()>>20) > ceiling {
		var c api.Limits
		if *lp != nil {
			c = **lp
		}
		c.MemoryMB = int(ceiling)
		*lp, mb = &c, ceiling
	}
	if err := s.quotas.CheckMemory(tenant, mb); err != nil {
		s.metrics.quotaRefusals.WithLabelValues(tenant, quota.MemoryPerSandbox).Inc()
		return err
	}
	return nil
}

// defaultMemory is the memory limit of a sandbox that sets none.
func (s *Server) defaultMemory() uint64 {
	if m := s.cfg.Defaults.Memory; m > 0 {
		return m
	}
	return engine.DefaultLimits().Memory
}

// admitStorage checks a write of adding bytes (worker code, a workspace file) against the
// storage quota of the request's tenant. The bytes stored are counted when the tenant has
// a quota (a scan of the workers and workspaces: writes are not the hot path); a file that
// replaces another is counted whole.
func (s *Server) admitStorage(r *http.Request, adding int64) error {
	tenant := s.requestTenant(r)
	if s.quotas.Limits(tenant).StorageBytes <= 0 || adding <= 0 {
		return nil
	}
	err := s.quotas.CheckStorage(tenant, s.storedBytes(r.Context())[tenant], adding)
	if err != nil {
		s.metrics.quotaRefusals.WithLabelValues(tenant, quota.StorageBytes).Inc()
	}
	return err
}
