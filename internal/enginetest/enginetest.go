// Package enginetest gives test packages one shared engine (and loader) with a private
// compilation cache: compiling QuickJS is the slow part of every test binary's start.
package enginetest

import (
	"context"
	"os"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

// Defaults are the engine's default limits in tests: a call that sets no CPU limit gets 20x
// the production default (50 ms), so that work meant to finish never trips it on a slow,
// shared, one-core CI machine under -race. A test that wants a limit to trip sets it and
// runs work that never ends.
var Defaults = engine.Limits{CPU: 20 * engine.DefaultLimits().CPU}

// runner is what Main runs: a *testing.M, or a wrapper around one.
type runner interface{ Run() int }

// Main makes the engine, stores it in *e, runs the tests and exits with their status.
// Call it from TestMain.
func Main(m runner, e **engine.Engine) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "isobox-test-cache")
	if err != nil {
		panic(err)
	}
	*e, err = engine.New(ctx, engine.Config{CacheDir: dir, Defaults: Defaults})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	(*e).Close(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}

// LoaderMain is Main for packages that work through a loader: it makes the engine and a
// loader with default settings, hands the loader to setup, runs the tests and exits.
func LoaderMain(m *testing.M, setup func(*loader.Loader)) {
	var e *engine.Engine
	Main(loaderRun{m: m, e: &e, setup: setup}, &e)
}

// loaderRun runs the tests between making the loader and closing it.
type loaderRun struct {
	m     *testing.M
	e     **engine.Engine
	setup func(*loader.Loader)
}

func (r loaderRun) Run() int {
	l, err := loader.New(loader.Config{Engine: *r.e})
	if err != nil {
		panic(err)
	}
	defer l.Close(context.Background())
	r.setup(l)
	return r.m.Run()
}
