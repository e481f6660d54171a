package jsonschema

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// schema is one compiled (sub)schema: the keywords of its dialect that it has, checked
// and ready.
type schema struct {
	loc     string // JSON pointer in the document
	id      int    // 0..Schema.nodes-1, for cycle marks
	dialect Dialect
	res     *resource

	isBool, boolVal bool
	onlyRef         bool // drafts 04-07: a $ref makes its siblings ignored

	types    uint8 // bit per kind, and typeInteger
	typeList []string
	enum     []value
	cnst     *value
	format   string
	checkFmt func(string) error

	ref, recursiveRef, dynamicRef *schema
	dynamicName                   string // $dynamicRef's anchor, when its target is a $dynamicAnchor

	minimum, maximum, exclMin, exclMax, multipleOf *value

	minLength, maxLength int // -1 when absent
	pattern              *pattern

	minItems, maxItems       int
	uniqueItems              bool
	prefixItems              []*schema // 2020 prefixItems, or the array form of items
	items                    *schema   // applies to the items after prefixItems
	additionalItems          *schema   // drafts before 2020, with the array form of items
	contains                 *schema
	minContains, maxContains int

	properties           map[string]*schema
	patternProperties    []patternSchema
	additionalProperties *schema
	required             []string
	minProps, maxProps   int
	dependencies         []dependency // dependencies, dependentRequired, dependentSchemas
	propertyNames        *schema

	allOf, anyOf, oneOf []*schema
	not                 *schema
	ifS, then, els      *schema

	unevalProps, unevalItems *schema
}

const typeInteger = 1 << 6

type patternSchema struct {
	re *pattern
	s  *schema
}

// dependency is one entry of dependencies, dependentRequired or dependentSchemas: when
// prop is present, required must be too, and s must match.
type dependency struct {
	prop     string
	required []string
	s        *schema
	keyword  string
}

// resource is a schema resource: the document root or a subschema with an $id.
type resource struct {
	uri             string
	ptr             string
	dialect         Dialect
	anchors         map[string]string // name -> pointer
	dynamicAnchors  map[string]string
	recursiveAnchor bool

	root           *schema            // compiled when $recursiveRef may land on it
	dynamicSchemas map[string]*schema // the $dynamicAnchor schemas, compiled
}

type compiler struct {
	doc     value
	byURI   map[string]*resource
	byPtr   map[string]*resource
	nodes   map[string]*schema
	n       int
	dynamic bool
}

// rootURI is the base URI of a document without an $id of its own.
const rootURI = "x-jsonschema:///schema"

// Compile compiles a schema document.
//
//	s, err := jsonschema.Compile([]byte(`{"type":"object","required":["q"]}`), jsonschema.Options{})
//	if err != nil { ... }
//	err = s.Validate([]byte(`{"q":"isobox"}`))
//
// # Errors
//
// ErrNotJSON when the document is not JSON (or nests deeper than MaxDepth);
// ErrInvalidSchema when it is not a valid schema of its dialect, names an unknown
// $schema, holds a pattern Go's regexp does not compile, or refers to anything it does
// not hold itself (nothing is ever loaded).
func Compile(doc []byte, opts Options) (*Schema, error) {
	v, err := parseJSON(doc, MaxDepth)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	d := opts.Dialect
	if d == 0 {
		d = Draft2020
	}
	if dialectRank(d) < 0 {
		return nil, fmt.Errorf("%w: unknown dialect %d", ErrInvalidSchema, d)
	}
	c := &compiler{doc: v, byURI: map[string]*resource{}, byPtr: map[string]*resource{}, nodes: map[string]*schema{}}
	base, _ := url.Parse(rootURI)
	root := &resource{uri: rootURI, dialect: d}
	if v.k == kObject {
		if sv := v.get("$schema"); sv != nil {
			if sv.k != kString || dialectOf(sv.s) == 0 {
				return nil, fmt.Errorf("%w: unknown $schema %s", ErrInvalidSchema, display(sv))
			}
			root.dialect = dialectOf(sv.s)
		}
	}
	c.byURI[root.uri] = root
	c.byPtr[""] = root
	if err := c.walk(&c.doc, "", base, root, 0); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	s, err := c.compile("", &c.doc)
	if err == nil && c.dynamic {
		err = c.compileDynamic()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return &Schema{root: s, nodes: c.n, dynamic: c.dynamic}, nil
}

func dialectRank(d Dialect) int {
	switch d {
	case Draft4, Draft6, Draft7, Draft2019, Draft2020:
		return int(d)
	}
	return -1
}

// subschemaKeywords lists, per dialect, the keywords whose value is a schema (one), an
// array of schemas (arr) or an object of schemas (obj).
func forEachSubschema(d Dialect, v *value, ptr string, f func(ptr string, sub *value) error) error {
	one := func(k string) error {
		if x := v.get(k); x != nil {
			return f(ptr+"/"+escapeToken(k), x)
		}
		return nil
	}
	arr := func(k string) error {
		if x := v.get(k); x != nil && x.k == kArray {
			for i := range x.arr {
				if err := f(ptr+"/"+k+"/"+strconv.Itoa(i), &x.arr[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	obj := func(k string) error {
		if x := v.get(k); x != nil && x.k == kObject {
			for i := range x.obj {
				if err := f(ptr+"/"+escapeToken(k)+"/"+escapeToken(x.obj[i].key), &x.obj[i].val); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	add(one("additionalProperties"))
	add(one("not"))
	add(arr("allOf"))
	add(arr("anyOf"))
	add(arr("oneOf"))
	add(obj("properties"))
	add(obj("patternProperties"))
	add(obj("definitions"))
	if x := v.get("dependencies"); x != nil && x.k == kObject {
		for i := range x.obj {
			if x.obj[i].val.k != kArray {
				add(f(ptr+"/dependencies/"+escapeToken(x.obj[i].key), &x.obj[i].val))
			}
		}
	}
	if x := v.get("items"); x != nil && x.k == kArray && d < Draft2020 {
		add(arr("items"))
	} else {
		add(one("items"))
	}
	if d < Draft2020 {
		add(one("additionalItems"))
	}
	if d >= Draft6 {
		add(one("contains"))
		add(one("propertyNames"))
	}
	if d >= Draft7 {
		add(one("if"))
		add(one("then"))
		add(one("else"))
	}
	if d >= Draft2019 {
		add(obj("$defs"))
		add(obj("dependentSchemas"))
		add(one("unevaluatedProperties"))
		add(one("unevaluatedItems"))
		add(one("contentSchema"))
	}
	if d >= Draft2020 {
		add(arr("prefixItems"))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// compileDynamic compiles the schemas a $recursiveRef or $dynamicRef may land on,
// whichever way evaluation goes.
func (c *compiler) compileDynamic() error {
	for _, r := range c.byURI {
		if r.recursiveAnchor {
			v, _ := c.lookup(r.ptr)
			s, err := c.compile(r.ptr, v)
			if err != nil {
				return err
			}
			r.root = s
		}
		for name, ptr := range r.dynamicAnchors {
			v, _ := c.lookup(ptr)
			s, err := c.compile(ptr, v)
			if err != nil {
				return err
			}
			if r.dynamicSchemas == nil {
				r.dynamicSchemas = map[string]*schema{}
			}
			r.dynamicSchemas[name] = s
		}
	}
	return nil
}

// anchorOK checks an anchor's name: ^[A-Za-z_][-A-Za-z0-9._]*$ (2020-12) or
// ^[A-Za-z][-A-Za-z0-9.:_]*$ (2019-09).
func anchorOK(s string, d2019 bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		switch {
		case letter:
		case c == '_' && (!d2019 || i > 0):
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		case i > 0 && d2019 && c == ':':
		default:
			return false
		}
	}
	return true
}

// walk finds the resources ($id) and anchors of the document, before anything is
// compiled, so that a $ref can name one that comes later.
func (c *compiler) walk(v *value, ptr string, base *url.URL, res *resource, depth int) error {
	if v.k != kObject {
		return nil
	}
	d := res.dialect
	idKey := "$id"
	if d == Draft4 {
		idKey = "id"
	}
	if ptr != "" && (v.has("$id") || v.has("id")) {
		// An embedded resource may name its own dialect.
		if sv := v.get("$schema"); sv != nil {
			if sv.k != kString || dialectOf(sv.s) == 0 {
				return fmt.Errorf("unknown $schema %s at %q", display(sv), ptr)
			}
			d = dialectOf(sv.s)
			if d == Draft4 {
				idKey = "id"
			} else {
				idKey = "$id"
			}
		}
	}
	if idv := v.get(idKey); idv != nil && !(d <= Draft7 && v.has("$ref")) {
		if idv.k != kString {
			return fmt.Errorf("%s at %q is not a string", idKey, ptr)
		}
		u, err := parseRef(base, idv.s)
		if err != nil {
			return fmt.Errorf("%s %q at %q: %v", idKey, idv.s, ptr, err)
		}
		frag := u.Fragment
		if d >= Draft2019 && frag != "" {
			return fmt.Errorf("$id %q at %q has a fragment", idv.s, ptr)
		}
		u.Fragment, u.RawFragment = "", ""
		if uri := u.String(); uri != res.uri || ptr == "" {
			if old, ok := c.byURI[uri]; ok && old.ptr != ptr {
				return fmt.Errorf("two schemas have the $id %q", uri)
			}
			if ptr == "" {
				delete(c.byURI, res.uri)
				res.uri = uri
			} else {
				res = &resource{uri: uri, ptr: ptr, dialect: d}
			}
			c.byURI[uri] = res
			c.byPtr[ptr] = res
			base = u
		}
		if frag != "" {
			if !anchorOK(frag, true) {
				return fmt.Errorf("%s %q at %q: the fragment is not a name", idKey, idv.s, ptr)
			}
			if err := res.addAnchor(frag, ptr, false); err != nil {
				return err
			}
		}
	}
	if d >= Draft2019 {
		if a := v.get("$anchor"); a != nil {
			if a.k != kString || !anchorOK(a.s, d == Draft2019) {
				return fmt.Errorf("$anchor %s at %q is not a name", display(a), ptr)
			}
			if err := res.addAnchor(a.s, ptr, false); err != nil {
				return err
			}
		}
	}
	if d == Draft2019 {
		if a := v.get("$recursiveAnchor"); a != nil {
			if a.k != kBool {
				return fmt.Errorf("$recursiveAnchor at %q is not a boolean", ptr)
			}
			if a.b && res.ptr == ptr {
				res.recursiveAnchor = true
			}
		}
	}
	if d >= Draft2020 {
		if a := v.get("$dynamicAnchor"); a != nil {
			if a.k != kString || !anchorOK(a.s, false) {
				return fmt.Errorf("$dynamicAnchor %s at %q is not a name", display(a), ptr)
			}
			if err := res.addAnchor(a.s, ptr, true); err != nil {
				return err
			}
		}
		if a := v.get("$recursiveAnchor"); a != nil && (a.k != kString || !anchorOK(a.s, false)) {
			return fmt.Errorf("$recursiveAnchor at %q is not a name", ptr)
		}
	}
	if depth > MaxDepth {
		return fmt.Errorf("schema nested deeper than %d levels", MaxDepth)
	}
	return forEachSubschema(d, v, ptr, func(p string, sub *value) error {
		return c.walk(sub, p, base, res, depth+1)
	})
}

func (r *resource) addAnchor(name, ptr string, dynamic bool) error {
	if r.anchors == nil {
		r.anchors = map[string]string{}
	}
	if old, ok := r.anchors[name]; ok && old != ptr {
		return fmt.Errorf("two schemas have the anchor %q in %s", name, r.uri)
	}
	r.anchors[name] = ptr
	if dynamic {
		if r.dynamicAnchors == nil {
			r.dynamicAnchors = map[string]string{}
		}
		r.dynamicAnchors[name] = ptr
	}
	return nil
}

// parseRef resolves a URI reference against base.
func parseRef(base *url.URL, ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(r), nil
}

// resourceAt is the innermost resource holding the document location ptr.
func (c *compiler) resourceAt(ptr string) *resource {
	for {
		if r, ok := c.byPtr[ptr]; ok {
			return r
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return c.byPtr[""]
		}
		ptr = ptr[:i]
	}
}

// lookup returns the value at a JSON pointer of the document.
func (c *compiler) lookup(ptr string) (*value, bool) {
	v := &c.doc
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v.k {
		case kObject:
			if v = v.get(tok); v == nil {
				return nil, false
			}
		case kArray:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v.arr) || tok != strconv.Itoa(i) {
				return nil, false
			}
			v = &v.arr[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// resolve finds the schema a reference in the schema at from names: a JSON pointer or an
// anchor in a resource of this document.
func (c *compiler) resolve(from *resource, ref string) (string, *resource, error) {
	base, _ := url.Parse(from.uri)
	u, err := parseRef(base, ref)
	if err != nil {
		return "", nil, fmt.Errorf("$ref %q: %v", ref, err)
	}
	frag := u.Fragment
	u.Fragment, u.RawFragment = "", ""
	res, ok := c.byURI[u.String()]
	if !ok {
		return "", nil, fmt.Errorf("$ref %q refers outside the schema, and nothing is loaded", ref)
	}
	switch {
	case frag == "":
		return res.ptr, res, nil
	case frag[0] == '/':
		ptr := res.ptr + frag
		for _, tok := range strings.Split(frag[1:], "/") {
			for i := 0; i < len(tok); i++ {
				if tok[i] == '~' && (i+1 >= len(tok) || tok[i+1] != '0' && tok[i+1] != '1') {
					return "", nil, fmt.Errorf("$ref %q: malformed JSON pointer", ref)
				}
			}
		}
		return ptr, res, nil
	default:
		ptr, ok := res.anchors[frag]
		if !ok {
			return "", nil, fmt.Errorf("$ref %q: no anchor %q", ref, frag)
		}
		return ptr, res, nil
	}
}

// ref compiles the schema a reference names.
func (c *compiler) ref(from *resource, ref string) (*schema, error) {
	ptr, _, err := c.resolve(from, ref)
	if err != nil {
		return nil, err
	}
	v, ok := c.lookup(ptr)
	if !ok {
		return nil, fmt.Errorf("$ref %q: nothing at %q", ref, ptr)
	}
	return c.compile(ptr, v)
}

// compile compiles the schema at ptr, once.
func (c *compiler) compile(ptr string, v *value) (*schema, error) {
	if s, ok := c.nodes[ptr]; ok {
		return s, nil
	}
	res := c.resourceAt(ptr)
	s := &schema{loc: ptr, id: c.n, dialect: res.dialect, res: res,
		minLength: -1, maxLength: -1, minItems: -1, maxItems: -1, minContains: -1, maxContains: -1, minProps: -1, maxProps: -1}
	c.n++
	c.nodes[ptr] = s
	if err := c.fill(s, v); err != nil {
		return nil, err
	}
	return s, nil
}

// kw reads the keywords of one schema object, checking each as the dialect's
// meta-schema does.
type kw struct {
	c   *compiler
	s   *schema
	v   *value
	err error
}

func (k *kw) fail(key, format string, args ...any) {
	if k.err == nil {
		k.err = fmt.Errorf("%s at %q: %s", key, k.s.loc, fmt.Sprintf(format, args...))
	}
}

func (k *kw) sub(key string) *schema {
	x := k.v.get(key)
	if x == nil || k.err != nil {
		return nil
	}
	return k.at(key, "/"+escapeToken(key), x)
}

func (k *kw) at(key, rel string, x *value) *schema {
	if x.k != kObject && x.k != kBool {
		k.fail(key, "not a schema")
		return nil
	}
	if x.k == kBool && k.s.dialect == Draft4 && key != "additionalProperties" && key != "additionalItems" {
		k.fail(key, "draft-04 has no boolean schemas")
		return nil
	}
	s, err := k.c.compile(k.s.loc+rel, x)
	if err != nil && k.err == nil {
		k.err = err
	}
	return s
}

func (k *kw) subs(key string) []*schema {
	x := k.v.get(key)
	if x == nil || k.err != nil {
		return nil
	}
	if x.k != kArray || len(x.arr) == 0 {
		k.fail(key, "not a non-empty array of schemas")
		return nil
	}
	out := make([]*schema, len(x.arr))
	for i := range x.arr {
		out[i] = k.at(key, "/"+key+"/"+strconv.Itoa(i), &x.arr[i])
	}
	return out
}

func (k *kw) num(key string) *value {
	x := k.v.get(key)
	if x == nil {
		return nil
	}
	if x.k != kNumber {
		k.fail(key, "not a number")
		return nil
	}
	return x
}

// count reads a non-negative integer (1.0 is one); one too large for an int saturates.
func (k *kw) count(key string) int {
	x := k.v.get(key)
	if x == nil {
		return -1
	}
	if x.k != kNumber || !isInteger(x) || x.f < 0 || x.s[0] == '-' && cmpDecimal(parseDecimal(x.s), decimal{}) < 0 {
		k.fail(key, "not a non-negative integer")
		return -1
	}
	if x.f > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(x.f)
}

func (k *kw) boolean(key string) bool {
	x := k.v.get(key)
	if x == nil {
		return false
	}
	if x.k != kBool {
		k.fail(key, "not a boolean")
	}
	return x.b
}

func (k *kw) str(key string) (string, bool) {
	x := k.v.get(key)
	if x == nil {
		return "", false
	}
	if x.k != kString {
		k.fail(key, "not a string")
		return "", false
	}
	return x.s, true
}

// strs reads an array of unique strings; draft-04 wants at least one.
func (k *kw) strs(key string, x *value) []string {
	if x.k != kArray || k.s.dialect == Draft4 && len(x.arr) == 0 {
		k.fail(key, "not an array of strings")
		return nil
	}
	out := make([]string, 0, len(x.arr))
	seen := make(map[string]bool, len(x.arr))
	for i := range x.arr {
		if x.arr[i].k != kString || seen[x.arr[i].s] {
			k.fail(key, "not an array of unique strings")
			return nil
		}
		seen[x.arr[i].s] = true
		out = append(out, x.arr[i].s)
	}
	return out
}

// pattern is a compiled regular expression and its size in program instructions, which
// is what one match costs per byte of input.
type pattern struct {
	*regexp.Regexp
	size int
}

// maxPatternSize bounds a pattern's program: a schema is untrusted, and Go compiles
// "a{1000}" repeated 500 times (3.5 KB) into ~500,000 instructions, 116 MB and most of a
// second, then matches in time proportional to that size for every byte. Patterns seen
// in real schemas (emails, UUIDs, dates, addresses) are tens to hundreds of instructions.
const maxPatternSize = 10000

// cost is the work budget one match of a string of n bytes takes, at worst: the matcher
// runs ~16 instructions over a byte (5.7 ns each measured here: a [\s\S]{1000}x pattern
// over 100 KB took 0.57 s) in the time the evaluator takes a step.
func (p *pattern) cost(n int) int { return n*p.size/16 + 1 }

// compileRegexp compiles a schema's pattern after estimating its size from its syntax
// tree, so that a pattern too large to keep is refused before it is built.
func compileRegexp(p string) (*pattern, error) {
	tree, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil, err
	}
	size := patternSize(tree)
	if size > maxPatternSize {
		return nil, fmt.Errorf("pattern too large: about %d instructions compiled, more than %d", size, maxPatternSize)
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	return &pattern{re, size}, nil
}

// patternSize estimates the instructions a parsed syntax tree compiles to (a repetition
// copies its operand), saturating past maxPatternSize. It reads the tree as parsed:
// simplifying it first would build the copies it counts.
func patternSize(re *syntax.Regexp) int {
	n := 1
	switch re.Op {
	case syntax.OpLiteral:
		n += len(re.Rune)
	case syntax.OpRepeat: // x{n,m} compiles to max(n, m) copies of x
		reps := max(re.Max, re.Min, 1)
		n += reps * patternSize(re.Sub[0])
	default:
		for _, sub := range re.Sub {
			n += patternSize(sub)
			if n > maxPatternSize {
				return maxPatternSize + 1
			}
		}
	}
	return min(n, maxPatternSize+1)
}

// fill compiles the keywords of s's dialect that v has.
func (c *compiler) fill(s *schema, v *value) error {
	if v.k == kBool {
		s.isBool, s.boolVal = true, v.b
		if s.dialect == Draft4 && s.loc == "" {
			return fmt.Errorf("draft-04 has no boolean schemas")
		}
		return nil
	}
	if v.k != kObject {
		return fmt.Errorf("the schema at %q is not an object", s.loc)
	}
	d := s.dialect
	k := &kw{c: c, s: s, v: v}

	// core
	if r, ok := k.str("$ref"); ok {
		s.ref, k.err = c.refOr(k.err, s.res, r)
		s.onlyRef = d <= Draft7
	}
	if d >= Draft2019 {
		if r, ok := k.str("$recursiveRef"); ok {
			c.dynamic = true
			s.recursiveRef, k.err = c.refOr(k.err, s.res, r)
		}
	}
	if d >= Draft2020 {
		if r, ok := k.str("$dynamicRef"); ok {
			c.dynamic = true
			s.dynamicRef, k.err = c.refOr(k.err, s.res, r)
			if k.err == nil {
				if i := strings.IndexByte(r, '#'); i >= 0 {
					if name, err := url.PathUnescape(r[i+1:]); err == nil && s.dynamicRef.res.dynamicAnchors[name] == s.dynamicRef.loc {
						s.dynamicName = name
					}
				}
			}
		}
	}
	k.str("$comment")
	if d >= Draft6 {
		k.str("$schema")
	}

	// validation
	if t := v.get("type"); t != nil {
		add := func(x *value) bool {
			if x.k != kString {
				return false
			}
			for i, n := range kindNames {
				if x.s == n {
					if s.types&(1<<i) != 0 {
						return false
					}
					s.types |= 1 << i
					s.typeList = append(s.typeList, n)
					return true
				}
			}
			if x.s == "integer" && s.types&typeInteger == 0 {
				s.types |= typeInteger
				s.typeList = append(s.typeList, "integer")
				return true
			}
			return false
		}
		ok := true
		if t.k == kArray {
			ok = len(t.arr) > 0
			for i := range t.arr {
				ok = ok && add(&t.arr[i])
			}
		} else {
			ok = add(t)
		}
		if !ok {
			k.fail("type", "not a type or an array of unique types")
		}
	}
	if e := v.get("enum"); e != nil {
		if e.k != kArray {
			k.fail("enum", "not an array")
		} else {
			s.enum = e.arr
			if d <= Draft7 {
				ev := &evaluator{budget: math.MaxInt}
				if len(e.arr) == 0 || !ev.unique(e.arr) {
					k.fail("enum", "not a non-empty array of unique values")
				}
			}
		}
	}
	if d >= Draft6 {
		s.cnst = v.get("const")
	}
	if m := k.num("multipleOf"); m != nil {
		if m.f <= 0 && cmpDecimal(parseDecimal(m.s), decimal{}) <= 0 {
			k.fail("multipleOf", "not greater than 0")
		}
		s.multipleOf = m
	}
	s.minimum, s.maximum = k.num("minimum"), k.num("maximum")
	if d == Draft4 {
		if v.has("exclusiveMinimum") && s.minimum == nil || v.has("exclusiveMaximum") && s.maximum == nil {
			k.fail("exclusiveMinimum", "draft-04 wants minimum (maximum) beside exclusiveMinimum (exclusiveMaximum)")
		}
		if k.boolean("exclusiveMinimum") && s.minimum != nil {
			s.exclMin, s.minimum = s.minimum, nil
		}
		if k.boolean("exclusiveMaximum") && s.maximum != nil {
			s.exclMax, s.maximum = s.maximum, nil
		}
	} else {
		s.exclMin, s.exclMax = k.num("exclusiveMinimum"), k.num("exclusiveMaximum")
	}
	s.minLength, s.maxLength = k.count("minLength"), k.count("maxLength")
	if p, ok := k.str("pattern"); ok {
		re, err := compileRegexp(p)
		if err != nil {
			k.fail("pattern", "%v", err)
		}
		s.pattern = re
	}
	s.minItems, s.maxItems = k.count("minItems"), k.count("maxItems")
	s.uniqueItems = k.boolean("uniqueItems")
	s.minProps, s.maxProps = k.count("minProperties"), k.count("maxProperties")
	if r := v.get("required"); r != nil {
		s.required = k.strs("required", r)
	}
	if f, ok := k.str("format"); ok {
		s.format = f
		if d <= Draft7 {
			s.checkFmt = formatChecker(f)
		}
	}
	for _, key := range []string{"title", "description"} {
		k.str(key)
	}
	if d >= Draft7 {
		k.boolean("readOnly")
		if x := v.get("examples"); x != nil && x.k != kArray {
			k.fail("examples", "not an array")
		}
	}
	if d >= Draft7 {
		k.boolean("writeOnly")
		k.str("contentEncoding")
		k.str("contentMediaType")
	}
	if d >= Draft2019 {
		k.boolean("deprecated")
		if x := v.get("$vocabulary"); x != nil && x.k != kObject {
			k.fail("$vocabulary", "not an object")
		}
	}

	// applicators
	s.allOf, s.anyOf, s.oneOf = k.subs("allOf"), k.subs("anyOf"), k.subs("oneOf")
	s.not = k.sub("not")
	if it := v.get("items"); it != nil {
		if it.k == kArray && d < Draft2020 {
			s.prefixItems = k.subs("items")
			s.additionalItems = k.sub("additionalItems")
		} else {
			s.items = k.sub("items")
		}
	}
	if d < Draft2020 && !v.has("items") {
		k.sub("additionalItems") // checked, and ignored without an array of items
	}
	if d >= Draft2020 {
		s.prefixItems = k.subs("prefixItems")
	}
	s.properties = k.schemaMap("properties")
	if pp := v.get("patternProperties"); pp != nil {
		if pp.k != kObject {
			k.fail("patternProperties", "not an object")
		} else {
			for i := range pp.obj {
				re, err := compileRegexp(pp.obj[i].key)
				if err != nil {
					k.fail("patternProperties", "%v", err)
					break
				}
				sub := k.at("patternProperties", "/patternProperties/"+escapeToken(pp.obj[i].key), &pp.obj[i].val)
				s.patternProperties = append(s.patternProperties, patternSchema{re, sub})
			}
		}
	}
	s.additionalProperties = k.sub("additionalProperties")
	if deps := v.get("dependencies"); deps != nil {
		if deps.k != kObject {
			k.fail("dependencies", "not an object")
		} else {
			for i := range deps.obj {
				m := &deps.obj[i]
				dep := dependency{prop: m.key, keyword: "dependencies"}
				if m.val.k == kArray {
					dep.required = k.strs("dependencies", &m.val)
				} else {
					dep.s = k.at("dependencies", "/dependencies/"+escapeToken(m.key), &m.val)
				}
				s.dependencies = append(s.dependencies, dep)
			}
		}
	}
	k.schemaMap("definitions")
	if d >= Draft6 {
		s.contains = k.sub("contains")
		s.propertyNames = k.sub("propertyNames")
	}
	if d >= Draft7 {
		s.ifS = k.sub("if")
		if s.ifS != nil {
			s.then, s.els = k.sub("then"), k.sub("else")
		} else {
			k.sub("then")
			k.sub("else")
		}
	}
	if d >= Draft2019 {
		k.schemaMap("$defs")
		if s.contains != nil {
			s.minContains, s.maxContains = k.count("minContains"), k.count("maxContains")
		} else {
			k.count("minContains")
			k.count("maxContains")
		}
		if dr := v.get("dependentRequired"); dr != nil {
			if dr.k != kObject {
				k.fail("dependentRequired", "not an object")
			} else {
				for i := range dr.obj {
					s.dependencies = append(s.dependencies, dependency{prop: dr.obj[i].key, keyword: "dependentRequired",
						required: k.strs("dependentRequired", &dr.obj[i].val)})
				}
			}
		}
		if ds := v.get("dependentSchemas"); ds != nil {
			if ds.k != kObject {
				k.fail("dependentSchemas", "not an object")
			} else {
				for i := range ds.obj {
					s.dependencies = append(s.dependencies, dependency{prop: ds.obj[i].key, keyword: "dependentSchemas",
						s: k.at("dependentSchemas", "/dependentSchemas/"+escapeToken(ds.obj[i].key), &ds.obj[i].val)})
				}
			}
		}
		s.unevalProps, s.unevalItems = k.sub("unevaluatedProperties"), k.sub("unevaluatedItems")
		k.sub("contentSchema")
	}
	return k.err
}

func (c *compiler) refOr(prev error, res *resource, ref string) (*schema, error) {
	if prev != nil {
		return nil, prev
	}
	return c.ref(res, ref)
}

func (k *kw) schemaMap(key string) map[string]*schema {
	x := k.v.get(key)
	if x == nil || k.err != nil {
		return nil
	}
	if x.k != kObject {
		k.fail(key, "not an object")
		return nil
	}
	m := make(map[string]*schema, len(x.obj))
	for i := range x.obj {
		m[x.obj[i].key] = k.at(key, "/"+escapeToken(key)+"/"+escapeToken(x.obj[i].key), &x.obj[i].val)
	}
	return m
}
