package jsonschema

import (
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validate checks a JSON value against the schema: nil if it matches, a
// *ValidationError saying why if it does not.
//
//	err := s.Validate([]byte(`{"q": 1}`))
//	var ve *jsonschema.ValidationError
//	if errors.As(err, &ve) { ... ve.Causes[0].Message ... }
//
// # Errors
//
// *ValidationError when the value does not match; ErrNotJSON when it is not JSON text
// (or nests deeper than MaxDepth); ErrTooComplex when checking it would take more work
// than allowed (a schema whose applicators multiply, applied to a large value).
// maxBudget caps the work of one pass of Validate whatever the value's size: ~0.1 µs a
// step (a keyword, or 16 instruction-bytes of a pattern match) makes it under a second on
// a slow machine. A 4 MB array of a million numbers against {"items":{"type":"number"}}
// takes ~2 million steps.
const maxBudget = 1 << 23

func (s *Schema) Validate(instance []byte) error {
	v, err := parseJSON(instance, MaxDepth)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	budget := min(1<<20+64*len(instance), maxBudget)
	e := s.evaluator(budget)
	defer s.pool.Put(e)
	if e.eval(s.root, &v, 0, nil, nil) {
		return nil
	}
	if e.over {
		return e.overErr()
	}
	// Once more, collecting the errors: the first pass stopped at the first failure and
	// allocated nothing for errors.
	e.reset(budget)
	var errs []*ValidationError
	e.eval(s.root, &v, 0, nil, &errs)
	if e.over {
		return e.overErr()
	}
	if len(errs) == 0 { // cannot happen: both passes decide alike
		errs = append(errs, &ValidationError{Message: "the value does not match the schema"})
	}
	return &ValidationError{KeywordLocation: "", Message: "the value does not match the schema", Causes: errs}
}

func (s *Schema) evaluator(budget int) *evaluator {
	e, _ := s.pool.Get().(*evaluator)
	if e == nil {
		e = &evaluator{sch: s, marks: make([]int, s.nodes)}
		e.h.SetSeed(maphash.MakeSeed())
	}
	e.reset(budget)
	return e
}

// evaluator is the state of one validation.
type evaluator struct {
	sch    *Schema
	budget int
	over   bool  // the budget or the depth ran out
	deep   bool  // it was the depth
	marks  []int // per schema: 1 + the id of the value it is being applied to, in place
	nextID int
	depth  int
	path   []string    // the instance location, kept while errors are collected
	scope  []*resource // the dynamic scope, kept when the document has dynamic references
	h      maphash.Hash
}

func (e *evaluator) reset(budget int) {
	e.budget, e.over, e.deep, e.nextID, e.depth = budget, false, false, 0, 0
	clear(e.marks)
	e.path, e.scope = e.path[:0], e.scope[:0]
}

func (e *evaluator) overErr() error {
	if e.deep {
		return fmt.Errorf("%w: evaluation nests deeper than %d levels", ErrTooComplex, maxEvalDepth)
	}
	return ErrTooComplex
}

// annot records which members of an object, or items of an array, the keywords applied to
// a value have evaluated: unevaluatedProperties and unevaluatedItems apply to the rest.
type annot struct {
	bits []uint64
}

func newAnnot(v *value) *annot {
	n := len(v.obj)
	if v.k == kArray {
		n = len(v.arr)
	}
	return &annot{bits: make([]uint64, (n+63)/64)}
}

func (a *annot) set(i int) {
	if a != nil {
		a.bits[i/64] |= 1 << (i % 64)
	}
}

func (a *annot) has(i int) bool { return a.bits[i/64]&(1<<(i%64)) != 0 }

func (a *annot) merge(b *annot) {
	if a != nil && b != nil {
		for i := range a.bits {
			a.bits[i] |= b.bits[i]
		}
	}
}

// fresh returns a new annotation for an applicator whose subschema may fail without
// failing its parent (anyOf, oneOf, if): its annotations count only if it passes.
func fresh(a *annot, v *value) *annot {
	if a == nil {
		return nil
	}
	return newAnnot(v)
}

func (e *evaluator) fail(out *[]*ValidationError, s *schema, keyword, msg string, causes []*ValidationError) {
	loc := s.loc
	if keyword != "false" {
		loc += "/" + escapeToken(keyword)
	}
	*out = append(*out, &ValidationError{
		InstanceLocation: append([]string(nil), e.path...),
		KeywordLocation:  loc,
		Keyword:          keyword,
		Message:          msg,
		Causes:           causes,
	})
}

// child applies s to a member or item of the value, whose location token is tok (or, for
// an item, its index i).
func (e *evaluator) child(s *schema, v *value, tok string, i int, out *[]*ValidationError) bool {
	e.nextID++
	if out != nil {
		if tok == "" && i >= 0 {
			tok = strconv.Itoa(i)
		}
		e.path = append(e.path, tok)
	}
	ok := e.eval(s, v, e.nextID, nil, out)
	if out != nil {
		e.path = e.path[:len(e.path)-1]
	}
	return ok
}

// eval applies s to v (whose id is vid), adding to ann what it evaluates when ann is not
// nil, and adding its errors to out when out is not nil (else it stops at the first
// failure).
func (e *evaluator) eval(s *schema, v *value, vid int, ann *annot, out *[]*ValidationError) bool {
	e.budget--
	if e.budget < 0 || e.over {
		e.over = true
		return false
	}
	if s.isBool {
		if !s.boolVal && out != nil {
			e.fail(out, s, "false", "false schema", nil)
		}
		return s.boolVal
	}
	if e.marks[s.id] == vid+1 {
		// The same schema applied to the same value, inside itself: a cycle of references
		// that consumes no input, which would never end.
		if out != nil {
			e.fail(out, s, "$ref", "reference cycle: the schema at '"+s.loc+"' applies itself to the same value", nil)
		}
		return false
	}
	if e.depth >= maxEvalDepth {
		e.over, e.deep = true, true
		return false
	}
	old := e.marks[s.id]
	e.marks[s.id] = vid + 1
	e.depth++
	pushed := false
	if e.sch.dynamic && (len(e.scope) == 0 || e.scope[len(e.scope)-1] != s.res) {
		e.scope = append(e.scope, s.res)
		pushed = true
	}
	a := ann
	if s.unevalProps != nil && v.k == kObject || s.unevalItems != nil && v.k == kArray {
		a = newAnnot(v)
	}
	ok := e.keywords(s, v, vid, a, out)
	if ok && a != ann {
		ann.merge(a)
	}
	if pushed {
		e.scope = e.scope[:len(e.scope)-1]
	}
	e.depth--
	e.marks[s.id] = old
	return ok && !e.over
}

// keywords applies s's keywords, in the order santhosh-tekuri/jsonschema reports them.
func (e *evaluator) keywords(s *schema, v *value, vid int, a *annot, out *[]*ValidationError) bool {
	if s.onlyRef {
		return e.apply(s, "$ref", s.ref, v, vid, a, out)
	}
	if s.types != 0 && !hasType(s.types, v) {
		if out != nil {
			e.fail(out, s, "type", "got "+kindNames[v.k]+", want "+strings.Join(s.typeList, " or "), nil)
		}
		return false
	}
	if s.cnst != nil && !e.equal(v, s.cnst) {
		if out != nil {
			msg := "'const' failed"
			if s.cnst.k != kArray && s.cnst.k != kObject {
				msg = "value must be " + display(s.cnst)
			}
			e.fail(out, s, "const", msg, nil)
		}
		return false
	}
	if s.enum != nil && !e.inEnum(s.enum, v) {
		if out != nil {
			e.fail(out, s, "enum", enumMessage(s.enum), nil)
		}
		return false
	}
	if s.checkFmt != nil && v.k == kString {
		if err := s.checkFmt(v.s); err != nil {
			if out != nil {
				e.fail(out, s, "format", display(v)+" is not valid "+s.format+": "+err.Error(), nil)
			}
			return false
		}
	}
	ok := true
	if s.ref != nil && !e.apply(s, "$ref", s.ref, v, vid, a, out) {
		if out == nil {
			return false
		}
		ok = false
	}
	switch v.k {
	case kObject:
		ok = e.object(s, v, vid, a, out) && ok
	case kArray:
		ok = e.array(s, v, a, out) && ok
	case kString:
		ok = e.str(s, v, out) && ok
	case kNumber:
		ok = e.number(s, v, out) && ok
	}
	if !ok && out == nil {
		return false
	}
	if s.recursiveRef != nil {
		t := s.recursiveRef
		if t.res.recursiveAnchor && t.loc == t.res.ptr {
			for _, r := range e.scope {
				if r.recursiveAnchor && r.root != nil {
					t = r.root
					break
				}
			}
		}
		if !e.apply(s, "$recursiveRef", t, v, vid, a, out) {
			if out == nil {
				return false
			}
			ok = false
		}
	}
	if s.dynamicRef != nil {
		t := s.dynamicRef
		if s.dynamicName != "" {
			for _, r := range e.scope {
				if x, found := r.dynamicSchemas[s.dynamicName]; found {
					t = x
					break
				}
			}
		}
		if !e.apply(s, "$dynamicRef", t, v, vid, a, out) {
			if out == nil {
				return false
			}
			ok = false
		}
	}
	if !e.conditionals(s, v, vid, a, out) {
		if out == nil {
			return false
		}
		ok = false
	}
	if s.unevalProps != nil && v.k == kObject {
		for i := range v.obj {
			if a.has(i) {
				continue
			}
			if !e.child(s.unevalProps, &v.obj[i].val, v.obj[i].key, -1, out) {
				if out == nil {
					return false
				}
				ok = false
			}
			a.set(i)
		}
	}
	if s.unevalItems != nil && v.k == kArray {
		for i := range v.arr {
			if a.has(i) {
				continue
			}
			if !e.child(s.unevalItems, &v.arr[i], "", i, out) {
				if out == nil {
					return false
				}
				ok = false
			}
			a.set(i)
		}
	}
	return ok
}

// apply applies a referenced schema in place; its failure is one error whose causes say
// why.
func (e *evaluator) apply(s *schema, keyword string, t *schema, v *value, vid int, a *annot, out *[]*ValidationError) bool {
	if out == nil {
		return e.eval(t, v, vid, a, nil)
	}
	var sub []*ValidationError
	if e.eval(t, v, vid, a, &sub) {
		return true
	}
	e.fail(out, s, keyword, "validation failed", sub)
	return false
}

func hasType(types uint8, v *value) bool {
	if types&(1<<v.k) != 0 {
		return true
	}
	return types&typeInteger != 0 && v.k == kNumber && isInteger(v)
}

func (e *evaluator) inEnum(enum []value, v *value) bool {
	for i := range enum {
		if enum[i].k == v.k && e.equal(&enum[i], v) {
			return true
		}
	}
	return false
}

func (e *evaluator) object(s *schema, v *value, vid int, a *annot, out *[]*ValidationError) bool {
	ok := true
	bad := func() bool { // records a failure; false when evaluation should stop
		ok = false
		return out != nil
	}
	n := len(v.obj)
	if s.minProps >= 0 && n < s.minProps {
		if !bad() {
			return false
		}
		e.fail(out, s, "minProperties", fmt.Sprintf("minProperties: got %d, want %d", n, s.minProps), nil)
	}
	if s.maxProps >= 0 && n > s.maxProps {
		if !bad() {
			return false
		}
		e.fail(out, s, "maxProperties", fmt.Sprintf("maxProperties: got %d, want %d", n, s.maxProps), nil)
	}
	if len(s.required) > 0 {
		if missing := e.missing(v, s.required, out != nil); len(missing) > 0 {
			if !bad() {
				return false
			}
			if len(missing) == 1 {
				e.fail(out, s, "required", "missing property "+quote(missing[0]), nil)
			} else {
				e.fail(out, s, "required", "missing properties "+joinQuoted(missing), nil)
			}
		}
	}
	for i := range s.dependencies {
		dep := &s.dependencies[i]
		if !v.has(dep.prop) {
			continue
		}
		if dep.s != nil {
			if !e.eval(dep.s, v, vid, a, out) && !bad() {
				return false
			}
		} else if missing := e.missing(v, dep.required, out != nil); len(missing) > 0 {
			if !bad() {
				return false
			}
			e.fail(out, s, dep.keyword, "properties "+joinQuoted(missing)+" required, if "+quote(dep.prop)+" exists", nil)
		}
	}
	var extra []string
	for i := range v.obj {
		m := &v.obj[i]
		evaluated := false
		if c, found := s.properties[m.key]; found {
			evaluated = true
			if !e.child(c, &m.val, m.key, -1, out) && !bad() {
				return false
			}
		}
		for _, pp := range s.patternProperties {
			if e.budget -= pp.re.cost(len(m.key)); e.budget < 0 {
				e.over = true
				return false
			}
			if pp.re.MatchString(m.key) {
				evaluated = true
				if !e.child(pp.s, &m.val, m.key, -1, out) && !bad() {
					return false
				}
			}
		}
		if !evaluated && s.additionalProperties != nil {
			evaluated = true
			if ap := s.additionalProperties; ap.isBool && !ap.boolVal {
				if !bad() {
					return false
				}
				extra = append(extra, m.key)
			} else if !e.child(ap, &m.val, m.key, -1, out) && !bad() {
				return false
			}
		}
		if evaluated {
			a.set(i)
		}
	}
	if len(extra) > 0 {
		e.fail(out, s, "additionalProperties", "additional properties "+joinQuoted(extra)+" not allowed", nil)
	}
	if s.propertyNames != nil {
		for i := range v.obj {
			name := value{k: kString, s: v.obj[i].key}
			e.nextID++
			if out == nil {
				if !e.eval(s.propertyNames, &name, e.nextID, nil, nil) {
					return false
				}
				continue
			}
			var sub []*ValidationError
			if !e.eval(s.propertyNames, &name, e.nextID, nil, &sub) {
				ok = false
				var why []string
				for _, l := range leaves(sub) {
					why = append(why, l.Message)
				}
				e.fail(out, s, "propertyNames", "invalid propertyName "+quote(v.obj[i].key)+" ("+strings.Join(why, "; ")+")", nil)
			}
		}
	}
	return ok
}

func leaves(errs []*ValidationError) []*ValidationError {
	var out []*ValidationError
	for _, e := range errs {
		if len(e.Causes) == 0 {
			out = append(out, e)
		} else {
			out = append(out, leaves(e.Causes)...)
		}
	}
	return out
}

// missing lists the names v lacks; without all, it stops at the first.
func (e *evaluator) missing(v *value, names []string, all bool) []string {
	var out []string
	for _, n := range names {
		e.budget--
		if !v.has(n) {
			out = append(out, n)
			if !all {
				break
			}
		}
	}
	return out
}

func (e *evaluator) array(s *schema, v *value, a *annot, out *[]*ValidationError) bool {
	ok := true
	bad := func() bool {
		ok = false
		return out != nil
	}
	n := len(v.arr)
	if s.minItems >= 0 && n < s.minItems {
		if !bad() {
			return false
		}
		e.fail(out, s, "minItems", fmt.Sprintf("minItems: got %d, want %d", n, s.minItems), nil)
	}
	if s.maxItems >= 0 && n > s.maxItems {
		if !bad() {
			return false
		}
		e.fail(out, s, "maxItems", fmt.Sprintf("maxItems: got %d, want %d", n, s.maxItems), nil)
	}
	if s.uniqueItems && n > 1 {
		if i, j := e.duplicates(v.arr); i >= 0 {
			if !bad() {
				return false
			}
			e.fail(out, s, "uniqueItems", fmt.Sprintf("items at %d and %d are equal", i, j), nil)
		}
	}
	done := min(len(s.prefixItems), n)
	for i := 0; i < done; i++ {
		if !e.child(s.prefixItems[i], &v.arr[i], "", i, out) && !bad() {
			return false
		}
		a.set(i)
	}
	if s.items != nil {
		for i := done; i < n; i++ {
			if !e.child(s.items, &v.arr[i], "", i, out) && !bad() {
				return false
			}
			a.set(i)
		}
		done = n
	}
	if ai := s.additionalItems; ai != nil && done < n {
		if ai.isBool && !ai.boolVal {
			if !bad() {
				return false
			}
			e.fail(out, s, "additionalItems", fmt.Sprintf("last %d additionalItem(s) not allowed", n-done), nil)
		} else {
			for i := done; i < n; i++ {
				if !e.child(ai, &v.arr[i], "", i, out) && !bad() {
					return false
				}
				a.set(i)
			}
		}
	}
	if s.contains != nil {
		minC := 1
		if s.minContains >= 0 {
			minC = s.minContains
		}
		all := out != nil || s.maxContains >= 0 || a != nil && s.dialect >= Draft2020
		var matched []int
		var sub []*ValidationError
		count := 0
		for i := range v.arr {
			var o *[]*ValidationError
			if out != nil {
				o = &sub
			}
			if e.child(s.contains, &v.arr[i], "", i, o) {
				count++
				if out != nil {
					matched = append(matched, i)
				}
				if s.dialect >= Draft2020 {
					a.set(i)
				}
				if !all && count >= minC {
					break
				}
			}
		}
		if count < minC {
			if !bad() {
				return false
			}
			switch {
			case s.minContains < 0:
				e.fail(out, s, "contains", "no items match contains schema", sub)
			case count == 0:
				e.fail(out, s, "minContains", fmt.Sprintf("min %d items required to match contains schema, but none matched", minC), sub)
			default:
				e.fail(out, s, "minContains", fmt.Sprintf("min %d items required to match contains schema, but matched %d items at %s", minC, count, joinInts(matched)), sub)
			}
		}
		if s.maxContains >= 0 && count > s.maxContains {
			if !bad() {
				return false
			}
			e.fail(out, s, "maxContains", fmt.Sprintf("max %d items required to match contains schema, but matched %d items at %s", s.maxContains, count, joinInts(matched)), nil)
		}
	}
	return ok
}

func joinInts(x []int) string {
	s := make([]string, len(x))
	for i, n := range x {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " ")
}

// duplicates finds two equal items (the first item that equals an earlier one, and the
// earliest of those), hashing so that the work stays near linear.
func (e *evaluator) duplicates(arr []value) (int, int) {
	if len(arr) <= 16 {
		for j := 1; j < len(arr); j++ {
			for i := 0; i < j; i++ {
				if e.equal(&arr[i], &arr[j]) {
					return i, j
				}
			}
		}
		return -1, -1
	}
	seen := make(map[uint64][]int, len(arr))
	for j := range arr {
		h := e.hash(&e.h, &arr[j])
		for _, i := range seen[h] {
			if e.equal(&arr[i], &arr[j]) {
				return i, j
			}
		}
		seen[h] = append(seen[h], j)
	}
	return -1, -1
}

func (e *evaluator) unique(arr []value) bool {
	i, _ := e.duplicates(arr)
	return i < 0
}

func (e *evaluator) str(s *schema, v *value, out *[]*ValidationError) bool {
	ok := true
	if s.minLength >= 0 || s.maxLength >= 0 {
		n := utf8.RuneCountInString(v.s)
		e.budget -= len(v.s) / 64
		if s.minLength >= 0 && n < s.minLength {
			if out == nil {
				return false
			}
			ok = false
			e.fail(out, s, "minLength", fmt.Sprintf("minLength: got %d, want %d", n, s.minLength), nil)
		}
		if s.maxLength >= 0 && n > s.maxLength {
			if out == nil {
				return false
			}
			ok = false
			e.fail(out, s, "maxLength", fmt.Sprintf("maxLength: got %d, want %d", n, s.maxLength), nil)
		}
	}
	if s.pattern != nil {
		if e.budget -= s.pattern.cost(len(v.s)); e.budget < 0 {
			e.over = true
			return false
		}
		if !s.pattern.MatchString(v.s) {
			if out == nil {
				return false
			}
			ok = false
			e.fail(out, s, "pattern", quote(v.s)+" does not match pattern "+quote(s.pattern.String()), nil)
		}
	}
	return ok
}

func (e *evaluator) number(s *schema, v *value, out *[]*ValidationError) bool {
	ok := true
	check := func(bound *value, keyword string, pass func(c int) bool) bool {
		if bound == nil || pass(cmpNumber(v, bound)) {
			return true
		}
		ok = false
		if out == nil {
			return false
		}
		e.fail(out, s, keyword, keyword+": got "+v.s+", want "+bound.s, nil)
		return true
	}
	if !check(s.minimum, "minimum", func(c int) bool { return c >= 0 }) ||
		!check(s.maximum, "maximum", func(c int) bool { return c <= 0 }) ||
		!check(s.exclMin, "exclusiveMinimum", func(c int) bool { return c > 0 }) ||
		!check(s.exclMax, "exclusiveMaximum", func(c int) bool { return c < 0 }) {
		return false
	}
	if s.multipleOf != nil {
		e.budget -= (len(v.s) + len(s.multipleOf.s)) / 8
		if !multipleOf(v, s.multipleOf) {
			if out == nil {
				return false
			}
			ok = false
			e.fail(out, s, "multipleOf", "multipleOf: got "+v.s+", want "+s.multipleOf.s, nil)
		}
	}
	return ok
}

func (e *evaluator) conditionals(s *schema, v *value, vid int, a *annot, out *[]*ValidationError) bool {
	ok := true
	if s.not != nil && e.eval(s.not, v, vid, nil, nil) {
		if out == nil {
			return false
		}
		ok = false
		e.fail(out, s, "not", "'not' failed", nil)
	}
	if len(s.allOf) > 0 {
		var sub []*ValidationError
		var o *[]*ValidationError
		if out != nil {
			o = &sub
		}
		for _, c := range s.allOf {
			if !e.eval(c, v, vid, a, o) && out == nil {
				return false
			}
		}
		if len(sub) > 0 {
			ok = false
			e.fail(out, s, "allOf", "'allOf' failed", sub)
		}
	}
	if len(s.anyOf) > 0 {
		matched := false
		var sub []*ValidationError
		var o *[]*ValidationError
		if out != nil {
			o = &sub
		}
		for _, c := range s.anyOf {
			if matched { // only annotations are left to collect
				ca := fresh(a, v)
				if e.eval(c, v, vid, ca, nil) {
					a.merge(ca)
				}
				continue
			}
			ca := fresh(a, v)
			if e.eval(c, v, vid, ca, o) {
				matched = true
				a.merge(ca)
				if a == nil {
					break
				}
			}
		}
		if !matched {
			if out == nil {
				return false
			}
			ok = false
			e.fail(out, s, "anyOf", "'anyOf' failed", sub)
		}
	}
	if len(s.oneOf) > 0 {
		first := -1
		var firstAnn *annot
		var sub []*ValidationError
		for i, c := range s.oneOf {
			var o *[]*ValidationError
			if out != nil && first < 0 {
				o = &sub
			}
			ca := fresh(a, v)
			if !e.eval(c, v, vid, ca, o) {
				continue
			}
			if first >= 0 {
				if out == nil {
					return false
				}
				ok = false
				e.fail(out, s, "oneOf", fmt.Sprintf("'oneOf' failed, subschemas %d, %d matched", first, i), nil)
				first = -2
				break
			}
			first, firstAnn = i, ca
		}
		switch {
		case first == -1:
			if out == nil {
				return false
			}
			ok = false
			e.fail(out, s, "oneOf", "'oneOf' failed, none matched", sub)
		case first >= 0:
			a.merge(firstAnn)
		}
	}
	if s.ifS != nil {
		ia := fresh(a, v)
		if e.eval(s.ifS, v, vid, ia, nil) {
			a.merge(ia)
			if s.then != nil && !e.eval(s.then, v, vid, a, out) {
				if out == nil {
					return false
				}
				ok = false
			}
		} else if s.els != nil && !e.eval(s.els, v, vid, a, out) {
			if out == nil {
				return false
			}
			ok = false
		}
	}
	return ok
}

// quote writes a string as santhosh-tekuri/jsonschema does: in single quotes, with Go's
// escapes.
func quote(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, `\"`, `"`)
	q = strings.ReplaceAll(q, `'`, `\'`)
	return "'" + q[1:len(q)-1] + "'"
}

func joinQuoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}

// display writes a scalar for a message: strings quoted, numbers as written.
func display(v *value) string {
	switch v.k {
	case kNull:
		return "null"
	case kBool:
		return strconv.FormatBool(v.b)
	case kNumber:
		return v.s
	case kString:
		return quote(v.s)
	}
	return "value"
}

func enumMessage(enum []value) string {
	for i := range enum {
		if enum[i].k == kArray || enum[i].k == kObject {
			return "'enum' failed"
		}
	}
	if len(enum) == 1 {
		return "value must be " + display(&enum[0])
	}
	d := make([]string, len(enum))
	for i := range enum {
		d[i] = display(&enum[i])
	}
	return "value must be one of " + strings.Join(d, ", ")
}
