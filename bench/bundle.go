package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/npm/npmtest"
	"github.com/isobox/isobox/loader"
)

// Bundle holds the bundler figures of issue 12, measured on BundleProject served by a
// registry stub on 127.0.0.1 (no internet needed), or on HonoZodProject from a real
// registry (Options.BundleRegistry).
type Bundle struct {
	// Project says which: "stub" or "hono+zod from <registry>".
	Project string `json:"bundle_project,omitempty"`
	// ColdP50: empty caches, metadata and tarballs from the registry, install, esbuild.
	ColdP50 float64 `json:"bundle_cold_ms,omitempty"`
	ColdN   int     `json:"bundle_cold_samples,omitempty"`
	// WarmP50: the unchanged project with warm caches (a new Bundler on the same cache
	// directory each time, as a new `isobox bundle` process would have).
	WarmP50 float64 `json:"bundle_warm_ms,omitempty"`
	WarmN   int     `json:"bundle_warm_samples,omitempty"`
	// AppColdLoadP50: the bundle loaded as a new worker (its main module made unique)
	// plus its first response, beside cold_load_p50_ms for the anchor's one-module worker.
	AppColdLoadP50 float64 `json:"bundle_app_cold_load_ms,omitempty"`
	AppColdLoadN   int     `json:"bundle_app_cold_load_samples,omitempty"`
	// NpmInstallMs: `npm install --ignore-scripts` of the same project from the same registry
	// with an empty npm cache (median), when npm is on PATH: a lower bound of npm + esbuild.
	NpmInstallMs float64 `json:"bundle_npm_install_ms,omitempty"`
	// NpmEsbuildMs adds `esbuild --bundle` to it (the same esbuild version as isobox's),
	// when there is an esbuild: on PATH, or installed once, untimed, from npm's own registry
	// (esbuildTool; the stub serves only the project's packages).
	NpmEsbuildMs float64 `json:"bundle_npm_esbuild_ms,omitempty"`
	// NpmNote says why a npm figure is left out.
	NpmNote string `json:"bundle_npm_note,omitempty"`
}

// BundleProject is the project of the bundle figures: TypeScript, four packages (a
// router and its path matcher, a schema library of several ES module files, a CommonJS
// helper under a scope).
var BundleProject = map[string]string{
	"package.json": `{"name": "bench-app", "private": true, "type": "module",
  "dependencies": {"tiny-router": "^1.4.0", "mini-schema": "~3.0.0", "@bench/json-util": "0.2.x"}}`,
	"tsconfig.json": `{"compilerOptions": {"target": "es2022", "strict": true}}`,
	"src/index.ts": `import { Router } from "tiny-router";
import { object, string, number } from "mini-schema";
import { pretty } from "@bench/json-util";

interface User { name: string; age: number }
const user = object<User>({ name: string(), age: number() });

const router = new Router<Request>()
  .get("/users/:id", (_req, params) => ({ id: params.id }))
  .post("/users", async (req) => user.parse(await req.json()));

export default {
  async fetch(req: Request): Promise<Response> {
    const out = await router.handle(req);
    return out === undefined ? new Response("not found", { status: 404 }) : new Response(pretty(out), { headers: { "content-type": "application/json" } });
  },
};
`,
}

// HonoZodProject is issue 12's example: a TypeScript Hono app that validates with zod,
// for the bundle figures from a real registry. It answers GET /users/42 as BundleProject
// does ({"id":"42"}).
var HonoZodProject = map[string]string{
	"package.json":  `{"name": "bench-hono-zod", "private": true, "type": "module", "dependencies": {"hono": "^4.6.0", "zod": "^3.23.0"}}`,
	"tsconfig.json": `{"compilerOptions": {"target": "es2022", "strict": true, "module": "esnext", "moduleResolution": "bundler"}}`,
	"src/index.ts": `import { Hono } from "hono";
import { z } from "zod";

const User = z.object({ name: z.string().min(1), age: z.number().int().nonnegative() });
type User = z.infer<typeof User>;

const app = new Hono();
app.get("/users/:id", (c) => c.json({ id: c.req.param("id") }));
app.post("/users", async (c) => {
  const r = User.safeParse(await c.req.json());
  if (!r.success) return c.json({ error: r.error.issues[0].message }, 400);
  const u: User = r.data;
  return c.json(u, 201);
});
export default app;
`,
}

// bundleRegistry publishes BundleProject's packages.
func bundleRegistry() *npmtest.Registry {
	reg := npmtest.Start()
	reg.Add("path-match", "2.1.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name": "path-match", "version": "2.1.0", "type": "module", "exports": {".": {"import": "./index.js", "default": "./index.js"}}}`,
		"index.js": `export function compile(pattern) {
  const names = [];
  const re = new RegExp("^" + pattern.replace(/:([A-Za-z_]+)/g, (_, n) => { names.push(n); return "([^/]+)"; }) + "/?$");
  return (path) => { const m = re.exec(path); if (!m) return undefined; const p = {}; names.forEach((n, i) => { p[n] = decodeURIComponent(m[i + 1]); }); return p; };
}
`}})
	reg.Add("tiny-router", "1.4.2", npmtest.Version{Dependencies: map[string]string{"path-match": "^2.0.0"}, Files: map[string]string{
		"package.json": `{"name": "tiny-router", "version": "1.4.2", "type": "module", "dependencies": {"path-match": "^2.0.0"}, "exports": {".": {"worker": "./dist/index.js", "default": "./dist/index.js"}}}`,
		"dist/index.js": `import { compile } from "path-match";
export class Router {
  routes = [];
  add(method, pattern, handler) { this.routes.push({ method, match: compile(pattern), handler }); return this; }
  get(p, h) { return this.add("GET", p, h); }
  post(p, h) { return this.add("POST", p, h); }
  async handle(req) {
    const path = new URL(req.url).pathname;
    for (const r of this.routes) { if (r.method !== req.method) continue; const params = r.match(path); if (params) return r.handler(req, params); }
    return undefined;
  }
}
`}})
	reg.Add("mini-schema", "3.0.5", npmtest.Version{Files: map[string]string{
		"package.json": `{"name": "mini-schema", "version": "3.0.5", "type": "module", "main": "./index.js"}`,
		"index.js":     `export * from "./string.js";` + "\n" + `export * from "./number.js";` + "\n" + `export * from "./object.js";` + "\n",
		"error.js":     `export class SchemaError extends Error { constructor(path, msg) { super(path + ": " + msg); this.path = path; } }` + "\n",
		"string.js":    `import { SchemaError } from "./error.js";` + "\n" + `export const string = () => ({ parse(v, p = "") { if (typeof v !== "string") throw new SchemaError(p, "expected a string"); return v; } });` + "\n",
		"number.js":    `import { SchemaError } from "./error.js";` + "\n" + `export const number = () => ({ parse(v, p = "") { if (typeof v !== "number") throw new SchemaError(p, "expected a number"); return v; } });` + "\n",
		"object.js":    `import { SchemaError } from "./error.js";` + "\n" + `export const object = (shape) => ({ parse(v, p = "") { if (typeof v !== "object" || v === null) throw new SchemaError(p, "expected an object"); const o = {}; for (const k in shape) o[k] = shape[k].parse(v[k], p + "." + k); return o; } });` + "\n",
	}})
	reg.Add("@bench/json-util", "0.2.3", npmtest.Version{Files: map[string]string{
		"package.json": `{"name": "@bench/json-util", "version": "0.2.3", "main": "lib/index.js"}`,
		"lib/index.js": `"use strict";` + "\n" + `exports.pretty = function (v) { return JSON.stringify(v, null, 2); };` + "\n",
	}})
	return reg
}

// runBundle measures the bundle figures: n cold bundles, 4n warm ones, 4n cold loads; of
// BundleProject from a registry stub, or of HonoZodProject from registry when it is set.
func runBundle(ctx context.Context, e *engine.Engine, n int, registry string, progress func(string)) (Bundle, error) {
	out := Bundle{Project: "stub"}
	project := BundleProject
	if registry == "" {
		reg := bundleRegistry()
		defer reg.Close()
		registry = reg.URL
	} else {
		project = HonoZodProject
		out.Project = "hono+zod from " + registry
	}
	files := map[string][]byte{}
	for k, v := range project {
		files[k] = []byte(v)
	}
	tmp, err := os.MkdirTemp("", "isobox-bench-bundle-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(tmp)
	build := func(cacheDir string) (*bundle.Bundle, time.Duration, error) {
		t := time.Now()
		b, err := bundle.New(bundle.Options{Registry: registry, CacheDir: cacheDir}).Build(ctx, bundle.Project{Files: files})
		return b, time.Since(t), err
	}

	progress("bundle, cold")
	var code api.WorkerCode
	ds := make([]time.Duration, 0, n)
	for i := range n {
		b, d, err := build(filepath.Join(tmp, "cold-"+strconv.Itoa(i)))
		if err != nil {
			return out, fmt.Errorf("bundle cold: %w", err)
		}
		if b.Cached {
			return out, fmt.Errorf("bundle cold: answered from the cache")
		}
		ds, code = append(ds, d), b.Code
	}
	out.ColdP50, _, out.ColdN = quantiles(ds)

	progress("bundle, warm")
	ds = ds[:0]
	warmDir := filepath.Join(tmp, "cold-0")
	for range 4 * n {
		b, d, err := build(warmDir)
		if err != nil {
			return out, fmt.Errorf("bundle warm: %w", err)
		}
		if !b.Cached {
			return out, fmt.Errorf("bundle warm: not answered from the cache")
		}
		ds = append(ds, d)
	}
	out.WarmP50, _, out.WarmN = quantiles(ds)

	progress("bundled app, cold load")
	if out.AppColdLoadP50, out.AppColdLoadN, err = appColdLoads(ctx, e, code, 4*n); err != nil {
		return out, err
	}

	progress("npm install + esbuild")
	out.NpmInstallMs, out.NpmEsbuildMs, out.NpmNote = npmFigures(ctx, project, registry, tmp, min(n, 3))
	return out, nil
}

// appColdLoads loads code n times as new workers, each with its main module made unique
// (the package modules stay the same, as they are across apps), and calls fetch once.
func appColdLoads(ctx context.Context, e *engine.Engine, code api.WorkerCode, n int) (float64, int, error) {
	l, err := loader.New(loader.Config{Engine: e, MaxWorkers: n + 1})
	if err != nil {
		return 0, 0, err
	}
	defer l.Close(ctx)
	ds := make([]time.Duration, 0, n)
	for i := range n {
		wc := loader.FromAPI(code)
		wc.Modules = map[string]api.Module{}
		for k, m := range code.Modules {
			wc.Modules[k] = m
		}
		main := code.Modules[code.MainModule]
		wc.Modules[code.MainModule] = api.JS(string(main.Content) + fmt.Sprintf("\n// bench app %d\n", i))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://app/users/42", nil)
		t := time.Now()
		res, err := l.Get(fmt.Sprintf("app-%d", i), func() (loader.WorkerCode, error) { return wc, nil }).Fetch(ctx, req)
		if err != nil {
			return 0, 0, fmt.Errorf("bundled app %d: %w", i, err)
		}
		ds = append(ds, time.Since(t))
		var body struct{ ID string }
		if res.Status != 200 || json.Unmarshal(res.Body, &body) != nil || body.ID != "42" {
			return 0, 0, fmt.Errorf("bundled app %d: status %d, body %q", i, res.Status, res.Body)
		}
	}
	p50, _, count := quantiles(ds)
	return p50, count, nil
}

// npmFigures runs `npm install --ignore-scripts` of project from registry, with an empty
// npm cache each time, and esbuild after it (esbuildTool) when there is one. It never
// fails the bench: a figure it cannot take is left out, and note says why.
func npmFigures(ctx context.Context, project map[string]string, registry, tmp string, runs int) (install, withEsbuild float64, note string) {
	npmBin, err := exec.LookPath("npm")
	if err != nil {
		return 0, 0, "bundle_npm_install_ms and bundle_npm_esbuild_ms left out: npm is not on PATH"
	}
	esbuildBin, esbuildNote := esbuildTool(ctx, npmBin, filepath.Join(tmp, "esbuild-tool"))
	var ins, all []time.Duration
	for i := range runs {
		dir := filepath.Join(tmp, "npm-"+strconv.Itoa(i))
		for name, body := range project {
			p := filepath.Join(dir, name)
			if os.MkdirAll(filepath.Dir(p), 0o755) != nil || os.WriteFile(p, []byte(body), 0o644) != nil {
				return 0, 0, "bundle_npm_install_ms and bundle_npm_esbuild_ms left out: cannot write the project for npm"
			}
		}
		t := time.Now()
		cmd := exec.CommandContext(ctx, npmBin, "install", "--ignore-scripts", "--no-audit", "--no-fund",
			"--registry", registry, "--cache", filepath.Join(dir, ".npm-cache"), "--prefer-online")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			return 0, 0, fmt.Sprintf("bundle_npm_install_ms and bundle_npm_esbuild_ms left out: npm install from %s failed (%v): %.200s", registry, err, b)
		}
		ins = append(ins, time.Since(t))
		if esbuildBin == "" {
			continue
		}
		cmd = exec.CommandContext(ctx, esbuildBin, "src/index.ts", "--bundle", "--format=esm", "--platform=browser", "--outfile=out.js", "--log-level=error")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			return 0, 0, fmt.Sprintf("bundle_npm_install_ms and bundle_npm_esbuild_ms left out: esbuild failed (%v): %.200s", err, b)
		}
		all = append(all, time.Since(t))
	}
	install, _, _ = quantiles(ins)
	if esbuildBin == "" {
		return install, 0, "bundle_npm_esbuild_ms left out: " + esbuildNote + "; bundle_npm_install_ms is npm install alone"
	}
	withEsbuild, _, _ = quantiles(all)
	return install, withEsbuild, ""
}

// esbuildTool finds the esbuild that `npx esbuild` would run: one on PATH, else the esbuild
// package of the version isobox links (go.mod) installed once from npm's own registry (the
// stub serves only the project's packages) into dir, untimed, as npx's cache would
// hold it. Its bin is esbuild's JavaScript launcher of the native binary (install scripts
// never run), which is what npx starts too, without npx's own start-up: the figure is a
// lower bound. bin is "" when neither exists; note then says why.
func esbuildTool(ctx context.Context, npmBin, dir string) (bin, note string) {
	if p, err := exec.LookPath("esbuild"); err == nil {
		return p, ""
	}
	version := "latest"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/evanw/esbuild" {
				version = strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npmBin, "install", "--prefix", dir, "--ignore-scripts", "--no-audit", "--no-fund", "--no-save", "esbuild@"+version)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("no esbuild on PATH, and installing esbuild@%s from npm's registry failed (%v): %.200s", version, err, b)
	}
	bin = filepath.Join(dir, "node_modules", ".bin", "esbuild")
	if b, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput(); err != nil {
		return "", fmt.Sprintf("no esbuild on PATH, and the esbuild@%s installed from npm's registry does not run (%v): %.200s", version, err, b)
	}
	return bin, ""
}
