package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobox/isobox/client"
)

// `isobox workers put --code` stores the whole WorkerCode, its globalOutbound included,
// and rejects a policy that is not one (it used to drop the policy silently).
func TestWorkersPutKeepsGlobalOutbound(t *testing.T) {
	const key = "remote-wire-key-0123456789"
	t.Setenv("ISOBOX_API_KEY", key)
	s := serve(t, "--data", t.TempDir())
	t.Setenv("ISOBOX_URL", s.url)
	ctx := context.Background()
	const policy = `{"rules":[{"action":"allow","host":"example.com","methods":["GET"]}]}`
	dir := writeFiles(t, map[string]string{
		"ok.json":  `{"mainModule":"m.js","modules":{"m.js":"export default {}"},"globalOutbound":` + policy + `}`,
		"bad.json": `{"mainModule":"m.js","modules":{"m.js":"export default {}"},"globalOutbound":{"rules":[{"action":"maybe","host":"x"}]}}`,
	})
	if out, errs, code := remoteCLI(t, ctx, "workers", "put", "w", "--code", filepath.Join(dir, "ok.json")); code != 0 {
		t.Fatalf("put: exit %d %q %q", code, out, errs)
	}
	c, err := client.New(s.url, key)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.GetWorker(ctx, "w")
	if err != nil || w.Code == nil || string(w.Code.GlobalOutbound) != policy {
		t.Fatalf("stored code %+v, %v; want globalOutbound %s", w.Code, err, policy)
	}
	if _, errs, code := remoteCLI(t, ctx, "workers", "put", "w2", "--code", filepath.Join(dir, "bad.json")); code != 1 || !strings.Contains(errs, "invalid_worker_code: globalOutbound") {
		t.Fatalf("bad policy: exit %d, stderr %q", code, errs)
	}
}
