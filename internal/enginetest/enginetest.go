// Package enginetest gives test packages one shared engine (and loader) with a private
// compilation cache: compiling QuickJS is the slow part of every test binary's start.
package enginetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	var err error
	*e, err = engine.New(ctx, engine.Config{CacheDir: CacheDir(), Defaults: Defaults})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	(*e).Close(ctx)
	os.Exit(code)
}

// CacheDir returns the compilation cache the test packages share, in the OS temp folder
// (one per user): compiling CPython's wasm under -race takes tens of seconds, and each
// package that starts a Python sandbox would pay it again in a fresh folder. Sharing is
// safe: wazero keys its entries by the module's content and writes them by rename, the
// engine checks the checksum of every image it reads and writes them by rename or link,
// and a test that needs a cold or damaged cache makes a folder of its own.
func CacheDir() string {
	d := filepath.Join(os.TempDir(), fmt.Sprintf("isobox-test-cache-%d", os.Getuid()))
	if err := os.MkdirAll(d, 0o700); err != nil {
		panic(err)
	}
	return d
}

// FreshCacheDir returns a new cache folder for one test that holds nothing of CacheDir's
// but its compiled code (wazero's folder, linked to CacheDir's): for a test of what an
// engine keeps in its cache (the runtime's bytecode, the Python image) or of an engine of
// its own, without compiling QuickJS and CPython again, which takes tens of seconds on one
// core under -race. It is removed when the test ends.
func FreshCacheDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	shared := filepath.Join(CacheDir(), "wazero")
	if err := os.MkdirAll(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(shared, filepath.Join(d, "wazero")); err != nil {
		t.Fatal(err)
	}
	return d
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
