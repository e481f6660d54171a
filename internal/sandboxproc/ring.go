package sandboxproc

import (
	"fmt"
	"io"
	"os"

	"github.com/isobox/isobox/internal/shmring"
)

// ringWire is a connection once its process is ready: frames through the shared-memory
// rings, and beside them the socket, on which only bell bytes go, from the worker process
// to the supervisor when the supervisor's reader sleeps (shmring.Conn.SetReadBell). The
// socket's end is what tells a side that the other is gone (a process's copy closes when
// it dies) or, for the worker process, that the pool closes (the supervisor closes its
// write half).
type ringWire struct {
	*shmring.Conn
	sock io.ReadWriteCloser
}

// watch reads the socket until it ends, then calls end (the worker process's side, to
// which the supervisor sends nothing more). A byte on it is a breach of the protocol and
// ends it too.
func (w *ringWire) watch(end func() error) {
	var b [1]byte
	_, _ = w.sock.Read(b[:])
	_ = end()
}

// CloseWrite tells the worker process that the pool closes: it finishes what it has
// read, answers, and exits.
func (w *ringWire) CloseWrite() error {
	if cw, ok := w.sock.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return w.sock.Close()
}

// Close ends both the rings and the socket.
func (w *ringWire) Close() error {
	w.Conn.Close()
	return w.sock.Close()
}

// openRing maps the rings the supervisor passed as file descriptor fd.
func openRing(fd int) (*shmring.Conn, error) {
	f := os.NewFile(uintptr(fd), "rings")
	if f == nil {
		return nil, fmt.Errorf("sandboxproc: fd %d (the rings) is not open", fd)
	}
	defer f.Close()
	return shmring.Open(f)
}
