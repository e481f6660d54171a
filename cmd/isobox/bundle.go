package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/npm"
	"github.com/isobox/isobox/isoerr"
)

// cmdBundle is `isobox bundle DIR`: install and bundle a project, print its WorkerCode.
func cmdBundle(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bundle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the WorkerCode JSON to this file instead of stdout")
	registry := fs.String("npm-registry", "", "npm registry URL (default $ISOBOX_NPM_REGISTRY, .npmrc's registry, or "+npm.DefaultRegistry+")")
	cacheDir := fs.String("cache-dir", "", `cache directory for packages and bundles ("off": memory only; default $XDG_CACHE_HOME/isobox)`)
	inline := fs.Bool("inline", false, "bundle the packages into the main module too (tree-shaken; nothing shared between apps)")
	var flags multiFlag
	fs.Var(&flags, "compatibility-flag", "compatibility flag of the worker, e.g. nodejs_compat (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: isobox bundle [flags] DIR\n\nInstalls the npm dependencies of the project in DIR (its package.json, and\npackage-lock.json when present) and bundles it into the WorkerCode JSON of a worker:\nthe project's code as index.js, each npm package version as a module of its own.\nThe entry is package.json's main, else src/index.ts, index.ts, src/index.js, index.js.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "isobox: bundle takes one project directory")
		fs.Usage()
		return 2
	}
	b, err := bundleProject(ctx, pos[0], *registry, *cacheDir, bundle.Project{CompatibilityFlags: flags, Inline: *inline})
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	enc, err := json.MarshalIndent(b.Code, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	enc = append(enc, '\n')
	if *out != "" {
		if err := os.WriteFile(*out, enc, 0o644); err != nil {
			fmt.Fprintf(stderr, "isobox: %v\n", err)
			return 1
		}
		return 0
	}
	_, _ = stdout.Write(enc)
	return 0
}

// isProject reports whether arg is a project directory (one with a package.json), which
// `isobox run` bundles instead of reading module files.
func isProject(arg string) bool {
	st, err := os.Stat(filepath.Join(arg, "package.json"))
	return err == nil && st.Mode().IsRegular()
}

// bundleProject reads the project in dir and bundles it with p's options; registry and
// cacheDir are the flags ("" for their defaults).
func bundleProject(ctx context.Context, dir, registry, cacheDir string, p bundle.Project) (*bundle.Bundle, error) {
	files, err := readProject(dir)
	if err != nil {
		return nil, err
	}
	reg, token := npm.RegistryConfig(registry, files[".npmrc"], nil)
	scopes := npm.ScopeRegistries(files[".npmrc"], nil)
	switch cacheDir {
	case "off":
		cacheDir = ""
	case "":
		cacheDir = engine.DefaultCacheDir()
	}
	b := bundle.New(bundle.Options{Registry: reg, Token: token, Scopes: scopes, CacheDir: cacheDir})
	p.Files = files
	return b.Build(ctx, p)
}

// serveBundler is isobox serve's Bundler: the registry of --npm-registry (or as npm picks
// it), caches under the compilation cache directory.
func serveBundler(registry, cacheDir string) *bundle.Bundler {
	reg, token := npm.RegistryConfig(registry, nil, nil)
	switch cacheDir {
	case "off":
		cacheDir = ""
	case "":
		cacheDir = engine.DefaultCacheDir()
	}
	return bundle.New(bundle.Options{Registry: reg, Token: token, Scopes: npm.ScopeRegistries(nil, nil), CacheDir: cacheDir})
}

// readProject reads a project's files, without node_modules, version control folders and
// anything that is not a regular file (symbolic links are not followed).
func readProject(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	size := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && (name == "node_modules" || name == ".git" || name == ".hg" || name == ".wrangler") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if len(files) >= bundle.MaxProjectFiles {
			return isoerr.New(isoerr.BundleFailed, "%s has more than %d files", dir, bundle.MaxProjectFiles)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if size += len(b); size > bundle.MaxProjectBytes {
			return isoerr.New(isoerr.CodeTooLarge, "the files of %s total more than %d bytes", dir, bundle.MaxProjectBytes)
		}
		files[strings.ReplaceAll(filepath.ToSlash(rel), "\\", "/")] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the project %s: %w", dir, err)
	}
	return files, nil
}
