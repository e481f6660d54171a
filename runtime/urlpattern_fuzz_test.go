package runtime_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

// FuzzURLPattern feeds arbitrary pattern strings to URLPattern inside a real sandbox (the
// pattern compiler is JavaScript, 32_urlpattern.js). Each input must either be refused with
// a TypeError or give a pattern whose test() and exec() of URLs built from the input answer
// without throwing. A sandbox per input keeps one input's state out of the next.
func FuzzURLPattern(f *testing.F) {
	for _, seed := range []string{
		"/books/:id", "/:id(\\d+)", "/*", "{/:a}?", "/:a+/:b*", "https://*.example.com/:x?q#h",
		"/(a|b)", "/:id(", "((", "\\", ":", "{", "}", "/:a/:a", "http://[\\:\\:1]/", "data\\:x",
		"/foo{/bar}?", "?a=:b#c", "//", ":café", "/%zz", "/ünï/:x",
	} {
		f.Add(seed)
	}
	const probe = `(p) => {
  const tryPattern = (make) => {
    let pattern;
    try {
      pattern = make();
    } catch (e) {
      if (e instanceof TypeError) return "typeerror";
      return "threw " + e;
    }
    for (const input of ["https://example.com" + (p.startsWith("/") ? p : "/" + p), p]) {
      pattern.test(input, "https://example.com");
      pattern.exec(input, "https://example.com");
    }
    pattern.test({ pathname: p });
    for (const k of ["protocol", "username", "password", "hostname", "port", "pathname", "search", "hash"]) if (typeof pattern[k] !== "string") return "getter " + k;
    return "ok";
  };
  return [
    tryPattern(() => new URLPattern({ pathname: p })),
    tryPattern(() => new URLPattern({ hostname: p, search: p, hash: p })),
    tryPattern(() => new URLPattern(p, "https://example.com")),
  ];
}`
	f.Fuzz(func(t *testing.T, p string) {
		if len(p) > 256 {
			return
		}
		arg, err := json.Marshal(p)
		if err != nil {
			t.Skip()
		}
		ctx := context.Background()
		sb, err := testEngine.NewSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close(ctx)
		res, err := sb.Eval(ctx, engine.Limits{CPU: time.Second, Wall: 30 * time.Second}, "("+probe+")("+string(arg)+")")
		if err != nil {
			// Repetition the pattern itself asks for may backtrack exponentially: a regexp group
			// ("(a+)+"), or a modifier on a wildcard ("**" is ((?:.*)*)). A limit stops it.
			code := isoerr.CodeOf(err)
			if (code == isoerr.CPULimitExceeded || code == isoerr.WallTimeExceeded) && strings.ContainsAny(p, "(*+") {
				return
			}
			t.Fatalf("pattern %q: %v", p, err)
		}
		var out []string
		if err := json.Unmarshal(res.Value, &out); err != nil {
			t.Fatalf("pattern %q: bad result %s", p, res.Value)
		}
		for _, o := range out {
			if o != "ok" && o != "typeerror" {
				t.Errorf("pattern %q: %s", p, o)
			}
		}
	})
}
