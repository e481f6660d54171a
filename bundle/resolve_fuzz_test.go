package bundle

import (
	"encoding/json"
	"strings"
	"testing"
)

// exportsTarget takes any package.json exports map (a stranger's) and any subpath without
// panicking or recursing without bound, and answers the same every time (conditions follow
// the map's key order, never Go's map order).
func FuzzExportsTarget(f *testing.F) {
	for _, s := range []string{
		`"./i.js"`, `{"import":"./a.mjs","default":"./b.js"}`, `{".":{"workerd":"./w.js","default":"./d.js"},"./x/*":"./src/*.js","./y/":"./lib/"}`,
		`[{"browser":"./b.js"},"./n.js"]`, `{"./*":null,"./a":"./a.js"}`, `{".":{"node":{"import":"./n.mjs"},"worker":["./w.js"]}}`,
		strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100), `null`, `{"#i":"./i.js"}`,
	} {
		for _, sub := range []string{".", "./x/y", "./y/z.js", "./a", "#i", "./"} {
			f.Add(s, sub)
		}
	}
	f.Fuzz(func(t *testing.T, raw, sub string) {
		got, err := exportsTarget(json.RawMessage(raw), sub, conditions(false))
		for range 3 {
			again, err2 := exportsTarget(json.RawMessage(raw), sub, conditions(false))
			if again != got || (err == nil) != (err2 == nil) {
				t.Fatalf("%q %q: %q (%v), then %q (%v)", raw, sub, got, err, again, err2)
			}
		}
	})
}
