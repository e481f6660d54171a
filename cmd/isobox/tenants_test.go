package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The operator makes a tenant and a key of it; the tenant's key stores and lists its own
// workers, which the operator sees only when acting for the tenant; a revoked key is
// refused.
func TestTenantsAndKeysCommands(t *testing.T) {
	const opKey = "tenants-cli-key-0123456789"
	t.Setenv("ISOBOX_API_KEY", opKey)
	t.Setenv("ISOBOX_TENANT", "")
	s := serve(t, "--data", t.TempDir())
	t.Setenv("ISOBOX_URL", s.url)
	ctx := context.Background()
	dir := writeFiles(t, map[string]string{"main.js": `export default { fetch() { return new Response("acme's") } }`})
	step := func(args []string, wantCode int, out, errOut string) string {
		t.Helper()
		o, e, code := remoteCLI(t, ctx, args...)
		if code != wantCode || !strings.Contains(o, out) || !strings.Contains(e, errOut) {
			t.Fatalf("isobox %q: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", args, code, wantCode, o, out, e, errOut)
		}
		return o
	}
	step([]string{"tenants", "put", "acme", "--ceiling-memory-mb", "64"}, 0, "stored tenant acme", "")
	step([]string{"tenants", "list"}, 0, "memoryMb=64", "")
	// A tenant's own quotas show in the list; without any, the server's apply.
	quotaFile := filepath.Join(t.TempDir(), "q.json")
	if err := os.WriteFile(quotaFile, []byte(`{"concurrentInvocations": 50, "cpuMsPerDay": 60000}`), 0o600); err != nil {
		t.Fatal(err)
	}
	step([]string{"tenants", "put", "quoted", "--quotas", quotaFile}, 0, "stored tenant quoted", "")
	for _, line := range strings.Split(step([]string{"tenants", "list"}, 0, "", ""), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 2 && f[0] == "quoted" && f[2] != "concurrentInvocations=50,cpuMsPerDay=60000",
			len(f) > 2 && f[0] == "acme" && f[2] != "server's":
			t.Fatalf("tenants list: %q does not show the tenant's quotas", line)
		}
	}
	step([]string{"tenants", "rm", "quoted"}, 0, "deleted tenant quoted", "")
	step([]string{"tenants", "get", "acme"}, 0, `"memoryMb": 64`, "")
	key := strings.TrimSpace(step([]string{"keys", "create", "--tenant", "acme", "--name", "ci", "--scopes", "read,deploy,invoke,admin", "--expires", "720h"}, 0, "isobox_", "shown once"))
	step([]string{"keys", "create", "--tenant", "acme", "--scopes", "root"}, 1, "", "invalid_request: unknown scope")

	t.Setenv("ISOBOX_API_KEY", key)
	step([]string{"workers", "put", "hello", filepath.Join(dir, "main.js")}, 0, "stored worker hello", "")
	step([]string{"workers", "put", "big", filepath.Join(dir, "main.js"), "--memory-mb", "128"}, 1, "", "forbidden: limits.memoryMb 128 is above this tenant's ceiling of 64")
	step([]string{"invoke", "hello"}, 0, "acme's", "")
	step([]string{"tenants", "list"}, 1, "", "forbidden")
	list := step([]string{"keys", "list"}, 0, "ci", "")
	id := strings.Fields(strings.Split(list, "\n")[1])[0]

	t.Setenv("ISOBOX_API_KEY", opKey)
	if out := step([]string{"workers", "list"}, 0, "", ""); strings.Contains(out, "hello") {
		t.Fatalf("the default tenant lists acme's worker: %q", out)
	}
	step([]string{"workers", "list", "--tenant", "acme"}, 0, "hello", "")
	step([]string{"keys", "revoke", "--tenant", "acme", id}, 0, "revoked key "+id, "")
	t.Setenv("ISOBOX_API_KEY", key)
	step([]string{"workers", "list"}, 1, "", "unauthorized: the API key "+id+" was revoked")
	step([]string{"keys"}, 2, "", "Usage")
	step([]string{"tenants"}, 2, "", "Usage")
}
