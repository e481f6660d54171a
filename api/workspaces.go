package api

import (
	"time"

	"github.com/isobox/isobox/isoerr"
)

// Workspace is what a workspace holds and its quota: GET /v1/workspaces/{ws}, and the
// answer of PUT /v1/workspaces/{ws} (which sets the quota).
type Workspace struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"` // content bytes of its files
	Files int64  `json:"files"` // entries: files, directories and symlinks
	// QuotaBytes and QuotaFiles bound Bytes and Files (the server's defaults unless set).
	QuotaBytes int64 `json:"quotaBytes"`
	QuotaFiles int64 `json:"quotaFiles"`
}

// WorkspaceList is a page of GET /v1/workspaces.
type WorkspaceList struct {
	Workspaces []Workspace `json:"workspaces"`
	Next       string      `json:"next,omitempty"` // pass as after for the next page
}

// WorkspaceQuota is the body of PUT /v1/workspaces/{ws}: the operator's quota for one
// workspace. 0 (or absent) takes the server's default.
type WorkspaceQuota struct {
	QuotaBytes int64 `json:"quotaBytes,omitempty"`
	QuotaFiles int64 `json:"quotaFiles,omitempty"`
}

// FileInfo describes one entry of a workspace: PUT of a file answers it, GET .../tree
// lists them.
type FileInfo struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	Type   string `json:"type"` // "file", "directory" or "symlink"
	Size   int64  `json:"size"`
	ETag   string `json:"etag,omitempty"`   // files: changes on every write
	Target string `json:"target,omitempty"` // symlinks: the link's text
	// ContentType is the media type the file was last PUT with (none: GET answers one
	// from the file's name).
	ContentType string    `json:"contentType,omitempty"`
	Created     time.Time `json:"createdAt"`
	Modified    time.Time `json:"updatedAt"`
}

// WorkspaceTree is the answer of GET /v1/workspaces/{ws}/tree: every entry under a
// directory, in path order.
type WorkspaceTree struct {
	Entries []FileInfo `json:"entries"`
}

// WorkspaceSearch is the body of POST /v1/workspaces/{ws}/search: grep -rn over the
// workspace's files.
type WorkspaceSearch struct {
	Pattern string `json:"pattern"`
	// Glob selects the files ("" every file; "*.go" matches in any directory).
	Glob string `json:"glob,omitempty"`
	// Regex makes Pattern a regular expression (RE2), otherwise it is text.
	Regex        bool `json:"regex,omitempty"`
	IgnoreCase   bool `json:"ignoreCase,omitempty"`
	ContextLines int  `json:"contextLines,omitempty"`
	MaxResults   int  `json:"maxResults,omitempty"`
}

// SearchMatch is one matching line, with the lines around it.
type SearchMatch struct {
	Path   string   `json:"path"`
	Line   int      `json:"line"`   // 1-based
	Column int      `json:"column"` // 1-based, in characters
	Text   string   `json:"text"`
	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`
}

// SearchResult is the answer of POST /v1/workspaces/{ws}/search.
type SearchResult struct {
	Matches       []SearchMatch `json:"matches"`
	FilesSearched int           `json:"filesSearched"`
	BinarySkipped int           `json:"binarySkipped"`
	Truncated     bool          `json:"truncated"` // stopped at maxResults or the output bound
}

// ExecRequest is the body of POST /v1/workspaces/{ws}/exec: a POSIX shell script run over
// the workspace (its commands are isobox's, in Go, over the workspace's files).
type ExecRequest struct {
	Command string            `json:"command"`
	Dir     string            `json:"dir,omitempty"` // working directory (default "/")
	Env     map[string]string `json:"env,omitempty"`
}

// ExecResult is what the script printed and its exit status (-1 when a limit stopped it:
// Error then says which).
type ExecResult struct {
	Stdout   string        `json:"stdout"`
	Stderr   string        `json:"stderr"`
	ExitCode int           `json:"exitCode"`
	Error    *isoerr.Error `json:"error,omitempty"`
}

// ExtractResult is the answer of POST /v1/workspaces/{ws}/archive: what was written.
type ExtractResult struct {
	Files    int   `json:"files"`
	Dirs     int   `json:"directories"`
	Symlinks int   `json:"symlinks"`
	Bytes    int64 `json:"bytes"`
}
