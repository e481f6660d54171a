// Package statetools offers a workspace to Code Mode: Provider is a codemode.Provider
// named "state" whose tools are the state API (files, JSON, search and replace, diff,
// archives, hashes) over one workspace, as @cloudflare/shell's stateTools. The model's
// code calls them with one argument object:
//
//	p := statetools.Provider(store, "proj", statetools.Options{})
//	res := executor.Execute(ctx, `async () => {
//		const hits = await state.searchText({pattern: "TODO", glob: "*.go"});
//		return hits.matches.length;
//	}`, []codemode.Provider{p}, codemode.Options{})
//
// The workspace is the one the host names: the code cannot reach another, and with
// Options.ReadOnly it cannot change this one.
package statetools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
	"github.com/isobox/isobox/workspace/shell"
)

// Namespace is the global the tools are under in the sandbox.
const Namespace = "state"

// Options shape the provider.
type Options struct {
	// ReadOnly leaves out every tool that changes the workspace (replaces keep their dry
	// run).
	ReadOnly bool
}

// The tools' arguments. Fields without omitempty are required.
type (
	pathIn struct {
		Path string `json:"path" jsonschema:"a path in the workspace"`
	}
	readIn struct {
		Path     string `json:"path" jsonschema:"a path in the workspace"`
		Encoding string `json:"encoding,omitempty" jsonschema:"utf8 (the default) or base64"`
	}
	writeIn struct {
		Path        string `json:"path" jsonschema:"a path in the workspace; missing parent directories are created"`
		Content     string `json:"content" jsonschema:"the new content (text, or base64 with encoding base64)"`
		Encoding    string `json:"encoding,omitempty" jsonschema:"utf8 (the default) or base64"`
		IfMatch     string `json:"ifMatch,omitempty" jsonschema:"write only if the file's etag is this one"`
		IfNoneMatch string `json:"ifNoneMatch,omitempty" jsonschema:"* writes only if the file does not exist"`
	}
	dirIn struct {
		Path string `json:"path,omitempty" jsonschema:"a directory (default the root)"`
	}
	mkdirIn struct {
		Path      string `json:"path" jsonschema:"the directory to create"`
		Recursive bool   `json:"recursive,omitempty" jsonschema:"create missing parents too, and accept an existing directory"`
	}
	rmIn struct {
		Path      string `json:"path" jsonschema:"the entry to remove"`
		Recursive bool   `json:"recursive,omitempty" jsonschema:"remove a directory with everything in it"`
		Force     bool   `json:"force,omitempty" jsonschema:"no error when nothing is there"`
	}
	moveIn struct {
		From      string `json:"from" jsonschema:"the entry to move or copy"`
		To        string `json:"to" jsonschema:"where it goes"`
		Recursive bool   `json:"recursive,omitempty" jsonschema:"copy a directory with everything in it (cp)"`
	}
	globIn struct {
		Pattern string `json:"pattern" jsonschema:"a glob: * and ? within a name, ** across directories (src/**/*.ts)"`
	}
	queryIn struct {
		Path  string `json:"path" jsonschema:"a JSON file"`
		Query string `json:"query,omitempty" jsonschema:"a JSON path: scripts.build, items[0].id, [\"a.b\"]; empty is the whole document"`
	}
	writeJSONIn struct {
		Path    string `json:"path" jsonschema:"the JSON file to write"`
		Value   any    `json:"value" jsonschema:"the value to write (indented by two spaces)"`
		IfMatch string `json:"ifMatch,omitempty" jsonschema:"write only if the file's etag is this one"`
	}
	updateIn struct {
		Path    string `json:"path" jsonschema:"the JSON file to change (created by set or merge when missing)"`
		Op      string `json:"op" jsonschema:"set, merge (JSON Merge Patch) or delete"`
		Query   string `json:"query,omitempty" jsonschema:"where, as a JSON path (queryJson); empty is the whole document"`
		Value   any    `json:"value,omitempty" jsonschema:"the value of set and merge (null when left out)"`
		IfMatch string `json:"ifMatch,omitempty" jsonschema:"change only if the file's etag is this one"`
	}
	searchIn struct {
		Pattern string `json:"pattern" jsonschema:"the text to find, or an RE2 regular expression with regex"`
		workspace.SearchOptions
	}
	findIn struct {
		Glob       string `json:"glob" jsonschema:"a glob; one without / matches file names anywhere (*.test.ts)"`
		MaxResults int    `json:"maxResults,omitempty" jsonschema:"at most this many files (default 1000)"`
	}
	replaceIn struct {
		Path    string `json:"path" jsonschema:"the file"`
		Search  string `json:"search" jsonschema:"the text to replace, or an RE2 regular expression with regex"`
		Replace string `json:"replace" jsonschema:"the replacement; with regex, $1 and ${name} insert groups"`
		workspace.ReplaceOptions
	}
	replaceAllIn struct {
		Glob    string `json:"glob" jsonschema:"the files; a glob without / matches names anywhere"`
		Search  string `json:"search" jsonschema:"the text to replace, or an RE2 regular expression with regex"`
		Replace string `json:"replace" jsonschema:"the replacement; with regex, $1 and ${name} insert groups"`
		Regex   bool   `json:"regex,omitempty"`
		// IgnoreCase, Once and DryRun as ReplaceOptions.
		IgnoreCase bool `json:"ignoreCase,omitempty"`
		Once       bool `json:"once,omitempty" jsonschema:"only the first match of each file"`
		DryRun     bool `json:"dryRun,omitempty" jsonschema:"report the edits, change nothing"`
	}
	diffIn struct {
		Path string  `json:"path" jsonschema:"the file to diff from"`
		To   string  `json:"to,omitempty" jsonschema:"the file to diff to"`
		Text *string `json:"text,omitempty" jsonschema:"or the text to diff to"`
	}
	archiveIn struct {
		Paths []string `json:"paths" jsonschema:"files and directories to put in the archive"`
		To    string   `json:"to" jsonschema:"the tar.gz file to write"`
	}
	extractIn struct {
		Path string `json:"path" jsonschema:"the tar.gz file"`
		To   string `json:"to,omitempty" jsonschema:"the directory to extract into (default the root)"`
	}
	hashIn struct {
		Path string `json:"path" jsonschema:"the file"`
		Algo string `json:"algo,omitempty" jsonschema:"sha256 (the default), sha512, sha1 or md5"`
	}
	done struct {
		OK bool `json:"ok"`
	}
)

// Provider returns the "state" tools over workspace ws of s.
func Provider(s workspace.Store, ws string, opts Options) codemode.Provider {
	type tool = codemode.Tool
	read := []tool{
		codemode.NewTool("readFile", "Read a file (at most 32 MiB): its text, or base64 with encoding base64.", func(ctx context.Context, in readIn) (string, error) {
			rc, _, err := s.Read(ctx, ws, in.Path)
			if err != nil {
				return "", err
			}
			defer rc.Close()
			var b strings.Builder
			buf := make([]byte, 64<<10)
			for {
				n, err := rc.Read(buf)
				if b.Len()+n > workspace.MaxReadAtOnce {
					return "", isoerr.New(isoerr.FileTooLarge, "%s is larger than %d bytes, the most readFile returns", in.Path, workspace.MaxReadAtOnce)
				}
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			if in.Encoding == "base64" {
				return base64.StdEncoding.EncodeToString([]byte(b.String())), nil
			}
			return strings.ToValidUTF8(b.String(), "\uFFFD"), nil
		}),
		codemode.NewTool("readDir", "List a directory, in name order.", func(ctx context.Context, in dirIn) ([]workspace.Info, error) {
			return s.ReadDir(ctx, ws, in.Path)
		}),
		codemode.NewTool("stat", "Describe an entry (following symlinks); null when nothing is there.", func(ctx context.Context, in pathIn) (*workspace.Info, error) {
			i, err := s.Stat(ctx, ws, in.Path)
			if isoerr.CodeOf(err) == isoerr.NotFound {
				return nil, nil
			}
			return &i, err
		}),
		codemode.NewTool("exists", "Whether an entry exists.", func(ctx context.Context, in pathIn) (bool, error) {
			_, err := s.Stat(ctx, ws, in.Path)
			if isoerr.CodeOf(err) == isoerr.NotFound {
				return false, nil
			}
			return err == nil, err
		}),
		codemode.NewTool("glob", "Entries whose paths match a glob, in path order.", func(ctx context.Context, in globIn) ([]workspace.Info, error) {
			return s.Glob(ctx, ws, in.Pattern)
		}),
		codemode.NewTool("readJson", "Read and parse a JSON file.", func(ctx context.Context, in pathIn) (json.RawMessage, error) {
			v, _, err := s.QueryJSON(ctx, ws, in.Path, "")
			return v, err
		}),
		codemode.NewTool("queryJson", "The value at a JSON path of a JSON file; null when nothing is there.", func(ctx context.Context, in queryIn) (json.RawMessage, error) {
			v, found, err := s.QueryJSON(ctx, ws, in.Path, in.Query)
			if err != nil || !found {
				return json.RawMessage("null"), err
			}
			return v, nil
		}),
		codemode.NewTool("searchText", "Find the lines of the workspace's files that match (grep -rn): text or an RE2 regular expression, "+
			"with a glob, context lines and a bound on the results.", func(ctx context.Context, in searchIn) (workspace.SearchResult, error) {
			return s.SearchText(ctx, ws, in.Pattern, in.SearchOptions)
		}),
		codemode.NewTool("searchFiles", "Find files by glob (find -type f).", func(ctx context.Context, in findIn) (workspace.FileSearch, error) {
			return s.SearchFiles(ctx, ws, in.Glob, in.MaxResults)
		}),
		codemode.NewTool("diff", "The unified diff from a file to another file (to) or to text; empty when equal.", func(ctx context.Context, in diffIn) (string, error) {
			if in.Text != nil {
				return s.DiffText(ctx, ws, in.Path, *in.Text)
			}
			if in.To == "" {
				return "", isoerr.New(isoerr.InvalidRequest, "diff: give to (a file) or text")
			}
			return s.Diff(ctx, ws, in.Path, in.To)
		}),
		codemode.NewTool("hashFile", "A file's hex digest.", func(ctx context.Context, in hashIn) (string, error) {
			return s.HashFile(ctx, ws, in.Path, in.Algo)
		}),
		codemode.NewTool("readlink", "A symlink's target.", func(ctx context.Context, in pathIn) (string, error) {
			return s.Readlink(ctx, ws, in.Path)
		}),
	}
	replaceInFile := func(ctx context.Context, in replaceIn) (workspace.FileEdit, error) {
		if opts.ReadOnly && !in.DryRun {
			return workspace.FileEdit{}, readOnly(ws)
		}
		return s.ReplaceInFile(ctx, ws, in.Path, in.Search, in.Replace, in.ReplaceOptions)
	}
	replaceInFiles := func(ctx context.Context, in replaceAllIn) (workspace.ReplaceResult, error) {
		if opts.ReadOnly && !in.DryRun {
			return workspace.ReplaceResult{}, readOnly(ws)
		}
		return s.ReplaceInFiles(ctx, ws, in.Glob, in.Search, in.Replace,
			workspace.ReplaceOptions{Regex: in.Regex, IgnoreCase: in.IgnoreCase, Once: in.Once, DryRun: in.DryRun})
	}
	read = append(read,
		codemode.NewTool("exec", "Run a shell script (bash syntax: pipes, redirects, loops; ls cat grep find sed jq sort wc tar ... over the workspace, no host commands) and return {stdout, stderr, exitCode}; read-only here when the workspace is.",
			func(ctx context.Context, in shell.ExecArgs) (json.RawMessage, error) {
				args, err := json.Marshal(in)
				if err != nil {
					return nil, err
				}
				return shell.Serve(ctx, s, api.Binding{Workspace: ws, ReadOnly: opts.ReadOnly}, args)
			}),
		codemode.NewTool("replaceInFile", "Replace the matches in one file (every match unless once); dryRun reports the edit with a diff preview.", replaceInFile),
		codemode.NewTool("replaceInFiles", "Replace the matches in every file a glob selects, all or nothing; dryRun reports the edits.", replaceInFiles),
	)
	if opts.ReadOnly {
		return codemode.Provider{Name: Namespace, Description: description(ws, true), Tools: read}
	}
	write := []tool{
		codemode.NewTool("writeFile", "Write a file, creating missing parent directories; returns its new description (etag).", func(ctx context.Context, in writeIn) (workspace.Info, error) {
			data, err := decode(in.Content, in.Encoding)
			if err != nil {
				return workspace.Info{}, err
			}
			return s.Write(ctx, ws, in.Path, strings.NewReader(data), workspace.WriteOptions{IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch})
		}),
		codemode.NewTool("appendFile", "Append to a file, creating it when missing.", func(ctx context.Context, in writeIn) (workspace.Info, error) {
			data, err := decode(in.Content, in.Encoding)
			if err != nil {
				return workspace.Info{}, err
			}
			return s.Write(ctx, ws, in.Path, strings.NewReader(data), workspace.WriteOptions{Append: true, IfMatch: in.IfMatch})
		}),
		codemode.NewTool("mkdir", "Create a directory.", func(ctx context.Context, in mkdirIn) (done, error) {
			return done{true}, s.Mkdir(ctx, ws, in.Path, in.Recursive)
		}),
		codemode.NewTool("rm", "Remove an entry.", func(ctx context.Context, in rmIn) (done, error) {
			err := s.Remove(ctx, ws, in.Path, in.Recursive)
			if in.Force && isoerr.CodeOf(err) == isoerr.NotFound {
				err = nil
			}
			return done{err == nil}, err
		}),
		codemode.NewTool("mv", "Move an entry (replacing a file at to).", func(ctx context.Context, in moveIn) (done, error) {
			return done{true}, s.Rename(ctx, ws, in.From, in.To)
		}),
		codemode.NewTool("cp", "Copy a file, or a directory with recursive.", func(ctx context.Context, in moveIn) (done, error) {
			return done{true}, s.Copy(ctx, ws, in.From, in.To, in.Recursive)
		}),
		codemode.NewTool("writeJson", "Write a value as a JSON file (indented).", func(ctx context.Context, in writeJSONIn) (workspace.Info, error) {
			v, err := json.Marshal(in.Value)
			if err != nil {
				return workspace.Info{}, isoerr.New(isoerr.InvalidRequest, "writeJson: %v", err)
			}
			return s.UpdateJSON(ctx, ws, in.Path, workspace.JSONUpdate{Op: "set", Value: v}, workspace.WriteOptions{IfMatch: in.IfMatch})
		}),
		codemode.NewTool("updateJson", "Set, merge or delete at a JSON path of a JSON file, in one conditional write.", func(ctx context.Context, in updateIn) (workspace.Info, error) {
			u := workspace.JSONUpdate{Op: in.Op, Path: in.Query}
			if in.Op != "delete" {
				v, err := json.Marshal(in.Value)
				if err != nil {
					return workspace.Info{}, isoerr.New(isoerr.InvalidRequest, "updateJson: %v", err)
				}
				u.Value = v
			}
			return s.UpdateJSON(ctx, ws, in.Path, u, workspace.WriteOptions{IfMatch: in.IfMatch})
		}),
		codemode.NewTool("createArchive", "Write a tar.gz of files and directories to a file.", func(ctx context.Context, in archiveIn) (workspace.Info, error) {
			return s.CreateArchive(ctx, ws, in.Paths, in.To)
		}),
		codemode.NewTool("extractArchive", "Extract a tar.gz file into a directory, all or nothing.", func(ctx context.Context, in extractIn) (workspace.ExtractResult, error) {
			return s.ExtractArchive(ctx, ws, in.Path, in.To, workspace.ExtractLimits{})
		}),
	}
	return codemode.Provider{Name: Namespace, Description: description(ws, false), Tools: append(read, write...)}
}

func description(ws string, readOnly bool) string {
	d := "The files of workspace " + ws + ": read, search, diff, run shell scripts over them"
	if readOnly {
		return d + " (read-only; replaces only as dry runs). Paths are inside the workspace."
	}
	return d + ", write, replace and archive them. Paths are inside the workspace."
}

func readOnly(ws string) error {
	return isoerr.New(isoerr.ReadOnly, "workspace %q is read-only here", ws)
}

func decode(content, encoding string) (string, error) {
	switch encoding {
	case "", "utf8", "utf-8":
		return content, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return "", isoerr.New(isoerr.InvalidRequest, "content is not base64: %v", err)
		}
		return string(b), nil
	}
	return "", isoerr.New(isoerr.InvalidRequest, "encoding must be utf8 or base64")
}
