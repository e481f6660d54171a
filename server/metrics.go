package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// metrics are the server's Prometheus metrics, in a registry of its own (several servers
// may live in one process, as in the tests).
type metrics struct {
	reg         *prometheus.Registry
	invocations *prometheus.CounterVec   // route, outcome
	errors      *prometheus.CounterVec   // code
	starts      *prometheus.CounterVec   // start: cold or warm
	cpu         prometheus.Histogram     // guest CPU ms per invocation
	wall        prometheus.Histogram     // wall ms per invocation
	requests    *prometheus.CounterVec   // route, status
	latency     *prometheus.HistogramVec // route

	// Per tenant (usage.go).
	tenantInvocations *prometheus.CounterVec // tenant
	tenantCPU         *prometheus.CounterVec // tenant: guest CPU ms
	tenantWall        *prometheus.CounterVec // tenant: wall ms
	tenantEgress      *prometheus.CounterVec // tenant: outbound bytes
	quotaRefusals     *prometheus.CounterVec // tenant, quota
}

// msBuckets span the CPU limits: 0.1 ms to the 30 s maximum.
var msBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

func newMetrics(l interface{ Stats() loader.Stats }) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.invocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "isobox_invocations_total", Help: "Worker invocations by API route (fetch, call, http, run, eval) and outcome (ok, error).",
	}, []string{"route", "outcome"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "isobox_invocation_errors_total", Help: "Failed invocations by error code.",
	}, []string{"code"})
	m.starts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "isobox_invocation_starts_total", Help: "Invocations that reached a sandbox, by start: cold (new sandbox, code loaded) or warm (reused).",
	}, []string{"start"})
	m.cpu = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "isobox_invocation_cpu_ms", Help: "Guest CPU time per invocation, in milliseconds.", Buckets: msBuckets,
	})
	m.wall = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "isobox_invocation_wall_ms", Help: "Wall time per invocation inside isobox (queueing and loading included), in milliseconds.", Buckets: msBuckets,
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "isobox_http_requests_total", Help: "HTTP requests by route pattern and status.",
	}, []string{"route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "isobox_http_request_ms", Help: "HTTP request handling time by route pattern, in milliseconds.", Buckets: msBuckets,
	}, []string{"route"})
	m.tenantInvocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "isobox_tenant_invocations_total", Help: "Invocations that ran, by tenant.",
	}, []string{"tenant"})
	m.tenantCPU = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "isobox_tenant_cpu_ms_total", Help: "Guest CPU time of invocations, by tenant, in milliseconds.",
	}, []string{"tenant"})
	m.tenantWall = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "isobox_tenant_wall_ms_total", Help: "Wall time of invocations, by tenant, in milliseconds.",
	}, []string{"tenant"})
	m.tenantEgress = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "isobox_tenant_egress_bytes_total", Help: "Outbound bytes of workers (request and response bodies), by tenant.",
	}, []string{"tenant"})
	m.quotaRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "isobox_quota_refusals_total", Help: "Operations refused by a tenant quota, by tenant and quota.",
	}, []string{"tenant", "quota"})
	m.reg.MustRegister(m.tenantInvocations, m.tenantCPU, m.tenantWall, m.tenantEgress, m.quotaRefusals)
	m.reg.MustRegister(m.invocations, m.errors, m.starts, m.cpu, m.wall, m.requests, m.latency,
		loaderCollector{l}, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// handleMetrics serves /metrics. Series with a tenant label (usage, quota refusals) go
// only to whom may see them: all of them to the operator's key, a tenant's own to its
// keys, none without a key, so the open endpoint names no tenant and shows no tenant's
// usage.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	keep := func(string) bool { return false }
	if p, err := s.authenticate(r); err == nil {
		if p.Operator && r.Header.Get(TenantHeader) == "" {
			s.metrics.handler().ServeHTTP(w, r)
			return
		}
		keep = func(t string) bool { return t == p.Tenant }
	}
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		fams, err := s.metrics.reg.Gather()
		out := fams[:0]
		for _, f := range fams {
			ms := f.Metric[:0]
			tenantLabelled := false
			for _, m := range f.Metric {
				t, ok := tenantLabel(m)
				tenantLabelled = tenantLabelled || ok
				if !ok || keep(t) {
					ms = append(ms, m)
				}
			}
			f.Metric = ms
			if len(ms) > 0 || !tenantLabelled {
				out = append(out, f)
			}
		}
		return out, err
	})
	promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// tenantLabel is the value of m's tenant label, if it has one.
func tenantLabel(m *dto.Metric) (string, bool) {
	for _, l := range m.GetLabel() {
		if l.GetName() == "tenant" {
			return l.GetValue(), true
		}
	}
	return "", false
}

// observe counts one invocation.
func (m *metrics) observe(route string, res *loader.Result, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
		m.errors.WithLabelValues(string(isoerr.As(err).Code)).Inc()
	}
	m.invocations.WithLabelValues(route, outcome).Inc()
	if res == nil {
		return
	}
	// A start is counted when a sandbox ran the call: it succeeded, or the guest failed.
	if err == nil || StatusOf(isoerr.As(err).Code) == http.StatusUnprocessableEntity {
		start := "warm"
		if res.Cold {
			start = "cold"
		}
		m.starts.WithLabelValues(start).Inc()
	}
	m.cpu.Observe(float64(res.CPU.Microseconds()) / 1000)
	m.wall.Observe(float64(res.Wall.Microseconds()) / 1000)
}

// tenantUsage counts one invocation of tenant.
func (m *metrics) tenantUsage(tenant string, cpu, wall time.Duration) {
	m.tenantInvocations.WithLabelValues(tenant).Inc()
	m.tenantCPU.WithLabelValues(tenant).Add(float64(cpu.Microseconds()) / 1000)
	m.tenantWall.WithLabelValues(tenant).Add(float64(wall.Microseconds()) / 1000)
}

func (m *metrics) observeHTTP(route string, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(float64(d.Microseconds()) / 1000)
}

// loaderCollector reports the loader's warm cache at scrape time.
type loaderCollector struct {
	l interface{ Stats() loader.Stats }
}

var (
	sandboxesDesc    = prometheus.NewDesc("isobox_sandboxes", "Live sandboxes by state: busy (running a call) or idle (warm, cached).", []string{"state"}, nil)
	workersDesc      = prometheus.NewDesc("isobox_loader_workers", "Worker ids the loader knows (warm or busy).", nil, nil)
	idleMemDesc      = prometheus.NewDesc("isobox_sandbox_idle_memory_bytes", "Memory held by idle warm sandboxes: their private resident pages, what the loader's memory budget counts.", nil, nil)
	hibernatedDesc   = prometheus.NewDesc("isobox_loader_hibernated", "Workers hibernated to the image store and not yet resumed.", nil, nil)
	hibernationsDesc = prometheus.NewDesc("isobox_loader_hibernations_total", "Idle workers evicted to the image store.", nil, nil)
	hibErrorsDesc    = prometheus.NewDesc("isobox_loader_hibernate_errors_total", "Evicted workers that could not be written to the image store (their state was lost).", nil, nil)
	resumesDesc      = prometheus.NewDesc("isobox_loader_resumes_total", "Hibernated workers brought back by a call.", nil, nil)
)

func (c loaderCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sandboxesDesc
	ch <- workersDesc
	ch <- idleMemDesc
	ch <- hibernatedDesc
	ch <- hibernationsDesc
	ch <- hibErrorsDesc
	ch <- resumesDesc
}

func (c loaderCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.l.Stats()
	ch <- prometheus.MustNewConstMetric(sandboxesDesc, prometheus.GaugeValue, float64(st.BusySandboxes), "busy")
	ch <- prometheus.MustNewConstMetric(sandboxesDesc, prometheus.GaugeValue, float64(st.IdleSandboxes), "idle")
	ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(st.Workers))
	ch <- prometheus.MustNewConstMetric(idleMemDesc, prometheus.GaugeValue, float64(st.IdleMemory))
	ch <- prometheus.MustNewConstMetric(hibernatedDesc, prometheus.GaugeValue, float64(st.Hibernated))
	ch <- prometheus.MustNewConstMetric(hibernationsDesc, prometheus.CounterValue, float64(st.Hibernations))
	ch <- prometheus.MustNewConstMetric(hibErrorsDesc, prometheus.CounterValue, float64(st.HibernateErrors))
	ch <- prometheus.MustNewConstMetric(resumesDesc, prometheus.CounterValue, float64(st.Resumes))
}
