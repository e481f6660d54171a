package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
)

// TestUsageSurvivesSIGKILL: calls of a stored worker through a real `isobox serve`; once
// the server's writer has put them in DATA/usage.db (read beside it, without asking the
// server, whose query would write them first), the server is killed with SIGKILL. A new
// server on the same data directory reports them through `isobox usage`, in both
// groupings and with --cost.
func TestUsageSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server")
	}
	bin := buildIsobox(t)
	data := t.TempDir()
	p := startServe(t, bin, "--data", data, "--sandbox-processes", "0")
	c, _ := client.New(p.url, processKey)
	ctx := context.Background()
	w, err := c.PutWorker(ctx, "hello", api.WorkerCode{MainModule: "main.js",
		Modules: map[string]api.Module{"main.js": api.JS(`export default { fetch() { return new Response("hi") } }`)}})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := c.Fetch(ctx, "hello", api.FetchRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "usage.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(hangGuard); ; {
		var n sql.NullInt64
		_ = db.QueryRow(`SELECT SUM(invocations) FROM usage WHERE worker = 'hello'`).Scan(&n)
		if n.Int64 == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the usage writer stored %d of 20 invocations", n.Int64)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.kill(t)

	p = startServe(t, bin, "--data", data, "--sandbox-processes", "0", "--quota-concurrent", "1")
	t.Setenv("ISOBOX_API_KEY", processKey)
	t.Setenv("ISOBOX_URL", p.url)
	out, errs, code := remoteCLI(t, ctx, "usage", "--by", "worker", "--json")
	var rep api.UsageReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Rows) != 1 || rep.Rows[0].Worker != "hello" ||
		rep.Rows[0].CodeHash != w.Hash || rep.Rows[0].Invocations != 20 || rep.Rows[0].UniqueWorkers != 1 {
		t.Fatalf("usage after SIGKILL: exit %d %s %s", code, out, errs)
	}
	for _, tt := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"usage"}, 0, "default", ""},
		{[]string{"usage", "--by", "worker"}, 0, w.Hash, ""},
		{[]string{"usage", "--cost"}, 0, "prices: Cloudflare", ""},
		{[]string{"usage", "--by", "month"}, 1, "", "invalid_request"},
		{[]string{"usage", "--from", "yesterday"}, 1, "", "invalid_request"},
		{[]string{"usage", "extra"}, 2, "", "Usage: isobox usage"},
	} {
		out, errs, code := remoteCLI(t, ctx, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.err) {
			t.Errorf("isobox %q: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", tt.args, code, tt.code, out, tt.out, errs, tt.err)
		}
	}
	p.stop(t)
}

func TestServeQuotaFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "q.json")
	os.WriteFile(bad, []byte(`{"concurrent": 5}`), 0o600)
	for _, args := range [][]string{{"--quotas", bad}, {"--quotas", filepath.Join(dir, "none.json")},
		{"--quota-per-minute", "-1"}, {"--price-sheet", bad}} {
		_, errs, code := remoteCLI(t, context.Background(), append([]string{"serve", "--data", dir}, args...)...)
		if code != 2 || !strings.Contains(errs, "isobox: ") {
			t.Errorf("serve %q: exit %d, %s", args, code, errs)
		}
	}
}
