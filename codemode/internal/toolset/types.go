package toolset

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/isobox/isobox/internal/jsonv"
)

// maxSchemaDepth bounds how deep the generator follows a schema; deeper parts are unknown.
const maxSchemaDepth = 48

// typeGen writes the declaration. Definitions ($defs, definitions, OpenAPI components)
// become named types, shared by every tool whose schemas hold the same definition.
type typeGen struct {
	out     strings.Builder
	taken   map[string]bool   // type names in use
	defs    map[string]string // closure key of a definition -> its type name
	pending []pendingDef
}

type pendingDef struct {
	name string
	doc  *schemaDoc
	s    any
}

// schemaDoc is one root schema (a tool's input or output) being translated.
type schemaDoc struct {
	root     any
	rootName string            // the type name of the root: a "#" reference
	base     string            // the tool's type base, to name colliding definitions
	names    map[string]string // $ref -> type name, within this document
	inlining map[string]bool   // non-definition refs being expanded (cycle guard)
}

// Types is the TypeScript declaration of the tools (codemode.Types).
func (ts *Set) Types() (string, error) {
	g := &typeGen{taken: map[string]bool{}, defs: map[string]string{}}
	for _, ns := range ts.Namespaces {
		for _, bt := range ns.Tools {
			g.taken[bt.TypeBase+"Input"] = true
			g.taken[bt.TypeBase+"Output"] = true
		}
	}
	for _, ns := range ts.Namespaces {
		for _, bt := range ns.Tools {
			for _, side := range []struct {
				suffix string
				schema json.RawMessage
			}{{"Input", bt.Tool.InputSchema}, {"Output", bt.Tool.OutputSchema}} {
				name := bt.TypeBase + side.suffix
				if len(side.schema) == 0 {
					fmt.Fprintf(&g.out, "type %s = unknown;\n", name)
					continue
				}
				root, err := jsonv.Parse(side.schema)
				if err != nil {
					return "", fmt.Errorf("codemode: %s.%s: %s schema: %v", bt.NS, bt.Tool.Name, strings.ToLower(side.suffix), err)
				}
				doc := &schemaDoc{root: root, rootName: name, base: bt.TypeBase, names: map[string]string{}, inlining: map[string]bool{}}
				if o, ok := root.(*jsonv.Object); ok {
					if d := strings.TrimSpace(o.Str("description")); d != "" {
						g.out.WriteString(jsdoc(d, "", nil))
					}
				}
				fmt.Fprintf(&g.out, "type %s = %s;\n", name, g.typeOf(doc, root, 0, 0))
				g.flush()
			}
			g.out.WriteByte('\n')
		}
	}
	for i, ns := range ts.Namespaces {
		if i > 0 {
			g.out.WriteByte('\n')
		}
		if ns.Desc != "" {
			g.out.WriteString(jsdoc(ns.Desc, "", nil))
		}
		fmt.Fprintf(&g.out, "declare const %s: {\n", ns.Name)
		for _, bt := range ns.Tools {
			var tags []string
			if bt.Ident != bt.Tool.Name {
				tags = append(tags, fmt.Sprintf("(the tool %q)", bt.Tool.Name))
			}
			if d := strings.TrimSpace(bt.Tool.Description); d != "" || len(tags) > 0 {
				g.out.WriteString(jsdoc(d, "  ", tags))
			}
			opt := ""
			if OptionalInput(bt.Tool.InputSchema) {
				opt = "?"
			}
			fmt.Fprintf(&g.out, "  %s(input%s: %sInput): Promise<%sOutput>;\n", bt.Ident, opt, bt.TypeBase, bt.TypeBase)
		}
		g.out.WriteString("};\n")
	}
	return g.out.String(), nil
}

// OptionalInput reports whether the input is an object none of whose properties is required, so the
// argument may be left out (the sandbox then passes {}).
func OptionalInput(schema json.RawMessage) bool {
	if len(schema) == 0 {
		return true
	}
	v, err := jsonv.Parse(schema)
	if err != nil {
		return false
	}
	o, ok := v.(*jsonv.Object)
	if !ok {
		return v == true
	}
	if o.Has("$ref") || o.Has("oneOf") || o.Has("anyOf") || o.Has("allOf") {
		return false
	}
	t := o.Str("type")
	return (t == "object" || (t == "" && o.Has("properties"))) && len(o.Arr("required")) == 0
}

// flush writes the definitions named since the last flush (which may name more).
func (g *typeGen) flush() {
	for len(g.pending) > 0 {
		d := g.pending[0]
		g.pending = g.pending[1:]
		if o, ok := d.s.(*jsonv.Object); ok {
			if desc := o.Str("description"); desc != "" {
				g.out.WriteString(jsdoc(desc, "", nil))
			}
		}
		fmt.Fprintf(&g.out, "type %s = %s;\n", d.name, g.typeOf(d.doc, d.s, 0, 0))
	}
}

// typeOf translates schema s, written at indentation level ind.
func (g *typeGen) typeOf(doc *schemaDoc, s any, ind, depth int) string {
	if depth > maxSchemaDepth {
		return "unknown"
	}
	switch s := s.(type) {
	case bool:
		if s {
			return "unknown"
		}
		return "never"
	case *jsonv.Object:
		t := g.objectSchema(doc, s, ind, depth)
		if n, _ := s.Get("nullable"); n == true && t != "unknown" && !strings.HasSuffix(t, " | null") && t != "null" {
			t = union([]string{t, "null"})
		}
		return t
	}
	return "unknown"
}

func (g *typeGen) objectSchema(doc *schemaDoc, s *jsonv.Object, ind, depth int) string {
	if ref := s.Str("$ref"); ref != "" {
		return g.ref(doc, ref, ind, depth)
	}
	if c, ok := s.Get("const"); ok {
		return literal(c)
	}
	if e := s.Arr("enum"); len(e) > 0 {
		lits := make([]string, len(e))
		for i, v := range e {
			lits[i] = literal(v)
		}
		return union(lits)
	}
	base := ""
	if typeish(s, "oneOf", "anyOf", "allOf") {
		base = g.byType(doc, s, ind, depth)
	}
	var parts []string // each wrapped in parentheses when it is a union or intersection
	if base != "" && base != "unknown" && base != "Record<string, unknown>" {
		parts = append(parts, paren(base)) // ({type: "object"} adds nothing to a union of objects)
	}
	for _, kw := range []string{"oneOf", "anyOf"} {
		if alts := s.Arr(kw); len(alts) > 0 {
			var ts []string
			for _, a := range alts {
				if ao, ok := a.(*jsonv.Object); ok && !typeish(ao) {
					continue // a constraint only ({"required": [...]}): no type of its own
				}
				ts = append(ts, g.typeOf(doc, a, ind, depth+1))
			}
			if len(ts) > 0 {
				parts = append(parts, paren(union(ts)))
			}
		}
	}
	for _, a := range s.Arr("allOf") {
		if ao, ok := a.(*jsonv.Object); ok && !typeish(ao) {
			continue
		}
		parts = append(parts, paren(g.typeOf(doc, a, ind, depth+1)))
	}
	switch len(parts) {
	case 0:
		return g.byType(doc, s, ind, depth)
	case 1:
		return unparen(parts[0])
	}
	return strings.Join(parts, " & ")
}

// typeish reports whether a schema says anything about the type of a value (beyond the
// keywords named in except), as opposed to constraints like required or minLength.
func typeish(s *jsonv.Object, except ...string) bool {
	for _, k := range []string{"type", "properties", "additionalProperties", "items", "prefixItems",
		"enum", "const", "$ref", "oneOf", "anyOf", "allOf", "patternProperties"} {
		skip := false
		for _, e := range except {
			skip = skip || e == k
		}
		if !skip && s.Has(k) {
			return true
		}
	}
	return false
}

// byType translates the "type" keyword (a name or a list), or infers it.
func (g *typeGen) byType(doc *schemaDoc, s *jsonv.Object, ind, depth int) string {
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
			return "unknown"
		}
	}
	// null goes last: "string[] | null" reads better than "null | string[]".
	sort.SliceStable(types, func(i, j int) bool { return types[i] != "null" && types[j] == "null" })
	var out []string
	for _, t := range types {
		switch t {
		case "string":
			out = append(out, "string")
		case "number", "integer":
			out = append(out, "number")
		case "boolean":
			out = append(out, "boolean")
		case "null":
			out = append(out, "null")
		case "array":
			out = append(out, g.array(doc, s, ind, depth))
		case "object":
			out = append(out, g.object(doc, s, ind, depth))
		default:
			out = append(out, "unknown")
		}
	}
	return union(out)
}

func (g *typeGen) array(doc *schemaDoc, s *jsonv.Object, ind, depth int) string {
	tuple := s.Arr("prefixItems")
	rest, hasRest := s.Get("items")
	if tuple == nil {
		if a, ok := rest.([]any); ok { // draft-07 tuple form
			tuple = a
			rest, hasRest = s.Get("additionalItems")
		}
	}
	if tuple != nil {
		var elems []string
		for _, e := range tuple {
			elems = append(elems, g.typeOf(doc, e, ind, depth+1))
		}
		if hasRest && rest != false {
			elems = append(elems, "..."+paren(g.typeOf(doc, rest, ind, depth+1))+"[]")
		}
		return "[" + strings.Join(elems, ", ") + "]"
	}
	if !hasRest {
		return "unknown[]"
	}
	return paren(g.typeOf(doc, rest, ind, depth+1)) + "[]"
}

func (g *typeGen) object(doc *schemaDoc, s *jsonv.Object, ind, depth int) string {
	props := s.Obj("properties")
	required := map[string]bool{}
	for _, r := range s.Arr("required") {
		if n, ok := r.(string); ok {
			required[n] = true
		}
	}
	extra, hasExtra := s.Get("additionalProperties")
	if s.Has("patternProperties") && !hasExtra {
		extra, hasExtra = true, true
	}
	if props == nil || len(props.Keys) == 0 {
		switch {
		case hasExtra && extra == false:
			return "Record<string, never>"
		case !hasExtra || extra == true:
			return "Record<string, unknown>"
		}
		return "Record<string, " + g.typeOf(doc, extra, ind, depth+1) + ">"
	}
	pad := strings.Repeat("  ", ind+1)
	var b strings.Builder
	b.WriteString("{\n")
	for _, k := range props.Keys {
		ps := props.M[k]
		if po, ok := ps.(*jsonv.Object); ok {
			if d := propDoc(po); d != "" || len(docTags(po)) > 0 {
				b.WriteString(jsdoc(d, pad, docTags(po)))
			}
		}
		key := k
		if !isIdentifier(k) {
			kb, _ := json.Marshal(k)
			key = string(kb)
		}
		opt := "?"
		if required[k] {
			opt = ""
		}
		fmt.Fprintf(&b, "%s%s%s: %s;\n", pad, key, opt, g.typeOf(doc, ps, ind+1, depth+1))
	}
	if hasExtra && extra != false {
		// An index signature must admit every property's type; unknown always does.
		fmt.Fprintf(&b, "%s[key: string]: unknown;\n", pad)
	}
	b.WriteString(strings.Repeat("  ", ind) + "}")
	return b.String()
}

// propDoc is a property's description, falling back to its title.
func propDoc(s *jsonv.Object) string {
	if d := strings.TrimSpace(s.Str("description")); d != "" {
		return d
	}
	return strings.TrimSpace(s.Str("title"))
}

// docTags are the JSDoc lines of a property after its description: its numeric bounds
// (in an input, the host checks them before the tool runs), format, default and
// deprecation.
func docTags(s *jsonv.Object) []string {
	var tags []string
	if b := bounds(s); b != "" {
		tags = append(tags, b)
	}
	if items := s.Obj("items"); items != nil && hasType(s, "array") {
		if b := bounds(items); b != "" {
			tags = append(tags, "items: "+b)
		}
	}
	if f := s.Str("format"); f != "" {
		tags = append(tags, "@format "+f)
	}
	if d, ok := s.Get("default"); ok {
		tags = append(tags, "@default "+jsonv.Canonical(d))
	}
	if d, _ := s.Get("deprecated"); d == true {
		tags = append(tags, "@deprecated")
	}
	return tags
}

// bounds describes what a number must be, as TypeScript's number cannot: "integer,
// minimum 1, maximum 100". Both forms of exclusive bounds count (draft-04's boolean beside
// minimum, later drafts' number).
func bounds(s *jsonv.Object) string {
	var parts []string
	if hasType(s, "integer") {
		parts = append(parts, "integer")
	}
	num := func(k string) (string, bool) {
		v, _ := s.Get(k)
		n, ok := v.(json.Number)
		return n.String(), ok
	}
	for _, b := range []struct{ incl, excl, inclText, exclText string }{
		{"minimum", "exclusiveMinimum", "minimum ", "greater than "},
		{"maximum", "exclusiveMaximum", "maximum ", "less than "},
	} {
		ex, _ := s.Get(b.excl)
		if n, ok := num(b.incl); ok {
			if ex == true {
				parts = append(parts, b.exclText+n)
			} else {
				parts = append(parts, b.inclText+n)
			}
		}
		if n, ok := num(b.excl); ok {
			parts = append(parts, b.exclText+n)
		}
	}
	if n, ok := num("multipleOf"); ok {
		parts = append(parts, "multiple of "+n)
	}
	return strings.Join(parts, ", ")
}

// hasType reports whether the schema's type keyword (a name or a list) names t.
func hasType(s *jsonv.Object, t string) bool {
	switch v := s.M["type"].(type) {
	case string:
		return v == t
	case []any:
		for _, x := range v {
			if x == t {
				return true
			}
		}
	}
	return false
}

// ref translates a $ref: definitions become named types, other local pointers are
// expanded in place, anything else is unknown (isobox never fetches a schema).
func (g *typeGen) ref(doc *schemaDoc, ref string, ind, depth int) string {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return "unknown"
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	if frag == "" || frag == "/" {
		return doc.rootName
	}
	target, ok := jsonv.Pointer(doc.root, frag)
	if !ok {
		return "unknown"
	}
	defName := ""
	for _, prefix := range []string{"/$defs/", "/definitions/", "/components/schemas/"} {
		if rest, ok := strings.CutPrefix(frag, prefix); ok && !strings.Contains(rest, "/") {
			defName = strings.ReplaceAll(strings.ReplaceAll(rest, "~1", "/"), "~0", "~")
		}
	}
	if defName == "" {
		if doc.inlining[frag] {
			return "unknown"
		}
		doc.inlining[frag] = true
		defer delete(doc.inlining, frag)
		return g.typeOf(doc, target, ind, depth+1)
	}
	if n, ok := doc.names[frag]; ok {
		return n
	}
	key := g.closureKey(doc, frag)
	if n, ok := g.defs[key]; ok {
		doc.names[frag] = n
		return n
	}
	name := pascal(defName)
	if g.taken[name] {
		name = doc.base + pascal(defName)
	}
	for i, b := 2, name; g.taken[name]; i++ {
		name = fmt.Sprintf("%s%d", b, i)
	}
	g.taken[name] = true
	g.defs[key] = name
	doc.names[frag] = name
	g.pending = append(g.pending, pendingDef{name: name, doc: doc, s: target})
	return name
}

// closureKey identifies a definition by its text and the text of every definition it
// refers to: the same component of an OpenAPI document, copied into many tools'
// schemas, is one type.
func (g *typeGen) closureKey(doc *schemaDoc, frag string) string {
	seen := map[string]string{}
	var walk func(f string)
	var refs func(v any)
	refs = func(v any) {
		switch v := v.(type) {
		case *jsonv.Object:
			if r, ok := v.M["$ref"].(string); ok && strings.HasPrefix(r, "#") {
				walk(strings.TrimPrefix(r, "#"))
			}
			for _, k := range v.Keys {
				refs(v.M[k])
			}
		case []any:
			for _, x := range v {
				refs(x)
			}
		}
	}
	walk = func(f string) {
		if _, ok := seen[f]; ok {
			return
		}
		t, _ := jsonv.Pointer(doc.root, f)
		seen[f] = jsonv.Canonical(t)
		refs(t)
	}
	walk(frag)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(frag)
	for _, k := range keys {
		b.WriteString("\x00" + k + "\x00" + seen[k])
	}
	if _, self := seen[""]; self {
		b.WriteString("\x00root:" + doc.rootName) // refers to its root: never shared
	}
	return b.String()
}

// literal writes a JSON value as a TypeScript literal type.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		if v {
			return "true"
		}
		return "false"
	case json.Number:
		return v.String()
	case string:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return "unknown"
}

// union joins types with |, dropping duplicates; unknown absorbs the rest.
func union(ts []string) string {
	var out []string
	seen := map[string]bool{}
	for _, t := range ts {
		if t == "unknown" {
			return "unknown"
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return "never"
	}
	return strings.Join(out, " | ")
}

// paren wraps a union or intersection so it can take [] or be a member of another.
func paren(t string) string {
	depth := 0
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '{', '[', '(', '<':
			depth++
		case '}', ']', ')', '>':
			depth--
		case '|', '&':
			if depth == 0 {
				return "(" + t + ")"
			}
		case '"':
			for i++; i < len(t) && t[i] != '"'; i++ {
				if t[i] == '\\' {
					i++
				}
			}
		}
	}
	return t
}

// unparen undoes paren: the outer parentheses, when they enclose the whole type.
func unparen(t string) string {
	if !strings.HasPrefix(t, "(") || !strings.HasSuffix(t, ")") {
		return t
	}
	depth := 0
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 && i != len(t)-1 {
				return t // "(A) | (B)": the first ")" closes before the end
			}
		case '"':
			for i++; i < len(t) && t[i] != '"'; i++ {
				if t[i] == '\\' {
					i++
				}
			}
		}
	}
	return t[1 : len(t)-1]
}

// jsdoc writes a comment block at indentation pad. "*/" in the text is broken up so that
// a description can never end the comment (and inject declarations after it).
func jsdoc(text, pad string, tags []string) string {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		lines = append(lines, strings.TrimRight(l, " \t"))
	}
	if strings.TrimSpace(text) == "" {
		lines = nil
	}
	lines = append(lines, tags...)
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, "*/", "*\\/")
	}
	if len(lines) == 1 {
		return pad + "/** " + lines[0] + " */\n"
	}
	var b strings.Builder
	b.WriteString(pad + "/**\n")
	for _, l := range lines {
		if l == "" {
			b.WriteString(pad + " *\n")
		} else {
			b.WriteString(pad + " * " + l + "\n")
		}
	}
	b.WriteString(pad + " */\n")
	return b.String()
}
