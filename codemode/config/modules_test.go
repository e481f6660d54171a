package config_test

import (
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/codemode/config"
	"github.com/isobox/isobox/internal/npm/npmtest"
	"github.com/isobox/isobox/isoerr"
)

// modulesRegistry publishes "greet" (an ES module with a default export, depending on
// "shout"), "@acme/sum" (no default export) and "cjs-util" (CommonJS).
func modulesRegistry(t *testing.T) *npmtest.Registry {
	reg := npmtest.NewRegistry(t)
	reg.Add("shout", "1.2.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"shout","version":"1.2.0","type":"module","exports":"./index.js"}`,
		"index.js":     `export const shout = (s) => s.toUpperCase() + "!";`,
	}})
	reg.Add("greet", "2.0.1", npmtest.Version{Dependencies: map[string]string{"shout": "^1.0.0"}, Files: map[string]string{
		"package.json": `{"name":"greet","version":"2.0.1","type":"module","main":"index.js","dependencies":{"shout":"^1.0.0"}}`,
		"index.js":     `import { shout } from "shout"; export const greet = (n) => shout("hello " + n); export default greet;`,
	}})
	reg.Add("@acme/sum", "0.3.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"@acme/sum","version":"0.3.0","type":"module","exports":{".":{"import":"./sum.mjs"}}}`,
		"sum.mjs":      `export function sum(xs) { return xs.reduce((a, b) => a + b, 0); }`,
	}})
	reg.Add("cjs-util", "1.0.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"cjs-util","version":"1.0.0","main":"lib/index.js"}`,
		"lib/index.js": `"use strict"; exports.pretty = function (v) { return JSON.stringify(v); }; exports.n = 3;`,
	}})
	return reg
}

func TestModules(t *testing.T) {
	ctx := context.Background()
	reg := modulesRegistry(t)
	f, err := config.Parse([]byte(`{"modules": {"greet": "^2", "@acme/sum": "0.3.x", "cjs-util": "1"}}`), ".")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := f.Open(ctx, config.Options{Bundler: bundle.New(bundle.Options{Registry: reg.URL})})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ms := cs.Modules()
	if len(ms) != 3 || ms[0].Name != "@acme/sum" || ms[0].Version != "0.3.0" || ms[1].Name != "cjs-util" || ms[2].Name != "greet" || ms[2].Version != "2.0.1" {
		t.Fatalf("modules %+v", ms)
	}
	installed := reg.Requests()
	if installed == 0 {
		t.Fatal("nothing was fetched from the registry")
	}
	for i := range 2 {
		res := executor.Execute(ctx, `import greet, { greet as g2 } from "greet";
import { sum } from "@acme/sum";
import util, { pretty, n } from "cjs-util";
async () => [greet("ada"), g2 === greet, sum([1, 2, 3]), pretty([n]), util.n]`, nil, codemode.Options{Modules: ms})
		if res.Error != nil || string(res.Result) != `["HELLO ADA!",true,6,"[3]",3]` {
			t.Fatalf("run %d: %s %v", i, res.Result, res.Error)
		}
	}
	if n := reg.Requests(); n != installed {
		t.Errorf("the runs made %d more registry requests; the modules are installed once, at Open", n-installed)
	}

	// A module not offered, and an offered one without the modules in the run's options.
	for _, c := range []struct {
		code string
		ms   []codemode.Module
	}{
		{`import { z } from "zod"; async () => z`, ms},
		{`import { shout } from "shout"; shout("x")`, ms}, // a dependency, not offered itself
		{`import { greet } from "greet"; greet("x")`, nil},
	} {
		res := executor.Execute(ctx, c.code, nil, codemode.Options{Modules: c.ms})
		name := strings.Split(c.code, `"`)[1]
		if res.Error == nil || res.Error.Code != isoerr.InvalidWorkerCode || !strings.Contains(res.Error.Message, `cannot import module "`+name+`"`) {
			t.Errorf("%s: %s %v", c.code, res.Result, res.Error)
		}
	}

	// The prompt names the modules and their versions and no longer forbids imports.
	desc, err := codemode.DescribeWith(codemode.DefaultLimits(), ms, codemode.Provider{Tools: []codemode.Tool{codemode.NewTool("noop", "Does nothing.", func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil })}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- greet (version 2.0.1)", "- @acme/sum (version 0.3.0)", "import nothing but the npm packages listed below"} {
		if !strings.Contains(desc, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, desc)
		}
	}
	if strings.Contains(desc, "do not import or require anything") {
		t.Errorf("the prompt still forbids imports:\n%s", desc)
	}
}

func TestModulesErrors(t *testing.T) {
	for _, c := range []struct{ cfg, want string }{
		{`{"modules": {"Zod": "^3"}}`, `"Zod" is not an npm package name`},
		{`{"modules": {"../x": "^3"}}`, "not an npm package name"},
		{`{"modules": {"zod": ""}}`, "modules.zod: give a version range"},
	} {
		if _, err := config.Parse([]byte(c.cfg), "."); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.cfg, err, c.want)
		}
	}
	reg := modulesRegistry(t)
	for _, c := range []struct{ cfg, want string }{
		{`{"modules": {"nope": "^1"}}`, "modules.nope: "},
		{`{"modules": {"greet": "^9"}}`, "modules.greet: "},
	} {
		f, err := config.Parse([]byte(c.cfg), ".")
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Open(context.Background(), config.Options{Bundler: bundle.New(bundle.Options{Registry: reg.URL})})
		if err == nil || !strings.Contains(err.Error(), c.want) || isoerr.CodeOf(err) != isoerr.BundleFailed {
			t.Errorf("%s: %v (%s)", c.cfg, err, isoerr.CodeOf(err))
		}
	}
}

// A run evaluates only the modules it names: the others cost it nothing. A module
// whose source does not parse is an invalid_request naming it.
func TestModulesEvaluatedWhenNamed(t *testing.T) {
	ctx := context.Background()
	ms := []codemode.Module{{Name: "counted", Source: "globalThis.loads = (globalThis.loads ?? 0) + 1;\nexport const one = 1;\n"}}
	for _, c := range []struct{ code, want string }{
		{`globalThis.loads ?? 0`, `0`},
		{`import { one } from "counted"; [one, globalThis.loads]`, `[1,1]`},
	} {
		res := executor.Execute(ctx, c.code, nil, codemode.Options{Modules: ms})
		if res.Error != nil || string(res.Result) != c.want {
			t.Errorf("%s: %s %v, want %s", c.code, res.Result, res.Error, c.want)
		}
	}
	bad := []codemode.Module{{Name: "broken", Source: "export const = 1"}}
	res := executor.Execute(ctx, `import x from "broken"; x`, nil, codemode.Options{Modules: bad})
	if res.Error == nil || res.Error.Code != isoerr.InvalidRequest || !strings.Contains(res.Error.Message, `module "broken" does not parse`) {
		t.Errorf("broken module: %s %v", res.Result, res.Error)
	}
}
