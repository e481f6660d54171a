package codemode

import (
	"fmt"
	"sort"
	"strings"
)

// toolset is a list of providers resolved once: namespaces merged, names sanitised and
// made unique, type names assigned. The TypeScript declaration and the executor both use
// it, so the names the model is shown are the names that work.
type toolset struct {
	namespaces []*namespace
	byName     map[string]*boundTool // "ns.ident" and "ns.<original name>"
}

type namespace struct {
	name  string
	desc  string
	tools []*boundTool
}

type boundTool struct {
	ns, ident string // codemode.search_web
	typeBase  string // SearchWeb: SearchWebInput, SearchWebOutput
	tool      Tool
}

func (t *boundTool) path() string { return t.ns + "." + t.ident }

// resolve merges providers that share a namespace and names every tool.
func resolve(providers []Provider) (*toolset, error) {
	ts := &toolset{byName: map[string]*boundTool{}}
	byNS := map[string]*namespace{}
	typeNames := map[string]bool{}
	originals := map[string]bool{}
	for _, p := range providers {
		name := p.namespace()
		if err := checkNamespace(name); err != nil {
			return nil, err
		}
		ns := byNS[name]
		if ns == nil {
			ns = &namespace{name: name}
			byNS[name] = ns
			ts.namespaces = append(ts.namespaces, ns)
		}
		if ns.desc == "" {
			ns.desc = p.Description
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
			bt := &boundTool{ns: name, ident: ident, typeBase: base, tool: t}
			ns.tools = append(ns.tools, bt)
			ts.byName[bt.path()] = bt
		}
	}
	// The original names too, where they differ: codemode["search-web"](...) works.
	for _, ns := range ts.namespaces {
		for _, bt := range ns.tools {
			if k := ns.name + "." + bt.tool.Name; ts.byName[k] == nil {
				ts.byName[k] = bt
			}
		}
	}
	return ts, nil
}

// lookup finds the tool a call names, or says which tools there are.
func (ts *toolset) lookup(name string) (*boundTool, error) {
	if bt := ts.byName[name]; bt != nil {
		return bt, nil
	}
	ns, tool, ok := strings.Cut(name, ".")
	var in *namespace
	for _, n := range ts.namespaces {
		if n.name == ns {
			in = n
		}
	}
	if !ok || in == nil {
		var names []string
		for _, n := range ts.namespaces {
			names = append(names, n.name)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s is not a tool: no tools are available", name)
		}
		return nil, fmt.Errorf("%s is not a tool: the tool namespaces are %s", name, strings.Join(names, ", "))
	}
	var names []string
	suggest := ""
	for _, bt := range in.tools {
		names = append(names, bt.ident)
		if strings.EqualFold(bt.ident, tool) || strings.EqualFold(bt.tool.Name, tool) ||
			strings.EqualFold(strings.ReplaceAll(bt.ident, "_", ""), strings.ReplaceAll(tool, "_", "")) {
			suggest = bt.ident
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
