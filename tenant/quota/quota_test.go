package quota

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// clock is a settable time for the window tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)} }

// wantQuota asserts err is quota_exceeded naming quota, with a retry of retry seconds (-1:
// any positive).
func wantQuota(t *testing.T, err error, quota string, retry int64) {
	t.Helper()
	var e *isoerr.Error
	if !errors.As(err, &e) || e.Code != isoerr.QuotaExceeded || e.Quota != quota {
		t.Fatalf("err = %v, want quota_exceeded naming %s", err, quota)
	}
	if retry < 0 && e.RetryAfterSeconds <= 0 || retry >= 0 && e.RetryAfterSeconds != retry {
		t.Fatalf("RetryAfterSeconds = %d, want %d", e.RetryAfterSeconds, retry)
	}
}

// TestConcurrentNeverOverLimit: 200 goroutines acquire at once against a limit of 50, each
// holding its slot until every one has tried: exactly 50 get in, the other 150 are refused
// with the quota named, and the slots all come back.
func TestConcurrentNeverOverLimit(t *testing.T) {
	q := New(Limits{Concurrent: 50})
	var in, refused, peak, cur atomic.Int64
	var tried, wg sync.WaitGroup
	tried.Add(200)
	hold := make(chan struct{})
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := q.Acquire("t1")
			tried.Done()
			if err != nil {
				var e *isoerr.Error
				if !errors.As(err, &e) || e.Quota != Concurrent || e.RetryAfterSeconds != 1 {
					t.Errorf("refusal = %v", err)
				}
				refused.Add(1)
				return
			}
			in.Add(1)
			n := cur.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-hold
			cur.Add(-1)
			release()
		}()
	}
	tried.Wait()
	close(hold)
	wg.Wait()
	if in.Load() != 50 || refused.Load() != 150 || peak.Load() != 50 {
		t.Fatalf("admitted %d, refused %d, peak %d; want 50, 150, 50", in.Load(), refused.Load(), peak.Load())
	}
	if n := q.InFlight("t1"); n != 0 {
		t.Fatalf("in flight after release = %d", n)
	}
	// Another tenant has its own slots.
	if _, err := q.Acquire("t2"); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentChurn: many goroutines acquire and release in a loop; the observed number
// in flight never passes the limit.
func TestConcurrentChurn(t *testing.T) {
	q := New(Limits{Concurrent: 5})
	var cur, over atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				release, err := q.Acquire("t")
				if err != nil {
					continue
				}
				if cur.Add(1) > 5 {
					over.Add(1)
				}
				cur.Add(-1)
				release()
			}
		}()
	}
	wg.Wait()
	if over.Load() != 0 || q.InFlight("t") != 0 {
		t.Fatalf("over the limit %d times; in flight %d", over.Load(), q.InFlight("t"))
	}
}

func TestRatePerMinute(t *testing.T) {
	c := newClock()
	q := New(Limits{InvocationsPerMinute: 60}).WithClock(c.now)
	for i := range 60 { // the burst
		release, err := q.Acquire("t")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		release()
	}
	_, err := q.Acquire("t")
	wantQuota(t, err, InvocationsPerMinute, 1) // one token a second
	c.add(time.Second)
	if _, err := q.Acquire("t"); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	_, err = q.Acquire("t")
	wantQuota(t, err, InvocationsPerMinute, 1)
	if n := q.InFlight("t"); n != 1 {
		t.Fatalf("refusals took slots: in flight %d", n)
	}
}

func TestDailyQuotas(t *testing.T) {
	c := newClock() // 13:00 UTC: 11 hours to midnight
	q := New(Limits{CPUMsPerDay: 100, EgressBytesPerDay: 1000}).WithClock(c.now)
	q.Charge("t", 99*time.Millisecond, 0)
	if _, err := q.Acquire("t"); err != nil {
		t.Fatalf("under the CPU quota: %v", err)
	}
	q.Charge("t", 2*time.Millisecond, 0) // the call that crosses it finished
	_, err := q.Acquire("t")
	wantQuota(t, err, CPUMsPerDay, 11*3600)
	if err := q.CheckEgress("t"); err != nil {
		t.Fatal(err)
	}
	c.add(11 * time.Hour) // a new UTC day
	if _, err := q.Acquire("t"); err != nil {
		t.Fatalf("next day: %v", err)
	}
	q.Charge("t", 0, 1000)
	wantQuota(t, q.CheckEgress("t"), EgressBytesPerDay, 86400)
	_, err = q.Acquire("t")
	wantQuota(t, err, EgressBytesPerDay, 86400)
	if _, err := q.Acquire("other"); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
}

func TestUniqueWorkersPerDay(t *testing.T) {
	c := newClock()
	q := New(Limits{UniqueWorkersPerDay: 3}).WithClock(c.now)
	for _, k := range []string{"a@1", "b@1", "a@1", "a@1"} {
		if err := q.AdmitWorker("t", k); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if err := q.AdmitWorker("t", ""); err != nil { // a one-shot load: the third
		t.Fatal(err)
	}
	wantQuota(t, q.AdmitWorker("t", "a@2"), WorkersPerDay, 11*3600) // new code is a new worker
	wantQuota(t, q.AdmitWorker("t", ""), WorkersPerDay, -1)
	if err := q.AdmitWorker("t", "b@1"); err != nil { // seen today: still runs
		t.Fatal(err)
	}
	// Restored after a restart: the same day's workers count.
	q2 := New(Limits{UniqueWorkersPerDay: 3}).WithClock(c.now)
	q2.Restore("t", Day{Workers: []string{"a@1", "b@1"}, Loads: 1, CPU: time.Second})
	wantQuota(t, q2.AdmitWorker("t", "c@1"), WorkersPerDay, -1)
}

func TestCeilings(t *testing.T) {
	q := New(Limits{MemoryMBPerSandbox: 128, StorageBytes: 1 << 20})
	if err := q.CheckMemory("t", 128); err != nil {
		t.Fatal(err)
	}
	wantQuota(t, q.CheckMemory("t", 129), MemoryPerSandbox, 0)
	if err := q.CheckStorage("t", 1<<20-10, 10); err != nil {
		t.Fatal(err)
	}
	wantQuota(t, q.CheckStorage("t", 1<<20-10, 11), StorageBytes, 0)
	q.Set("t", Limits{}) // a tenant record with no limits
	if err := q.CheckMemory("t", 1<<20); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Limits
		ok   bool
	}{
		{`{"concurrentInvocations":50,"invocationsPerMinute":600,"cpuMsPerDay":1000000}`, Limits{Concurrent: 50, InvocationsPerMinute: 600, CPUMsPerDay: 1000000}, true},
		{`{}`, Limits{}, true},
		{`{"concurrent":5}`, Limits{}, false}, // misspelt: not silently unlimited
		{`{"storageBytes":-1}`, Limits{}, false},
		{`{"uniqueWorkersPerDay":"10"}`, Limits{}, false},
		{`{} {}`, Limits{}, false},
		{``, Limits{}, false},
	} {
		got, err := Parse([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%s) = %+v, %v", tc.in, got, err)
		}
		if err != nil && isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("Parse(%s) error code %q", tc.in, isoerr.CodeOf(err))
		}
	}
}

// BenchmarkWarmCall is the quota work of one warm invocation with every quota set: take a
// slot, admit a worker seen today, charge the CPU, give the slot back (target ≤ 2 µs).
func BenchmarkWarmCall(b *testing.B) {
	q := New(Limits{Concurrent: 1 << 30, InvocationsPerMinute: 1 << 40, CPUMsPerDay: 1 << 40,
		EgressBytesPerDay: 1 << 50, UniqueWorkersPerDay: 1 << 20})
	_ = q.AdmitWorker("default", "hello@sha256:abc")
	b.ReportAllocs()
	for b.Loop() {
		release, err := q.Acquire("default")
		if err != nil {
			b.Fatal(err)
		}
		if err := q.AdmitWorker("default", "hello@sha256:abc"); err != nil {
			b.Fatal(err)
		}
		q.Charge("default", 150*time.Microsecond, 0)
		release()
	}
}
