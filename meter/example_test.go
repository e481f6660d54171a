package meter_test

import (
	"context"
	"fmt"
	"time"

	"github.com/isobox/isobox/meter"
)

func Example() {
	ctx := context.Background()
	m, err := meter.Open(ctx, meter.Options{}) // Path "" keeps the usage in memory
	if err != nil {
		panic(err)
	}
	defer m.Close(ctx)
	day := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for range 3 {
		m.Record(meter.Usage{Tenant: "acme", Worker: "hello", CodeHash: "sha256:ab", Time: day,
			Invocations: 1, CPU: 2 * time.Millisecond, Wall: 5 * time.Millisecond})
	}
	rows, err := m.Query(ctx, meter.Query{From: day, To: day, GroupBy: meter.ByDay})
	if err != nil {
		panic(err)
	}
	for _, r := range rows {
		fmt.Println(r.Tenant, r.Day, r.UniqueWorkers, r.Invocations, r.CPUMs)
	}
	rep, _ := m.Cost(ctx, meter.Query{From: day, To: day}, meter.CloudflarePrices)
	fmt.Printf("%.2f %s\n", rep.Total, rep.Currency) // inside the monthly allowances
	// Output:
	// acme 2026-12-02 1 3 6
	// 0.00 USD
}
