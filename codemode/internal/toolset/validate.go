package toolset

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/isobox/isobox/internal/jsonschema"
	"github.com/isobox/isobox/internal/jsonv"
)

// Validator checks tool arguments against the tools' input schemas. Compiled schemas are
// kept by their text, so a connector's tools compile once, not once per run. It is safe
// for concurrent use.
type Validator struct {
	mu    sync.Mutex
	cache map[string]*compiled
}

// compiled is a schema ready to validate with, or nil s when it did not compile (an
// unknown $schema, a remote $ref): such a tool's input is passed on unchecked and the tool
// itself is left to judge it.
type compiled struct {
	s   *jsonschema.Schema
	err error
}

const maxCachedSchemas = 4096

// NewValidator returns a validator with an empty cache.
func NewValidator() *Validator { return &Validator{cache: map[string]*compiled{}} }

func (v *Validator) compile(schema json.RawMessage) *compiled {
	key := string(schema)
	v.mu.Lock()
	c, ok := v.cache[key]
	v.mu.Unlock()
	if ok {
		return c
	}
	c = &compiled{}
	c.s, c.err = jsonschema.Compile(schema, jsonschema.Options{Dialect: jsonschema.Draft2020})
	if c.err != nil {
		// An unknown $schema is the usual cause: try once more without it, as draft
		// 2020-12, then as the older drafts whose keywords differ (draft-04's boolean
		// exclusiveMinimum), so that the bounds the TypeScript shows are checked.
		var m map[string]json.RawMessage
		if json.Unmarshal(schema, &m) == nil {
			delete(m, "$schema")
			if b, err := json.Marshal(m); err == nil {
				for _, d := range []jsonschema.Dialect{jsonschema.Draft2020, jsonschema.Draft7, jsonschema.Draft4} {
					if s, err := jsonschema.Compile(b, jsonschema.Options{Dialect: d}); err == nil {
						c.s, c.err = s, nil
						break
					}
				}
			}
		}
	}
	v.mu.Lock()
	if len(v.cache) >= maxCachedSchemas {
		clear(v.cache)
	}
	v.cache[key] = c
	v.mu.Unlock()
	return c
}

// Check validates args against schema; the error lists what is wrong, where, in terms a
// JavaScript programmer reads (input.items[2].name).
func (v *Validator) Check(schema, args json.RawMessage) error {
	if len(schema) == 0 {
		return nil
	}
	c := v.compile(schema)
	if c.s == nil {
		return nil
	}
	err := c.s.Validate(args)
	if err == nil {
		return nil
	}
	if errors.Is(err, jsonschema.ErrNotJSON) {
		return fmt.Errorf("the input is not JSON: %v", strings.TrimPrefix(err.Error(), jsonschema.ErrNotJSON.Error()+": "))
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var msgs []string
	seen := map[string]bool{}
	add := func(m string) {
		if !seen[m] {
			seen[m] = true
			msgs = append(msgs, m)
		}
	}
	var root any // the schema, parsed only when an error needs it
	for _, e := range leaves(ve) {
		m := jsPath(e.InstanceLocation) + ": " + describe(e)
		if e.Keyword == "additionalProperties" {
			// Say what is allowed: the model then fixes the name in one go.
			if root == nil {
				root, _ = jsonv.Parse(schema)
			}
			if frag, ok := strings.CutSuffix(e.KeywordLocation, "/additionalProperties"); ok {
				if s, ok := jsonv.Pointer(root, frag); ok {
					if so, ok := s.(*jsonv.Object); ok && so.Obj("properties") != nil {
						m += " (the properties are " + strings.Join(so.Obj("properties").Keys, ", ") + ")"
					}
				}
			}
		}
		add(m)
	}
	const most = 6
	if len(msgs) > most {
		msgs = append(msgs[:most], fmt.Sprintf("and %d more", len(msgs)-most))
	}
	return errors.New(strings.Join(msgs, "; "))
}

// leaves are the errors that say what is wrong: the ends of the error tree, and the
// unions (oneOf, anyOf), which describe their alternatives themselves.
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch e.Keyword {
	case "oneOf", "anyOf":
		return []*jsonschema.ValidationError{e}
	}
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// describe says what is wrong at one place; a union lists its alternatives' complaints.
func describe(e *jsonschema.ValidationError) string {
	switch e.Keyword {
	case "oneOf", "anyOf":
		if len(e.Causes) == 0 {
			return e.Message
		}
		var why []string
		for _, c := range e.Causes {
			for _, l := range leaves(c) {
				m := l.Message
				if p := jsPath(l.InstanceLocation); p != jsPath(e.InstanceLocation) {
					m = p + ": " + m
				}
				why = append(why, m)
			}
		}
		if len(why) > 4 {
			why = append(why[:4], "...")
		}
		return "matches none of the alternatives (" + strings.Join(why, " | ") + ")"
	}
	return e.Message
}

// jsPath writes an instance location as JavaScript: input.items[2]["odd key"].
func jsPath(loc []string) string {
	var b strings.Builder
	b.WriteString("input")
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
		} else if isIdentifier(tok) {
			b.WriteString("." + tok)
		} else {
			q, _ := json.Marshal(tok)
			b.WriteString("[" + string(q) + "]")
		}
	}
	return b.String()
}
