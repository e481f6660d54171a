package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/tenant/quota"
)

const tenantsUsage = `Usage (the operator's key, ISOBOX_API_KEY of isobox serve):
  isobox tenants list                 list the tenants
  isobox tenants get NAME             print a tenant and its settings
  isobox tenants put NAME [flags]     create a tenant or replace its settings
  isobox tenants rm NAME              delete a tenant and its keys (it must own no objects)

Act for a tenant with --tenant NAME on any other command (workers, ws, keys ...).
`

func cmdTenants(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, tenantsUsage)
		return 2
	}
	switch args[0] {
	case "list", "ls":
		return cmdTenantsList(ctx, args[1:], stdout, stderr)
	case "get":
		return cmdTenantsGet(ctx, args[1:], stdout, stderr)
	case "put":
		return cmdTenantsPut(ctx, args[1:], stdout, stderr)
	case "rm", "delete":
		return cmdTenantsRm(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, tenantsUsage)
		return 0
	}
	fmt.Fprintf(stderr, "isobox: unknown tenants command %q\n\n%s", args[0], tenantsUsage)
	return 2
}

func cmdTenantsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tenants list", flag.ContinueOnError)
	var r remote
	r.register(fs)
	if _, code, ok := parseRemote(fs, args, 0, "isobox tenants list [--json]", stderr); !ok {
		return code
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	list, err := c.ListTenants(ctx)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	if r.jsonOut {
		printJSONLine(stdout, list)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCEILING\tQUOTAS\tEGRESS\tALLOW PRIVATE\tCREATED")
	for _, t := range list {
		egress := "server's"
		if len(t.Egress) > 0 {
			egress = "own"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", t.Name, ceiling(t.Ceiling), quotas(t.Quotas), egress, t.AllowPrivate, t.CreatedAt.Local().Format(time.DateTime))
	}
	tw.Flush()
	return 0
}

// ceiling shows a tenant's ceiling on limits.
func ceiling(l *api.Limits) string {
	if l == nil {
		return "-"
	}
	var parts []string
	for _, f := range []struct {
		name string
		v    int
	}{{"cpuMs", l.CPUMs}, {"wallMs", l.WallMs}, {"memoryMb", l.MemoryMB}, {"subRequests", l.SubRequests}} {
		if f.v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", f.name, f.v))
		}
	}
	return strings.Join(parts, ",")
}

// quotas shows a tenant's own quotas by their JSON names; "server's" when it has none
// (the server's --quotas apply).
func quotas(q *api.Quotas) string {
	if q == nil {
		return "server's"
	}
	var parts []string
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"concurrentInvocations", q.Concurrent}, {"invocationsPerMinute", q.InvocationsPerMinute},
		{"cpuMsPerDay", q.CPUMsPerDay}, {"memoryMBPerSandbox", q.MemoryMBPerSandbox},
		{"storageBytes", q.StorageBytes}, {"egressBytesPerDay", q.EgressBytesPerDay},
		{"uniqueWorkersPerDay", q.UniqueWorkersPerDay},
	} {
		if f.v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", f.name, f.v))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

func cmdTenantsGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tenants get", flag.ContinueOnError)
	var r remote
	r.register(fs)
	pos, code, ok := parseRemote(fs, args, 1, "isobox tenants get NAME", stderr)
	if !ok {
		return code
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	t, err := c.GetTenant(ctx, pos[0])
	if err != nil {
		return fail(stderr, r.server, err)
	}
	printJSON(stdout, t)
	return 0
}

func cmdTenantsPut(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tenants put", flag.ContinueOnError)
	var r remote
	r.register(fs)
	var lim api.Limits
	fs.IntVar(&lim.CPUMs, "ceiling-cpu-ms", 0, "the highest CPU limit per invocation the tenant's keys may set (0: the server's)")
	fs.IntVar(&lim.WallMs, "ceiling-wall-ms", 0, "the highest wall-time limit the tenant's keys may set (0: the server's)")
	fs.IntVar(&lim.MemoryMB, "ceiling-memory-mb", 0, "the highest memory limit in MiB the tenant's keys may set (0: the server's)")
	fs.IntVar(&lim.SubRequests, "ceiling-subrequests", 0, "the most subrequests per invocation the tenant's keys may set (0: the server's)")
	egressFile := fs.String("egress", "", `the tenant's default egress policy, a JSON file ("-": stdin); none: the server's`)
	allowPrivate := fs.Bool("allow-private", false, "let the tenant's keys set allowPrivate in an egress rule")
	quotaFile := fs.String("quotas", "", "the tenant's own quotas, a JSON file as for isobox serve --quotas; none: the server's")
	pos, code, ok := parseRemote(fs, args, 1, "isobox tenants put NAME [flags]\n\nCreates tenant NAME, or replaces all its settings with the flags given.", stderr)
	if !ok {
		return code
	}
	set := api.TenantSettings{AllowPrivate: *allowPrivate}
	if lim != (api.Limits{}) {
		set.Ceiling = &lim
	}
	if *egressFile != "" {
		var b []byte
		var err error
		if *egressFile == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(*egressFile)
		}
		if err != nil {
			fmt.Fprintf(stderr, "isobox: %v\n", err)
			return 2
		}
		if !json.Valid(b) {
			fmt.Fprintf(stderr, "isobox: %s is not JSON\n", *egressFile)
			return 2
		}
		set.Egress = b
	}
	if *quotaFile != "" {
		q, err := quota.Load(*quotaFile)
		if err != nil {
			fmt.Fprintf(stderr, "isobox: --quotas: %v\n", err)
			return 2
		}
		set.Quotas = (*api.Quotas)(&q)
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	t, err := c.PutTenant(ctx, pos[0], set)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	if r.jsonOut {
		printJSONLine(stdout, t)
		return 0
	}
	fmt.Fprintf(stdout, "stored tenant %s\n", t.Name)
	return 0
}

func cmdTenantsRm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return removeOne(args, stdout, stderr, "tenants rm", "isobox tenants rm NAME", "deleted tenant",
		func(c *client.Client, name string) error { return c.DeleteTenant(ctx, name) })
}

const keysUsage = `Usage (a key with scope admin, or the operator's with --tenant):
  isobox keys list                                   list the tenant's keys (never the keys themselves)
  isobox keys create [--name N] [--scopes S] [--expires D]
                                                     make a key; it is printed once
  isobox keys revoke ID                              refuse key ID from now on
  isobox keys rotate ID                              give key ID a new secret (printed once)
`

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	switch args[0] {
	case "list", "ls":
		return cmdKeysList(ctx, args[1:], stdout, stderr)
	case "create":
		return cmdKeysCreate(ctx, args[1:], stdout, stderr)
	case "revoke", "rm":
		return cmdKeysRevoke(ctx, args[1:], stdout, stderr)
	case "rotate":
		return cmdKeysRotate(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return 0
	}
	fmt.Fprintf(stderr, "isobox: unknown keys command %q\n\n%s", args[0], keysUsage)
	return 2
}

func cmdKeysList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys list", flag.ContinueOnError)
	var r remote
	r.register(fs)
	if _, code, ok := parseRemote(fs, args, 0, "isobox keys list [--json]", stderr); !ok {
		return code
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	list, err := c.ListKeys(ctx)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	if r.jsonOut {
		printJSONLine(stdout, list)
		return 0
	}
	when := func(t *time.Time, none string) string {
		if t == nil {
			return none
		}
		return t.Local().Format(time.DateTime)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tEXPIRES\tLAST USED\tREVOKED")
	for _, k := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), when(k.ExpiresAt, "never"),
			when(k.LastUsedAt, "-"), when(k.RevokedAt, "-"))
	}
	tw.Flush()
	return 0
}

// printNewKey prints a key made or rotated: the key alone on stdout (for a script to
// capture), what it is on stderr.
func printNewKey(r remote, k *api.NewKey, stdout, stderr io.Writer) {
	if r.jsonOut {
		printJSONLine(stdout, k)
		return
	}
	exp := "never"
	if k.ExpiresAt != nil {
		exp = k.ExpiresAt.Local().Format(time.DateTime)
	}
	fmt.Fprintf(stderr, "key %s of tenant %s, scopes %s, expires %s; shown once, only its hash is stored:\n",
		k.ID, k.Tenant, strings.Join(k.Scopes, ","), exp)
	fmt.Fprintln(stdout, k.Secret)
}

func cmdKeysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	var r remote
	r.register(fs)
	name := fs.String("name", "", "a label for the key")
	scopes := fs.String("scopes", "read,invoke", "what the key may do, comma-separated: admin, deploy, invoke, read")
	expires := fs.String("expires", "", "when the key stops working: a duration from now (720h) or a time (RFC 3339); none: never")
	if _, code, ok := parseRemote(fs, args, 0, "isobox keys create [--name N] [--scopes read,invoke] [--expires 720h]", stderr); !ok {
		return code
	}
	opts := client.KeyOptions{Name: *name, Scopes: strings.Split(*scopes, ",")}
	if *expires != "" {
		if d, err := time.ParseDuration(*expires); err == nil {
			opts.ExpiresAt = time.Now().Add(d)
		} else if t, err := time.Parse(time.RFC3339, *expires); err == nil {
			opts.ExpiresAt = t
		} else {
			fmt.Fprintf(stderr, "isobox: --expires %q is neither a duration (720h) nor an RFC 3339 time\n", *expires)
			return 2
		}
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	k, err := c.CreateKey(ctx, opts)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	printNewKey(r, k, stdout, stderr)
	return 0
}

func cmdKeysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return removeOne(args, stdout, stderr, "keys revoke", "isobox keys revoke ID", "revoked key",
		func(c *client.Client, id string) error { return c.RevokeKey(ctx, id) })
}

func cmdKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	var r remote
	r.register(fs)
	pos, code, ok := parseRemote(fs, args, 1, "isobox keys rotate ID", stderr)
	if !ok {
		return code
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	k, err := c.RotateKey(ctx, pos[0])
	if err != nil {
		return fail(stderr, r.server, err)
	}
	printNewKey(r, k, stdout, stderr)
	return 0
}
