// Package dynworker is the workerd anchor's dynamic worker (shared/anchors/workerd/loader/
// dyn.js): the code `isobox bench` loads for its cold and warm figures and the loader's
// benchmarks load too. It is a package of its own, importing only the loader, so that the
// loader's test binary need not link the bench, which imports the whole server.
package dynworker

import (
	"strconv"
	"strings"

	"github.com/isobox/isobox/loader"
)

// JS is the anchor's dynamic worker; {i} makes each one unique.
const JS = `// dynamic worker #{i} (untrusted code supplied in the request)
let calls = 0;
export default {
  fetch(req, env) {
    calls++;
    const n = Number(new URL(req.url).searchParams.get("n") ?? 1000);
    let s = 0;
    for (let k = 0; k < n; k++) s += k * k;
    return Response.json({ id: env.ID, tag: "{i}", calls, sum: s });
  },
};
`

// Code returns the anchor's dynamic worker number i.
func Code(i int) loader.WorkerCode {
	src := strings.ReplaceAll(JS, "{i}", strconv.Itoa(i))
	return loader.WorkerCode{
		CompatibilityDate: "2026-11-01", MainModule: "main.js",
		Modules: map[string]loader.Module{"main.js": loader.JS(src)},
		Env:     map[string]any{"ID": strconv.Itoa(i)},
	}
}
