package session_test

import (
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/session"
)

// A session takes what eval takes (TypeScript, top-level await and return, fences) and
// keeps its declarations from one eval to the next; a function declared last is kept for
// later, not called.
func TestSessionLanguage(t *testing.T) {
	m := newManager(t, nil, 0)
	if _, err := m.Create(context.Background(), "lang", session.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ code, want string }{
		{"let total: number = 40;\nconst names: string[] = [];", ""},
		{"function add(n: number): number { total += n; return total }", ""},
		{"add(1)", "41"},
		{"const late = await Promise.resolve(1);\nlate", "1"},
		{"return add(late)", "42"},
		{"```ts\nnames.push('a' as string);\nnames\n```", `["a"]`},
		{"enum Color { Red = 3 }\nColor.Red", "3"},
		{"Color.Red + total", "45"},
		{"new Set(names)", `{"$type":"Set","values":["a"]}`},
	} {
		evalOK(t, m, "lang", s.code, s.want)
	}
	_, err := m.Eval(context.Background(), "lang", "import fs from \"fs\"", engine.Limits{})
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), `"fs"`) {
		t.Fatalf("import of fs: %v", err)
	}
	evalOK(t, m, "lang", "total", "42") // a refused snippet leaves the session as it was
}
