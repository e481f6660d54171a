package server

import (
	"context"
	"net/http"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/npm"
	"github.com/isobox/isobox/isoerr"
)

// defaultBundler is the Bundler of a server configured without one: npm's registry as npm
// would pick it for the server's user, caches beside the compilation cache.
func defaultBundler(cacheDir string) *bundle.Bundler {
	switch cacheDir {
	case "off":
		cacheDir = ""
	case "":
		cacheDir = engine.DefaultCacheDir()
	}
	reg, token := npm.RegistryConfig("", nil, nil)
	return bundle.New(bundle.Options{Registry: reg, Token: token, CacheDir: cacheDir})
}

// bundleFiles bundles a body's files into its mainModule and modules, and sets its
// sourceHash; a body without files is left as it is.
func (s *Server) bundleFiles(ctx context.Context, body *api.WorkerCode) (*bundle.Bundle, error) {
	if len(body.Files) == 0 {
		return nil, nil
	}
	if body.MainModule != "" || len(body.Modules) > 0 {
		return nil, isoerr.New(isoerr.InvalidRequest, "give either files (a project to bundle) or mainModule and modules, not both")
	}
	files := make(map[string][]byte, len(body.Files))
	for k, v := range body.Files {
		files[k] = []byte(v)
	}
	b, err := s.cfg.Bundler.Build(ctx, bundle.Project{Files: files,
		CompatibilityDate: body.CompatibilityDate, CompatibilityFlags: body.CompatibilityFlags})
	if err != nil {
		return nil, err
	}
	body.MainModule, body.Modules = b.Code.MainModule, b.Code.Modules
	body.SourceHash = b.InputHash
	body.Files = nil
	return b, nil
}

// handleBundle is POST /v1/bundle: a project's bundle, checked like a PUT (it must
// compile), and not stored.
func (s *Server) handleBundle(w http.ResponseWriter, r *http.Request) {
	var body codeBody
	if err := s.decodeJSON(w, r, &body, false, isoerr.InvalidWorkerCode); err != nil {
		writeError(w, err)
		return
	}
	if len(body.Files) == 0 {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "files is required: the project to bundle, by relative path"))
		return
	}
	b, err := s.bundleFiles(r.Context(), &body.WorkerCode)
	if err != nil {
		writeError(w, err)
		return
	}
	code, _, err := body.code()
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.compile(r.Context(), code); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Bundle{Code: body.WorkerCode, SourceHash: b.InputHash, Packages: b.Packages, Cached: b.Cached})
}
