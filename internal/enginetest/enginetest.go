// Package enginetest gives test packages one shared engine with a private compilation
// cache: compiling QuickJS is the slow part of every test binary's start.
package enginetest

import (
	"context"
	"os"
	"testing"

	"github.com/isobox/isobox/engine"
)

// Main makes the engine, stores it in *e, runs the tests and exits with their status.
// Call it from TestMain.
func Main(m *testing.M, e **engine.Engine) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "isobox-test-cache")
	if err != nil {
		panic(err)
	}
	*e, err = engine.New(ctx, engine.Config{CacheDir: dir})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	(*e).Close(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}
