package meter

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

var (
	d1 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	d2 = time.Date(2026, 12, 2, 23, 59, 59, 0, time.UTC)
)

func open(t *testing.T, path string) *Meter {
	t.Helper()
	m, err := Open(context.Background(), Options{Path: path, FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func call(tenant, worker, hash string, at time.Time) Usage {
	return Usage{Tenant: tenant, Worker: worker, CodeHash: hash, Time: at, Invocations: 1,
		CPU: 2 * time.Millisecond, Wall: 3 * time.Millisecond}
}

// record is the usage of the query tests: tenant a runs hello (two versions) and one-shot
// loads over two days, tenant b once.
func record(m *Meter) {
	for range 3 {
		m.Record(call("a", "hello", "sha256:1", d1))
	}
	m.Record(call("a", "hello", "sha256:2", d1))
	m.Record(Usage{Tenant: "a", Time: d1, Loads: 2, Invocations: 2, CPU: time.Millisecond})
	m.Record(Usage{Tenant: "a", Worker: "hello", CodeHash: "sha256:1", Time: d1, EgressBytes: 500})
	m.Record(call("a", "hello", "sha256:2", d2))
	m.Record(Usage{Tenant: "a", Time: d2, StorageByteSeconds: 86400 * 1000})
	m.Record(call("b", "other", "sha256:9", d2))
}

func TestQuery(t *testing.T) {
	ctx := context.Background()
	m := open(t, filepath.Join(t.TempDir(), "usage.db"))
	record(m)
	rows, err := m.Query(ctx, Query{From: d1, To: d2, GroupBy: ByDay})
	if err != nil {
		t.Fatal(err)
	}
	want := []api.UsageRow{
		{Tenant: "a", Day: "2026-12-01", UniqueWorkers: 4, Invocations: 6, CPUMs: 9, WallMs: 12, EgressBytes: 500},
		{Tenant: "a", Day: "2026-12-02", UniqueWorkers: 1, Invocations: 1, CPUMs: 2, WallMs: 3, StorageByteDays: 1000},
		{Tenant: "b", Day: "2026-12-02", UniqueWorkers: 1, Invocations: 1, CPUMs: 2, WallMs: 3},
	}
	assertRows(t, rows, want)

	rows, err = m.Query(ctx, Query{From: d1, To: d2, Tenant: "a", GroupBy: ByWorker})
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, rows, []api.UsageRow{
		{Tenant: "a", UniqueWorkers: 2, Invocations: 2, CPUMs: 1, StorageByteDays: 1000},
		{Tenant: "a", Worker: "hello", CodeHash: "sha256:1", UniqueWorkers: 1, Invocations: 3, CPUMs: 6, WallMs: 9, EgressBytes: 500},
		{Tenant: "a", Worker: "hello", CodeHash: "sha256:2", UniqueWorkers: 2, Invocations: 2, CPUMs: 4, WallMs: 6},
	})

	rows, err = m.Query(ctx, Query{From: d2, To: d2, Tenant: "b"})
	if err != nil || len(rows) != 1 || rows[0].Tenant != "b" {
		t.Fatalf("one day, one tenant: %+v, %v", rows, err)
	}
	if rows, err := m.Query(ctx, Query{From: d1, To: d2, Tenant: "nobody"}); err != nil || len(rows) != 0 {
		t.Fatalf("unknown tenant: %+v, %v", rows, err)
	}
}

func TestQueryBadInput(t *testing.T) {
	m := open(t, "")
	m.Record(call("a", "w", "h", d1))
	for _, q := range []Query{{From: d1, To: d2, GroupBy: "month"}, {From: d2, To: d1}} {
		if _, err := m.Query(context.Background(), q); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("%+v: err = %v, want invalid_request", q, err)
		}
	}
	for _, s := range []string{"", "2026-13-01", "yesterday", "2026-12-02'; DROP TABLE usage;--"} {
		if _, err := ParseDay(s); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("ParseDay(%q) = %v", s, err)
		}
	}
	if d, err := ParseDay("2026-12-02T23:30:00-02:00"); err != nil || day(d) != "2026-12-03" {
		t.Errorf("RFC 3339 = %v, %v", d, err)
	}
	// Nothing was lost by the refused queries.
	rows, err := m.Query(context.Background(), Query{From: d1, To: d1})
	if err != nil || len(rows) != 1 || rows[0].Invocations != 1 {
		t.Fatalf("after bad queries: %+v, %v", rows, err)
	}
}

// TestSurvivesRestart: usage recorded, the meter closed and opened again on its file, the
// same rows; more usage adds to them.
func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usage.db")
	m, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	record(m)
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m2 := open(t, path)
	m2.Record(call("b", "other", "sha256:9", d2))
	rows, err := m2.Query(ctx, Query{From: d1, To: d2, Tenant: "b"})
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, rows, []api.UsageRow{{Tenant: "b", Day: "2026-12-02", UniqueWorkers: 1, Invocations: 2, CPUMs: 4, WallMs: 6}})
}

const childEnv = "ISOBOX_METER_TEST_CHILD"

// TestSurvivesSIGKILL: a child process records invocations without stopping and reports
// each thousand; once the writer has stored some without a Flush or Close, the child is
// killed with SIGKILL. The database opens, holds at least what was seen stored before the
// kill and no more than was recorded, and every row is whole (each invocation carries 1 ms
// of CPU: a torn batch would break cpu = invocations).
func TestSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		return // the child runs from TestMain
	}
	path := filepath.Join(t.TempDir(), "usage.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	recorded := int64(0)
	var seen int64
	deadline := time.Now().Add(3 * time.Minute)
	for seen == 0 || recorded < seen+5000 {
		if !lines.Scan() {
			t.Fatalf("child ended: %v", lines.Err())
		}
		recorded, _ = strconv.ParseInt(lines.Text(), 10, 64)
		if seen == 0 && recorded%10000 == 0 {
			seen = stored(t, path)
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer stored nothing in 3 minutes")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for lines.Scan() { // what the child reported before it died
		recorded, _ = strconv.ParseInt(lines.Text(), 10, 64)
	}
	m := open(t, path)
	rows, err := m.Query(context.Background(), Query{From: d1, To: d1, GroupBy: ByWorker})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("rows = %+v", rows)
	}
	got := rows[0].Invocations
	if got < seen || got > recorded+1000 {
		t.Fatalf("after SIGKILL: %d invocations stored; %d were seen stored before, %d recorded", got, seen, recorded)
	}
	if rows[0].CPUMs != float64(got) {
		t.Fatalf("torn batch: %d invocations but %v ms of CPU", got, rows[0].CPUMs)
	}
	t.Logf("recorded %d, stored %d before the kill, %d after", recorded, seen, got)
}

// stored reads the invocations in path with a connection of its own (0 while none).
func stored(t *testing.T, path string) int64 {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n sql.NullInt64
	_ = db.QueryRow(`SELECT SUM(invocations) FROM usage`).Scan(&n)
	return n.Int64
}

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		mt, err := Open(context.Background(), Options{Path: path, FlushInterval: 10 * time.Millisecond})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for i := int64(1); ; i++ {
			mt.Record(Usage{Tenant: "t", Worker: "w", CodeHash: "h", Time: d1, Invocations: 1, CPU: time.Millisecond})
			if i%1000 == 0 {
				fmt.Println(i)
				time.Sleep(time.Millisecond)
			}
		}
	}
	os.Exit(m.Run())
}

func TestCost(t *testing.T) {
	ctx := context.Background()
	m := open(t, "")
	// 1,500 unique workers on Dec 1 (1,000 free), then 5 on Dec 2; 12M invocations on Dec 1
	// (10M free) with 40M CPU ms (30M free).
	m.Record(Usage{Tenant: "a", Time: d1, Loads: 1500, Invocations: 12_000_000, CPU: 40_000_000 * time.Millisecond})
	m.Record(Usage{Tenant: "a", Time: d2, Loads: 5, Invocations: 1_000_000, CPU: time.Millisecond,
		EgressBytes: 2e9, StorageByteSeconds: 1e9 * 86400 * 30})
	m.Record(Usage{Tenant: "b", Time: d2, Loads: 5})
	p := CloudflarePrices
	p.EgressPerGB, p.StoragePerGBMonth = 0.1, 1
	rep, err := m.Cost(ctx, Query{From: d1, To: d2}, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		tenant, day                  string
		workers, inv, cpu, eg, total float64
	}{
		{"a", "2026-12-01", 500 * 0.002, 2 * 0.30, 10 * 0.02, 0, 1 + 0.6 + 0.2},
		{"a", "2026-12-02", 5 * 0.002, 0.30, 0.00000002, 0.2, 0.01 + 0.3 + 0.00000002 + 0.2 + 1},
		{"b", "2026-12-02", 0, 0, 0, 0, 0},
	}
	if len(rep.Rows) != len(want) || rep.Currency != "USD" || rep.Source == "" {
		t.Fatalf("report = %+v", rep)
	}
	for i, w := range want {
		r := rep.Rows[i]
		if r.Tenant != w.tenant || r.Day != w.day || !near(r.UniqueWorkersCost, w.workers) || !near(r.InvocationsCost, w.inv) ||
			!near(r.CPUCost, w.cpu) || !near(r.EgressCost, w.eg) || !near(r.Total, w.total) {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}
	// From mid-month: the allowance was used up by the days before, which are not shown.
	rep, err = m.Cost(ctx, Query{From: d2, To: d2, Tenant: "a"}, p)
	if err != nil || len(rep.Rows) != 1 || !near(rep.Rows[0].UniqueWorkersCost, 0.01) || !near(rep.Total, want[1].total) {
		t.Fatalf("mid-month: %+v, %v", rep, err)
	}
}

func TestLoadPriceSheet(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"uniqueWorkerDay":0.001,"requestsPerMillion":0.5}`, true},
		{`{"uniqueWorkerDay":-1}`, false},
		{`{"unique_worker_day":1}`, false},
		{`[1]`, false},
	} {
		p := filepath.Join(dir, "p.json")
		os.WriteFile(p, []byte(tc.body), 0o600)
		sheet, err := LoadPriceSheet(p)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %+v, %v", tc.body, sheet, err)
		}
		if tc.ok && (sheet.Currency != "USD" || sheet.Source != p) {
			t.Errorf("%s: defaults %+v", tc.body, sheet)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func assertRows(t *testing.T, got, want []api.UsageRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("rows = %+v\nwant %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("row %d = %+v\nwant   %+v", i, got[i], want[i])
		}
	}
}

// BenchmarkRecord is the meter's cost on a warm call: one invocation added in memory.
func BenchmarkRecord(b *testing.B) {
	m, err := Open(context.Background(), Options{Path: filepath.Join(b.TempDir(), "usage.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	u := Usage{Tenant: "default", Worker: "hello", CodeHash: "sha256:abc", Invocations: 1, CPU: 150 * time.Microsecond, Wall: 200 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		u.Time = time.Time{}
		m.Record(u)
	}
}
