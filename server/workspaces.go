package server

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/tenant"
	"github.com/isobox/isobox/workspace"
)

// The workspace routes: files over HTTP (raw bytes, streamed both ways, with etags), the
// tree, and the operator's view of workspaces (list, info, quota, delete). They reach the
// same store as the workers' bindings (Config.Workspaces).

// workspacesPrefix is where checkWorkspacePath looks.
const workspacesPrefix = "/v1/workspaces/"

// checkWorkspacePath refuses a workspace request whose path names "." or "..", or holds
// a NUL, in any segment, percent-encoded or not (an encoded slash inside a segment
// included): such a path is a typed 400 here, before the router would clean it into
// another file or redirect.
func checkWorkspacePath(r *http.Request) error {
	esc := r.URL.EscapedPath()
	if !strings.HasPrefix(esc, workspacesPrefix) {
		return nil
	}
	for i, seg := range strings.Split(esc[len(workspacesPrefix):], "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return isoerr.New(isoerr.InvalidRequest, "bad percent-encoding in the path: %v", err)
		}
		if i == 0 && dec != "" {
			// The workspace's name as its tenant gives it: wsName scopes it, so it must
			// follow the rule (no '~' that could name another tenant's).
			if err := api.CheckWorkspaceName(dec); err != nil {
				return err
			}
		}
		if strings.IndexByte(dec, 0) >= 0 {
			return isoerr.New(isoerr.InvalidRequest, "the path holds a NUL byte")
		}
		for _, name := range strings.Split(dec, "/") {
			if name == "." || name == ".." {
				return isoerr.New(isoerr.InvalidRequest, "the path holds a %q segment: name files by their path from the workspace's root", name)
			}
		}
	}
	return nil
}

// wsName is the {ws} of a workspace route (checked by checkWorkspacePath before routing) as
// the workspace store knows it: scoped to the request's tenant.
func wsName(r *http.Request) string { return principalOf(r).Scoped(r.PathValue("ws")) }

// store returns the workspace store, or writes not_implemented when the server has none.
func (s *Server) store(w http.ResponseWriter) workspace.Store {
	if s.ws == nil {
		writeError(w, isoerr.New(isoerr.NotImplemented, "this server has no workspace store (start it with a data directory)"))
	}
	return s.ws
}

// toWorkspace shows a workspace by the name its tenant gave it.
func toWorkspace(u workspace.Usage) api.Workspace {
	_, name := api.SplitScoped(u.Name)
	return api.Workspace{Name: name, Bytes: u.Bytes, Files: u.Files, QuotaBytes: u.MaxBytes, QuotaFiles: u.MaxFiles}
}

func toFileInfo(i workspace.Info) api.FileInfo {
	return api.FileInfo{Path: i.Path, Name: i.Name, Type: string(i.Type), Size: i.Size, ETag: i.ETag, Target: i.Target,
		ContentType: i.ContentType, Created: i.Created, Modified: i.Modified}
}

func (s *Server) handleListWorkspaces(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, isoerr.New(isoerr.InvalidRequest, "limit must be a number from 1 to 1000, got %q", v))
			return
		}
		limit = n
	}
	list, err := s.listWorkspaces(r.Context(), principalOf(r), q.Get("after"), limit)
	if err != nil {
		writeError(w, err)
		return
	}
	out := api.WorkspaceList{Workspaces: make([]api.Workspace, 0, len(list))}
	for _, u := range list {
		out.Workspaces = append(out.Workspaces, toWorkspace(u))
	}
	if len(list) == limit {
		out.Next = toWorkspace(list[len(list)-1]).Name
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetWorkspace(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	u, err := st.Lookup(r.Context(), wsName(r))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toWorkspace(u))
}

// handlePutWorkspace sets a workspace's quota (the operator's: the API key is the
// server's), creating the workspace when it has none.
func (s *Server) handlePutWorkspace(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	var q api.WorkspaceQuota
	if err := s.decodeJSON(w, r, &q, true, isoerr.InvalidRequest); err != nil {
		writeError(w, err)
		return
	}
	ws := wsName(r)
	if err := st.SetQuota(r.Context(), ws, q.QuotaBytes, q.QuotaFiles); err != nil {
		writeError(w, err)
		return
	}
	u, err := st.Usage(r.Context(), ws)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toWorkspace(u))
}

func (s *Server) handleDeleteWorkspace(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	if err := st.Delete(r.Context(), wsName(r)); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleTree lists every entry under directory ?path= (the root by default), in path
// order; symlinks are listed, not followed.
func (s *Server) handleTree(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	ctx, ws := r.Context(), wsName(r)
	if _, err := st.Lookup(ctx, ws); err != nil {
		writeError(w, err) // not_found: a workspace that does not exist has no tree
		return
	}
	dir := r.URL.Query().Get("path")
	info, err := st.Stat(ctx, ws, dir)
	if err == nil && info.Type != workspace.Dir {
		err = isoerr.New(isoerr.Conflict, "%s: not a directory", info.Path)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	pattern := "/**"
	if info.Path != "/" {
		pattern = globEscape(info.Path) + "/**"
	}
	list, err := st.Glob(ctx, ws, pattern)
	if err != nil {
		writeError(w, err)
		return
	}
	out := api.WorkspaceTree{Entries: make([]api.FileInfo, 0, len(list))}
	for _, i := range list {
		out.Entries = append(out.Entries, toFileInfo(i))
	}
	writeJSON(w, http.StatusOK, out)
}

// globEscape quotes the characters path.Match treats specially.
func globEscape(p string) string {
	var b strings.Builder
	for _, c := range p {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// etagHeader is the HTTP form of a workspace etag (quoted).
func etagHeader(etag string) string { return `"` + etag + `"` }

// condition reads an If-Match or If-None-Match header: "*" or one etag, quoted or not
// ("" when absent).
func condition(r *http.Request, name string) (string, error) {
	v := strings.TrimSpace(r.Header.Get(name))
	if v == "" || v == "*" {
		return v, nil
	}
	if strings.Contains(v, ",") {
		return "", isoerr.New(isoerr.InvalidRequest, "%s: give one etag or *, not a list", name)
	}
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`), nil
}

// handlePutFile writes the request body to the file, streamed into the store: the file
// is replaced whole when the body has been read and the conditions (If-Match,
// If-None-Match: *), the quota and the maximum file size hold, and not at all otherwise.
// The request's Content-Type is kept with the file, except curl's default for -d
// (application/x-www-form-urlencoded), which says nothing about a file.
func (s *Server) handlePutFile(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	var opts workspace.WriteOptions
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		opts.ContentType = ct
	}
	var err error
	if opts.IfMatch, err = condition(r, "If-Match"); err == nil {
		opts.IfNoneMatch, err = condition(r, "If-None-Match")
	}
	if err == nil && opts.IfNoneMatch != "" && opts.IfNoneMatch != "*" {
		err = isoerr.New(isoerr.InvalidRequest, "If-None-Match on PUT must be *")
	}
	if err == nil && r.ContentLength > st.Limits().MaxFileSize {
		err = isoerr.New(isoerr.FileTooLarge, "the body is %d bytes; the maximum file size is %d", r.ContentLength, st.Limits().MaxFileSize)
	}
	if err == nil {
		err = s.admitStorage(r, max(r.ContentLength, 1)) // a streamed body: refused once over
	}
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := st.Write(r.Context(), wsName(r), r.PathValue("path"), r.Body, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("ETag", etagHeader(info.ETag))
	status := http.StatusOK
	if info.Created.Equal(info.Modified) {
		status = http.StatusCreated
	}
	writeJSON(w, status, toFileInfo(info))
}

// handleGetFile streams a file's content, with its etag, size and the content type it
// was PUT with (else one from its name). If-None-Match with its etag answers 304; If-Match with another 412.
func (s *Server) handleGetFile(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	ifMatch, err := condition(r, "If-Match")
	var ifNone string
	if err == nil {
		ifNone, err = condition(r, "If-None-Match")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	rc, info, err := st.Read(r.Context(), wsName(r), r.PathValue("path"))
	if err != nil {
		writeError(w, err)
		return
	}
	defer rc.Close()
	if ifMatch != "" && ifMatch != "*" && ifMatch != info.ETag {
		writeError(w, isoerr.New(isoerr.PreconditionFailed, "%s changed: its etag is %s, not %s", info.Path, info.ETag, ifMatch))
		return
	}
	h := w.Header()
	h.Set("ETag", etagHeader(info.ETag))
	h.Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
	if ifNone == "*" || (ifNone != "" && ifNone == info.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	ct := info.ContentType
	if ct == "" {
		ct = mime.TypeByExtension(path.Ext(info.Name))
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	// A workspace holds what sandboxes wrote: never let a browser run it as this origin's page.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.Copy(w, rc)
}

// handleDeleteFile removes a file or symlink; a directory with ?recursive=true, with
// everything in it. If-Match (an etag, or "*") makes it conditional: 412 and nothing
// removed when the file's etag is another one by then.
func (s *Server) handleDeleteFile(w http.ResponseWriter, r *http.Request) {
	st := s.store(w)
	if st == nil {
		return
	}
	if r.Header.Get("If-None-Match") != "" {
		writeError(w, isoerr.New(isoerr.InvalidRequest, "DELETE of a file takes no If-None-Match (If-Match makes it conditional)"))
		return
	}
	ifMatch, err := condition(r, "If-Match")
	if err != nil {
		writeError(w, err)
		return
	}
	recursive, _ := strconv.ParseBool(r.URL.Query().Get("recursive"))
	opts := workspace.RemoveOptions{Recursive: recursive, IfMatch: ifMatch}
	if err := st.RemoveIf(r.Context(), wsName(r), r.PathValue("path"), opts); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listWorkspaces lists tenant p's workspaces after its name after.
func (s *Server) listWorkspaces(ctx context.Context, p tenant.Principal, after string, limit int) ([]workspace.Usage, error) {
	return listScoped(p, after, limit, func(after string, n int) ([]workspace.Usage, error) { return s.ws.List(ctx, after, n) },
		func(u workspace.Usage) string { return u.Name })
}
