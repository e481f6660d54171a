package workspace

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// MaxReadAtOnce is the most bytes one readFile through a binding returns: the whole file
// crosses into the sandbox's memory.
const MaxReadAtOnce = 32 << 20

// writeOps are the operations a read-only binding refuses.
var writeOps = map[string]bool{"write": true, "mkdir": true, "rm": true, "mv": true, "cp": true, "symlink": true}

// Serve answers one filesystem operation of a sandbox's binding b over store s
// (engine.FSFunc's op and JSON arguments; the engine's fs_* host operations document
// them): it is the state API over workspace b.Workspace, the same for every Store. A
// read-only binding refuses every write with read_only.
//
// # Errors
//
// The store's typed errors, read_only, and invalid_request for arguments that do not
// decode or an unknown operation.
func Serve(ctx context.Context, s Store, b api.Binding, op string, args json.RawMessage) (json.RawMessage, error) {
	if b.ReadOnly && writeOps[op] {
		return nil, isoerr.New(isoerr.ReadOnly, "this binding of workspace %q is read-only", b.Workspace)
	}
	if f, ok := stateOps[op]; ok {
		return f(ctx, s, b, args)
	}
	var a struct {
		Path        string  `json:"path"`
		From        string  `json:"from"`
		To          string  `json:"to"`
		Target      string  `json:"target"`
		Pattern     string  `json:"pattern"`
		Encoding    string  `json:"encoding"`
		Data        *string `json:"data"`
		Base64      bool    `json:"base64"`
		Append      bool    `json:"append"`
		IfMatch     string  `json:"ifMatch"`
		IfNoneMatch string  `json:"ifNoneMatch"`
		Recursive   bool    `json:"recursive"`
		Force       bool    `json:"force"`
		Lstat       bool    `json:"lstat"`
		Offset      *int64  `json:"offset"`
		Length      *int64  `json:"length"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "fs %s: %v", op, err)
	}
	ws := b.Workspace
	switch op {
	case "read":
		if a.Offset != nil || a.Length != nil {
			return serveRange(ctx, s, ws, a.Path, a.Encoding, a.Offset, a.Length, a.IfMatch)
		}
		rc, info, err := s.Read(ctx, ws, a.Path)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		data, err := readAll(rc, MaxReadAtOnce)
		if err != nil {
			return nil, err
		}
		if a.Encoding == "bytes" {
			return json.Marshal(map[string]string{"data": base64.StdEncoding.EncodeToString(data), "etag": info.ETag})
		}
		if !utf8.Valid(data) {
			data = []byte(strings.ToValidUTF8(string(data), "\uFFFD"))
		}
		return json.Marshal(map[string]string{"data": string(data), "etag": info.ETag})
	case "write":
		if a.Data == nil {
			return nil, isoerr.New(isoerr.InvalidRequest, "writeFile: data is missing")
		}
		content := []byte(*a.Data)
		if a.Base64 {
			var err error
			if content, err = base64.StdEncoding.DecodeString(*a.Data); err != nil {
				return nil, isoerr.New(isoerr.InvalidRequest, "writeFile: data is not base64: %v", err)
			}
		}
		info, err := s.Write(ctx, ws, a.Path, bytes.NewReader(content), WriteOptions{IfMatch: a.IfMatch, IfNoneMatch: a.IfNoneMatch, Append: a.Append})
		if err != nil {
			return nil, err
		}
		return json.Marshal(info)
	case "stat":
		var info Info
		var err error
		if a.Lstat {
			info, err = s.Lstat(ctx, ws, a.Path)
		} else {
			info, err = s.Stat(ctx, ws, a.Path)
		}
		if isoerr.CodeOf(err) == isoerr.NotFound {
			return json.RawMessage("null"), nil
		}
		if err != nil {
			return nil, err
		}
		return json.Marshal(info)
	case "readdir":
		return marshal(s.ReadDir(ctx, ws, a.Path))
	case "glob":
		return marshal(s.Glob(ctx, ws, a.Pattern))
	case "mkdir":
		return null(s.Mkdir(ctx, ws, a.Path, a.Recursive))
	case "rm":
		err := s.RemoveIf(ctx, ws, a.Path, RemoveOptions{Recursive: a.Recursive, IfMatch: a.IfMatch})
		if a.Force && isoerr.CodeOf(err) == isoerr.NotFound {
			err = nil
		}
		return null(err)
	case "mv":
		return null(s.Rename(ctx, ws, a.From, a.To))
	case "cp":
		return null(s.Copy(ctx, ws, a.From, a.To, a.Recursive))
	case "symlink":
		return null(s.Symlink(ctx, ws, a.Target, a.Path))
	case "readlink":
		return marshal(s.Readlink(ctx, ws, a.Path))
	}
	return nil, isoerr.New(isoerr.InvalidRequest, "unknown filesystem operation %q", op)
}

func marshal[T any](v T, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func null(err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	return json.RawMessage("null"), nil
}

// Bindings returns the host side of a sandbox's filesystem bindings over store s (an
// engine.FSFunc):
// each name of bindings opens its workspace with its rights, and any other name is
// refused, so a sandbox reaches only the workspaces bound to it. It holds the streamed
// writes ("upload") its sandboxes have open.
func Bindings(s Store, bindings map[string]api.Binding) func(ctx context.Context, binding, op string, args json.RawMessage) (json.RawMessage, error) {
	us := &uploads{s: s}
	return func(ctx context.Context, name, op string, args json.RawMessage) (json.RawMessage, error) {
		b, ok := bindings[name]
		if !ok {
			return nil, isoerr.New(isoerr.InvalidRequest, "no filesystem binding %q in this sandbox", name)
		}
		if op == "upload" { // streamed writes keep state between operations (upload.go)
			return us.serve(ctx, name, b, args)
		}
		return Serve(ctx, s, b, op, args)
	}
}

// serveRange answers a read of one range (fs_read with offset and length): at most
// MaxReadAtOnce bytes from offset, as base64, with the file's etag and size; ifMatch
// keeps the ranges of one streamed read to one version of the file.
func serveRange(ctx context.Context, s Store, ws, p, encoding string, offset, length *int64, ifMatch string) (json.RawMessage, error) {
	if encoding != "bytes" {
		return nil, isoerr.New(isoerr.InvalidRequest, "a read of a range is of bytes (encoding \"bytes\")")
	}
	if offset == nil || length == nil || *length <= 0 || *length > MaxReadAtOnce {
		return nil, isoerr.New(isoerr.InvalidRequest, "a read of a range needs an offset and a length of 1 to %d bytes", MaxReadAtOnce)
	}
	rc, info, err := s.ReadRange(ctx, ws, p, *offset, ifMatch)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, *length))
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Data string `json:"data"`
		ETag string `json:"etag"`
		Size int64  `json:"size"`
	}{base64.StdEncoding.EncodeToString(data), info.ETag, info.Size})
}
