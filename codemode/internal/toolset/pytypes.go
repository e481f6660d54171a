package toolset

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/isobox/isobox/internal/jsonv"
)

// pyGen writes the Python declaration. Objects with properties become TypedDicts, named
// after the tool and the place they appear; definitions ($defs, ...) after their name.
type pyGen struct {
	out   strings.Builder
	taken map[string]string // class name -> its body (one body, one name)
}

// pyDoc is one root schema being translated (a tool's input or output).
type pyDoc struct {
	root     any
	inlining map[string]bool // refs being expanded (cycle guard)
}

// PyTypes is the Python declaration of the tools (codemode.PythonTypes).
func (ts *Set) PyTypes() (string, error) {
	g := &pyGen{taken: map[string]string{}}
	var classes strings.Builder
	for i, ns := range ts.Namespaces {
		if i > 0 {
			classes.WriteByte('\n')
		}
		fmt.Fprintf(&classes, "class %s:\n", PyIdent(ns.Name))
		if ns.Desc != "" {
			classes.WriteString(pyDocstring(ns.Desc, "    ", nil))
		}
		names := ns.PyNames()
		for j, bt := range ns.Tools {
			if j > 0 || ns.Desc != "" {
				classes.WriteByte('\n')
			}
			sig, params, err := g.signature(bt)
			if err != nil {
				return "", err
			}
			out := "Any"
			if len(bt.Tool.OutputSchema) > 0 {
				root, err := jsonv.Parse(bt.Tool.OutputSchema)
				if err != nil {
					return "", fmt.Errorf("codemode: %s.%s: output schema: %v", bt.NS, bt.Tool.Name, err)
				}
				out = g.named(&pyDoc{root: root, inlining: map[string]bool{}}, root, bt.TypeBase+"Output", 0)
			}
			fmt.Fprintf(&classes, "    async def %s(%s) -> %s:\n", names[j], sig, out)
			var lines []string
			if names[j] != bt.Tool.Name {
				lines = append(lines, fmt.Sprintf("(the tool %q)", bt.Tool.Name))
			}
			lines = append(lines, params...)
			classes.WriteString(pyDocstring(bt.Tool.Description, "        ", lines))
			classes.WriteString("        ...\n")
		}
		if len(ns.Tools) == 0 {
			classes.WriteString("    ...\n")
		}
	}
	g.out.WriteString(classes.String())
	return g.out.String(), nil
}

// signature writes a tool's parameters: keyword-only ones for an input object whose
// properties are all Python identifiers, else one positional input. params are the
// docstring lines describing them.
func (g *pyGen) signature(bt *Bound) (sig string, params []string, err error) {
	if len(bt.Tool.InputSchema) == 0 {
		return "input: Any = ..., /", nil, nil
	}
	root, err := jsonv.Parse(bt.Tool.InputSchema)
	if err != nil {
		return "", nil, fmt.Errorf("codemode: %s.%s: input schema: %v", bt.NS, bt.Tool.Name, err)
	}
	doc := &pyDoc{root: root, inlining: map[string]bool{}}
	obj := g.deref(doc, root)
	if o, ok := obj.(*jsonv.Object); ok && pyKwargsObject(o) {
		props := o.Obj("properties")
		if props == nil || len(props.Keys) == 0 {
			return "", nil, nil
		}
		required := requiredSet(o)
		var req, opt []string
		for _, k := range props.Keys {
			ps := props.M[k]
			t := g.named(doc, ps, bt.TypeBase+pascal(k), 1)
			if required[k] {
				req = append(req, k+": "+t)
			} else {
				opt = append(opt, k+": "+t+" = ...")
			}
			if po, ok := ps.(*jsonv.Object); ok {
				d, tags := propDoc(po), docTags(po)
				if d := strings.Join(append(nonEmpty(oneLine(d)), tags...), " "); d != "" {
					params = append(params, k+": "+d)
				}
			}
		}
		return "*, " + strings.Join(append(req, opt...), ", "), params, nil
	}
	t := g.named(doc, root, bt.TypeBase+"Input", 0)
	if OptionalInput(bt.Tool.InputSchema) {
		return "input: " + t + " = ..., /", nil, nil
	}
	return "input: " + t + ", /", nil, nil
}

// pyKwargsObject: the schema is an object whose properties can all be keyword arguments
// (Python identifiers, not keywords, not private), with nothing that keywords cannot say.
func pyKwargsObject(o *jsonv.Object) bool {
	if o.Has("oneOf") || o.Has("anyOf") || o.Has("allOf") || o.Has("$ref") || o.Has("patternProperties") {
		return false
	}
	if t := o.Str("type"); t != "object" && !(t == "" && (o.Has("properties") || o.Has("required"))) {
		return false
	}
	props := o.Obj("properties")
	if props == nil {
		return len(o.Arr("required")) == 0
	}
	for _, k := range props.Keys {
		if PyIdent(k) != k || strings.HasPrefix(k, "_") {
			return false
		}
	}
	return true
}

// deref follows $ref (local pointers only) until a schema that is not one.
func (g *pyGen) deref(doc *pyDoc, s any) any {
	for i := 0; i < 16; i++ {
		o, ok := s.(*jsonv.Object)
		if !ok {
			return s
		}
		ref := o.Str("$ref")
		if ref == "" {
			return s
		}
		t, ok := resolveRef(doc.root, ref)
		if !ok {
			return true
		}
		s = t
	}
	return true
}

func resolveRef(root any, ref string) (any, bool) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	if frag == "" || frag == "/" {
		return root, true
	}
	return jsonv.Pointer(root, frag)
}

// named translates s; an object with properties becomes a TypedDict called name (or the
// name of the definition it is), and a root (depth 0) that is not one an alias of name.
func (g *pyGen) named(doc *pyDoc, s any, name string, depth int) string {
	t := g.typeOf(doc, s, name, depth+1)
	if depth == 0 && t != name && t != "Any" && !isIdentifier(t) {
		return g.class(name, namePlace+" = "+t+"\n")
	}
	return t
}

// namePlace marks where a declaration's name goes in its body (see class).
const namePlace = "\x00"

// class declares a type under name (or a numbered variant of it if name holds another
// body): body has namePlace where the name goes. The same body under the same base name is one
// declaration.
func (g *pyGen) class(name, body string) string {
	for i, n := 2, name; ; i++ {
		if have, ok := g.taken[n]; !ok {
			g.taken[n] = body
			g.out.WriteString(strings.ReplaceAll(body, namePlace, n) + "\n")
			return n
		} else if have == body {
			return n
		}
		n = fmt.Sprintf("%s%d", name, i)
	}
}

// typeOf is schema s as a Python type; objects met on the way are declared with names
// starting with hint.
func (g *pyGen) typeOf(doc *pyDoc, s any, hint string, depth int) string {
	if depth > maxSchemaDepth {
		return "Any"
	}
	switch s := s.(type) {
	case bool:
		if s {
			return "Any"
		}
		return "Never"
	case *jsonv.Object:
		t := g.objectSchema(doc, s, hint, depth)
		if n, _ := s.Get("nullable"); n == true {
			t = pyUnion([]string{t, "None"})
		}
		return t
	}
	return "Any"
}

func (g *pyGen) objectSchema(doc *pyDoc, s *jsonv.Object, hint string, depth int) string {
	if ref := s.Str("$ref"); ref != "" {
		if doc.inlining[ref] {
			return "Any"
		}
		target, ok := resolveRef(doc.root, ref)
		if !ok {
			return "Any"
		}
		if i := strings.LastIndex(ref, "/"); i >= 0 && i+1 < len(ref) {
			hint = pascal(strings.ReplaceAll(strings.ReplaceAll(ref[i+1:], "~1", "/"), "~0", "~"))
		}
		doc.inlining[ref] = true
		defer delete(doc.inlining, ref)
		return g.typeOf(doc, target, hint, depth+1)
	}
	if c, ok := s.Get("const"); ok {
		return "Literal[" + pyLiteral(c) + "]"
	}
	if e := s.Arr("enum"); len(e) > 0 {
		lits := make([]string, len(e))
		for i, v := range e {
			lits[i] = pyLiteral(v)
		}
		return "Literal[" + strings.Join(lits, ", ") + "]"
	}
	for _, kw := range []string{"oneOf", "anyOf"} {
		if alts := s.Arr(kw); len(alts) > 0 {
			var ts []string
			for i, a := range alts {
				if ao, ok := a.(*jsonv.Object); ok && !typeish(ao) {
					continue
				}
				ts = append(ts, g.typeOf(doc, a, fmt.Sprintf("%s%d", hint, i+1), depth+1))
			}
			if len(ts) > 0 {
				return pyUnion(ts)
			}
		}
	}
	if parts := s.Arr("allOf"); len(parts) > 0 {
		var typed []any
		for _, a := range parts {
			if ao, ok := a.(*jsonv.Object); !ok || typeish(ao) {
				typed = append(typed, a)
			}
		}
		if len(typed) == 1 && !typeish(s, "allOf") {
			return g.typeOf(doc, typed[0], hint, depth+1)
		}
		if len(typed) > 0 {
			return "dict[str, Any]"
		}
	}
	return g.byType(doc, s, hint, depth)
}

func (g *pyGen) byType(doc *pyDoc, s *jsonv.Object, hint string, depth int) string {
	var types []string
	switch t := s.M["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			if n, ok := x.(string); ok {
				types = append(types, n)
			}
		}
	}
	if len(types) == 0 {
		switch {
		case s.Has("properties") || s.Has("additionalProperties") || s.Has("patternProperties") || s.Has("required"):
			types = []string{"object"}
		case s.Has("items") || s.Has("prefixItems"):
			types = []string{"array"}
		default:
			return "Any"
		}
	}
	sort.SliceStable(types, func(i, j int) bool { return types[i] != "null" && types[j] == "null" })
	var out []string
	for _, t := range types {
		switch t {
		case "string":
			out = append(out, "str")
		case "integer":
			out = append(out, "int")
		case "number":
			out = append(out, "float")
		case "boolean":
			out = append(out, "bool")
		case "null":
			out = append(out, "None")
		case "array":
			out = append(out, g.array(doc, s, hint, depth))
		case "object":
			out = append(out, g.object(doc, s, hint, depth))
		default:
			out = append(out, "Any")
		}
	}
	return pyUnion(out)
}

func (g *pyGen) array(doc *pyDoc, s *jsonv.Object, hint string, depth int) string {
	tuple := s.Arr("prefixItems")
	rest, hasRest := s.Get("items")
	if tuple == nil {
		if a, ok := rest.([]any); ok {
			tuple = a
			rest, hasRest = s.Get("additionalItems")
		}
	}
	if tuple != nil {
		if hasRest && rest != false {
			return "list[Any]"
		}
		var elems []string
		for i, e := range tuple {
			elems = append(elems, g.typeOf(doc, e, fmt.Sprintf("%s%d", hint, i+1), depth+1))
		}
		return "list[" + pyUnion(elems) + "]"
	}
	if !hasRest {
		return "list[Any]"
	}
	return "list[" + g.typeOf(doc, rest, strings.TrimSuffix(hint, "s")+"Item", depth+1) + "]"
}

func (g *pyGen) object(doc *pyDoc, s *jsonv.Object, hint string, depth int) string {
	props := s.Obj("properties")
	if props == nil || len(props.Keys) == 0 {
		extra, hasExtra := s.Get("additionalProperties")
		if hasExtra && extra != true && extra != false {
			return "dict[str, " + g.typeOf(doc, extra, hint+"Value", depth+1) + "]"
		}
		return "dict[str, Any]"
	}
	required := requiredSet(s)
	idents := true
	for _, k := range props.Keys {
		idents = idents && PyIdent(k) == k
	}
	var fields []string
	for _, k := range props.Keys {
		ps := props.M[k]
		t := g.typeOf(doc, ps, hint+pascal(k), depth+1)
		if !required[k] {
			t = "NotRequired[" + t + "]"
		}
		comment := ""
		if po, ok := ps.(*jsonv.Object); ok {
			if d := strings.Join(append(nonEmpty(oneLine(propDoc(po))), docTags(po)...), " "); d != "" {
				comment = "  # " + d
			}
		}
		if idents {
			fields = append(fields, "    "+k+": "+t+comment+"\n")
		} else {
			kb, _ := json.Marshal(k)
			fields = append(fields, "    "+string(kb)+": "+t+","+comment+"\n")
		}
	}
	var b strings.Builder
	if idents {
		b.WriteString("class " + namePlace + "(TypedDict):\n")
		if d := strings.TrimSpace(s.Str("description")); d != "" {
			b.WriteString(pyDocstring(d, "    ", nil))
		}
		b.WriteString(strings.Join(fields, ""))
	} else {
		b.WriteString(namePlace + " = TypedDict(\"" + namePlace + "\", {\n" + strings.Join(fields, "") + "})\n")
	}
	return g.class(hint, b.String())
}

func requiredSet(o *jsonv.Object) map[string]bool {
	required := map[string]bool{}
	for _, r := range o.Arr("required") {
		if n, ok := r.(string); ok {
			required[n] = true
		}
	}
	return required
}

// pyUnion joins types with |, dropping duplicates; Any absorbs the rest.
func pyUnion(ts []string) string {
	var out []string
	seen := map[string]bool{}
	for _, t := range ts {
		if t == "Any" {
			return "Any"
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return "Never"
	}
	return strings.Join(out, " | ")
}

// pyLiteral writes a JSON value as a member of Literal[...].
func pyLiteral(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case json.Number:
		return v.String()
	case string:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return "Any"
}

// pyDocstring writes a docstring at indentation pad: text, then lines after an empty one.
// A `"""` in the text is broken up, so that a description cannot end the string.
func pyDocstring(text, pad string, lines []string) string {
	text = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(text), "\r\n", "\n"), "\r", "\n")
	var all []string
	if text != "" {
		for _, l := range strings.Split(text, "\n") {
			all = append(all, strings.TrimRight(l, " \t"))
		}
	}
	if len(lines) > 0 {
		if len(all) > 0 {
			all = append(all, "")
		}
		all = append(all, lines...)
	}
	if len(all) == 0 {
		return ""
	}
	for i, l := range all {
		all[i] = strings.ReplaceAll(strings.ReplaceAll(l, `\`, `\\`), `"""`, `"\""`)
	}
	if len(all) == 1 {
		return pad + `"""` + all[0] + `"""` + "\n"
	}
	var b strings.Builder
	b.WriteString(pad + `"""` + all[0] + "\n")
	for _, l := range all[1:] {
		if l == "" {
			b.WriteString("\n")
		} else {
			b.WriteString(pad + l + "\n")
		}
	}
	b.WriteString(pad + `"""` + "\n")
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// pyKeywords are Python's keywords: names that cannot be attributes written with a dot.
var pyKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true, "def": true,
	"del": true, "elif": true, "else": true, "except": true, "finally": true, "for": true,
	"from": true, "global": true, "if": true, "import": true, "in": true, "is": true,
	"lambda": true, "nonlocal": true, "not": true, "or": true, "pass": true, "raise": true,
	"return": true, "try": true, "while": true, "with": true, "yield": true,
}

// PyIdent turns a JavaScript identifier (a namespace or tool name) into a Python one:
// "$" becomes "_", and a keyword gets "_" behind.
func PyIdent(s string) string {
	s = strings.ReplaceAll(s, "$", "_")
	if !isIdentifier(s) {
		s = SanitizeName(s)
		s = strings.ReplaceAll(s, "$", "_")
	}
	if pyKeywords[s] {
		s += "_"
	}
	return s
}

// PyNames are the names of the namespace's tools as Python code writes them (PyIdent of
// their JavaScript names, made unique), in the order of ns.Tools.
func (ns *Namespace) PyNames() []string {
	names := make([]string, len(ns.Tools))
	seen := map[string]bool{}
	for i, bt := range ns.Tools {
		n := PyIdent(bt.Ident)
		for j := 2; seen[n]; j++ {
			n = fmt.Sprintf("%s_%d", PyIdent(bt.Ident), j)
		}
		seen[n] = true
		names[i] = n
	}
	return names
}
