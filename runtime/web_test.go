package runtime_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
)

var testEngine *engine.Engine

func TestMain(m *testing.M) { enginetest.Main(m, &testEngine) }

// evalIn runs code in a fresh sandbox with generous limits and returns its JSON value.
func evalIn(t *testing.T, cfg engine.SandboxConfig, code string) json.RawMessage {
	t.Helper()
	return evalResult(t, cfg, code).Value
}

// evalResult is evalIn returning the whole result (logs too).
func evalResult(t *testing.T, cfg engine.SandboxConfig, code string) *engine.Result {
	t.Helper()
	ctx := context.Background()
	sb, err := testEngine.NewSandbox(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	res, err := sb.Eval(ctx, engine.Limits{CPU: 20 * time.Second, Wall: time.Minute, Output: 64 << 20}, code)
	if err != nil {
		for _, l := range res.Logs {
			t.Log(l.Level, l.Message)
		}
		t.Fatalf("%v\n%s", err, isoerr.As(err).Stack)
	}
	return res
}

// TestWebAPIs runs every testdata/web/*.js file inside a real sandbox. Each file evaluates
// to an async function of an assert helper (testdata/web/_assert.js); it must resolve and
// make at least one assertion.
func TestWebAPIs(t *testing.T) {
	helper, err := os.ReadFile("testdata/web/_assert.js")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("testdata/web/*.js")
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "_") {
			continue
		}
		ran++
		t.Run(strings.TrimSuffix(name, ".js"), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			code := string(helper) + "\n;const __test = (" + string(src) + "\n);\nawait __test(globalThis.__assert);\n" +
				"({count: globalThis.__assert.count, console: globalThis.__consoleExpect ?? null})"
			res := evalResult(t, engine.SandboxConfig{}, code)
			var out struct {
				Count   int `json:"count"`
				Console []struct {
					Level   string  `json:"level"`
					Message *string `json:"message"`
					Pattern string  `json:"pattern"`
				} `json:"console"`
			}
			if err := json.Unmarshal(res.Value, &out); err != nil || out.Count == 0 {
				t.Fatalf("%s made no assertions (%v)", name, err)
			}
			// Files that log say what the host must have captured (console.js).
			if out.Console != nil {
				if len(res.Logs) != len(out.Console) {
					t.Fatalf("%s: captured %d console lines, the file expects %d", name, len(res.Logs), len(out.Console))
				}
				for i, want := range out.Console {
					got := res.Logs[i]
					ok := got.Level == want.Level
					if want.Message != nil {
						ok = ok && got.Message == *want.Message
					} else {
						ok = ok && regexp.MustCompile(want.Pattern).MatchString(got.Message)
					}
					if !ok {
						t.Errorf("%s: console line %d = %s %q, want %s %q%s", name, i, got.Level, got.Message, want.Level, deref(want.Message), want.Pattern)
					}
				}
			}
			t.Logf("%s: %d assertions, %d console lines checked", name, out.Count, len(out.Console))
		})
	}
	if ran == 0 {
		t.Fatal("no test files in testdata/web")
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
