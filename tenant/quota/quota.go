// Package quota enforces per-tenant quotas on the invocation path: concurrent invocations,
// invocations per minute, CPU ms, egress bytes and unique workers per day, memory per
// sandbox (a ceiling) and storage bytes. Over a quota, an operation is refused with an
// isoerr.Error of code quota_exceeded that names the quota and says when to retry.
//
//	q := quota.New(quota.Limits{Concurrent: 50, InvocationsPerMinute: 600})
//	release, err := q.Acquire("default") // before running
//	if err != nil { return err }          // *isoerr.Error, Quota "concurrent_invocations", ...
//	defer release()
//	q.Charge("default", cpu, egressBytes) // after running
//
// Every check is in memory and costs well under a microsecond on a warm call
// (BenchmarkWarmCall). The daily counters are per UTC day; Restore seeds them after a
// restart from the usage the meter kept.
package quota

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// The quota names of Error.Quota, stable like error codes.
const (
	Concurrent           = "concurrent_invocations"
	InvocationsPerMinute = "invocations_per_minute"
	CPUMsPerDay          = "cpu_ms_per_day"
	MemoryPerSandbox     = "memory_mb_per_sandbox"
	StorageBytes         = "storage_bytes"
	EgressBytesPerDay    = "egress_bytes_per_day"
	WorkersPerDay        = "unique_workers_per_day"
)

// Limits are one tenant's quotas. A zero field is no limit. It is the JSON of a quota file
// (`isobox serve --quotas FILE`) and is meant to sit in a tenant's record.
type Limits struct {
	// Concurrent bounds the invocations in flight at once.
	Concurrent int64 `json:"concurrentInvocations,omitempty"`
	// InvocationsPerMinute is a token bucket: a burst of this many, refilled at this rate.
	InvocationsPerMinute int64 `json:"invocationsPerMinute,omitempty"`
	// CPUMsPerDay bounds the guest CPU of a UTC day: once used up, invocations are refused
	// until midnight UTC (the call that crosses it finishes).
	CPUMsPerDay int64 `json:"cpuMsPerDay,omitempty"`
	// MemoryMBPerSandbox is the ceiling of one sandbox's memory limit.
	MemoryMBPerSandbox int64 `json:"memoryMBPerSandbox,omitempty"`
	// StorageBytes bounds the bytes a tenant stores (worker code, workspaces).
	StorageBytes int64 `json:"storageBytes,omitempty"`
	// EgressBytesPerDay bounds outbound bytes (requests and responses) of a UTC day.
	EgressBytesPerDay int64 `json:"egressBytesPerDay,omitempty"`
	// UniqueWorkersPerDay bounds the distinct workers (id and code hash) loaded in a UTC
	// day; each one-shot load (/v1/run, Code Mode) is one.
	UniqueWorkersPerDay int64 `json:"uniqueWorkersPerDay,omitempty"`
}

// Validate reports a negative limit.
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{{Concurrent, l.Concurrent}, {InvocationsPerMinute, l.InvocationsPerMinute}, {CPUMsPerDay, l.CPUMsPerDay},
		{MemoryPerSandbox, l.MemoryMBPerSandbox}, {StorageBytes, l.StorageBytes}, {EgressBytesPerDay, l.EgressBytesPerDay},
		{WorkersPerDay, l.UniqueWorkersPerDay}} {
		if f.v < 0 {
			return isoerr.New(isoerr.InvalidRequest, "quota %s must not be negative, got %d", f.name, f.v)
		}
	}
	return nil
}

// Load reads Limits from a JSON file; unknown fields are an error (a misspelt quota must
// not silently mean "no limit").
func Load(path string) (Limits, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Limits{}, fmt.Errorf("quotas: %w", err)
	}
	return Parse(b)
}

// Parse reads Limits from JSON, strictly (see Load).
func Parse(b []byte) (Limits, error) {
	var l Limits
	if err := decodeStrict(b, &l); err != nil {
		return Limits{}, isoerr.New(isoerr.InvalidRequest, "quotas: %v", err)
	}
	if err := l.Validate(); err != nil {
		return Limits{}, err
	}
	return l, nil
}

// Enforcer holds every tenant's quotas and counters. It is safe for concurrent use.
type Enforcer struct {
	def     Limits
	tenants sync.Map // tenant id -> *tenant
	now     func() time.Time
}

// New returns an Enforcer whose tenants have the limits def until Set gives them their own.
func New(def Limits) *Enforcer {
	return &Enforcer{def: def, now: time.Now}
}

// WithClock returns e reading the time from now (tests); call it before any use.
func (e *Enforcer) WithClock(now func() time.Time) *Enforcer {
	e.now = now
	return e
}

// tenant is one tenant's state. inflight is atomic (the one check every call makes twice);
// the rest is under mu.
type tenant struct {
	lim      atomic.Pointer[Limits]
	inflight atomic.Int64

	mu      sync.Mutex
	tokens  float64   // invocations-per-minute bucket
	refill  time.Time // when tokens was last topped up
	day     int64     // the UTC day (Unix days) of the counters below
	cpuUs   int64
	egress  int64
	workers map[string]struct{} // worker keys loaded today
	loads   int64               // one-shot loads today
}

func (e *Enforcer) tenant(id string) *tenant {
	if t, ok := e.tenants.Load(id); ok {
		return t.(*tenant)
	}
	t := &tenant{workers: map[string]struct{}{}}
	lim := e.def
	t.lim.Store(&lim)
	actual, _ := e.tenants.LoadOrStore(id, t)
	return actual.(*tenant)
}

// Set gives tenant its own limits (a tenant record's quotas), from now on; calls in flight
// keep their slot.
func (e *Enforcer) Set(tenantID string, l Limits) {
	e.tenant(tenantID).lim.Store(&l)
}

// Limits returns tenant's limits.
func (e *Enforcer) Limits(tenantID string) Limits { return *e.tenant(tenantID).lim.Load() }

// Acquire takes an invocation slot for tenant, checking the concurrency, rate, daily CPU
// and daily egress quotas. release gives the slot back; call it once.
//
// # Errors
//
// An *isoerr.Error of code quota_exceeded naming the quota, with RetryAfterSeconds: 1 for
// concurrency, the time to the next token for the rate, the time to midnight UTC for the
// daily quotas. Nothing is taken when it fails.
func (e *Enforcer) Acquire(tenantID string) (release func(), err error) {
	t := e.tenant(tenantID)
	lim := t.lim.Load()
	if lim.Concurrent > 0 {
		if n := t.inflight.Add(1); n > lim.Concurrent {
			t.inflight.Add(-1)
			return nil, exceeded(Concurrent, tenantID, time.Second,
				"tenant %q has %d invocations in flight, its limit", tenantID, lim.Concurrent)
		}
	} else {
		t.inflight.Add(1)
	}
	if lim.InvocationsPerMinute > 0 || lim.CPUMsPerDay > 0 || lim.EgressBytesPerDay > 0 {
		if err := e.admitDaily(t, lim, tenantID); err != nil {
			t.inflight.Add(-1)
			return nil, err
		}
	}
	return func() { t.inflight.Add(-1) }, nil
}

// admitDaily checks the rate and the daily quotas, taking a token on success.
func (e *Enforcer) admitDaily(t *tenant, lim *Limits, tenantID string) error {
	now := e.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rollDay(now)
	if lim.CPUMsPerDay > 0 && t.cpuUs >= lim.CPUMsPerDay*1000 {
		return exceeded(CPUMsPerDay, tenantID, untilMidnight(now),
			"tenant %q used %d ms of CPU today, its limit is %d ms", tenantID, t.cpuUs/1000, lim.CPUMsPerDay)
	}
	if lim.EgressBytesPerDay > 0 && t.egress >= lim.EgressBytesPerDay {
		return exceeded(EgressBytesPerDay, tenantID, untilMidnight(now),
			"tenant %q sent and received %d outbound bytes today, its limit is %d", tenantID, t.egress, lim.EgressBytesPerDay)
	}
	if r := lim.InvocationsPerMinute; r > 0 {
		perSec := float64(r) / 60
		if t.refill.IsZero() {
			t.tokens, t.refill = float64(r), now
		} else if d := now.Sub(t.refill); d > 0 {
			t.tokens = min(float64(r), t.tokens+d.Seconds()*perSec)
			t.refill = now
		}
		if t.tokens < 1 {
			wait := time.Duration((1 - t.tokens) / perSec * float64(time.Second))
			return exceeded(InvocationsPerMinute, tenantID, wait,
				"tenant %q is over its %d invocations per minute", tenantID, r)
		}
		t.tokens--
	}
	return nil
}

// AdmitWorker counts worker (its id and code hash, e.g. "hello@sha256:…") as loaded today
// by tenant, or refuses it when it is new today and the tenant's unique-worker quota is
// used up. A worker seen today is always admitted. key "" is a one-shot load (/v1/run, Code
// Mode, a snippet), which is always new.
//
// # Errors
//
// quota_exceeded naming unique_workers_per_day, retry at midnight UTC.
func (e *Enforcer) AdmitWorker(tenantID, key string) error {
	t := e.tenant(tenantID)
	lim := t.lim.Load().UniqueWorkersPerDay
	now := e.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rollDay(now)
	if key != "" {
		if _, ok := t.workers[key]; ok {
			return nil
		}
	}
	if lim > 0 && int64(len(t.workers))+t.loads >= lim {
		return exceeded(WorkersPerDay, tenantID, untilMidnight(now),
			"tenant %q loaded %d unique workers today, its limit", tenantID, lim)
	}
	if key == "" {
		t.loads++
	} else {
		t.workers[key] = struct{}{}
	}
	return nil
}

// Charge adds an invocation's CPU time and outbound bytes to tenant's day.
func (e *Enforcer) Charge(tenantID string, cpu time.Duration, egressBytes int64) {
	if cpu <= 0 && egressBytes <= 0 {
		return
	}
	t := e.tenant(tenantID)
	now := e.now()
	t.mu.Lock()
	t.rollDay(now)
	t.cpuUs += cpu.Microseconds()
	t.egress += egressBytes
	t.mu.Unlock()
}

// CheckEgress refuses an outbound request of tenant once its egress quota of the day is
// used up (the request that crosses it goes out whole).
func (e *Enforcer) CheckEgress(tenantID string) error {
	t := e.tenant(tenantID)
	lim := t.lim.Load().EgressBytesPerDay
	if lim <= 0 {
		return nil
	}
	now := e.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rollDay(now)
	if t.egress >= lim {
		return exceeded(EgressBytesPerDay, tenantID, untilMidnight(now),
			"tenant %q sent and received %d outbound bytes today, its limit is %d", tenantID, t.egress, lim)
	}
	return nil
}

// CheckMemory refuses a sandbox memory limit (MiB) above tenant's ceiling.
func (e *Enforcer) CheckMemory(tenantID string, memoryMB int64) error {
	lim := e.tenant(tenantID).lim.Load().MemoryMBPerSandbox
	if lim > 0 && memoryMB > lim {
		return exceeded(MemoryPerSandbox, tenantID, 0,
			"a sandbox of tenant %q may have at most %d MiB of memory, %d asked", tenantID, lim, memoryMB)
	}
	return nil
}

// CheckStorage refuses a write of adding bytes when tenant already stores used bytes and
// the sum would pass its storage quota.
func (e *Enforcer) CheckStorage(tenantID string, used, adding int64) error {
	lim := e.tenant(tenantID).lim.Load().StorageBytes
	if lim > 0 && adding > 0 && used+adding > lim {
		return exceeded(StorageBytes, tenantID, 0,
			"tenant %q stores %d bytes; %d more would pass its quota of %d", tenantID, used, adding, lim)
	}
	return nil
}

// Day is what a tenant used in a UTC day, as Restore takes it back.
type Day struct {
	CPU         time.Duration
	EgressBytes int64
	Workers     []string // worker keys loaded
	Loads       int64    // one-shot loads
}

// Restore seeds tenant's counters of today with the usage recorded before a restart (from
// the meter), so that a restart does not reset the daily quotas.
func (e *Enforcer) Restore(tenantID string, d Day) {
	t := e.tenant(tenantID)
	now := e.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rollDay(now)
	t.cpuUs += d.CPU.Microseconds()
	t.egress += d.EgressBytes
	t.loads += d.Loads
	for _, w := range d.Workers {
		t.workers[w] = struct{}{}
	}
}

// InFlight returns tenant's invocations in flight.
func (e *Enforcer) InFlight(tenantID string) int64 { return e.tenant(tenantID).inflight.Load() }

// rollDay resets the daily counters when now is in a later UTC day; t.mu is held.
func (t *tenant) rollDay(now time.Time) {
	d := now.Unix() / 86400
	if d == t.day {
		return
	}
	t.day, t.cpuUs, t.egress, t.loads = d, 0, 0, 0
	clear(t.workers)
}

func untilMidnight(now time.Time) time.Duration {
	next := (now.Unix()/86400 + 1) * 86400
	return time.Unix(next, 0).Sub(now)
}

// exceeded is the error of an exceeded quota; retry is rounded up to whole seconds (at
// least 1 when there is one).
func exceeded(quota, tenantID string, retry time.Duration, format string, args ...any) *isoerr.Error {
	e := isoerr.New(isoerr.QuotaExceeded, format, args...)
	e.Quota = quota
	if retry > 0 {
		e.RetryAfterSeconds = int64((retry + time.Second - 1) / time.Second)
		e.Message += fmt.Sprintf(" (quota %s; retry in %d s)", quota, e.RetryAfterSeconds)
	} else {
		e.Message += fmt.Sprintf(" (quota %s)", quota)
	}
	return e
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}
