package bundle_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/internal/npm/npmtest"
)

// BenchmarkBuildWarm is a build of an unchanged project: the bundle cache answers.
func BenchmarkBuildWarm(b *testing.B) {
	reg := npmtest.NewRegistry(b)
	publish(reg)
	bd := bundle.New(bundle.Options{Registry: reg.URL, CacheDir: b.TempDir()})
	p := bundle.Project{Files: appFiles()}
	if _, err := bd.Build(context.Background(), p); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r, err := bd.Build(context.Background(), p); err != nil || !r.Cached {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildPackagesCached is a build whose packages are on disk but whose bundle is
// not: install from the caches, then esbuild.
func BenchmarkBuildPackagesCached(b *testing.B) {
	reg := npmtest.NewRegistry(b)
	publish(reg)
	dir := b.TempDir()
	p := bundle.Project{Files: appFiles()}
	if _, err := bundle.New(bundle.Options{Registry: reg.URL, CacheDir: dir}).Build(context.Background(), p); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		os.RemoveAll(filepath.Join(dir, "bundles"))
		if _, err := bundle.New(bundle.Options{Registry: reg.URL, CacheDir: dir}).Build(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}
