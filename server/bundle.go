package server

import (
	"context"
	"mime"
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
	return bundle.New(bundle.Options{Registry: reg, Token: token, Scopes: npm.ScopeRegistries(nil, nil), CacheDir: cacheDir})
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

// isTarGz reports whether a request's body is a project archive (.tar.gz) rather than
// JSON.
func isTarGz(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/gzip", "application/x-gzip", "application/tar+gzip", "application/x-tar+gzip", "application/x-gtar":
		return true
	}
	return false
}

// decodeCode reads the body of PUT /v1/workers/{id} and POST /v1/bundle: WorkerCode JSON,
// or a project as a .tar.gz (its compatibility date and flags in the query:
// ?compatibilityDate=...&compatibilityFlags=nodejs_compat).
func (s *Server) decodeCode(w http.ResponseWriter, r *http.Request, body *codeBody) error {
	if !isTarGz(r) {
		return s.decodeJSON(w, r, body, false, isoerr.InvalidWorkerCode)
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	files, err := bundle.FilesFromTarGz(b)
	if err != nil {
		return err
	}
	body.Files = make(map[string]string, len(files))
	for k, v := range files {
		body.Files[k] = string(v)
	}
	q := r.URL.Query()
	body.CompatibilityDate = q.Get("compatibilityDate")
	body.CompatibilityFlags = q["compatibilityFlags"]
	return nil
}

// handleBundle is POST /v1/bundle: a project's bundle, checked like a PUT (it must
// compile), and not stored.
func (s *Server) handleBundle(w http.ResponseWriter, r *http.Request) {
	var body codeBody
	if err := s.decodeCode(w, r, &body); err != nil {
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
	ownCode(principalOf(r).Tenant, &code) // checked in a sandbox process of its tenant's
	if err := s.sb.Compile(r.Context(), code); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Bundle{Code: body.WorkerCode, SourceHash: b.InputHash, Packages: b.Packages, Cached: b.Cached})
}
