package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/fetchctx"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/store"
	"github.com/isobox/isobox/tenant"
)

// storeSecrets backs the egress gateway's {{secret:NAME}} references with the store: the
// secrets of the tenant whose worker (or run, or session) makes the request, told by the
// scoped name the request is tagged with (outbound).
type storeSecrets struct{ st store.Store }

func (s storeSecrets) Lookup(ctx context.Context, name string) (string, error) {
	owner, _ := api.SplitScoped(fetchctx.Worker(ctx))
	v, err := s.st.GetSecret(ctx, tenant.Scoped(owner, name))
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: %q", egress.ErrSecretNotFound, name)
	}
	return v, err
}

// initEgress makes the gateway that every worker's fetch() goes through (one policy per
// worker, shared connection pools, secrets and audit).
func (s *Server) initEgress() error {
	g, err := egress.New(egress.Config{Policy: s.cfg.EgressPolicy, Secrets: storeSecrets{s.st}, Audit: egress.NewAudit(s.cfg.EgressAuditSize)})
	if err != nil {
		return fmt.Errorf("server: egress: %w", err)
	}
	s.egress = g
	return nil
}

// outbound returns the transport of worker id's fetch(): the gateway with the worker's
// own policy (globalOutbound), or its tenant's default policy, or the server's default
// policy when it has neither. id is the stored worker's scoped id (requests are audited
// under it), or for a run or a session the tenant's prefix ("" or "acme~"): it tells the
// secrets and the policy of which tenant apply.
func (s *Server) outbound(id string, policy *egress.Policy) (http.RoundTripper, error) {
	g := s.egress
	if policy == nil {
		owner, _ := api.SplitScoped(id)
		if ts := s.tenant(owner); ts != nil {
			policy = ts.egress
		}
	}
	if policy != nil {
		var err error
		if g, err = s.egress.WithPolicy(policy); err != nil {
			return nil, err
		}
	}
	return workerTagged{rt: g, id: id}, nil
}

// workerTagged attributes every request to a stored worker id in the egress audit (the
// loader knows the worker under id@hash).
type workerTagged struct {
	rt http.RoundTripper
	id string
}

func (w workerTagged) RoundTrip(r *http.Request) (*http.Response, error) {
	return w.rt.RoundTrip(r.WithContext(fetchctx.WithWorker(r.Context(), w.id)))
}

// parsePolicy reads a worker's globalOutbound: null (or absent) or an egress policy.
func parsePolicy(raw json.RawMessage) (*egress.Policy, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	p, err := egress.ParsePolicy(raw)
	if err != nil {
		return nil, isoerr.New(isoerr.InvalidWorkerCode, "globalOutbound: %v", err)
	}
	return p, nil
}

// secretName is the {name} of a secret route, checked (api.CheckSecretName) and scoped to
// the request's tenant.
func secretName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := api.CheckSecretName(name); err != nil {
		return "", err
	}
	return principalOf(r).Scoped(name), nil
}

func (s *Server) handlePutSecret(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var body api.SecretValue
	if err := s.decodeJSON(w, r, &body, false, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	if body.Value == "" {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "secret value is empty"))
		return
	}
	if err := s.st.PutSecret(r.Context(), name, body.Value); err != nil {
		writeError(w, isoerr.New(isoerr.Internal, "%v", err))
		return
	}
	w.WriteHeader(http.StatusNoContent) // write-only: the value is never sent back
}

func (s *Server) handleDeleteSecret(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.st.DeleteSecret(r.Context(), name); err != nil {
		writeError(w, storeError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListSecrets(w http.ResponseWriter, r *http.Request) {
	list, err := s.st.ListSecrets(r.Context())
	if err != nil {
		writeError(w, isoerr.New(isoerr.Internal, "%v", err))
		return
	}
	out := api.SecretList{Secrets: []api.Secret{}}
	p := principalOf(r)
	for _, s := range list {
		if name, ok := owned(p, s.Name); ok {
			out.Secrets = append(out.Secrets, api.Secret{Name: name, UpdatedAt: s.UpdatedAt.Truncate(time.Second)})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleEgressAudit answers GET /v1/workers/{id}/egress: the worker's recent outbound
// decisions, newest first.
func (s *Server) handleEgressAudit(w http.ResponseWriter, r *http.Request) {
	id, err := workerID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, isoerr.New(isoerr.InvalidRequest, "limit must be a number from 1 to 10000, got %q", v))
			return
		}
		limit = n
	}
	if _, err := s.st.StatWorker(r.Context(), id); err != nil {
		writeError(w, storeError(err)) // the tenant's workers only; a deleted worker's entries are no longer shown
		return
	}
	out := api.EgressAudit{Entries: s.egress.Audit().Entries(id, limit)}
	if out.Entries == nil {
		out.Entries = []api.EgressEntry{}
	}
	writeJSON(w, http.StatusOK, out)
}

// egressCollector exports the gateway's counters to Prometheus.
type egressCollector struct{ g *egress.Gateway }

var (
	egressDecisions = prometheus.NewDesc("isobox_egress_requests_total", "Outbound requests (and redirect hops) by decision: allowed, denied, failed.", []string{"decision"}, nil)
	egressBytes     = prometheus.NewDesc("isobox_egress_bytes_total", "Outbound bytes by direction: in (responses), out (request bodies).", []string{"direction"}, nil)
	egressErrors    = prometheus.NewDesc("isobox_egress_errors_total", "Outbound requests that ended in an error, by code (denials included).", []string{"code"}, nil)
)

func (c egressCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- egressDecisions
	ch <- egressBytes
	ch <- egressErrors
}

func (c egressCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.g.Audit().Counters()
	ch <- prometheus.MustNewConstMetric(egressDecisions, prometheus.CounterValue, float64(n.Allowed), "allowed")
	ch <- prometheus.MustNewConstMetric(egressDecisions, prometheus.CounterValue, float64(n.Denied), "denied")
	ch <- prometheus.MustNewConstMetric(egressDecisions, prometheus.CounterValue, float64(n.Failed), "failed")
	ch <- prometheus.MustNewConstMetric(egressBytes, prometheus.CounterValue, float64(n.BytesIn), "in")
	ch <- prometheus.MustNewConstMetric(egressBytes, prometheus.CounterValue, float64(n.BytesOut), "out")
	for code, v := range n.Errors {
		ch <- prometheus.MustNewConstMetric(egressErrors, prometheus.CounterValue, float64(v), string(code))
	}
}
