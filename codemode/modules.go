package codemode

import (
	"fmt"
	"maps"
	"slices"
	"strings"

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

// importable returns the modules a run may import: the built-in ones and ms.
func importable(ms []Module) (map[string]string, error) {
	b := engine.BuiltinModules()
	if len(ms) == 0 {
		return b, nil
	}
	b = maps.Clone(b)
	for _, m := range ms {
		if m.Name == "" {
			return nil, isoerr.New(isoerr.InvalidRequest, "a module has no name")
		}
		if _, ok := b[m.Name]; ok {
			return nil, isoerr.New(isoerr.InvalidRequest, "module %q is offered twice, or is a built-in module", m.Name)
		}
		b[m.Name] = m.Source
	}
	return b, nil
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
