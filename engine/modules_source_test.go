package engine_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/isobox/isobox/engine"
)

// A worker's ES modules reach the guest byte for byte (handed over without a copy) and the
// caller's module map is unchanged by loading and running them, twice, in two sandboxes.
func TestModuleSourcesReachTheGuestIntact(t *testing.T) {
	ctx := context.Background()
	main := []byte("import { word } from './lib/w.js';\nexport default { hello() { return word + ' ü€😀'; } };\n")
	lib := []byte("export const word = 'grüße';\n")
	mods := engine.ModuleMap{
		"main.js":     {Type: engine.ModuleJS, Content: main},
		"lib/w.js":    {Type: engine.ModuleJS, Content: lib},
		"greeting.js": {Type: engine.ModuleText, Content: []byte("unused")},
	}
	keep := map[string][]byte{}
	for name, m := range mods {
		keep[name] = bytes.Clone(m.Content)
	}
	for range 2 {
		sb := newSandbox(t, engine.SandboxConfig{Modules: mods})
		if _, err := sb.Load(ctx, engine.Limits{}, "main.js", nil); err != nil {
			t.Fatal(err)
		}
		res, err := sb.Call(ctx, engine.Limits{}, "", "hello", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(res.Value), `"grüße ü€😀"`; got != want {
			t.Fatalf("hello() = %s, want %s", got, want)
		}
	}
	for name, m := range mods {
		if !bytes.Equal(m.Content, keep[name]) {
			t.Fatalf("module %q changed: %q, was %q", name, m.Content, keep[name])
		}
	}
}
