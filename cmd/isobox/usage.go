package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/isobox/isobox/client"
)

const usageUsage = `isobox usage [--from DAY] [--to DAY] [--tenant T] [--by day|worker] [--cost] [--json]

Prints a server's usage records: unique workers, invocations, CPU and wall ms, egress bytes
and storage byte-days per tenant and UTC day (--by worker: per worker version), or with
--cost what they cost under the server's price sheet. Days are YYYY-MM-DD, both included;
the default is this month. --tenant T: tenant T's usage only (a tenant's own key always sees
its own; without --tenant the operator's key sees every tenant's).`

// cmdUsage is `isobox usage`: GET /v1/usage or /v1/usage/cost, as a table or JSON.
func cmdUsage(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("usage", flag.ContinueOnError)
	var r remote
	r.register(fs)
	var o client.UsageOptions
	fs.StringVar(&o.From, "from", "", "first UTC day, YYYY-MM-DD (default: the first of the month)")
	fs.StringVar(&o.To, "to", "", "last UTC day, included (default: today)")
	fs.StringVar(&o.GroupBy, "by", "day", "group rows by day or worker")
	cost := fs.Bool("cost", false, "print the cost per tenant and day under the server's price sheet")
	if _, code, ok := parseRemote(fs, args, 0, usageUsage, stderr); !ok {
		return code
	}
	o.Tenant = r.tenant // --tenant: that tenant's usage; without it the operator's key sees every tenant's
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if *cost {
		if o.GroupBy == "day" {
			o.GroupBy = ""
		}
		rep, err := c.UsageCost(ctx, o)
		if err != nil {
			return fail(stderr, r.server, err)
		}
		if r.jsonOut {
			printJSONLine(stdout, rep)
			return 0
		}
		fmt.Fprintf(tw, "TENANT\tDAY\tUNIQUE WORKERS\tINVOCATIONS\tCPU MS\tWORKERS %s\tINVOCATIONS %s\tCPU %s\tTOTAL %s\n",
			rep.Currency, rep.Currency, rep.Currency, rep.Currency)
		for _, x := range rep.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.4f\t%.4f\t%.4f\t%.4f\n", x.Tenant, x.Day, x.UniqueWorkers, x.Invocations, x.CPUMs,
				x.UniqueWorkersCost, x.InvocationsCost, x.CPUCost, x.Total)
		}
		fmt.Fprintf(tw, "\t\t\t\t\t\t\t\t%.4f\n", rep.Total)
		tw.Flush()
		fmt.Fprintf(stdout, "prices: %s\n", rep.Source)
		return 0
	}
	rep, err := c.Usage(ctx, o)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	if r.jsonOut {
		printJSONLine(stdout, rep)
		return 0
	}
	first := "DAY"
	if rep.GroupBy == "worker" {
		first = "WORKER\tCODE HASH"
	}
	fmt.Fprintf(tw, "TENANT\t%s\tUNIQUE WORKERS\tINVOCATIONS\tCPU MS\tWALL MS\tEGRESS BYTES\tSTORAGE BYTE-DAYS\n", first)
	for _, x := range rep.Rows {
		key := x.Day
		if rep.GroupBy == "worker" {
			w := x.Worker
			if w == "" {
				w = "(one-shot loads, storage)"
			}
			key = w + "\t" + x.CodeHash
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.1f\t%d\t%.0f\n", x.Tenant, key, x.UniqueWorkers, x.Invocations, x.CPUMs, x.WallMs, x.EgressBytes, x.StorageByteDays)
	}
	return 0
}
