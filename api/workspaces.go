package api

import "time"

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
	Path     string    `json:"path"`
	Name     string    `json:"name"`
	Type     string    `json:"type"` // "file", "directory" or "symlink"
	Size     int64     `json:"size"`
	ETag     string    `json:"etag,omitempty"`   // files: changes on every write
	Target   string    `json:"target,omitempty"` // symlinks: the link's text
	Created  time.Time `json:"createdAt"`
	Modified time.Time `json:"updatedAt"`
}

// WorkspaceTree is the answer of GET /v1/workspaces/{ws}/tree: every entry under a
// directory, in path order.
type WorkspaceTree struct {
	Entries []FileInfo `json:"entries"`
}
