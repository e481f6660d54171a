package bundle_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/internal/npm"
)

// needNpmRegistry marks a test that reaches npm's real registry: it runs only with
// ISOBOX_TEST_NPM_REGISTRY set and the registry reachable (the rest of the suite serves its own
// tarballs from npmtest on 127.0.0.1).
func needNpmRegistry(t *testing.T) {
	t.Helper()
	if os.Getenv("ISOBOX_TEST_NPM_REGISTRY") == "" {
		t.Skip("reaches " + npm.DefaultRegistry + ": set ISOBOX_TEST_NPM_REGISTRY=1 to run it (the default suite talks to 127.0.0.1 only)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "HEAD", npm.DefaultRegistry+"zod", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Skipf("%s cannot be reached: %v", npm.DefaultRegistry, err)
	}
	resp.Body.Close()
}

// Issue 12's example from npm's real registry: a TypeScript Hono app validating with zod,
// its versions pinned by npm's package-lock.json, installs (tarballs checked against the
// lock's sha512), bundles (each package's ES modules its own modules) and answers in a
// sandbox.
func TestRealRegistryHonoZod(t *testing.T) {
	needNpmRegistry(t)
	files := map[string][]byte{
		"package.json": []byte(`{"dependencies":{"hono":"^4.6.0","zod":"^3.23.0"}}`),
		// The lock npm 11 wrote (without resolved URLs): the versions come from it, and no
		// metadata is fetched (hono's alone is megabytes of JSON).
		"package-lock.json": []byte(`{"name":"app","lockfileVersion":3,"requires":true,"packages":{
  "":{"dependencies":{"hono":"^4.6.0","zod":"^3.23.0"}},
  "node_modules/hono":{"version":"4.13.19","integrity":"sha512-KmXvQAXwcAHV+muzbIwoJ23niEB5nMoDVr9WcRkU8mvjUECm/1+7v4Jgp7P7a+H6MLFrh+vXrGonGrGS+RQfkA==","license":"MIT","engines":{"node":">=16.9.0"}},
  "node_modules/zod":{"version":"3.25.76","integrity":"sha512-gzUt/qt81nXsFGKIFcC3YnfEAx5NkunCfnDlvuBSSFS02bcXu4Lmea0AFIUwbLWxWPx3d9p8S5QoaujKcNQxcQ==","license":"MIT"}}}`),
		"src/index.ts": []byte(`import { Hono } from "hono";
import { z } from "zod";
const User = z.object({ name: z.string().min(1), age: z.number().int().nonnegative() });
const app = new Hono();
app.get("/users/:id", (c) => c.json({ id: c.req.param("id") }));
app.post("/users", async (c) => {
  const r = User.safeParse(await c.req.json());
  return r.success ? c.json(r.data, 201) : c.json({ error: r.error.issues[0].path.join(".") }, 400);
});
export default app;`),
	}
	res, err := bundle.New(bundle.Options{}).Build(context.Background(), bundle.Project{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Packages, ",") != "hono@4.13.19,zod@3.25.76" {
		t.Fatalf("packages %v", res.Packages)
	}
	for _, m := range []string{"npm/hono@4.13.19/dist/index.js", "npm/zod@3.25.76/index.js"} {
		if _, ok := res.Code.Modules[m]; !ok {
			t.Fatalf("no module %s", m)
		}
	}
	stub := loadCode(t, res.Code)
	for _, c := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/users/42", "", 200, `{"id":"42"}`},
		{"POST", "/users", `{"name":"ann","age":3}`, 201, `{"name":"ann","age":3}`},
		{"POST", "/users", `{"name":"ann","age":-1}`, 400, `{"error":"age"}`},
	} {
		r, err := stub.Fetch(context.Background(), httptest.NewRequest(c.method, "http://x"+c.path, strings.NewReader(c.body)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != c.status || string(r.Body) != c.want {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
}
