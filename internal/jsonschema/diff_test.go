package jsonschema

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"testing"

	santhosh "github.com/santhosh-tekuri/jsonschema/v6"
)

// The differential test: random schemas from a grammar of keywords, random values, and the
// verdict of santhosh-tekuri/jsonschema (the validator we replaced, compiled as
// codemode compiled it) as the oracle, wherever it compiles the schema.
var diffCases = flag.Int("jsonschema.diff", 3000, "schemas in the differential test against santhosh-tekuri/jsonschema")

type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) { return nil, fmt.Errorf("no loading %s", url) }

func santhoshCompile(schema []byte, d Dialect) (*santhosh.Schema, error) {
	doc, err := santhosh.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, err
	}
	c := santhosh.NewCompiler()
	c.DefaultDraft(map[Dialect]*santhosh.Draft{Draft4: santhosh.Draft4, Draft6: santhosh.Draft6, Draft7: santhosh.Draft7, Draft2019: santhosh.Draft2019, Draft2020: santhosh.Draft2020}[d])
	c.UseLoader(refuseLoader{})
	if err := c.AddResource("urn:isobox:input", doc); err != nil {
		return nil, err
	}
	return c.Compile("urn:isobox:input")
}

func santhoshValid(s *santhosh.Schema, inst []byte) bool {
	v, err := santhosh.UnmarshalJSON(bytes.NewReader(inst))
	if err != nil {
		panic(err)
	}
	return s.Validate(v) == nil
}

type gen struct {
	r    *rand.Rand
	d    Dialect
	defs int
}

var (
	numbers = []any{0, 1, -1, 1.5, 2, 3, 0.1, 0.3, 10, json.Number("1e2"), json.Number("3.0"), 100, json.Number("1.0000000000000000001"), 7, -2.5}
	strs    = []any{"", "a", "ab", "abc", "A1", "2024-01-01", "2024-02-30", "a@b.c", "x-y", "日本", "b", "192.168.0.1", "http://x.test/a", "12:00:00Z", "P1D", "c"}
	keys    = []string{"a", "b", "c", "x-1"}
)

func (g *gen) pick(xs []any) any { return xs[g.r.Intn(len(xs))] }

// instance is a random JSON value, nested at most depth levels.
func (g *gen) instance(depth int) any {
	n := 5
	if depth > 0 {
		n = 7
	}
	switch g.r.Intn(n) {
	case 0:
		return nil
	case 1:
		return g.r.Intn(2) == 0
	case 2:
		return g.pick(numbers)
	case 3, 4:
		return g.pick(strs)
	case 5:
		a := []any{}
		for i := g.r.Intn(4); i > 0; i-- {
			a = append(a, g.instance(depth-1))
		}
		return a
	default:
		m := map[string]any{}
		for i := g.r.Intn(4); i > 0; i-- {
			m[keys[g.r.Intn(len(keys))]] = g.instance(depth - 1)
		}
		return m
	}
}

func (g *gen) count() int { return g.r.Intn(4) }

// schema is a random subschema; draft-04 has no boolean ones but where allowed.
func (g *gen) schema(depth int, boolOK bool) any {
	if (g.d != Draft4 || boolOK) && g.r.Intn(8) == 0 {
		return g.r.Intn(3) != 0
	}
	m := map[string]any{}
	for i := 1 + g.r.Intn(3); i > 0; i-- {
		g.keyword(m, depth)
	}
	return m
}

func (g *gen) schemas(depth int) []any {
	a := []any{}
	for i := 1 + g.r.Intn(3); i > 0; i-- {
		a = append(a, g.schema(depth-1, false))
	}
	return a
}

func (g *gen) keyword(m map[string]any, depth int) {
	types := []any{"null", "boolean", "integer", "number", "string", "array", "object"}
	leaf := []func(){
		func() {
			if g.r.Intn(3) == 0 {
				m["type"] = []any{g.pick(types), "null"}
			} else {
				m["type"] = g.pick(types)
			}
		},
		func() {
			e := []any{}
			for i := 1 + g.r.Intn(3); i > 0; i-- {
				v := g.instance(1)
				dup := false
				for _, x := range e {
					a, _ := json.Marshal(x)
					b, _ := json.Marshal(v)
					dup = dup || string(a) == string(b)
				}
				if !dup {
					e = append(e, v)
				}
			}
			m["enum"] = e
		},
		func() { m["minimum"] = g.pick(numbers) },
		func() { m["maximum"] = g.pick(numbers) },
		func() {
			if g.d == Draft4 {
				m["minimum"] = g.pick(numbers)
				m["exclusiveMinimum"] = g.r.Intn(2) == 0
			} else {
				m["exclusiveMinimum"] = g.pick(numbers)
			}
		},
		func() {
			if g.d == Draft4 {
				m["maximum"] = g.pick(numbers)
				m["exclusiveMaximum"] = g.r.Intn(2) == 0
			} else {
				m["exclusiveMaximum"] = g.pick(numbers)
			}
		},
		func() { m["multipleOf"] = g.pick([]any{0.1, 2, 0.5, 3, json.Number("0.01"), 1.5}) },
		func() { m["minLength"] = g.count() },
		func() { m["maxLength"] = g.count() },
		func() { m["pattern"] = g.pick([]any{"^a", "b$", "[0-9]", "^[a-z]+$", "日"}) },
		func() {
			m["format"] = g.pick([]any{"email", "date", "ipv4", "uri", "hostname", "uuid", "regex", "date-time", "duration", "time", "json-pointer"})
		},
		func() { m["minItems"] = g.count() },
		func() { m["maxItems"] = g.count() },
		func() { m["uniqueItems"] = g.r.Intn(3) != 0 },
		func() { m["minProperties"] = g.count() },
		func() { m["maxProperties"] = g.count() },
		func() {
			r := []any{}
			for _, k := range keys {
				if g.r.Intn(3) == 0 {
					r = append(r, k)
				}
			}
			if len(r) > 0 || g.d != Draft4 {
				m["required"] = r
			}
		},
		func() {
			if g.d >= Draft6 {
				m["const"] = g.instance(1)
			}
		},
		func() {
			if g.defs > 0 {
				if g.r.Intn(6) == 0 {
					m["$ref"] = "#"
				} else {
					m["$ref"] = fmt.Sprintf("#/%s/d%d", g.defsKey(), g.r.Intn(g.defs))
				}
			}
		},
	}
	if depth <= 0 {
		leaf[g.r.Intn(len(leaf))]()
		return
	}
	nested := []func(){
		func() {
			p := map[string]any{}
			for _, k := range keys {
				if g.r.Intn(2) == 0 {
					p[k] = g.schema(depth-1, false)
				}
			}
			m["properties"] = p
		},
		func() {
			m["patternProperties"] = map[string]any{g.pick([]any{"^x", "b", "^[ab]$"}).(string): g.schema(depth-1, false)}
		},
		func() { m["additionalProperties"] = g.schema(depth-1, true) },
		func() { m["items"] = g.schema(depth-1, false) },
		func() {
			if g.d < Draft2020 {
				m["items"] = g.schemas(depth)
				m["additionalItems"] = g.schema(depth-1, true)
			} else {
				m["prefixItems"] = g.schemas(depth)
			}
		},
		func() {
			if g.d >= Draft6 {
				m["contains"] = g.schema(depth-1, false)
				if g.d >= Draft2019 && g.r.Intn(2) == 0 {
					m["minContains"] = g.count()
				}
				if g.d >= Draft2019 && g.r.Intn(2) == 0 {
					m["maxContains"] = g.count()
				}
			}
		},
		func() {
			if g.d >= Draft6 {
				m["propertyNames"] = g.schema(depth-1, false)
			}
		},
		func() {
			dep := map[string]any{}
			k := keys[g.r.Intn(len(keys))]
			if g.r.Intn(2) == 0 {
				dep[k] = []any{keys[g.r.Intn(len(keys))]}
			} else {
				dep[k] = g.schema(depth-1, false)
			}
			m["dependencies"] = dep
		},
		func() {
			if g.d >= Draft2019 {
				m["dependentRequired"] = map[string]any{keys[g.r.Intn(len(keys))]: []any{keys[g.r.Intn(len(keys))]}}
			}
		},
		func() {
			if g.d >= Draft2019 {
				m["dependentSchemas"] = map[string]any{keys[g.r.Intn(len(keys))]: g.schema(depth-1, false)}
			}
		},
		func() { m["allOf"] = g.schemas(depth) },
		func() { m["anyOf"] = g.schemas(depth) },
		func() { m["oneOf"] = g.schemas(depth) },
		func() { m["not"] = g.schema(depth-1, false) },
		func() {
			if g.d >= Draft7 {
				m["if"] = g.schema(depth-1, false)
				if g.r.Intn(3) != 0 {
					m["then"] = g.schema(depth-1, false)
				}
				if g.r.Intn(3) != 0 {
					m["else"] = g.schema(depth-1, false)
				}
			}
		},
		func() {
			if g.d >= Draft2019 {
				m["unevaluatedProperties"] = g.schema(depth-1, false)
			}
		},
		func() {
			if g.d >= Draft2019 {
				m["unevaluatedItems"] = g.schema(depth-1, false)
			}
		},
	}
	if g.r.Intn(2) == 0 {
		leaf[g.r.Intn(len(leaf))]()
	} else {
		nested[g.r.Intn(len(nested))]()
	}
}

func (g *gen) defsKey() string {
	if g.d >= Draft2019 {
		return "$defs"
	}
	return "definitions"
}

var dialects = []Dialect{Draft2020, Draft2020, Draft2019, Draft7, Draft6, Draft4}

// document is a random schema document with definitions its $refs name.
func (g *gen) document() []byte {
	g.d = dialects[g.r.Intn(len(dialects))]
	g.defs = g.r.Intn(3)
	root := g.schema(3, false)
	if m, ok := root.(map[string]any); ok {
		if g.defs > 0 {
			defs := map[string]any{}
			for i := 0; i < g.defs; i++ {
				defs[fmt.Sprintf("d%d", i)] = g.schema(2, false)
			}
			m[g.defsKey()] = defs
		}
		if g.r.Intn(4) == 0 {
			m["$schema"] = map[Dialect]string{Draft4: "http://json-schema.org/draft-04/schema#", Draft6: "http://json-schema.org/draft-06/schema#",
				Draft7: "http://json-schema.org/draft-07/schema#", Draft2019: "https://json-schema.org/draft/2019-09/schema", Draft2020: "https://json-schema.org/draft/2020-12/schema"}[g.d]
		}
	}
	b, _ := json.Marshal(root)
	return b
}

func TestDifferential(t *testing.T) {
	n := *diffCases
	if testing.Short() {
		n /= 10
	}
	r := rand.New(rand.NewSource(1))
	compiled, refusedBySanthosh, refusedByUs, checked := 0, 0, 0, 0
	for i := 0; i < n; i++ {
		g := &gen{r: r}
		doc := g.document()
		theirs, terr := santhoshCompile(doc, g.d)
		ours, oerr := Compile(doc, Options{Dialect: g.d})
		if terr != nil {
			refusedBySanthosh++
			continue
		}
		if oerr != nil {
			refusedByUs++
			t.Errorf("schema %s (%v): santhosh compiles it, we do not: %v", doc, g.d, oerr)
			continue
		}
		compiled++
		if refSiblingsApplied(doc, g.d) {
			continue
		}
		for j := 0; j < 12; j++ {
			inst, _ := json.Marshal(g.instance(3))
			want := santhoshValid(theirs, inst)
			err := ours.Validate(inst)
			checked++
			if got := err == nil; got != want {
				t.Errorf("schema %s (%v)\ninstance %s\nsanthosh valid=%v, ours: %v", doc, g.d, inst, want, err)
			}
		}
	}
	t.Logf("%d schemas: %d compiled by both, %d refused by santhosh, %d refused by us only; %d verdicts compared", n, compiled, refusedBySanthosh, refusedByUs, checked)
	if compiled < n/2 {
		t.Errorf("only %d of %d schemas compiled: the generator tests too little", compiled, n)
	}
}

// refSiblingsApplied reports a known difference: in drafts 06 and 07 santhosh applies
// const, contains, propertyNames and if/then/else beside a $ref, where the drafts (and we)
// ignore every sibling of a $ref.
func refSiblingsApplied(doc []byte, d Dialect) bool {
	if d != Draft6 && d != Draft7 {
		return false
	}
	var v any
	json.Unmarshal(doc, &v)
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["$ref"]; ok {
				for _, k := range []string{"const", "contains", "propertyNames", "if", "then", "else"} {
					if _, ok := v[k]; ok {
						return true
					}
				}
			}
			for _, x := range v {
				if walk(x) {
					return true
				}
			}
		case []any:
			for _, x := range v {
				if walk(x) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}
