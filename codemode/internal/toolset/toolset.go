// Package toolset is the part of Code Mode that needs no sandbox: it resolves providers
// into namespaces and tool names, writes the TypeScript and Python declarations the model
// is shown and the JavaScript prelude that defines the namespaces, and checks tool
// arguments against their schemas. codemode runs the code; this package only turns
// schemas and names (a stranger's, from MCP servers and OpenAPI documents) into text.
//
// It imports no engine, loader, esbuild or SQLite, so that its fuzz targets (FuzzToolTypes,
// FuzzCheckArgs) build quickly: `go test -fuzz` instruments every package the test binary
// links, and codemode's test binary links the whole sandbox. (FuzzToolTypes parses what it
// writes with esbuild, through internal/jsnorm, so esbuild is in the fuzz binary.)
package toolset

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// DefaultNamespace is the namespace of a Provider without a name.
const DefaultNamespace = "codemode"

// Tool is codemode.Tool: one function the model's code can call.
type Tool struct {
	Name         string
	Description  string
	InputSchema  json.RawMessage // nil: any value
	OutputSchema json.RawMessage // nil: unknown
	Func         func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)
}

// Provider is codemode.Provider: a set of tools under one namespace.
type Provider struct {
	Name        string // "" is DefaultNamespace
	Description string
	Tools       []Tool
}

// Namespace is the name a provider's tools are under, or DefaultNamespace.
func (p Provider) Namespace() string {
	if p.Name == "" {
		return DefaultNamespace
	}
	return p.Name
}

// Set is a list of providers resolved once: namespaces merged, names sanitised and
// made unique, type names assigned. The TypeScript declaration and the executor both use
// it, so the names the model is shown are the names that work.
type Set struct {
	Namespaces []*Namespace
	byName     map[string]*Bound // "ns.ident" and "ns.<original name>"
}

// Namespace is one global of the sandbox and its tools.
type Namespace struct {
	Name  string
	Desc  string
	Tools []*Bound
}

// Bound is a tool with the names it has in the sandbox.
type Bound struct {
	NS, Ident string // codemode.search_web
	TypeBase  string // SearchWeb: SearchWebInput, SearchWebOutput
	Tool      Tool
}

// Path is the name the code calls the tool by: "namespace.ident".
func (t *Bound) Path() string { return t.NS + "." + t.Ident }

// Resolve merges providers that share a namespace and names every tool.
func Resolve(providers []Provider) (*Set, error) {
	ts := &Set{byName: map[string]*Bound{}}
	byNS := map[string]*Namespace{}
	typeNames := map[string]bool{}
	originals := map[string]bool{}
	for _, p := range providers {
		name := p.Namespace()
		if err := CheckNamespace(name); err != nil {
			return nil, err
		}
		ns := byNS[name]
		if ns == nil {
			ns = &Namespace{Name: name}
			byNS[name] = ns
			ts.Namespaces = append(ts.Namespaces, ns)
		}
		if ns.Desc == "" {
			ns.Desc = p.Description
		}
		for _, t := range p.Tools {
			if t.Name == "" {
				return nil, fmt.Errorf("codemode: a tool of namespace %q has no name", name)
			}
			if t.Func == nil {
				return nil, fmt.Errorf("codemode: tool %s.%s has no Func", name, t.Name)
			}
			if originals[name+"."+t.Name] {
				return nil, fmt.Errorf("codemode: two tools are named %s.%s", name, t.Name)
			}
			originals[name+"."+t.Name] = true
			ident := SanitizeName(t.Name)
			for i := 2; ts.byName[name+"."+ident] != nil; i++ {
				ident = fmt.Sprintf("%s_%d", SanitizeName(t.Name), i)
			}
			base := pascal(ident)
			if name != DefaultNamespace {
				base = pascal(name) + base
			}
			for i := 2; typeNames[base]; i++ {
				base = fmt.Sprintf("%s%d", strings.TrimRight(base, "0123456789"), i)
			}
			typeNames[base] = true
			bt := &Bound{NS: name, Ident: ident, TypeBase: base, Tool: t}
			ns.Tools = append(ns.Tools, bt)
			ts.byName[bt.Path()] = bt
		}
	}
	// The original names too, where they differ: codemode["search-web"](...) works.
	for _, ns := range ts.Namespaces {
		for _, bt := range ns.Tools {
			if k := ns.Name + "." + bt.Tool.Name; ts.byName[k] == nil {
				ts.byName[k] = bt
			}
		}
	}
	return ts, nil
}

// Lookup finds the tool a call names, or says which tools there are.
func (ts *Set) Lookup(name string) (*Bound, error) {
	if bt := ts.byName[name]; bt != nil {
		return bt, nil
	}
	ns, tool, ok := strings.Cut(name, ".")
	var in *Namespace
	for _, n := range ts.Namespaces {
		if n.Name == ns {
			in = n
		}
	}
	if !ok || in == nil {
		var names []string
		for _, n := range ts.Namespaces {
			names = append(names, n.Name)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s is not a tool: no tools are available", name)
		}
		return nil, fmt.Errorf("%s is not a tool: the tool namespaces are %s", name, strings.Join(names, ", "))
	}
	var names []string
	suggest := ""
	for _, bt := range in.Tools {
		names = append(names, bt.Ident)
		if strings.EqualFold(bt.Ident, tool) || strings.EqualFold(bt.Tool.Name, tool) ||
			strings.EqualFold(strings.ReplaceAll(bt.Ident, "_", ""), strings.ReplaceAll(tool, "_", "")) {
			suggest = bt.Ident
		}
	}
	sort.Strings(names)
	msg := fmt.Sprintf("%s is not a tool", name)
	if suggest != "" {
		msg += fmt.Sprintf(" (did you mean %s.%s?)", ns, suggest)
	}
	const most = 30
	if len(names) > most {
		return nil, fmt.Errorf("%s; %s has %d tools, among them %s, ...", msg, ns, len(names), strings.Join(names[:most], ", "))
	}
	return nil, fmt.Errorf("%s; the tools of %s are %s", msg, ns, strings.Join(names, ", "))
}

// Prelude defines one global per namespace: an object whose methods call the host with
// "namespace.tool" and the argument ({} when left out). A name that is not a tool still
// reaches the host, which answers with the list of tools; then and toJSON stay
// undefined so that the objects can be awaited and logged. It is one line, so that the
// model's code keeps its line numbers.
func (ts *Set) Prelude() string {
	if len(ts.Namespaces) == 0 {
		return ""
	}
	var names, calls []string
	for _, ns := range ts.Namespaces {
		idents := make([]string, len(ns.Tools))
		for i, bt := range ns.Tools {
			idents[i] = bt.Ident
		}
		nb, _ := json.Marshal(ns.Name)
		ib, _ := json.Marshal(idents)
		names = append(names, ns.Name)
		calls = append(calls, fmt.Sprintf("mk(%s, %s)", nb, ib))
	}
	return "const [" + strings.Join(names, ", ") + "] = ((call) => { " +
		"const mk = (ns, names) => { " +
		"const fn = (n) => async (input) => call(ns + \".\" + n, input === undefined ? {} : input); " +
		"const m = Object.create(null); for (const n of names) m[n] = fn(n); " +
		"return new Proxy(Object.freeze(m), { get: (t, k) => typeof k !== \"string\" ? undefined : k in t ? t[k] : " +
		"(k === \"then\" || k === \"toJSON\" || k === \"constructor\") ? undefined : fn(k) }); }; " +
		"return [" + strings.Join(calls, ", ") + "]; })(globalThis.__isobox_internal.callTool); "
}
