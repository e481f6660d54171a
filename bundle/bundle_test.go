package bundle_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/internal/npm/npmtest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

var testEngine *engine.Engine

func TestMain(m *testing.M) { enginetest.Main(m, &testEngine) }

// publish fills a registry with the packages the tests import.
func publish(reg *npmtest.Registry) {
	// An ES module package with an exports map whose conditions differ per platform.
	reg.Add("greet", "1.2.0", npmtest.Version{Files: map[string]string{
		"package.json":  `{"name":"greet","version":"1.2.0","type":"module","exports":{".":{"types":"./x.d.ts","node":"./node.js","workerd":"./worker.js","default":"./browser.js"},"./shout":"./shout.js","./feature/*":"./features/*.js"},"imports":{"#internal":"./internal.js"}}`,
		"worker.js":     `import { upper } from "#internal"; export function greet(n) { return "hello " + n } export { upper }`,
		"node.js":       `import fs from "node:fs"; export function greet() { return "node" }`,
		"browser.js":    `export function greet() { return "browser" }`,
		"shout.js":      `import { greet } from "greet"; export const shout = (n) => greet(n).toUpperCase()`,
		"features/a.js": `export const feature = "a"`,
		"internal.js":   `export const upper = (s) => s.toUpperCase()`,
	}})
	// imports map of greet
	reg.Add("greet", "1.3.0", npmtest.Version{})
	reg.Latest("greet", "1.2.0")
	// A scoped ES module package that depends on an old greet (nested) and on a CommonJS package.
	reg.Add("@acme/sum", "2.0.0", npmtest.Version{Dependencies: map[string]string{"greet": "0.1.0", "cjs-pad": "^1"}, Files: map[string]string{
		"package.json":   `{"name":"@acme/sum","version":"2.0.0","module":"dist/index.mjs","main":"dist/index.cjs","dependencies":{"greet":"0.1.0","cjs-pad":"^1"}}`,
		"dist/index.mjs": `import { greet } from "greet"; import pad from "cjs-pad"; export const sum = (a, b) => a + b; export const old = () => greet("x"); export const padded = (s) => pad(s, 5)`,
		"dist/index.cjs": `throw new Error("the CommonJS build must not be picked")`,
	}})
	reg.Add("greet", "0.1.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"greet","version":"0.1.0","main":"index.mjs"}`,
		"index.mjs":    `export function greet(n) { return "old " + n }`,
	}})
	reg.Add("cjs-pad", "1.0.3", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"cjs-pad","version":"1.0.3"}`,
		"index.js":     `module.exports = function pad(s, n) { return String(s).padStart(n, "*") }`,
	}})
	// A class reached through two entries of a package must be one class.
	reg.Add("errs", "1.0.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"errs","version":"1.0.0","type":"module","exports":{".":"./index.js","./e":"./e.js"}}`,
		"index.js":     `import { E } from "./e.js"; export const isE = (x) => x instanceof E`,
		"e.js":         `export class E extends Error {}`,
	}})
	// A CommonJS package with a browser map: its node entry replaced, fs dropped.
	reg.Add("legacy", "1.0.0", npmtest.Version{Files: map[string]string{
		"package.json":   `{"name":"legacy","version":"1.0.0","main":"./lib/node.js","browser":{"./lib/node.js":"./lib/browser.js","fs":false}}`,
		"lib/node.js":    `module.exports = require("fs").readFileSync("x")`,
		"lib/browser.js": `const fs = require("fs"); module.exports = "browser:" + typeof fs.readFileSync`,
	}})
	reg.Add("loop", "1.0.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"loop","version":"1.0.0","type":"module","main":"i.js","imports":{"#a":"#a"}}`,
		"i.js":         `import "#a"`,
	}})
	reg.Add("escape", "1.0.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"escape","version":"1.0.0","type":"module","main":"i.js","imports":{"#x":"./../greet@1.2.0/worker.js"}}`,
		"i.js":         `export * from "#x"`,
	}})
	reg.Add("uses-node", "1.0.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"uses-node","version":"1.0.0","type":"module","main":"i.js"}`,
		"i.js":         `import { Buffer } from "node:buffer"; export const b = Buffer`,
	}})
	reg.Add("uses-net", "1.0.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"uses-net","version":"1.0.0","type":"module","main":"i.js"}`,
		"i.js":         `import { connect } from "node:net"; export const b = connect`,
	}})
}

const appPackageJSON = `{"name":"app","dependencies":{"greet":"^1.1","@acme/sum":"2","errs":"1"}}`

const appIndex = `import { greet, upper } from "greet";
import { shout } from "greet/shout";
import { feature } from "greet/feature/a";
import { sum, old, padded } from "@acme/sum";
import { double } from "./lib/math";
import { E } from "errs/e";
import { isE } from "errs";

interface Out { text: string; n: number }

export default {
  async fetch(req: Request): Promise<Response> {
    const out: Out = { text: [greet("ann"), upper("b"), shout("c"), feature, old(), padded("z")].join("|"), n: double(sum(2, 3)) + (isE(new E()) ? 100 : 0) };
    return Response.json(out);
  },
};
`

func appFiles() map[string][]byte {
	return map[string][]byte{
		"package.json":    []byte(appPackageJSON),
		"src/index.ts":    []byte(appIndex),
		"src/lib/math.ts": []byte(`export const double = (x: number): number => x * 2;`),
	}
}

// A TypeScript app importing two packages (one scoped, with a nested conflicting version
// and a CommonJS dependency) is bundled with each package in its own module, and runs in a
// real sandbox with the right answer.
func TestBuildAndRun(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	publish(reg)
	b := bundle.New(bundle.Options{Registry: reg.URL, CacheDir: t.TempDir()})
	res, err := b.Build(context.Background(), bundle.Project{Files: appFiles()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range res.Code.Modules {
		names = append(names, n)
	}
	for _, want := range []string{"index.js", "npm/greet@1.2.0/worker.js", "npm/greet@1.2.0/shout.js", "npm/greet@1.2.0/features/a.js", "npm/@acme/sum@2.0.0/dist/index.mjs.js", "npm/greet@0.1.0/index.mjs.js", "npm/greet@1.2.0/internal.js", "npm/errs@1.0.0/index.js", "npm/errs@1.0.0/e.js"} {
		if _, ok := res.Code.Modules[want]; !ok {
			t.Fatalf("module %s missing; have %v", want, names)
		}
	}
	if len(res.Code.Modules) != 9 {
		t.Fatalf("modules %v: the CommonJS package belongs inside its importer", names)
	}
	main := string(res.Code.Modules["index.js"].Content)
	if strings.Contains(main, "hello ") || strings.Contains(main, "interface") {
		t.Fatalf("the user's module holds package code or types:\n%s", main)
	}
	if sum := string(res.Code.Modules["npm/@acme/sum@2.0.0/dist/index.mjs.js"].Content); !strings.Contains(sum, "padStart") || !strings.Contains(sum, `"/npm/greet@0.1.0/index.mjs.js"`) {
		t.Fatalf("@acme/sum should hold cjs-pad and import the nested greet:\n%s", sum)
	}
	if strings.Join(res.Packages, ",") != "@acme/sum@2.0.0,cjs-pad@1.0.3,errs@1.0.0,greet@0.1.0,greet@1.2.0" {
		t.Fatalf("packages %v", res.Packages)
	}

	stub := loadCode(t, res.Code)
	r, err := stub.Fetch(context.Background(), httptest.NewRequest("GET", "http://x/", nil))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Text string
		N    int
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
	if out.Text != "hello ann|B|HELLO C|a|old x|****z" || out.N != 110 {
		t.Fatalf("got %+v", out)
	}
}

// A package's browser map replaces its files and drops the packages it maps to false.
// (Through bundle.Build, the one-call form.)
func TestBrowserField(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	publish(reg)
	code, err := bundle.Build(context.Background(), map[string][]byte{
		"package.json": []byte(`{"dependencies":{"legacy":"1"}}`),
		"index.js":     []byte(`import v from "legacy"; export default { v() { return v } }`),
	}, bundle.Options{Registry: reg.URL})
	if err != nil {
		t.Fatal(err)
	}
	stub := loadCode(t, code)
	r, err := stub.Call(context.Background(), "v", json.RawMessage(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Value) != `"browser:undefined"` {
		t.Fatalf("got %s", r.Value)
	}
}

// Inline puts the packages into the main module, tree-shaken, with the same behaviour.
func TestInline(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	publish(reg)
	res, err := bundle.New(bundle.Options{Registry: reg.URL}).Build(context.Background(), bundle.Project{Files: appFiles(), Inline: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Code.Modules) != 1 || !strings.Contains(string(res.Code.Modules["index.js"].Content), "padStart") {
		t.Fatalf("inline bundle has %d modules", len(res.Code.Modules))
	}
	if strings.Contains(string(res.Code.Modules["index.js"].Content), "browser") {
		t.Fatal("tree shaking kept greet's unused browser entry, or the wrong condition won")
	}
	stub := loadCode(t, res.Code)
	r, err := stub.Fetch(context.Background(), httptest.NewRequest("GET", "http://x/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != `{"text":"hello ann|B|HELLO C|a|old x|****z","n":110}` {
		t.Fatalf("got %s", r.Body)
	}
}

// Identical package versions give identical module bytes in different projects.
func TestPackageModulesAreShared(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	publish(reg)
	b := bundle.New(bundle.Options{Registry: reg.URL})
	a, err := b.Build(context.Background(), bundle.Project{Files: appFiles()})
	if err != nil {
		t.Fatal(err)
	}
	other := map[string][]byte{
		"package.json": []byte(`{"dependencies":{"greet":"1.2.0"}}`),
		"index.js":     []byte(`import { greet } from "greet"; export default { run() { return greet("z") } }`),
	}
	o, err := b.Build(context.Background(), bundle.Project{Files: other})
	if err != nil {
		t.Fatal(err)
	}
	const m = "npm/greet@1.2.0/worker.js"
	if string(a.Code.Modules[m].Content) != string(o.Code.Modules[m].Content) || len(o.Code.Modules[m].Content) == 0 {
		t.Fatalf("%s differs between projects", m)
	}
	if a.Code.Modules["index.js"].Content == nil || string(a.Code.Modules["index.js"].Content) == string(o.Code.Modules["index.js"].Content) {
		t.Fatal("different apps, same main module")
	}
}

// A second build of an unchanged project makes no request and runs no esbuild; a change
// to a file rebuilds.
func TestCacheHit(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	publish(reg)
	cache := t.TempDir()
	b := bundle.New(bundle.Options{Registry: reg.URL, CacheDir: cache})
	first, err := b.Build(context.Background(), bundle.Project{Files: appFiles()})
	if err != nil {
		t.Fatal(err)
	}
	reqs, runs := reg.Requests(), b.Stats().EsbuildRuns
	if reqs == 0 || runs == 0 {
		t.Fatalf("first build: %d requests, %d esbuild runs", reqs, runs)
	}
	// A new Bundler on the same cache: a new process.
	b2 := bundle.New(bundle.Options{Registry: reg.URL, CacheDir: cache})
	second, err := b2.Build(context.Background(), bundle.Project{Files: appFiles()})
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.Requests() - reqs; n != 0 || b2.Stats().EsbuildRuns != 0 || !second.Cached {
		t.Fatalf("second build: %d requests, %d esbuild runs, cached %v", n, b2.Stats().EsbuildRuns, second.Cached)
	}
	if second.InputHash != first.InputHash || string(second.Code.Modules["index.js"].Content) != string(first.Code.Modules["index.js"].Content) {
		t.Fatal("the cached bundle differs")
	}
	files := appFiles()
	files["src/lib/math.ts"] = []byte(`export const double = (x: number): number => x * 3;`)
	third, err := b2.Build(context.Background(), bundle.Project{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if third.Cached || third.InputHash == first.InputHash || b2.Stats().EsbuildRuns == 0 {
		t.Fatal("a changed file did not rebuild")
	}
	if n := reg.Requests() - reqs; n != 0 {
		t.Fatalf("the rebuild made %d requests: metadata and tarballs should come from the cache", n)
	}
	// A torn cache file (a crash mid-write elsewhere, a full disk) is a miss, not a bundle.
	cached, _ := filepath.Glob(filepath.Join(cache, "bundles", "*"))
	if len(cached) == 0 {
		t.Fatal("no bundle in the cache directory")
	}
	for _, f := range cached {
		raw, _ := os.ReadFile(f)
		os.WriteFile(f, raw[:len(raw)-7], 0o644)
	}
	b3 := bundle.New(bundle.Options{Registry: reg.URL, CacheDir: cache})
	fourth, err := b3.Build(context.Background(), bundle.Project{Files: appFiles()})
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Cached || b3.Stats().EsbuildRuns == 0 || string(fourth.Code.Modules["index.js"].Content) != string(first.Code.Modules["index.js"].Content) ||
		len(fourth.Code.Modules) != len(first.Code.Modules) {
		t.Fatalf("after torn cache files: cached %v, %d esbuild runs, %d modules", fourth.Cached, b3.Stats().EsbuildRuns, len(fourth.Code.Modules))
	}
}

func TestBuildErrors(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	publish(reg)
	tests := []struct {
		name         string
		files        map[string]string
		flags        []string
		want         string
		file         string
		line, column int
	}{
		{"syntax error", map[string]string{"src/index.ts": "const a: number = 1;\nexport default {\n  run() { return a +* 2 }\n}\n"}, nil,
			"src/index.ts:3:21: Unexpected \"*\"", "src/index.ts", 3, 21},
		{"missing package", map[string]string{"package.json": `{}`, "index.js": `import x from "zod"; export default x`}, nil,
			`package "zod", imported by index.js, is not installed: add it to the dependencies`, "index.js", 1, 15},
		{"dev dependency", map[string]string{"package.json": `{"devDependencies":{"zod":"1"}}`, "index.js": `import x from "zod"; export default x`}, nil,
			`is in devDependencies`, "index.js", 1, 15},
		{"missing version", map[string]string{"package.json": `{"dependencies":{"greet":"^9"}}`, "index.js": `export default 1`}, nil,
			`no version of greet matches "^9"`, "", 0, 0},
		{"missing registry package", map[string]string{"package.json": `{"dependencies":{"nope":"^1"}}`, "index.js": `export default 1`}, nil,
			`package "nope" does not exist`, "", 0, 0},
		{"missing file", map[string]string{"index.js": `import "./nope"; export default 1`}, nil,
			`cannot find "./nope" imported by index.js`, "index.js", 1, 8},
		{"not exported", map[string]string{"package.json": `{"dependencies":{"greet":"1.2.0"}}`, "index.js": `import "greet/secret"`}, nil,
			`package greet@1.2.0 does not export "./secret"`, "index.js", 1, 8},
		{"node built-in", map[string]string{"index.js": `import { Buffer } from "node:buffer"; export default Buffer`}, nil,
			`"node:buffer" is a Node.js built-in module, imported by index.js: it needs the nodejs_compat compatibility flag`, "index.js", 1, 24},
		{"node built-in isobox lacks, without the flag", map[string]string{"index.js": `import fs from "node:fs"; export default fs`}, nil,
			`"node:fs" is a Node.js built-in module, imported by index.js: isobox's runtime does not provide it, even under nodejs_compat`, "index.js", 1, 16},
		{"node built-in in a package", map[string]string{"package.json": `{"dependencies":{"uses-node":"1"}}`, "index.js": `import { b } from "uses-node"; export default b`}, nil,
			`"node:buffer" is a Node.js built-in module, imported by package uses-node@1.0.0 (uses-node@1.0.0/i.js): it needs the nodejs_compat compatibility flag`, "uses-node@1.0.0/i.js", 1, 24},
		{"missing node built-in in a package", map[string]string{"package.json": `{"dependencies":{"uses-net":"1"}}`, "index.js": `import { b } from "uses-net"; export default b`}, []string{"nodejs_compat"},
			`"node:net" is a Node.js built-in module, imported by package uses-net@1.0.0 (uses-net@1.0.0/i.js): isobox's runtime does not provide it, even under nodejs_compat`, "uses-net@1.0.0/i.js", 1, 25},
		{"bare built-in required by the project", map[string]string{"index.js": `const fs = require("fs"); export default fs`}, []string{"nodejs_compat"},
			`"node:fs" is a Node.js built-in module, imported by index.js: isobox's runtime does not provide it`, "index.js", 1, 20},
		{"no entry", map[string]string{"package.json": `{}`, "lib.js": ``}, nil, "the project has no entry", "", 0, 0},
		{"imports map out of the package", map[string]string{"package.json": `{"dependencies":{"escape":"1","greet":"1.2.0"}}`, "index.js": `import "escape"`}, nil,
			`maps to ./../greet@1.2.0/worker.js, which does not exist in its package`, "escape@1.0.0/i.js", 1, 15},
		{"imports map loop", map[string]string{"package.json": `{"dependencies":{"loop":"1"}}`, "index.js": `import "loop"`}, nil,
			`"#a" imported by package loop@1.0.0 (loop@1.0.0/i.js): its imports map maps it to another #name`, "loop@1.0.0/i.js", 1, 8},
		{"bad main", map[string]string{"package.json": `{"main":"dist/x.js"}`}, nil, `package.json's main is "dist/x.js"`, "", 0, 0},
		{"bad path", map[string]string{"../x.js": ``}, nil, "invalid file path", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range tt.files {
				files[k] = []byte(v)
			}
			b := bundle.New(bundle.Options{Registry: reg.URL})
			_, err := b.Build(context.Background(), bundle.Project{Files: files, CompatibilityFlags: tt.flags})
			if isoerr.CodeOf(err) != isoerr.BundleFailed || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want bundle_failed with %q", err, tt.want)
			}
			var be *bundle.Error
			if tt.file != "" {
				if !errors.As(err, &be) || be.File != tt.file || be.Line != tt.line || be.Column != tt.column {
					t.Fatalf("position %+v, want %s:%d:%d", be, tt.file, tt.line, tt.column)
				}
			}
		})
	}
}

func TestFilesFromTarGz(t *testing.T) {
	ok := func(name, body string) npmtest.Entry { return npmtest.Entry{Name: name, Body: []byte(body)} }
	tests := []struct {
		name    string
		entries []npmtest.Entry
		want    []string // files, sorted
		err     string
	}{
		{"dot root", []npmtest.Entry{ok("./package.json", "{}"), ok("./src/index.ts", "")}, []string{"package.json", "src/index.ts"}, ""},
		{"top folder stripped", []npmtest.Entry{ok("app/package.json", "{}"), ok("app/src/index.ts", "")}, []string{"package.json", "src/index.ts"}, ""},
		{"two top folders kept", []npmtest.Entry{ok("a/index.js", ""), ok("b/x.js", "")}, []string{"a/index.js", "b/x.js"}, ""},
		{"traversal", []npmtest.Entry{ok("../evil.js", "")}, nil, "climbs out"},
		{"symlink", []npmtest.Entry{ok("package.json", "{}"), {Name: "l", Type: '2', Linkname: "/etc/passwd"}}, nil, "is a link"},
		{"empty", nil, nil, "holds no files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgz, _ := npmtest.PackEntries(tt.entries)
			files, err := bundle.FilesFromTarGz(tgz)
			if tt.err != "" {
				if isoerr.CodeOf(err) != isoerr.BundleFailed || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for n := range files {
				got = append(got, n)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("files %v, want %v", got, tt.want)
			}
		})
	}
}

// A TSX project (package.json's main) whose tsconfig.json picks the automatic JSX runtime
// of a package (jsxImportSource) renders through that package's jsx-runtime, imported from
// the package like any other module.
func TestJSX(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	reg.Add("tiny-jsx", "1.0.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"tiny-jsx","version":"1.0.0","type":"module","exports":{"./jsx-runtime":"./jsx-runtime.js","./jsx-dev-runtime":"./jsx-runtime.js"}}`,
		"jsx-runtime.js": `const render = (c) => Array.isArray(c) ? c.map(render).join("") : c == null || c === false ? "" : String(c);
export const Fragment = (p) => render(p.children);
export function jsx(type, props) {
  if (typeof type === "function") return type(props);
  const { children, ...attrs } = props;
  const a = Object.entries(attrs).map(([k, v]) => " " + k + "=\"" + v + "\"").join("");
  return "<" + type + a + ">" + render(children) + "</" + type + ">";
}
export const jsxs = jsx;`,
	}})
	files := map[string][]byte{
		"package.json":  []byte(`{"main":"src/app.tsx","dependencies":{"tiny-jsx":"1"}}`),
		"tsconfig.json": []byte(`{"compilerOptions":{"jsx":"react-jsx","jsxImportSource":"tiny-jsx","strict":true}}`),
		"src/Item.tsx":  []byte(`export const Item = ({ n }: { n: number }) => <li class="item">{n * 2}</li>;`),
		"src/app.tsx": []byte(`import { Item } from "./Item";
const List = (p: { xs: number[] }) => <><ul>{p.xs.map((n) => <Item n={n} />)}</ul>{false}</>;
export default { render(xs: number[]): string { return <List xs={xs} /> as unknown as string } };`),
	}
	res, err := bundle.New(bundle.Options{Registry: reg.URL}).Build(context.Background(), bundle.Project{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Code.Modules["npm/tiny-jsx@1.0.0/jsx-runtime.js"]; !ok || len(res.Code.Modules) != 2 {
		t.Fatalf("modules %v: the JSX runtime should be its package's module", slices.Sorted(maps.Keys(res.Code.Modules)))
	}
	r, err := loadCode(t, res.Code).Call(context.Background(), "render", json.RawMessage(`[[1,2]]`))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Value) != `"<ul><li class=\"item\">2</li><li class=\"item\">4</li></ul>"` {
		t.Fatalf("got %s", r.Value)
	}
}

// An exports map is matched by its own key order against the conditions workerd, worker,
// browser, import (module), default; node, require and types are not conditions of an
// import in a worker.
func TestExportConditions(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	for _, p := range []struct{ name, exports string }{
		{"c-worker", `{"node":"./no.js","worker":"./yes.js","default":"./no.js"}`},
		{"c-browser", `{"types":"./no.d.ts","node":"./no.js","browser":"./yes.js","default":"./no.js"}`},
		{"c-import", `{"require":"./no.js","import":"./yes.js"}`},
		{"c-default", `{"node":"./no.js","default":"./yes.js"}`},
		{"c-order", `{"default":"./yes.js","workerd":"./no.js"}`}, // the map's order, not the list's
		{"c-nested", `{".":{"node":{"import":"./no.js"},"workerd":{"require":"./no.js","import":"./yes.js"}}}`},
	} {
		reg.Add(p.name, "1.0.0", npmtest.Version{Files: map[string]string{
			"package.json": `{"name":"` + p.name + `","version":"1.0.0","type":"module","exports":` + p.exports + `}`,
			"yes.js":       `export const v = 1`,
			"no.js":        `export const v = 0`,
		}})
	}
	deps, imports := []string{}, []string{}
	for i, n := range []string{"c-worker", "c-browser", "c-import", "c-default", "c-order", "c-nested"} {
		deps = append(deps, `"`+n+`":"1"`)
		imports = append(imports, fmt.Sprintf(`import { v as v%d } from %q;`, i, n))
	}
	res, err := bundle.New(bundle.Options{Registry: reg.URL}).Build(context.Background(), bundle.Project{Files: map[string][]byte{
		"package.json": []byte(`{"dependencies":{` + strings.Join(deps, ",") + `}}`),
		"index.js":     []byte(strings.Join(imports, "\n") + "\nexport default { v: [v0, v1, v2, v3, v4, v5] }"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"c-worker", "c-browser", "c-import", "c-default", "c-order", "c-nested"} {
		if _, ok := res.Code.Modules["npm/"+n+"@1.0.0/yes.js"]; !ok {
			t.Errorf("%s: modules %v", n, slices.Sorted(maps.Keys(res.Code.Modules)))
		}
		if _, ok := res.Code.Modules["npm/"+n+"@1.0.0/no.js"]; ok {
			t.Errorf("%s: the wrong condition won", n)
		}
	}
}

// loadCode loads code into a loader of testEngine, both closed when the test ends.
func loadCode(t *testing.T, code api.WorkerCode) *loader.Stub {
	t.Helper()
	l, err := loader.New(loader.Config{Engine: testEngine})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	stub := l.Load(loader.FromAPI(code))
	t.Cleanup(func() { stub.Close(context.Background()) })
	return stub
}
