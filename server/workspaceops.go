package server

import (
	"net/http"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
	"github.com/isobox/isobox/workspace/shell"
)

// The workspace routes that run something over a workspace: search, the shell, and
// archives in and out.

// handleSearch is grep -rn over the workspace (workspace.SearchText).
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	var q api.WorkspaceSearch
	if err := s.decodeJSON(w, r, &q, false, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	if q.Pattern == "" {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "pattern is empty"))
		return
	}
	if _, err := st.Lookup(r.Context(), wsName(r)); err != nil {
		writeError(w, err) // not_found: nothing to search
		return
	}
	res, err := st.SearchText(r.Context(), wsName(r), q.Pattern, workspace.SearchOptions{Glob: q.Glob, Regex: q.Regex,
		IgnoreCase: q.IgnoreCase, ContextLines: q.ContextLines, MaxResults: q.MaxResults})
	if err != nil {
		writeError(w, err)
		return
	}
	out := api.SearchResult{Matches: make([]api.SearchMatch, 0, len(res.Matches)), FilesSearched: res.Files, BinarySkipped: res.Skipped, Truncated: res.Truncated}
	for _, m := range res.Matches {
		out.Matches = append(out.Matches, api.SearchMatch{Path: m.Path, Line: m.Line, Column: m.Column, Text: m.Text, Before: m.Before, After: m.After})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleExec runs a shell script over the workspace (package workspace/shell: isobox's
// commands in Go over the store; no host file, process or network). A script that fails
// is a 200 with its exit code; a limit that stops it is a 422 with the output so far and
// the typed error, as a failed invocation.
func (s *Server) handleExec(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	var q api.ExecRequest
	if err := s.decodeJSON(w, r, &q, false, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	res, err := shell.Run(r.Context(), st, wsName(r), q.Command, shell.Options{Dir: q.Dir, Env: q.Env})
	out := api.ExecResult{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode}
	if err != nil {
		e := isoerr.As(err)
		switch e.Code {
		case isoerr.WallTimeExceeded, isoerr.CPULimitExceeded, isoerr.OutputLimitExceeded, isoerr.MemoryLimitExceeded:
			out.Error = e
			noteError(w, e.Code)
			writeJSON(w, StatusOf(e.Code), out)
		default:
			writeError(w, err)
		}
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGetArchive streams a tar.gz of ?path= (repeatable; default the whole workspace).
// The workspace and the paths are checked before the first byte, so a missing one is a
// typed 404; a failure while streaming aborts the connection, so a client never takes a
// cut archive for a whole one.
func (s *Server) handleGetArchive(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	ctx, ws := r.Context(), wsName(r)
	paths := r.URL.Query()["path"]
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	if _, err := st.Lookup(ctx, ws); err != nil {
		writeError(w, err)
		return
	}
	for _, p := range paths {
		if _, err := st.Lstat(ctx, ws, p); err != nil {
			writeError(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("ws")+`.tar.gz"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	sw := &startedWriter{w: w}
	if err := st.WriteArchive(ctx, ws, paths, sw); err != nil {
		if !sw.started {
			writeError(w, err)
			return
		}
		panic(http.ErrAbortHandler) // the body is cut: the client sees a broken transfer
	}
}

// startedWriter records whether anything was written (after which the status is sent).
type startedWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startedWriter) Write(b []byte) (int, error) {
	s.started = true
	return s.w.Write(b)
}

// handlePutArchive extracts a tar.gz body into directory ?path= (default the root), all
// or nothing (workspace.Extract refuses hostile archives: "..", absolute names, links
// out, writes through symlinks, devices, bombs, quota).
func (s *Server) handlePutArchive(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	dir := r.URL.Query().Get("path")
	res, err := st.Extract(r.Context(), wsName(r), dir, r.Body, workspace.ExtractLimits{})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.ExtractResult{Files: res.Files, Dirs: res.Dirs, Symlinks: res.Symlinks, Bytes: res.Bytes})
}
