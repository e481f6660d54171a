package meter

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// GroupBy is how Query groups rows.
type GroupBy string

const (
	// ByDay: one row per tenant and UTC day.
	ByDay GroupBy = "day"
	// ByWorker: one row per tenant and worker version over the whole range.
	ByWorker GroupBy = "worker"
)

// Query selects usage: UTC days From to To (both included), one tenant or all ("").
type Query struct {
	From, To time.Time
	Tenant   string
	GroupBy  GroupBy
}

// ParseDay reads a UTC day: YYYY-MM-DD, or an RFC 3339 time (its UTC day).
func ParseDay(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Truncate(24 * time.Hour), nil
	}
	return time.Time{}, isoerr.New(isoerr.InvalidRequest, "%q is not a day (YYYY-MM-DD) or an RFC 3339 time", s)
}

// Query writes what is pending, then returns the usage q selects, ordered by tenant and
// then day or worker.
//
// # Errors
//
// invalid_request when GroupBy is not day or worker or From is after To; the database's
// error otherwise.
func (m *Meter) Query(ctx context.Context, q Query) ([]api.UsageRow, error) {
	if q.GroupBy == "" {
		q.GroupBy = ByDay
	}
	if q.GroupBy != ByDay && q.GroupBy != ByWorker {
		return nil, isoerr.New(isoerr.InvalidRequest, "groupBy must be day or worker, got %q", q.GroupBy)
	}
	from, to := day(q.From), day(q.To)
	if from > to {
		return nil, isoerr.New(isoerr.InvalidRequest, "from (%s) is after to (%s)", from, to)
	}
	if err := m.Flush(ctx); err != nil {
		return nil, err
	}
	// A (worker, code hash) row is one unique worker for its day; worker "" rows hold the
	// one-shot loads, each a unique worker, and the storage.
	sums := `SUM(invocations), SUM(cpu_us), SUM(wall_us), SUM(egress_bytes), SUM(storage_byte_seconds)`
	var sel, group string
	switch q.GroupBy {
	case ByDay:
		sel = `tenant, day, '', '', SUM(CASE WHEN worker <> '' THEN 1 ELSE loads END), ` + sums
		group = `GROUP BY tenant, day ORDER BY tenant, day`
	case ByWorker:
		sel = `tenant, '', worker, code_hash, SUM(CASE WHEN worker <> '' THEN 1 ELSE loads END), ` + sums
		group = `GROUP BY tenant, worker, code_hash ORDER BY tenant, worker, code_hash`
	}
	where := []string{"day >= ?", "day <= ?"}
	args := []any{from, to}
	if q.Tenant != "" {
		where = append(where, "tenant = ?")
		args = append(args, q.Tenant)
	}
	rows, err := m.db.QueryContext(ctx, "SELECT "+sel+" FROM usage WHERE "+strings.Join(where, " AND ")+" "+group, args...)
	if err != nil {
		return nil, fmt.Errorf("meter: query: %w", err)
	}
	defer rows.Close()
	out := []api.UsageRow{}
	for rows.Next() {
		var r api.UsageRow
		var cpuUs, wallUs int64
		var storage float64
		if err := rows.Scan(&r.Tenant, &r.Day, &r.Worker, &r.CodeHash, &r.UniqueWorkers, &r.Invocations, &cpuUs, &wallUs, &r.EgressBytes, &storage); err != nil {
			return nil, fmt.Errorf("meter: query: %w", err)
		}
		r.CPUMs, r.WallMs, r.StorageByteDays = float64(cpuUs)/1000, float64(wallUs)/1000, storage/86400
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meter: query: %w", err)
	}
	return out, nil
}

// DayUsage is one tenant's usage in one day, as the quotas need it after a restart.
type DayUsage struct {
	CPU         time.Duration
	EgressBytes int64
	Workers     [][2]string // (worker, code hash) pairs loaded
	Loads       int64       // one-shot loads
}

// Day returns every tenant's usage in the UTC day of t (what is pending included).
func (m *Meter) Day(ctx context.Context, t time.Time) (map[string]*DayUsage, error) {
	if err := m.Flush(ctx); err != nil {
		return nil, err
	}
	rows, err := m.db.QueryContext(ctx, `SELECT tenant, worker, code_hash, loads, cpu_us, egress_bytes FROM usage WHERE day = ?`, day(t))
	if err != nil {
		return nil, fmt.Errorf("meter: day: %w", err)
	}
	defer rows.Close()
	out := map[string]*DayUsage{}
	for rows.Next() {
		var tenant, worker, hash string
		var loads, cpuUs, egress int64
		if err := rows.Scan(&tenant, &worker, &hash, &loads, &cpuUs, &egress); err != nil {
			return nil, fmt.Errorf("meter: day: %w", err)
		}
		d := out[tenant]
		if d == nil {
			d = &DayUsage{}
			out[tenant] = d
		}
		d.CPU += time.Duration(cpuUs) * time.Microsecond
		d.EgressBytes += egress
		d.Loads += loads
		if worker != "" {
			d.Workers = append(d.Workers, [2]string{worker, hash})
		}
	}
	return out, rows.Err()
}

// day is t's UTC day as YYYY-MM-DD.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
