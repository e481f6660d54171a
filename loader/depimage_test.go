package loader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/internal/npm/npmtest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// lib is a package with module state and a global it mutates at import: what a worker
// sees of them must be what evaluating the package afresh gives, whatever other workers
// did with their copies.
func libVersion(v string) npmtest.Version {
	return npmtest.Version{Files: map[string]string{
		"package.json": `{"name": "statelib", "version": "` + v + `", "type": "module", "main": "index.js"}`,
		"index.js": `import { tag } from "./tag.js";
globalThis.statelibLoads = (globalThis.statelibLoads ?? 0) + 1;
let n = 0;
export function next() { return ++n; }
export const version = tag;
export function loads() { return globalThis.statelibLoads; }
`,
		"tag.js": `export const tag = "` + v + `";` + "\n",
	}}
}

// appProject is a unique app using statelib: its own code differs by name.
func appProject(name, libRange string) bundle.Project {
	return bundle.Project{Files: map[string][]byte{
		"package.json": []byte(`{"name": "app", "type": "module", "main": "index.js", "dependencies": {"statelib": "` + libRange + `"}}`),
		"index.js": []byte(`import { next, version, loads } from "statelib";
globalThis.appTopLevel = (globalThis.appTopLevel ?? 0) + 1;
export default {
  hit() { return [` + fmt.Sprintf("%q", name) + `, version, next(), next(), loads(), globalThis.appTopLevel]; },
  leak() { globalThis.statelibLoads = 100; return next(); },
};
`)},
	}
}

func buildApp(t *testing.T, reg *npmtest.Registry, p bundle.Project) loader.WorkerCode {
	t.Helper()
	b, err := bundle.New(bundle.Options{Registry: reg.URL}).Build(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if b.Code.Modules["npm/statelib@"+strings.TrimPrefix(b.Packages[0], "statelib@")+"/index.js"].Content == nil {
		t.Fatalf("the bundle did not keep the package as its own modules: %v", b.Code.Modules)
	}
	return loader.FromAPI(b.Code)
}

// Different apps bundled with the same package version share its dependency image (from
// the second app on: the first records the set, the second makes the image) and each gets
// its own answers and fresh package state; a changed package version and another tenant
// get no image of the first.
func TestDepImageSharedByAppsOfTheSamePackages(t *testing.T) {
	reg := npmtest.Start()
	defer reg.Close()
	reg.Add("statelib", "1.0.0", libVersion("1.0.0"))
	l := newLoader(t, loader.Config{})
	get := func(id string, c loader.WorkerCode) *loader.Stub {
		return l.Get(id, func() (loader.WorkerCode, error) { return c, nil })
	}
	// From the image's first restore on, the engine keeps sandboxes restored from it
	// ready (engine.KeepRestored): the later apps take those, and must see no more of the
	// apps before them than the first ones did.
	for i, wantImage := range []bool{false, true, true, true, true, true, true, true} {
		name := fmt.Sprint("app", i)
		s := get(name, buildApp(t, reg, appProject(name, "1.0.0")))
		res, got := call(t, s, "hit", "[]")
		want := fmt.Sprintf(`[%q,"1.0.0",1,2,1,1]`, name)
		if got != want || res.DepImage != wantImage {
			t.Fatalf("app %d: %s dep image %v, want %s and %v", i, got, res.DepImage, want, wantImage)
		}
		// What this app does to the package's state and globals stays in its sandbox.
		if _, got := call(t, s, "leak", "[]"); got != "3" {
			t.Fatalf("app %d: leak gave %s", i, got)
		}
	}
	if st := l.Stats(); st.CodeImages != 1 {
		t.Fatalf("%d images kept, want the one dependency image: %+v", st.CodeImages, st)
	}

	// A new version of the package: other module bytes, no image of 1.0.0's (its second
	// app gets an image of its own).
	reg.Add("statelib", "1.0.1", libVersion("1.0.1"))
	for i, wantImage := range []bool{false, true} {
		name := fmt.Sprint("new", i)
		res, got := call(t, get(name, buildApp(t, reg, appProject(name, "1.0.1"))), "hit", "[]")
		if want := fmt.Sprintf(`[%q,"1.0.1",1,2,1,1]`, name); got != want || res.DepImage != wantImage {
			t.Fatalf("app of 1.0.1 #%d: %s dep image %v", i, got, res.DepImage)
		}
	}

	// Another tenant with byte-identical packages never starts from the first tenant's image.
	for i, wantImage := range []bool{false, true} {
		c := buildApp(t, reg, appProject(fmt.Sprint("t", i), "1.0.0"))
		c.Tenant = "other"
		res, got := call(t, get(fmt.Sprint("other", i), c), "hit", "[]")
		if !strings.Contains(got, `"1.0.0",1,2,1,1]`) || res.DepImage != wantImage {
			t.Fatalf("tenant other #%d: %s dep image %v", i, got, res.DepImage)
		}
	}
	if st := l.Stats(); st.CodeImages != 3 {
		t.Fatalf("%d images kept, want 3 (1.0.0, 1.0.1, 1.0.0 of the other tenant): %+v", st.CodeImages, st)
	}
}

// The image is made in a sandbox with no capabilities: a package that fetches at import
// (through the worker's outbound, here carrying a secret of its own) gets no image, and
// every app sees what its own outbound answered.
func TestDepImageHasNoCapabilities(t *testing.T) {
	l := newLoader(t, loader.Config{})
	for i := range 3 {
		c := code(fmt.Sprintf(`import { got } from "./npm/fetcher@1.0.0/index.js";
export default { hit() { return [%d, got]; } };`, i),
			"npm/fetcher@1.0.0/index.js", `export const got = await (await fetch("http://secrets.example/")).text();`)
		secret := fmt.Sprint("secret-", i)
		c.Outbound = roundTrip(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(secret))}, nil
		})
		res, got := call(t, l.Get(fmt.Sprint("f", i), func() (loader.WorkerCode, error) { return c, nil }), "hit", "[]")
		if want := fmt.Sprintf(`[%d,%q]`, i, secret); got != want || res.DepImage {
			t.Fatalf("load %d: %s dep image %v, want %s and no image", i, got, res.DepImage, want)
		}
	}
	if st := l.Stats(); st.CodeImages != 0 {
		t.Fatalf("an image was kept: %+v", st)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Hostile code: a "package" module that imports the app's own module would bake the app's
// top-level code into the image; it gets no dependency image and loads as usual. Neither
// does one importing cloudflare:workers (its env is read once, at import).
func TestDepImageNeverHoldsAppCode(t *testing.T) {
	l := newLoader(t, loader.Config{})
	cases := map[string]string{
		"imports-app": `import { secret } from "/secret.js"; export const v = () => secret;`,
		"reads-env":   `import { env } from "cloudflare:workers"; export const v = () => env.X;`,
	}
	for name, pkg := range cases {
		for i := range 3 {
			c := code(fmt.Sprintf(`import { v } from "./npm/evil@1.0.0/index.js";
export default { hit() { return [%d, v()]; } };`, i),
				"npm/evil@1.0.0/index.js", pkg,
				"secret.js", `globalThis.appEvaluated = (globalThis.appEvaluated ?? 0) + 1; export const secret = globalThis.appEvaluated;`)
			c.Env = map[string]any{"X": 1}
			id := fmt.Sprint(name, i)
			res, got := call(t, l.Get(id, func() (loader.WorkerCode, error) { return c, nil }), "hit", "[]")
			if want := fmt.Sprintf("[%d,1]", i); got != want || res.DepImage {
				t.Fatalf("%s, load %d: %s dep image %v, want %s and no image", name, i, got, res.DepImage, want)
			}
		}
	}
	if st := l.Stats(); st.CodeImages != 0 {
		t.Fatalf("an image was kept: %+v", st)
	}
}

// With dependency images off, apps of the same packages evaluate them every time.
func TestNoDepImages(t *testing.T) {
	l := newLoader(t, loader.Config{NoDepImages: true})
	for i := range 3 {
		c := code(fmt.Sprintf(`import { v } from "./npm/lib@1.0.0/index.js"; export default { hit() { return [%d, v]; } };`, i),
			"npm/lib@1.0.0/index.js", `export const v = 7;`)
		res, got := call(t, l.Get(fmt.Sprint(i), func() (loader.WorkerCode, error) { return c, nil }), "hit", "[]")
		if got != fmt.Sprintf("[%d,7]", i) || res.DepImage {
			t.Fatalf("load %d: %s dep image %v", i, got, res.DepImage)
		}
	}
}

// A package that never finishes evaluating stops at the start-up CPU limit with its typed
// error, as without dependency images, and the loader goes on serving other code.
func TestDepImageRunawayPackage(t *testing.T) {
	l := newLoader(t, loader.Config{StartupCPU: 50 * time.Millisecond})
	c := code(`import "./npm/spin@1.0.0/index.js"; export default { hit() { return 1; } };`,
		"npm/spin@1.0.0/index.js", `while (true) {}`)
	_, err := l.Get("spin", func() (loader.WorkerCode, error) { return c, nil }).Call(context.Background(), "hit", json.RawMessage("[]"))
	if isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("runaway package: %v, want cpu_limit_exceeded", err)
	}
	if _, got := call(t, l.Get("ok", func() (loader.WorkerCode, error) { return code(`export default { hit() { return 2; } };`), nil }), "hit", "[]"); got != "2" {
		t.Fatalf("after the runaway: %s", got)
	}
}
