package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// FileOptions make a file request conditional.
type FileOptions struct {
	// IfMatch: PutFile writes, and GetFile reads, only if the file's etag is this one ("*":
	// if it exists); otherwise precondition_failed and nothing changes.
	IfMatch string
	// IfNoneMatch: PutFile with "*" writes only if the file does not exist; GetFile with
	// the file's etag answers NotModified instead of the content.
	IfNoneMatch string
	// ContentType: PutFile sends it, and the server keeps it with the file (GetFile's
	// File.ContentType); empty, the server answers a type from the file's name.
	ContentType string
}

// File is a file read by GetFile: its content, streamed (the caller closes Body), and
// what the server said of it.
type File struct {
	Body          io.ReadCloser // nil when NotModified
	ETag          string
	ContentType   string
	ContentLength int64 // -1 when unknown
	NotModified   bool  // IfNoneMatch held: no Body
}

// PutFile writes body to file p of workspace ws, streamed, creating its parent
// directories: the file is replaced whole once the body has been sent, or not at all.
// size is the body's length, or -1 when unknown (the server enforces its limits either
// way; a known size too large fails before any byte is sent).
//
//	info, err := c.PutFile(ctx, "proj", "src/main.go", f, st.Size(), client.FileOptions{})
//
// # Errors
//
// invalid_request for a bad name or path ("..", NUL), conflict when p is a directory,
// precondition_failed when opts do not hold, quota_exceeded and file_too_large.
func (c *Client) PutFile(ctx context.Context, ws, p string, body io.Reader, size int64, opts FileOptions) (*api.FileInfo, error) {
	fp, err := filePath(ws, p)
	if err != nil {
		return nil, err
	}
	if body == nil {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.URL(fp), body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if size >= 0 {
		req.ContentLength = size
	}
	if opts.ContentType != "" {
		req.Header.Set("Content-Type", opts.ContentType)
	}
	setConditions(req, opts)
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, ResponseError(resp)
	}
	var info api.FileInfo
	if err := c.decode(resp, http.MethodPut, fp, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// GetFile opens file p of workspace ws for reading, streamed: close File.Body.
//
// # Errors
//
// invalid_request for a bad name or path, not_found when there is no such file, conflict
// for a directory, precondition_failed when opts.IfMatch does not hold.
func (c *Client) GetFile(ctx context.Context, ws, p string, opts FileOptions) (*File, error) {
	fp, err := filePath(ws, p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(fp), nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	setConditions(req, opts)
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	f := &File{ETag: strings.Trim(resp.Header.Get("ETag"), `"`), ContentType: resp.Header.Get("Content-Type"), ContentLength: resp.ContentLength}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		resp.Body.Close()
		f.NotModified = true
		return f, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		defer resp.Body.Close()
		return nil, ResponseError(resp)
	}
	f.Body = resp.Body
	return f, nil
}

// ReadFile returns the whole content of file p of workspace ws, up to the client's
// answer limit (WithMaxResponseBytes); GetFile streams.
//
// # Errors
//
// As GetFile, and *ResponseTooLargeError.
func (c *Client) ReadFile(ctx context.Context, ws, p string) ([]byte, error) {
	f, err := c.GetFile(ctx, ws, p, FileOptions{})
	if err != nil {
		return nil, err
	}
	defer f.Body.Close()
	return c.read(&http.Response{Body: f.Body}, http.MethodGet, p)
}

// DeleteFile removes file or symlink p of workspace ws; a directory with recursive, with
// everything in it.
//
// # Errors
//
// invalid_request for a bad name or path, not_found when nothing is there, conflict for
// a non-empty directory without recursive.
func (c *Client) DeleteFile(ctx context.Context, ws, p string, recursive bool) error {
	fp, err := filePath(ws, p)
	if err != nil {
		return err
	}
	if recursive {
		fp += "?recursive=true"
	}
	return c.Do(ctx, http.MethodDelete, fp, nil, nil)
}

// DeleteFileIf is DeleteFile with a condition: with opts.IfMatch, p is removed only if
// its etag is still that one ("*": if something is there), so a delete never discards a
// change it has not seen. opts.IfNoneMatch and opts.ContentType must be empty.
//
//	err := c.DeleteFileIf(ctx, "proj", "notes.md", false, client.FileOptions{IfMatch: info.ETag})
//
// # Errors
//
// As DeleteFile, and precondition_failed when opts.IfMatch does not hold (nothing removed).
func (c *Client) DeleteFileIf(ctx context.Context, ws, p string, recursive bool, opts FileOptions) error {
	fp, err := filePath(ws, p)
	if err != nil {
		return err
	}
	if recursive {
		fp += "?recursive=true"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.URL(fp), nil)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	setConditions(req, opts)
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ResponseError(resp)
	}
	return nil
}

// Tree lists every entry under directory dir ("" or "/": the root) of workspace ws, in
// path order.
//
// # Errors
//
// invalid_request for a bad name or path, not_found when dir does not exist, conflict
// when it is not a directory.
func (c *Client) Tree(ctx context.Context, ws, dir string) ([]api.FileInfo, error) {
	wp, err := workspacePath(ws)
	if err != nil {
		return nil, err
	}
	var t api.WorkspaceTree
	if err := c.Do(ctx, http.MethodGet, wp+"/tree?path="+url.QueryEscape(dir), nil, &t); err != nil {
		return nil, err
	}
	return t.Entries, nil
}

// ListWorkspaces lists the server's workspaces in name order, one page.
//
// # Errors
//
// invalid_request for a bad limit.
func (c *Client) ListWorkspaces(ctx context.Context, opts ListOptions) (*api.WorkspaceList, error) {
	q := url.Values{}
	if opts.After != "" {
		q.Set("after", opts.After)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	p := "/v1/workspaces"
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var l api.WorkspaceList
	if err := c.Do(ctx, http.MethodGet, p, nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Workspace returns what workspace ws holds and its quota.
//
// # Errors
//
// invalid_request for a bad name, not_found when the server has no such workspace.
func (c *Client) Workspace(ctx context.Context, ws string) (*api.Workspace, error) {
	wp, err := workspacePath(ws)
	if err != nil {
		return nil, err
	}
	var out api.Workspace
	if err := c.Do(ctx, http.MethodGet, wp, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetWorkspaceQuota sets workspace ws's quota (0: the server's default), creating the
// workspace when it has none, and returns it.
//
// # Errors
//
// invalid_request for a bad name or a negative quota.
func (c *Client) SetWorkspaceQuota(ctx context.Context, ws string, q api.WorkspaceQuota) (*api.Workspace, error) {
	wp, err := workspacePath(ws)
	if err != nil {
		return nil, err
	}
	var out api.Workspace
	if err := c.Do(ctx, http.MethodPut, wp, q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWorkspace deletes workspace ws with everything in it.
//
// # Errors
//
// invalid_request for a bad name, not_found when the server has no such workspace.
func (c *Client) DeleteWorkspace(ctx context.Context, ws string) error {
	wp, err := workspacePath(ws)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, wp, nil, nil)
}

// decode reads a JSON answer into out.
func (c *Client) decode(resp *http.Response, method, path string, out any) error {
	b, err := c.read(resp, method, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("client: %s %s: undecodable answer: %w", method, path, err)
	}
	return nil
}

func setConditions(req *http.Request, opts FileOptions) {
	if opts.IfMatch != "" {
		req.Header.Set("If-Match", quoteETag(opts.IfMatch))
	}
	if opts.IfNoneMatch != "" {
		req.Header.Set("If-None-Match", quoteETag(opts.IfNoneMatch))
	}
}

func quoteETag(e string) string {
	if e == "*" || strings.HasPrefix(e, `"`) {
		return e
	}
	return `"` + e + `"`
}

// workspacePath is the path of workspace ws, which must follow the rule of workspace
// names (api.CheckWorkspaceName: such a name needs no escaping).
func workspacePath(ws string) (string, error) {
	if err := api.CheckWorkspaceName(ws); err != nil {
		return "", err
	}
	return "/v1/workspaces/" + ws, nil
}

// filePath is the path of file p of workspace ws: each name percent-encoded. A "." or
// ".." name is refused here, as the server would.
func filePath(ws, p string) (string, error) {
	wp, err := workspacePath(ws)
	if err != nil {
		return "", err
	}
	names := strings.Split(strings.TrimLeft(p, "/"), "/")
	for i, n := range names {
		if n == "." || n == ".." {
			return "", isoerr.New(isoerr.InvalidRequest, "path %q holds a %q name: name files by their path from the workspace's root", p, n)
		}
		names[i] = url.PathEscape(n)
	}
	return wp + "/files/" + strings.Join(names, "/"), nil
}

// Search finds lines of workspace ws's files (grep -rn: text, or a regular expression
// with q.Regex; files selected by q.Glob).
//
// # Errors
//
// invalid_request for a bad name, glob or regular expression, or an empty pattern.
func (c *Client) Search(ctx context.Context, ws string, q api.WorkspaceSearch) (*api.SearchResult, error) {
	wp, err := workspacePath(ws)
	if err != nil {
		return nil, err
	}
	var out api.SearchResult
	if err := c.Do(ctx, http.MethodPost, wp+"/search", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Exec runs a POSIX shell script over workspace ws on the server and returns what it
// printed and its exit status. A script that fails is no error (ExitCode says it); a
// limit that stops it returns the output so far with the limit's error.
//
//	res, err := c.Exec(ctx, "proj", api.ExecRequest{Command: "grep -rl TODO . | wc -l"})
//
// # Errors
//
// invalid_request for a bad name, a missing dir or a script that is too long;
// wall_time_exceeded, cpu_limit_exceeded and output_limit_exceeded (with the result).
func (c *Client) Exec(ctx context.Context, ws string, req api.ExecRequest) (*api.ExecResult, error) {
	wp, err := workspacePath(ws)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, http.MethodPost, wp+"/exec", req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := c.read(resp, http.MethodPost, wp+"/exec")
	if err != nil {
		return nil, err
	}
	var out api.ExecResult
	if json.Unmarshal(b, &out) != nil || (resp.StatusCode != http.StatusOK && out.Error == nil) {
		return nil, errorFrom(resp, b)
	}
	if out.Error != nil {
		return &out, out.Error
	}
	return &out, nil
}

// DownloadArchive streams a tar.gz of paths of workspace ws (none: the whole workspace)
// into w. A transfer cut short is an error: the server aborts the connection when it
// fails mid-way, so a partial archive is never taken for a whole one.
//
// # Errors
//
// invalid_request for a bad name or path, not_found when a path is missing, and w's or
// the transfer's error.
func (c *Client) DownloadArchive(ctx context.Context, ws string, paths []string, w io.Writer) error {
	wp, err := workspacePath(ws)
	if err != nil {
		return err
	}
	q := url.Values{"path": paths}
	p := wp + "/archive"
	if len(paths) > 0 {
		p += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(p), nil)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ResponseError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("client: GET %s: %w", p, err)
	}
	return nil
}

// UploadArchive extracts the tar.gz read from r into directory dir ("" the root) of
// workspace ws, all or nothing.
//
// # Errors
//
// invalid_request for a bad name or dir, an archive that is not tar.gz, or a refused entry
// ("..", an absolute name, a link out of the workspace, a device); file_too_large,
// quota_exceeded; conflict when an entry meets one of another kind. Nothing is written
// then.
func (c *Client) UploadArchive(ctx context.Context, ws, dir string, r io.Reader) (*api.ExtractResult, error) {
	wp, err := workspacePath(ws)
	if err != nil {
		return nil, err
	}
	p := wp + "/archive"
	if dir != "" {
		p += "?path=" + url.QueryEscape(dir)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL(p), r)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", "application/gzip")
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, ResponseError(resp)
	}
	var out api.ExtractResult
	if err := c.decode(resp, http.MethodPost, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
