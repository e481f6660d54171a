package loader_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/isobox/isobox/loader"
)

// Cold loads of two tenants' workers, interleaved, take their sandboxes from the engine's
// blank pool (loader.Config.BlankSandboxes): whatever one tenant's worker leaves in its
// sandbox (a global, a prototype property), no worker of the other tenant, nor a new
// worker of the same tenant, ever sees it.
func TestBlankSandboxesNeverCarryState(t *testing.T) {
	l := newLoader(t, loader.Config{BlankSandboxes: 2})
	const src = `
export default {
  fetch(req) {
    const seen = [String(globalThis.planted), typeof ({}).planted].join(" ");
    globalThis.planted = new URL(req.url).searchParams.get("t");
    Object.prototype.planted = globalThis.planted;
    return new Response(seen);
  },
};
// %s %d`
	ctx := context.Background()
	for i := range 24 {
		tenant := []string{"acme", "globex"}[i%2]
		c := code(fmt.Sprintf(src, tenant, i))
		c.Tenant = tenant
		req, _ := http.NewRequest(http.MethodGet, "http://w/?t=secret-of-"+tenant, nil)
		res, err := l.Get(fmt.Sprintf("%s~w%d", tenant, i), func() (loader.WorkerCode, error) { return c, nil }).Fetch(ctx, req)
		if err != nil || !res.Cold {
			t.Fatalf("load %d: %v cold=%v", i, err, res.Cold)
		}
		if got := string(res.Body); got != "undefined undefined" || strings.Contains(got, "secret") {
			t.Fatalf("load %d of %s saw %q", i, tenant, got)
		}
	}
}
