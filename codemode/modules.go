package codemode

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	esbuild "github.com/evanw/esbuild/pkg/api"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// Module is an npm package that an operator offers to model code: in a run,
// `import { z } from "zod"` resolves to Source. codemode/config makes them from the
// config file's "modules" (installed and bundled once, when the file is opened).
type Module struct {
	// Name is the specifier the code imports ("zod", "@scope/pkg"); only the package's
	// root, not its subpaths.
	Name string
	// Version is the installed version, which the prompt states.
	Version string
	// Source is one ES module with the package and its dependencies bundled in and no
	// imports left.
	Source string
}

// SetModules sets the modules offered to the code of every run (Options.Modules of the
// servers' executions and the prompt of their execute tool).
func (c *Connectors) SetModules(ms []Module) {
	c.mu.Lock()
	c.modules = slices.Clone(ms)
	c.mu.Unlock()
}

// Modules returns the modules set with SetModules (nil for none).
func (c *Connectors) Modules() []Module {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.modules)
}

// moduleGlobal is the global that holds a module's exports while a run uses it.
func moduleGlobal(name string) string {
	q, _ := json.Marshal("__isobox_module:" + name)
	return "globalThis[" + string(q) + "]"
}

// importable returns the modules a run of code may import (the built-in ones and ms),
// and the script that defines those of ms that the code may use.
//
// A module is not bundled into each run (esbuild took 26-64 ms a run for zod or
// date-fns): the run's snippet imports a CommonJS stub that reads the module's exports
// from a global, and the script that sets that global, made once per module source
// (scripts), goes before the code. Only the modules whose name appears in the code are
// defined; an import must name its module, so none it needs is left out.
func (s *scripts) importable(code string, ms []Module) (map[string]string, string, error) {
	b := engine.BuiltinModules()
	if len(ms) == 0 {
		return b, "", nil
	}
	b = maps.Clone(b)
	var prelude strings.Builder
	for _, m := range ms {
		if m.Name == "" {
			return nil, "", isoerr.New(isoerr.InvalidRequest, "a module has no name")
		}
		if _, ok := b[m.Name]; ok {
			return nil, "", isoerr.New(isoerr.InvalidRequest, "module %q is offered twice, or is a built-in module", m.Name)
		}
		g := moduleGlobal(m.Name)
		q, _ := json.Marshal(m.Name)
		b[m.Name] = fmt.Sprintf("if (%s === undefined) throw new Error(\"module %%s is not loaded\", %s);\nmodule.exports = %s;\n", g, q, g)
		if !strings.Contains(code, m.Name) {
			continue
		}
		js, err := s.script(m)
		if err != nil {
			return nil, "", err
		}
		prelude.WriteString(js)
	}
	return b, prelude.String(), nil
}

// scripts caches the script of each module source: an IIFE that stores the module's
// exports (with __esModule, so that a default import is its default export) in
// moduleGlobal.
type scripts struct {
	mu sync.Mutex
	m  map[[32]byte]string
}

// maxScripts bounds the cache; it is cleared when full (an operator offers a few modules).
const maxScripts = 64

func (s *scripts) script(m Module) (string, error) {
	key := sha256.Sum256([]byte(m.Name + "\x00" + m.Source))
	s.mu.Lock()
	js, ok := s.m[key]
	s.mu.Unlock()
	if ok {
		return js, nil
	}
	r := esbuild.Transform(m.Source, esbuild.TransformOptions{
		Format: esbuild.FormatIIFE, GlobalName: moduleGlobal(m.Name), Loader: esbuild.LoaderJS,
		Target: esbuild.ESNext, Charset: esbuild.CharsetUTF8, MinifyWhitespace: true, LogLevel: esbuild.LogLevelSilent,
	})
	if len(r.Errors) > 0 {
		return "", isoerr.New(isoerr.InvalidRequest, "module %q does not parse: %s", m.Name, r.Errors[0].Text)
	}
	// One line where the module allows it, so that the code's line numbers move little.
	// A namespace whose one export is an object or function default is a CommonJS
	// package's module.exports (or an ES module's one default export): the stub then
	// gives that value itself, so that named imports read its properties and the default
	// import is still that value.
	g := moduleGlobal(m.Name)
	js = strings.TrimRight(string(r.Code), "\n") + ";(() => { const ns = " + g + ", k = Object.keys(ns); " +
		"if (k.length === 1 && k[0] === \"default\" && ns.default !== null && (typeof ns.default === \"object\" || typeof ns.default === \"function\")) " + g + " = ns.default; })();"
	s.mu.Lock()
	if s.m == nil || len(s.m) >= maxScripts {
		s.m = map[[32]byte]string{}
	}
	s.m[key] = js
	s.mu.Unlock()
	return js, nil
}

// describeModules is the prompt's paragraph about the modules ("" for none).
func describeModules(ms []Module) string {
	if len(ms) == 0 {
		return ""
	}
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Module) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	b.WriteString("\nThese npm packages can be imported, with import statements at the top of the code, before the async arrow function (only these, only by these names, not their subpaths):\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "- %s", m.Name)
		if m.Version != "" {
			fmt.Fprintf(&b, " (version %s)", m.Version)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nFor example:\n\nimport * as pkg from %q;\n\nasync () => {\n  ...\n}\n", ms[0].Name)
	return b.String()
}
