package workspace

import (
	"context"
	"encoding/json"
	"io"
)

// Store is the storage interface of workspaces: what the rest of isobox (the bindings,
// Serve, statetools, the shell, the HTTP routes, sandbox processes) needs of a place that
// keeps them. SQLite (Open) is the implementation of a single server; a clustered one
// (NATS JetStream, not written yet) implements the same methods, and no caller changes.
//
// Every implementation keeps the same promises, which the callers rely on:
//   - paths are cleaned with Clean (no `..` escape, no NUL, bounded length and depth) and
//     symlinks resolve inside the workspace; a bad path is invalid_request;
//   - a write is durable when it returns, and atomic: a reader sees the old content or
//     the new, a failed or cancelled write leaves nothing visible;
//   - quotas (Usage) and Limits.MaxFileSize hold, as quota_exceeded and file_too_large,
//     and IfMatch/IfNoneMatch fail with precondition_failed without changing anything;
//   - ReplaceInFiles and the extracts are all or nothing;
//   - errors are *isoerr.Error with the codes the methods document.
//
// It is safe for concurrent use. Opening and closing are the implementation's own
// (SQLite's Open and Close): whoever creates a store closes it.
type Store interface {
	// Limits returns the store's limits, defaults filled in.
	Limits() Limits

	// Files: SQLite.Write and the others document each method.
	Write(ctx context.Context, ws, p string, r io.Reader, opts WriteOptions) (Info, error)
	Read(ctx context.Context, ws, p string) (io.ReadCloser, Info, error)
	ReadRange(ctx context.Context, ws, p string, off int64, ifMatch string) (io.ReadCloser, Info, error)
	ReadTree(ctx context.Context, ws, dir string, maxSize int64, fn func(info Info, content []byte, whole bool) error) error
	Stat(ctx context.Context, ws, p string) (Info, error)
	Lstat(ctx context.Context, ws, p string) (Info, error)
	ReadDir(ctx context.Context, ws, p string) ([]Info, error)
	Glob(ctx context.Context, ws, pattern string) ([]Info, error)
	Mkdir(ctx context.Context, ws, p string, parents bool) error
	Remove(ctx context.Context, ws, p string, recursive bool) error
	RemoveIf(ctx context.Context, ws, p string, opts RemoveOptions) error
	Rename(ctx context.Context, ws, from, to string) error
	Copy(ctx context.Context, ws, from, to string, recursive bool) error
	Symlink(ctx context.Context, ws, target, p string) error
	Readlink(ctx context.Context, ws, p string) (string, error)

	// The rest of the state API.
	SearchText(ctx context.Context, ws, pattern string, opts SearchOptions) (SearchResult, error)
	SearchFiles(ctx context.Context, ws, glob string, maxResults int) (FileSearch, error)
	ReplaceInFile(ctx context.Context, ws, p, search, replace string, opts ReplaceOptions) (FileEdit, error)
	ReplaceInFiles(ctx context.Context, ws, glob, search, replace string, opts ReplaceOptions) (ReplaceResult, error)
	QueryJSON(ctx context.Context, ws, p, path string) (json.RawMessage, bool, error)
	UpdateJSON(ctx context.Context, ws, p string, u JSONUpdate, opts WriteOptions) (Info, error)
	Diff(ctx context.Context, ws, pathA, pathB string) (string, error)
	DiffText(ctx context.Context, ws, p, text string) (string, error)
	HashFile(ctx context.Context, ws, p, algo string) (string, error)
	WriteArchive(ctx context.Context, ws string, paths []string, w io.Writer) error
	CreateArchive(ctx context.Context, ws string, paths []string, archivePath string) (Info, error)
	Extract(ctx context.Context, ws, dir string, r io.Reader, lim ExtractLimits) (ExtractResult, error)
	ExtractArchive(ctx context.Context, ws, archivePath, dir string, lim ExtractLimits) (ExtractResult, error)

	// Workspaces as a whole.
	Usage(ctx context.Context, ws string) (Usage, error)
	SetQuota(ctx context.Context, ws string, maxBytes, maxFiles int64) error
	Lookup(ctx context.Context, ws string) (Usage, error)
	List(ctx context.Context, after string, limit int) ([]Usage, error)
	Delete(ctx context.Context, ws string) error
}

// SQLite is the single-server Store.
var _ Store = (*SQLite)(nil)
