package runtime_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

var testEngine *engine.Engine

func TestMain(m *testing.M) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "isobox-runtime-test")
	if err != nil {
		panic(err)
	}
	testEngine, err = engine.New(ctx, engine.Config{CacheDir: dir})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	testEngine.Close(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}

// evalIn runs code in a fresh sandbox with generous limits and returns its JSON value.
func evalIn(t *testing.T, cfg engine.SandboxConfig, code string) json.RawMessage {
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
	return res.Value
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
			code := string(helper) + "\n;const __test = (" + string(src) + "\n);\nawait __test(globalThis.__assert);\nglobalThis.__assert.count"
			var count int
			if err := json.Unmarshal(evalIn(t, engine.SandboxConfig{}, code), &count); err != nil || count == 0 {
				t.Fatalf("%s made no assertions (%v)", name, err)
			}
			t.Logf("%s: %d assertions", name, count)
		})
	}
	if ran == 0 {
		t.Fatal("no test files in testdata/web")
	}
}
