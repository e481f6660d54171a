package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/internal/npm/npmtest"
	"github.com/isobox/isobox/isoerr"
)

// PUT /v1/workers/{id} with files installs and bundles the project, stores the bundle
// with its source hash, and the stored worker answers; POST /v1/bundle returns the same
// bundle without storing; a project that cannot be bundled is a 400 bundle_failed at
// file:line:col and leaves the stored worker as it was.
func TestPutWorkerFiles(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("tiny-math", "1.1.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"tiny-math","version":"1.1.0","type":"module","exports":{"import":"./m.js"}}`,
		"m.js":         `export const square = (x) => x * x`,
	}})
	ts := start(t, Config{Bundler: bundle.New(bundle.Options{Registry: reg.URL, CacheDir: t.TempDir()})})
	ctx := context.Background()
	project := api.WorkerCode{Files: map[string]string{
		"package.json": `{"dependencies":{"tiny-math":"^1"}}`,
		// The operator picks the registry: a project's .npmrc does not send the server elsewhere.
		".npmrc": "registry=http://127.0.0.1:1/\n",
		"src/index.ts": `import { square } from "tiny-math";
export default { fetch(req: Request): Response { return new Response(String(square(Number(new URL(req.url).searchParams.get("n"))))) } }`,
	}}
	w, err := ts.c.PutWorker(ctx, "sq", project)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ts.c.GetWorker(ctx, "sq")
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != w.Hash || got.Code.Files != nil || got.Code.MainModule != "index.js" || !strings.HasPrefix(got.Code.SourceHash, "sha256:") {
		t.Fatalf("stored %+v", got.Code)
	}
	if _, ok := got.Code.Modules["npm/tiny-math@1.1.0/m.js"]; !ok {
		t.Fatalf("the package is not a module of its own: %v", got.Code.Modules)
	}
	out, err := ts.c.Fetch(ctx, "sq", api.FetchRequest{URL: "http://w/?n=12"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Body == nil || *out.Body != "144" {
		t.Fatalf("answer %+v", out)
	}

	b, err := ts.c.Bundle(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if b.SourceHash != got.Code.SourceHash || strings.Join(b.Packages, ",") != "tiny-math@1.1.0" || !b.Cached {
		t.Fatalf("bundle %s %v cached %v", b.SourceHash, b.Packages, b.Cached)
	}

	broken := api.WorkerCode{Files: map[string]string{"package.json": `{}`, "index.ts": "export default {\n  fetch() { return new Response(1 +) }\n}"}}
	_, err = ts.c.PutWorker(ctx, "sq", broken)
	wantCode(t, err, isoerr.BundleFailed)
	if !strings.Contains(err.Error(), "index.ts:2:36:") {
		t.Fatalf("no position: %v", err)
	}
	if again, _ := ts.c.GetWorker(ctx, "sq"); again.Hash != w.Hash {
		t.Fatal("a failed PUT replaced the stored worker")
	}

	for _, c := range []struct {
		name, method, path, body string
		code                     isoerr.Code
		want                     string
	}{
		{"missing package", "PUT", "/v1/workers/x", `{"files":{"package.json":"{\"dependencies\":{\"nope\":\"1\"}}","index.js":"export default {}"}}`, isoerr.BundleFailed, `package "nope" does not exist`},
		{"missing version", "POST", "/v1/bundle", `{"files":{"package.json":"{\"dependencies\":{\"tiny-math\":\"^2\"}}","index.js":"export default {}"}}`, isoerr.BundleFailed, `no version of tiny-math matches "^2"`},
		{"files and modules", "PUT", "/v1/workers/x", `{"files":{"index.js":"export default {}"},"mainModule":"a.js","modules":{"a.js":"export default {}"}}`, isoerr.InvalidRequest, "either files"},
		{"bundle without files", "POST", "/v1/bundle", `{"mainModule":"a.js","modules":{"a.js":"export default {}"}}`, isoerr.InvalidRequest, "files is required"},
		{"run with files", "POST", "/v1/run", `{"worker":{"files":{"index.js":"export default {}"}}}`, isoerr.InvalidRequest, "bundled by PUT"},
		{"bad path", "POST", "/v1/bundle", `{"files":{"../x.js":""}}`, isoerr.BundleFailed, "invalid file path"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ts.raw(t, c.method, c.path, []byte(c.body), nil)
			if r.status != http.StatusBadRequest || r.err == nil || r.err.Code != c.code || !strings.Contains(r.err.Message, c.want) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	// A project as a .tar.gz, its top folder stripped, compatibility flags in the query.
	tgz, _ := npmtest.PackEntries([]npmtest.Entry{
		{Name: "app/package.json", Body: []byte(`{"dependencies":{"tiny-math":"1.1.0"}}`)},
		{Name: "app/index.ts", Body: []byte(`import { square } from "tiny-math"; export default { sq(x: number) { return square(x) } }`)},
	})
	r := ts.raw(t, "PUT", "/v1/workers/tgz?compatibilityFlags=nodejs_compat", tgz, http.Header{"Content-Type": {"application/gzip"}})
	if r.status != http.StatusCreated {
		t.Fatalf("tar.gz PUT: %d %s", r.status, r.body)
	}
	if out, err := ts.c.Call(ctx, "tgz", "sq", 9); err != nil || string(out.Result) != "81" {
		t.Fatalf("tar.gz worker: %v %+v", err, out)
	}
	if got, _ := ts.c.GetWorker(ctx, "tgz"); len(got.Code.CompatibilityFlags) != 1 || got.Code.CompatibilityFlags[0] != "nodejs_compat" {
		t.Fatalf("flags %v", got.Code.CompatibilityFlags)
	}
	hostile, _ := npmtest.PackEntries([]npmtest.Entry{{Name: "package.json", Body: []byte(`{}`)}, {Name: "x", Type: '2', Linkname: "/etc/passwd"}})
	r = ts.raw(t, "POST", "/v1/bundle", hostile, http.Header{"Content-Type": {"application/gzip"}})
	if r.status != http.StatusBadRequest || r.err == nil || r.err.Code != isoerr.BundleFailed || !strings.Contains(r.err.Message, "is a link") {
		t.Fatalf("hostile archive: %d %s", r.status, r.body)
	}
	if err := ts.c.DeleteWorker(ctx, "tgz"); err != nil {
		t.Fatal(err)
	}

	if _, err := ts.c.GetWorker(ctx, "x"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("a failed bundle stored something: %v", err)
	}
	var list api.WorkerList
	if err := ts.c.Do(ctx, "GET", "/v1/workers", nil, &list); err != nil || len(list.Workers) != 1 {
		raw, _ := json.Marshal(list)
		t.Fatalf("workers %s %v", raw, err)
	}
}
