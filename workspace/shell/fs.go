package shell

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"mvdan.cc/sh/v3/interp"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// smallRead is the size up to which an opened file is read whole at once, so that its
// read transaction (one of the store's connections) is not held while a pipeline waits.
const smallRead = 1 << 20

// pathErr is how the handlers report a failure: the interpreter prints an
// *fs.PathError and sets the exit status to 1.
func pathErr(op, name string, err error) error {
	msg := err
	if e := isoerr.CodeOf(err); e != "" {
		switch e {
		case isoerr.NotFound:
			msg = fs.ErrNotExist
		case isoerr.ReadOnly:
			msg = fs.ErrPermission
		default:
			msg = fmt.Errorf("%s", isoerr.As(err).Message)
		}
	}
	return &fs.PathError{Op: op, Path: name, Err: msg}
}

// open is the interpreter's OpenHandler: redirections and `source` reach the workspace,
// never the host (/dev/null, /dev/stdin, /dev/stdout and /dev/stderr excepted).
func (s *session) open(ctx context.Context, name string, flag int, _ os.FileMode) (io.ReadWriteCloser, error) {
	hc := interp.HandlerCtx(ctx)
	switch name {
	case "/dev/null":
		return devNull{}, nil
	case "/dev/stdout":
		return nopCloser{w: hc.Stdout}, nil
	case "/dev/stderr":
		return nopCloser{w: hc.Stderr}, nil
	case "/dev/stdin":
		return nopCloser{r: hc.Stdin}, nil
	}
	p := wsPath(hc.Dir, name)
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		rc, err := s.openRead(p)
		if err != nil {
			return nil, pathErr("open", name, err)
		}
		return nopCloser{r: rc, c: rc}, nil
	}
	if flag&os.O_RDWR != 0 {
		return nil, pathErr("open", name, fmt.Errorf("opening for reading and writing is not supported"))
	}
	f, err := s.create(p, name, flag&os.O_APPEND != 0)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	// The interpreter ignores a redirection's Close error: the file reports it.
	f.stderr = hc.Stderr
	return f, nil
}

// openRead opens a workspace file for reading; a small one is read whole at once.
func (s *session) openRead(p string) (io.ReadCloser, error) {
	rc, info, err := s.store.Read(s.ctx, s.ws, p)
	if err != nil {
		return nil, err
	}
	if info.Size > smallRead {
		return rc, nil
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// create opens p for writing (appending when appendTo); the content is committed when
// the writing command ends (see exec) or the file is closed.
func (s *session) create(p, display string, appendTo bool) (*wsFile, error) {
	if s.opts.ReadOnly {
		return nil, isoerr.New(isoerr.ReadOnly, "the workspace is read-only")
	}
	// Refuse now what the commit would refuse for the path alone, so the redirection
	// fails as a shell's would (status 1, the command not run) rather than when it closes.
	if _, err := workspace.Clean(p); err != nil {
		return nil, err
	}
	if info, err := s.store.Stat(s.ctx, s.ws, p); err == nil && info.Type == workspace.Dir {
		return nil, fmt.Errorf("is a directory")
	}
	// The nearest existing ancestor must be a directory (missing ones the write makes).
	for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
		info, err := s.store.Stat(s.ctx, s.ws, dir)
		if err == nil && info.Type != workspace.Dir {
			return nil, fmt.Errorf("not a directory")
		}
		if err == nil {
			break
		}
		if isoerr.CodeOf(err) != isoerr.NotFound {
			return nil, err
		}
	}
	f := &wsFile{s: s, path: p, display: display, appendTo: appendTo}
	s.mu.Lock()
	s.files = append(s.files, f)
	s.mu.Unlock()
	return f, nil
}

// closeFiles commits the files a script left open (exec > f), as a process's exit would.
func (s *session) closeFiles(stderr io.Writer) {
	s.mu.Lock()
	files := s.files
	s.files = nil
	s.mu.Unlock()
	for _, f := range files {
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "sh: %s: %v\n", f.display, err)
		}
	}
}

// wsFile is a workspace file open for writing. Each run of writes streams into one
// workspace Write (a goroutine reading a pipe); flush commits it, and later writes
// append. A failed write leaves the file as the workspace left it: unchanged.
type wsFile struct {
	s        *session
	path     string
	display  string
	appendTo bool
	stderr   io.Writer // where Close reports a failed commit (redirections)

	mu      sync.Mutex
	pw      *io.PipeWriter
	done    chan error
	written bool // a segment was committed, or the file was created
	closed  bool
}

func (f *wsFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, fs.ErrClosed
	}
	if f.pw == nil {
		f.start()
	}
	n, err := f.pw.Write(p)
	if err != nil {
		return n, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "io: "))
	}
	return n, nil
}

func (f *wsFile) Read([]byte) (int, error) {
	return 0, fmt.Errorf("%s: not open for reading", f.display)
}

// start begins a segment: a workspace Write fed by a pipe.
func (f *wsFile) start() {
	pr, pw := io.Pipe()
	f.pw, f.done = pw, make(chan error, 1)
	opts := workspace.WriteOptions{Append: f.appendTo || f.written}
	go func() {
		_, err := f.s.store.Write(f.s.ctx, f.s.ws, f.path, pr, opts)
		if err != nil {
			err = plain(err)
		}
		pr.CloseWithError(err)
		f.done <- err
	}()
}

// flush commits the writes so far.
func (f *wsFile) flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushLocked()
}

func (f *wsFile) flushLocked() error {
	if f.pw == nil {
		return nil
	}
	f.pw.Close()
	err := <-f.done
	f.pw, f.done = nil, nil
	f.written = true
	return err
}

// Close commits the writes; a file nothing was written to is still created (and, for >,
// emptied).
func (f *wsFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	if f.pw == nil && !f.written {
		f.start()
	}
	err := f.flushLocked()
	if err != nil {
		// No command's status can carry this failure (a compound command's or exec's
		// redirection): the script's does (see Run).
		f.s.lostWrite.Store(true)
	}
	if err != nil && f.stderr != nil {
		fmt.Fprintf(f.stderr, "sh: %s: %v\n", f.display, err)
		return nil
	}
	return err
}

// plain turns a workspace error into the message a command prints.
func plain(err error) error {
	if e := isoerr.CodeOf(err); e != "" {
		return fmt.Errorf("%s (%s)", isoerr.As(err).Message, e)
	}
	return err
}

// stat is the interpreter's StatHandler: [ -f x ], cd and globbing see the workspace.
func (s *session) stat(ctx context.Context, name string, follow bool) (fs.FileInfo, error) {
	hc := interp.HandlerCtx(ctx)
	p := wsPath(hc.Dir, name)
	var info workspace.Info
	var err error
	if follow {
		info, err = s.store.Stat(s.ctx, s.ws, p)
	} else {
		info, err = s.store.Lstat(s.ctx, s.ws, p)
	}
	if err != nil {
		if p == "/" && isoerr.CodeOf(err) == isoerr.NotFound {
			return fileInfo{workspace.Info{Path: "/", Type: workspace.Dir}}, nil
		}
		return nil, pathErr("stat", name, err)
	}
	return fileInfo{info}, nil
}

// readDir is the interpreter's ReadDirHandler: globbing lists the workspace.
func (s *session) readDir(ctx context.Context, name string) ([]fs.DirEntry, error) {
	hc := interp.HandlerCtx(ctx)
	list, err := s.readDirPath(wsPath(hc.Dir, name))
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	out := make([]fs.DirEntry, len(list))
	for i, in := range list {
		out[i] = fs.FileInfoToDirEntry(fileInfo{in})
	}
	return out, nil
}

// readDirPath lists a directory; the root of a workspace never written is empty.
func (s *session) readDirPath(p string) ([]workspace.Info, error) {
	list, err := s.store.ReadDir(s.ctx, s.ws, p)
	if err != nil && p == "/" && isoerr.CodeOf(err) == isoerr.NotFound {
		return nil, nil
	}
	return list, err
}

// access is the interpreter's AccessHandler ([ -r x ], [ -w x ], [ -x x ], cd): files
// are readable, writable unless the run is read-only, and only directories are
// "executable" (searchable).
func (s *session) access(ctx context.Context, name string, mode interp.AccessMode) error {
	info, err := s.stat(ctx, name, true)
	if err != nil {
		return err
	}
	if mode&interp.AccessWrite != 0 && s.opts.ReadOnly {
		return &fs.PathError{Op: "access", Path: name, Err: fs.ErrPermission}
	}
	if mode&interp.AccessExec != 0 && !info.IsDir() {
		return &fs.PathError{Op: "access", Path: name, Err: fs.ErrPermission}
	}
	return nil
}

// fileInfo is a workspace entry as an fs.FileInfo.
type fileInfo struct{ i workspace.Info }

func (f fileInfo) Name() string {
	if f.i.Path == "/" {
		return "/"
	}
	return f.i.Name
}
func (f fileInfo) Size() int64        { return f.i.Size }
func (f fileInfo) ModTime() time.Time { return f.i.Modified }
func (f fileInfo) IsDir() bool        { return f.i.Type == workspace.Dir }
func (f fileInfo) Sys() any           { return nil }
func (f fileInfo) Mode() fs.FileMode {
	switch f.i.Type {
	case workspace.Dir:
		return fs.ModeDir | 0o755
	case workspace.Symlink:
		return fs.ModeSymlink | 0o777
	}
	return 0o644
}

type devNull struct{}

func (devNull) Read([]byte) (int, error)    { return 0, io.EOF }
func (devNull) Write(p []byte) (int, error) { return len(p), nil }
func (devNull) Close() error                { return nil }

// nopCloser adapts a reader or a writer to io.ReadWriteCloser.
type nopCloser struct {
	r io.Reader
	w io.Writer
	c io.Closer
}

func (n nopCloser) Read(p []byte) (int, error) {
	if n.r == nil {
		return 0, io.EOF
	}
	return n.r.Read(p)
}

func (n nopCloser) Write(p []byte) (int, error) {
	if n.w == nil {
		return 0, fs.ErrPermission
	}
	return n.w.Write(p)
}

func (n nopCloser) Close() error {
	if n.c != nil {
		return n.c.Close()
	}
	return nil
}

// isPipe reports whether w is one of the interpreter's pipeline pipes (the only
// *os.File a script's commands see).
func isPipe(w io.Writer) bool {
	_, ok := w.(*os.File)
	return ok
}

// pipeClosed reports whether the pipe end f has been closed.
func pipeClosed(w io.Writer) bool {
	f := w.(*os.File)
	rc, err := f.SyscallConn()
	if err != nil {
		return true
	}
	return rc.Control(func(uintptr) {}) != nil
}
