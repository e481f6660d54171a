package workspace

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// Streamed writes through a binding (env.FS.writeFile(path, stream)): the fs "upload"
// operation. "open" starts a Store.Write whose reader is a pipe and returns a handle;
// each "write" hands the pipe one chunk (base64) and returns when the store has taken
// it, so neither the sandbox nor the host holds more than a chunk and the store's staging
// batch; "commit" ends the content and returns the file's Info once the write has
// committed; "abort" (and any failure) ends it with an error, and the store's write then
// leaves nothing visible. The handles live in the host, in the Bindings function of the
// code: a sandbox that dies mid-upload leaves one that the idle timer aborts.
const (
	// MaxUploadChunk is the most bytes one "write" of an upload carries.
	MaxUploadChunk = 8 << 20
	// maxUploads bounds the uploads one Bindings has open at once.
	maxUploads = 16
	// maxUploadOps bounds the "write"s of one upload (JavaScript sends chunks of 1 MiB,
	// so a 100 MiB file takes about 100).
	maxUploadOps = 1 << 16
	// uploadIdle is how long an upload waits for its next operation before it is aborted.
	uploadIdle = time.Minute
)

// uploadArgs are the arguments of the upload operation.
type uploadArgs struct {
	Action      string  `json:"action"` // open | write | commit | abort
	Upload      string  `json:"upload"`
	Path        string  `json:"path"`
	Data        *string `json:"data"`
	Append      bool    `json:"append"`
	IfMatch     string  `json:"ifMatch"`
	IfNoneMatch string  `json:"ifNoneMatch"`
}

// uploads are the streamed writes of one Bindings function.
type uploads struct {
	s    Store
	mu   sync.Mutex
	open map[string]*upload
}

// upload is one streamed write: a Store.Write reading pw's other end.
type upload struct {
	id, binding string
	mu          sync.Mutex // one operation at a time
	pw          *io.PipeWriter
	done        chan struct{} // closed when the store's Write has returned
	info        Info
	err         error
	idle        *time.Timer
	finished    bool // end has run
	ops         int
	written     int64
	maxSize     int64 // what the file may grow by (Limits.MaxFileSize, less the old size when appending)
	room        int64 // what the workspace's quota leaves (with the replaced file's bytes)
}

// serve answers one upload operation of binding b (named name).
func (us *uploads) serve(ctx context.Context, name string, b api.Binding, raw json.RawMessage) (json.RawMessage, error) {
	var a uploadArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "fs upload: %v", err)
	}
	if a.Action == "open" {
		return us.start(ctx, name, b, a)
	}
	us.mu.Lock()
	u := us.open[a.Upload]
	us.mu.Unlock()
	if u == nil || u.binding != name {
		return nil, isoerr.New(isoerr.InvalidRequest, "fs upload: no open upload %q (it ended, failed, or was idle for %v)", a.Upload, uploadIdle)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.finished {
		return nil, isoerr.New(isoerr.InvalidRequest, "fs upload: upload %q has ended", a.Upload)
	}
	u.idle.Reset(uploadIdle)
	switch a.Action {
	case "write":
		if err := u.write(ctx, a.Data); err != nil {
			us.end(u, err)
			return nil, u.err
		}
		return json.RawMessage("null"), nil
	case "commit":
		us.end(u, nil)
		return marshal(u.info, u.err)
	case "abort":
		us.end(u, isoerr.New(isoerr.Canceled, "the upload was aborted"))
		return json.RawMessage("null"), nil
	}
	return nil, isoerr.New(isoerr.InvalidRequest, "fs upload: unknown action %q (open, write, commit, abort)", a.Action)
}

// start opens an upload: it checks what it can before any content (the path, the
// binding's rights, the conditions, the room left) and starts the store's write.
func (us *uploads) start(ctx context.Context, name string, b api.Binding, a uploadArgs) (json.RawMessage, error) {
	if b.ReadOnly {
		return nil, isoerr.New(isoerr.ReadOnly, "this binding of workspace %q is read-only", b.Workspace)
	}
	p, err := check(b.Workspace, a.Path)
	if err != nil {
		return nil, err
	}
	old, err := us.s.Stat(ctx, b.Workspace, p)
	exists := err == nil
	if err != nil && isoerr.CodeOf(err) != isoerr.NotFound {
		return nil, err
	}
	opts := WriteOptions{IfMatch: a.IfMatch, IfNoneMatch: a.IfNoneMatch, Append: a.Append}
	switch {
	case exists && old.Type != File:
		return nil, isoerr.New(isoerr.Conflict, "%s: is a %s", p, old.Type)
	case opts.IfNoneMatch == "*" && exists:
		return nil, isoerr.New(isoerr.PreconditionFailed, "%s exists (ifNoneMatch \"*\")", p)
	case opts.IfMatch != "" && !exists:
		return nil, isoerr.New(isoerr.PreconditionFailed, "%s does not exist (ifMatch %q)", p, opts.IfMatch)
	case opts.IfMatch != "" && opts.IfMatch != "*" && old.ETag != opts.IfMatch:
		return nil, isoerr.New(isoerr.PreconditionFailed, "%s changed: its etag is %s, not %s", p, old.ETag, opts.IfMatch)
	}
	usage, err := us.s.Usage(ctx, b.Workspace)
	if err != nil {
		return nil, err
	}
	u := &upload{binding: name, done: make(chan struct{}), maxSize: us.s.Limits().MaxFileSize, room: usage.MaxBytes - usage.Bytes}
	if exists && a.Append {
		u.maxSize -= old.Size
	} else if exists {
		u.room += old.Size
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, isoerr.New(isoerr.Internal, "fs upload: %v", err)
	}
	u.id = hex.EncodeToString(id[:])
	pr, pw := io.Pipe()
	u.pw = pw
	u.idle = time.AfterFunc(uploadIdle, func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		us.end(u, isoerr.New(isoerr.Canceled, "the upload was idle for %v", uploadIdle))
	})
	us.mu.Lock()
	if us.open == nil {
		us.open = map[string]*upload{}
	}
	if len(us.open) >= maxUploads {
		us.mu.Unlock()
		u.idle.Stop()
		return nil, isoerr.New(isoerr.Overloaded, "too many streamed writes open: a sandbox's bindings may have %d at once", maxUploads)
	}
	us.open[u.id] = u
	us.mu.Unlock()
	// The write outlives this operation (each chunk is an operation of its own): it ends
	// with commit, abort, a failure, or the idle timer.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer cancel()
		info, err := us.s.Write(wctx, b.Workspace, p, pr, opts)
		if err == nil {
			err = errors.New("the write has ended") // what a chunk written after the end sees
		} else {
			u.err = err
		}
		pr.CloseWithError(err)
		u.info = info
		close(u.done)
	}()
	return json.Marshal(map[string]string{"upload": u.id})
}

// write hands one chunk to the store's write, refusing it past the file size limit or
// the quota (the store checks both again when it commits).
func (u *upload) write(ctx context.Context, data *string) error {
	if data == nil {
		return isoerr.New(isoerr.InvalidRequest, "fs upload: data is missing")
	}
	if base64.StdEncoding.DecodedLen(len(*data)) > MaxUploadChunk+3 {
		return isoerr.New(isoerr.InvalidRequest, "fs upload: a chunk may hold at most %d bytes", MaxUploadChunk)
	}
	chunk, err := base64.StdEncoding.DecodeString(*data)
	if err != nil {
		return isoerr.New(isoerr.InvalidRequest, "fs upload: data is not base64: %v", err)
	}
	if len(chunk) > MaxUploadChunk {
		return isoerr.New(isoerr.InvalidRequest, "fs upload: a chunk may hold at most %d bytes", MaxUploadChunk)
	}
	if u.ops++; u.ops > maxUploadOps {
		return isoerr.New(isoerr.InvalidRequest, "fs upload: more than %d chunks in one upload", maxUploadOps)
	}
	u.written += int64(len(chunk))
	switch {
	case u.written > u.maxSize:
		return isoerr.New(isoerr.FileTooLarge, "the file would be larger than the maximum file size (%d bytes more at most)", u.maxSize)
	case u.written > u.room:
		return isoerr.New(isoerr.QuotaExceeded, "the workspace's quota leaves room for %d bytes", u.room)
	}
	// A dropped operation ends the upload: the pipe cannot take back half a chunk.
	stop := context.AfterFunc(ctx, func() {
		u.pw.CloseWithError(isoerr.New(isoerr.Canceled, "a chunk of the upload was dropped"))
	})
	defer stop()
	if _, err := u.pw.Write(chunk); err != nil {
		return err
	}
	return nil
}

// end finishes u (with u.mu held): cause nil commits the content written, an error
// aborts the store's write with it. It waits for the store's write, so that when an
// operation answers, the file is there whole or not at all, and sets u.err to the
// upload's outcome.
func (us *uploads) end(u *upload, cause error) {
	if u.finished {
		return
	}
	u.finished = true
	us.mu.Lock()
	delete(us.open, u.id)
	us.mu.Unlock()
	u.idle.Stop()
	if cause == nil {
		u.pw.Close()
	} else {
		u.pw.CloseWithError(cause)
	}
	<-u.done
	if cause != nil {
		u.err = cause // the reason, rather than the store's report of a broken pipe
	}
}
